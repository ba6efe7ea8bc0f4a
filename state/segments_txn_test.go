package state

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// TestSegmentedTxnAgainstModel runs random puts, reads, commits and aborts
// on a window store through a transaction layer, on every backend. Reads
// through the layer match the model of every write; reads of the store
// below (what queries see) match the model of the committed writes only.
func TestSegmentedTxnAgainstModel(t *testing.T) {
	keys := []string{"", "a", "a\x00", "ab", "b", "\xff"}
	for _, b := range windowBackends {
		t.Run(b.name, func(t *testing.T) {
			ops := 3000
			if b.name == "pebble" {
				ops = 600 // each new segment is a new database
			}
			base := openWindow(t, b, WindowStoreOptions{Retention: 50 * time.Millisecond, WindowSize: 5 * time.Millisecond, SegmentInterval: 10 * time.Millisecond})
			view, err := WindowStoreBytes(base)
			if err != nil {
				t.Fatal(err)
			}
			txn, err := NewSegmentedTxn(view)
			if err != nil {
				t.Fatal(err)
			}
			task, err := WindowStoreWritingTo(txn)
			if err != nil {
				t.Fatal(err)
			}
			query, err := WindowStoreWritingTo(view)
			if err != nil {
				t.Fatal(err)
			}
			all := &windowModel{retention: 50, interval: 10, observed: noTimestamp, entries: map[string][]byte{}}
			committed := &windowModel{retention: 50, interval: 10, observed: noTimestamp, entries: map[string][]byte{}}
			rng := rand.New(rand.NewPCG(3, 4))
			now := int64(0)
			key := func() []byte { return []byte(keys[rng.IntN(len(keys))]) }
			commits, aborts := 0, 0
			for i := range ops {
				now += int64(rng.IntN(3))
				start := max(0, now-int64(rng.IntN(70)))
				from, to := now-int64(rng.IntN(80)), now-int64(rng.IntN(80))+20
				// Stream time moves with every write, committed or
				// not: the committed model reads with it.
				committed.observed = all.observed
				switch op := rng.IntN(20); {
				case op < 9:
					v := []byte(fmt.Sprint(i))
					if rng.IntN(8) == 0 {
						v = nil
					}
					k := key()
					if err := task.Put(k, start, v); err != nil {
						t.Fatal(err)
					}
					all.put(k, start, v)
				case op < 13:
					k := key()
					backward := rng.IntN(2) == 0
					open, openQ := task.FetchTimeRange, query.FetchTimeRange
					if backward {
						open, openQ = task.BackwardFetchTimeRange, query.BackwardFetchTimeRange
					}
					what := fmt.Sprintf("op %d: fetch %q [%d, %d] backward %v", i, k, from, to, backward)
					wantEntries(t, what+" (task)", collect(t)(open(k, from, to)), all.read(k, k, from, to, backward)...)
					wantEntries(t, what+" (query)", collect(t)(openQ(k, from, to)), committed.read(k, k, from, to, backward)...)
				case op < 16:
					wantEntries(t, fmt.Sprintf("op %d: fetch all [%d, %d] (task)", i, from, to),
						collect(t)(task.FetchAll(from, to)), all.read(nil, nil, from, to, false)...)
					wantEntries(t, fmt.Sprintf("op %d: backward fetch all [%d, %d] (query)", i, from, to),
						collect(t)(query.BackwardFetchAll(from, to)), committed.read(nil, nil, from, to, true)...)
				case op < 18:
					k := key()
					for _, c := range []struct {
						s    WindowBytesStore
						m    *windowModel
						name string
					}{{task, all, "task"}, {query, committed, "query"}} {
						got, err := c.s.Fetch(k, start)
						if err != nil {
							t.Fatal(err)
						}
						var want []byte
						if start >= c.m.observed-c.m.retention+1 {
							want = c.m.entries[string(WindowStoreKey(k, start, 0))]
						}
						if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
							t.Fatalf("op %d: Fetch(%q, %d) (%s) = %q, want %q", i, k, start, c.name, got, want)
						}
					}
				case op < 19:
					if err := txn.Commit(); err != nil {
						t.Fatal(err)
					}
					committed.entries = maps.Clone(all.entries)
					commits++
				default:
					txn.Abort()
					all.entries = maps.Clone(committed.entries)
					aborts++
				}
			}
			t.Logf("%d ops, %d commits, %d aborts", ops, commits, aborts)
		})
	}
}

// TestSegmentedTxnSession: a session store through a transaction layer
// finds its pending sessions and not its pending removals; the store
// below sees neither until Commit, and nothing after Abort.
func TestSegmentedTxnSession(t *testing.T) {
	for _, b := range windowBackends {
		t.Run(b.name, func(t *testing.T) {
			base, err := b.openSession("sess", t.TempDir(), SessionStoreOptions{Retention: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { base.Close() })
			view, err := SessionStoreBytes(base)
			if err != nil {
				t.Fatal(err)
			}
			txn, err := NewSegmentedTxn(view)
			if err != nil {
				t.Fatal(err)
			}
			task, err := SessionStoreWritingTo(txn)
			if err != nil {
				t.Fatal(err)
			}
			query, err := SessionStoreWritingTo(view)
			if err != nil {
				t.Fatal(err)
			}
			putSession(t, task, "a", 0, 10, "a1")
			putSession(t, task, "a", 20, 30, "a2")
			if err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			// The open transaction: a2 removed, a3 and b1 added.
			if err := task.Remove([]byte("a"), serde.Window{Start: 20, End: 30}); err != nil {
				t.Fatal(err)
			}
			putSession(t, task, "a", 40, 50, "a3")
			putSession(t, task, "b", 5, 5, "b1")
			find := func(s SessionBytesStore, backward bool) []string {
				open := s.FindSessions
				if backward {
					open = s.BackwardFindSessions
				}
				return collect(t)(open([]byte("a"), 0, 100))
			}
			wantEntries(t, "task", find(task, false), "a@0-10=a1", "a@40-50=a3")
			wantEntries(t, "task backward", find(task, true), "a@40-50=a3", "a@0-10=a1")
			wantEntries(t, "query", find(query, false), "a@0-10=a1", "a@20-30=a2")
			wantSession(t, task, "b", 5, 5, "b1")
			wantSession(t, query, "b", 5, 5, "<nil>")
			// One segment: by key, then end.
			wantEntries(t, "task sessions ending in [0, 100]", collect(t)(task.SessionsEndingIn(0, 100)),
				"a@0-10=a1", "a@40-50=a3", "b@5-5=b1")

			txn.Abort()
			wantEntries(t, "task after abort", find(task, false), "a@0-10=a1", "a@20-30=a2")

			if err := task.Remove([]byte("a"), serde.Window{Start: 0, End: 10}); err != nil {
				t.Fatal(err)
			}
			putSession(t, task, "a", 40, 50, "a3")
			if err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			wantEntries(t, "query after commit", find(query, false), "a@20-30=a2", "a@40-50=a3")
		})
	}
}

// TestSegmentedTxnRetention: a pending write that moves stream time past a
// segment hides it from reads at once, but the segment (committed state)
// stays on the store until Commit.
func TestSegmentedTxnRetention(t *testing.T) {
	base := openWindow(t, windowBackends[0], WindowStoreOptions{Retention: 50 * time.Millisecond, WindowSize: 5 * time.Millisecond, SegmentInterval: 10 * time.Millisecond})
	view, err := WindowStoreBytes(base)
	if err != nil {
		t.Fatal(err)
	}
	txn, err := NewSegmentedTxn(view)
	if err != nil {
		t.Fatal(err)
	}
	task, err := WindowStoreWritingTo(txn)
	if err != nil {
		t.Fatal(err)
	}
	putWindow(t, task, "a", 0, "old")
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	seg := view.(*segmentedBytes).seg
	putWindow(t, task, "a", 200, "new")
	wantEntries(t, "task", collect(t)(task.FetchAll(0, 1000)), "a@200-205=new")
	if n := seg.numSegments(); n != 2 {
		t.Fatalf("%d segments before the commit, want 2 (the expired one kept until the commit)", n)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := seg.numSegments(); n != 1 {
		t.Fatalf("%d segments after the commit, want 1", n)
	}
	wantEntries(t, "after commit", collect(t)(task.FetchAll(0, 1000)), "a@200-205=new")
}

// A window store written through a transaction layer: its reads see the
// pending write, the store below does not until Commit.
func ExampleNewSegmentedTxn() {
	base, _ := NewMemoryWindowStore("clicks", WindowStoreOptions{Retention: time.Hour, WindowSize: time.Minute})
	view, _ := WindowStoreBytes(base)
	txn, _ := NewSegmentedTxn(view)
	task, _ := WindowStoreWritingTo(txn)   // what the task reads and writes
	query, _ := WindowStoreWritingTo(view) // committed state only

	_ = task.Put([]byte("alice"), 0, []byte("3"))
	v, _ := task.Fetch([]byte("alice"), 0)
	q, _ := query.Fetch([]byte("alice"), 0)
	fmt.Printf("before commit: task %q, query %q\n", v, q)

	_ = txn.Commit()
	q, _ = query.Fetch([]byte("alice"), 0)
	fmt.Printf("after commit: query %q\n", q)
	// Output:
	// before commit: task "3", query ""
	// after commit: query "3"
}

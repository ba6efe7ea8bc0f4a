package state

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// clone returns a deep copy of the model.
func (m *versionModel) clone() *versionModel {
	c := &versionModel{retention: m.retention, observed: m.observed, keys: maps.Clone(m.keys)}
	for k, vs := range c.keys {
		c.keys[k] = slices.Clone(vs)
	}
	return c
}

// checkVersioned compares a read of s with the model's.
func checkVersioned(t *testing.T, what string, s VersionedBytesStore, m *versionModel, key string, asOf int64, latest bool) {
	t.Helper()
	var got VersionedRecord[[]byte]
	var ok bool
	var err error
	if latest {
		got, ok, err = s.Get([]byte(key))
	} else {
		got, ok, err = s.GetAsOf([]byte(key), asOf)
	}
	want, wok := m.get(key, asOf, latest)
	if err != nil || ok != wok || ok && (!slices.Equal(got.Value, want.Value) || got.Value == nil || got.Timestamp != want.Timestamp || got.ValidTo != want.ValidTo) {
		t.Fatalf("%s: get(%s, asOf %d, latest %v) = %+v %v %v, want %+v %v", what, key, asOf, latest, got, ok, err, want, wok)
	}
}

// TestVersionedTxnAgainstModel runs random puts, reads, commits and aborts
// on a versioned store through a transaction layer, on both backends.
// Reads through the layer (the task's) match the model of every write;
// reads of the store below (what queries see) match the model of the
// committed writes only, stream time included. On Pebble the store is
// then closed without a commit (a crash) and reopened: it holds the
// committed versions only.
func TestVersionedTxnAgainstModel(t *testing.T) {
	opts := VersionedStoreOptions{HistoryRetention: 20 * time.Millisecond}
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			for seed := range uint64(10) {
				dir := t.TempDir()
				var base VersionedBytesStore
				var err error
				if backend == "memory" {
					base, err = NewMemoryVersionedStore("v", opts)
				} else {
					base, err = OpenPebbleVersionedStore("v", dir, opts, nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				view, err := VersionedStoreBytes(base)
				if err != nil {
					t.Fatal(err)
				}
				txn, err := NewVersionedTxn(view)
				if err != nil {
					t.Fatal(err)
				}
				task, err := VersionedStoreWritingTo(txn)
				if err != nil {
					t.Fatal(err)
				}
				query, err := VersionedStoreWritingTo(view)
				if err != nil {
					t.Fatal(err)
				}
				all := &versionModel{retention: 20, observed: -1, keys: map[string][]modelVersion{}}
				committed := all.clone()
				r := rand.New(rand.NewPCG(seed, 11))
				now := int64(0)
				for op := range 400 {
					key := []string{"a", "b", "c"}[r.IntN(3)]
					now += int64(r.IntN(3))
					ts := now - int64(r.IntN(30))
					what := fmt.Sprintf("seed %d op %d", seed, op)
					switch k := r.IntN(20); {
					case k < 9:
						var v []byte
						if r.IntN(6) != 0 {
							v = []byte(fmt.Sprintf("v%d", op))
						}
						got, err := task.Put([]byte(key), v, ts)
						if want := all.put(key, v, ts); err != nil || got != want {
							t.Fatalf("%s: put(%s, %q, %d) = %d %v, want %d", what, key, v, ts, got, err, want)
						}
					case k < 16:
						latest := r.IntN(3) == 0
						checkVersioned(t, what+" (task)", task, all, key, ts, latest)
						checkVersioned(t, what+" (query)", query, committed, key, ts, latest)
					case k < 18:
						if err := txn.Commit(); err != nil {
							t.Fatal(err)
						}
						committed = all.clone()
					default:
						txn.Abort()
						all = committed.clone()
					}
				}
				if backend == "pebble" {
					if err := view.Flush(); err != nil {
						t.Fatal(err)
					}
					if err := txn.Close(); err != nil { // pending writes dropped: a crash
						t.Fatal(err)
					}
					base, err = OpenPebbleVersionedStore("v", dir, opts, nil)
					if err != nil {
						t.Fatal(err)
					}
					for _, key := range []string{"a", "b", "c"} {
						checkVersioned(t, "reopened", base, committed, key, 0, true)
						for asOf := now - 25; asOf <= now; asOf++ {
							checkVersioned(t, "reopened", base, committed, key, asOf, false)
						}
					}
				}
				if err := base.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// The store below a transaction layer sees nothing of the open
// transaction (versions, history, stream time) until Commit, and nothing
// after Abort; a restore into the store below while nothing is pending is
// seen through the layer.
func TestVersionedTxnCommitAbort(t *testing.T) {
	base, err := NewMemoryVersionedStore("v", VersionedStoreOptions{HistoryRetention: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	view, _ := VersionedStoreBytes(base)
	txn, err := NewVersionedTxn(view)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := VersionedStoreWritingTo(txn)
	mustPut := func(s VersionedBytesStore, v string, ts int64) {
		t.Helper()
		if _, err := s.Put([]byte("k"), []byte(v), ts); err != nil {
			t.Fatal(err)
		}
	}
	latest := func(s VersionedBytesStore) string {
		t.Helper()
		r, ok, err := s.Get([]byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "none"
		}
		return fmt.Sprintf("%s@%d", r.Value, r.Timestamp)
	}
	asOf := func(s VersionedBytesStore, at int64) string {
		t.Helper()
		r, ok, err := s.GetAsOf([]byte("k"), at)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "none"
		}
		return fmt.Sprintf("%s@%d", r.Value, r.Timestamp)
	}
	mustPut(task, "a", 10)
	mustPut(task, "b", 20)
	if got := latest(task); got != "b@20" {
		t.Errorf("the task reads %s, want its uncommitted b@20", got)
	}
	if got := latest(base); got != "none" {
		t.Errorf("below the layer before Commit: %s, want none", got)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, hist := latest(base), asOf(base, 15); got != "b@20" || hist != "a@10" {
		t.Errorf("after Commit below the layer: latest %s, as of 15 %s; want b@20, a@10", got, hist)
	}
	// Stream time 40 makes the history before 30 unreadable, in the
	// transaction only.
	mustPut(task, "c", 40)
	if got := asOf(task, 25); got != "none" {
		t.Errorf("the task reads as of 25 %s, want none (older than stream time 40 - 10)", got)
	}
	if got := asOf(base, 25); got != "b@20" {
		t.Errorf("below the layer as of 25: %s, want b@20 (committed stream time 20)", got)
	}
	txn.Abort()
	if got, hist := latest(task), asOf(task, 15); got != "b@20" || hist != "a@10" {
		t.Errorf("after Abort the task reads latest %s, as of 15 %s; want b@20, a@10", got, hist)
	}
	// A restore writes below the layer.
	if err := view.Put([]byte("k"), VersionedValue(30, []byte("r"))); err != nil {
		t.Fatal(err)
	}
	if got := latest(task); got != "r@30" {
		t.Errorf("after a restore below the layer the task reads %s, want r@30", got)
	}
	if txn.Pending() != 0 {
		t.Errorf("%d pending entries, want 0", txn.Pending())
	}
}

// BenchmarkVersionedPut puts versions of 1,000 keys at rising timestamps
// (each put advances stream time and expires history) into a Pebble
// versioned store, directly and through a transaction layer committed
// every 1,000 puts (about one 100 ms commit interval's worth).
func BenchmarkVersionedPut(b *testing.B) {
	for _, layered := range []bool{false, true} {
		name := "direct"
		if layered {
			name = "txn"
		}
		b.Run(name, func(b *testing.B) {
			base, err := OpenPebbleVersionedStore("v", b.TempDir(), VersionedStoreOptions{HistoryRetention: time.Second}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer base.Close()
			s, commit := base, func() error { return nil }
			if layered {
				view, _ := VersionedStoreBytes(base)
				txn, err := NewVersionedTxn(view)
				if err != nil {
					b.Fatal(err)
				}
				if s, err = VersionedStoreWritingTo(txn); err != nil {
					b.Fatal(err)
				}
				commit = txn.Commit
			}
			v := []byte("value")
			b.ReportAllocs()
			for i := range b.N {
				if _, err := s.Put([]byte(fmt.Sprintf("k%04d", i%1000)), v, int64(i)); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 999 {
					if err := commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

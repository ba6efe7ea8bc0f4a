package runtime

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dump lists an iterator's entries as "k=v ...".
func dump(t *testing.T, it state.Iterator, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, fmt.Sprintf("%s=%s", it.Key(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func TestTxnStoreKeepsWritesApartUntilCommit(t *testing.T) {
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			var base state.BytesStore = state.NewMemoryStore("s")
			if backend == "pebble" {
				p, err := state.OpenPebbleStore("s", t.TempDir(), nil)
				if err != nil {
					t.Fatal(err)
				}
				base = p
			}
			defer base.Close()
			for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"d", "4"}} {
				if err := base.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
					t.Fatal(err)
				}
			}
			s := newTxnStore(base)
			if err := s.Put([]byte("c"), []byte("3")); err != nil {
				t.Fatal(err)
			}
			if err := s.Put([]byte("a"), []byte("10")); err != nil {
				t.Fatal(err)
			}
			if old, err := s.Delete([]byte("b")); err != nil || string(old) != "2" {
				t.Fatalf("Delete(b) = %q, %v; want 2", old, err)
			}
			if old, err := s.PutIfAbsent([]byte("c"), []byte("x")); err != nil || string(old) != "3" {
				t.Fatalf("PutIfAbsent(c) = %q, %v; want 3 (the pending write)", old, err)
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name string
				got  func() (state.Iterator, error)
				want string
			}{
				{"all", s.All, "a=10 c=3 d=4"},
				{"range", func() (state.Iterator, error) { return s.Range([]byte("b"), []byte("c")) }, "c=3"},
				{"reverse", func() (state.Iterator, error) { return s.ReverseRange(nil, nil) }, "d=4 c=3 a=10"},
				{"prefix", func() (state.Iterator, error) { return s.PrefixScan([]byte("a")) }, "a=10"},
				{"committed store", base.All, "a=1 b=2 d=4"},
			}
			for _, tc := range tests {
				it, err := tc.got()
				if got := dump(t, it, err); got != tc.want {
					t.Errorf("%s before commit: %q, want %q", tc.name, got, tc.want)
				}
			}
			if v, _ := s.Get([]byte("b")); v != nil {
				t.Errorf("Get(b) = %q after the pending delete, want nil", v)
			}
			if err := s.commit(); err != nil {
				t.Fatal(err)
			}
			it, err := base.All()
			if got := dump(t, it, err); got != "a=10 c=3 d=4" {
				t.Errorf("committed store after commit: %q, want %q", got, "a=10 c=3 d=4")
			}
			if len(s.pending) != 0 {
				t.Errorf("%d writes still pending after commit", len(s.pending))
			}
		})
	}
}

func openEOSTask(t *testing.T, st *Subtopology, dir string, out Collector) *Task {
	t.Helper()
	task, err := NewTask(st, 2, TaskConfig{AppID: "app", Collector: out, StateDir: dir, ExactlyOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// Under exactly-once a key-value store's disk holds only committed
// updates: a task that crashes (closes without committing) keeps its store
// and checkpoint, and restores only from the checkpoint on.
func TestExactlyOnceStoreSurvivesCrash(t *testing.T) {
	spec := &StoreSpec{Name: "counts", Persistent: true, Logged: true}
	st := storeTopology(t, spec)
	dir := t.TempDir()
	task := openEOSTask(t, st, dir, &capture{})
	feed(t, task, "a", "1", "b", "2")
	// The transaction committed: the updates reach the store, then the
	// checkpoint.
	if err := task.CommitStores(); err != nil {
		t.Fatal(err)
	}
	if err := task.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// A commit soon after, with few updates, leaves the checkpoint
	// alone (no Pebble flush every 100ms): the store may get ahead of it
	// with committed updates only.
	feed(t, task, "e", "5")
	if err := task.CommitStores(); err != nil {
		t.Fatal(err)
	}
	if err := task.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if cp, err := state.ReadCheckpoint(filepath.Join(dir, "0_2", checkpointFile)); err != nil || cp["app-counts-changelog"][2] != 2 {
		t.Errorf("checkpoint after a second commit = %v (%v), want it left at offset 2", cp, err)
	}
	feed(t, task, "a", "3", "c", "4") // never committed
	if v := mustGet(t, taskStoreOf(t, task, "counts"), "a"); string(v) != "3" {
		t.Errorf("the task reads a = %q, want its uncommitted 3", v)
	}
	if v := mustGet(t, task.stores[0].queryView(), "a"); string(v) != "1" {
		t.Errorf("queries read a = %q, want the committed 1", v)
	}
	if err := task.Close(); err != nil { // the crash: no commit
		t.Fatal(err)
	}

	task = openEOSTask(t, st, dir, &capture{})
	if cls := task.Changelogs(); len(cls) != 1 || cls[0].From != 2 {
		t.Fatalf("after the crash the task restores from %+v, want offset 2 (its checkpoint)", cls[0])
	}
	s := taskStoreOf(t, task, "counts")
	for k, want := range map[string]string{"a": "1", "b": "2", "c": ""} {
		if v := mustGet(t, s, k); string(v) != want {
			t.Errorf("after the crash %s = %q, want %q", k, v, want)
		}
	}
	if err := task.Close(); err != nil { // a second crash before any commit
		t.Fatal(err)
	}
	task = openEOSTask(t, st, dir, &capture{})
	defer task.Close()
	if cls := task.Changelogs(); cls[0].From != 2 {
		t.Errorf("after a crash before the first commit the task restores from %d, want 2", cls[0].From)
	}
}

// Under exactly-once a window store (as a session store) keeps its
// uncommitted updates apart, as a key-value store does: the task reads
// them, queries do not, and a task that crashes keeps its store and
// checkpoint and restores only from the checkpoint on.
func TestExactlyOnceWindowStoreSurvivesCrash(t *testing.T) {
	opts := state.WindowStoreOptions{Retention: time.Hour, WindowSize: time.Minute}
	spec := &StoreSpec{Name: "win", Persistent: true, Logged: true, Open: WindowStoreOpen(opts), Typed: WindowStoreTyped(nil)}
	st := windowTopology(t, spec, func() processor.Processor[string, string, string, string] { return &windowPutter{store: "win"} })
	dir := t.TempDir()
	task := openEOSTask(t, st, dir, &capture{})
	feed(t, task, "a", "1", "b", "2")
	if err := task.CommitStores(); err != nil {
		t.Fatal(err)
	}
	if err := task.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if cp, err := state.ReadCheckpoint(filepath.Join(dir, "0_2", checkpointFile)); err != nil || cp["app-win-changelog"][2] != 2 {
		t.Fatalf("checkpoint after the commit = %v (%v), want offset 2", cp, err)
	}
	feed(t, task, "a", "3", "c", "4") // never committed
	if got := fmt.Sprint(windows(t, windowStoreOf(t, task))); got != "[a@100=3 b@102=2 c@102=4]" {
		t.Errorf("the task reads %s, want its uncommitted updates too", got)
	}
	query, err := state.WindowStoreWritingTo(task.stores[0].queryView())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(windows(t, query)); got != "[a@100=1 b@102=2]" {
		t.Errorf("queries read %s, want the committed updates only", got)
	}
	if err := task.Close(); err != nil { // the crash: no commit
		t.Fatal(err)
	}

	task = openEOSTask(t, st, dir, &capture{})
	defer task.Close()
	if cls := task.Changelogs(); len(cls) != 1 || cls[0].From != 2 {
		t.Fatalf("after the crash the task restores from %+v, want offset 2 (its checkpoint)", cls[0])
	}
	if got := fmt.Sprint(windows(t, windowStoreOf(t, task))); got != "[a@100=1 b@102=2]" {
		t.Errorf("after the crash the store holds %s, want the committed updates only", got)
	}
}

func TestDataRecordsDropsTransactionMarkers(t *testing.T) {
	data := func(off int64) *kgo.Record { return &kgo.Record{Offset: off} }
	marker := func(off int64) *kgo.Record {
		return &kgo.Record{Offset: off, Attrs: kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true})}
	}
	tests := []struct {
		name string
		in   []*kgo.Record
		want []int64
	}{
		{"none", nil, nil},
		{"data only", []*kgo.Record{data(0), data(1)}, []int64{0, 1}},
		{"markers only", []*kgo.Record{marker(0), marker(1)}, nil},
		{"mixed", []*kgo.Record{data(0), marker(1), data(2), data(3), marker(4)}, []int64{0, 2, 3}},
	}
	for _, tc := range tests {
		var got []int64
		for _, r := range dataRecords(tc.in) {
			got = append(got, r.Offset)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

package runtime

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// capture is a Collector that keeps what it is sent and acknowledges each
// record at once with the next offset of its topic, as a producer flush
// would.
type capture struct {
	recs    []*kgo.Record
	kinds   []SendKind
	offsets map[string]int64
}

func (c *capture) Send(rec *kgo.Record, kind SendKind) {
	if c.offsets == nil {
		c.offsets = map[string]int64{}
	}
	rec.Offset = c.offsets[rec.Topic]
	c.offsets[rec.Topic]++
	c.recs = append(c.recs, rec)
	c.kinds = append(c.kinds, kind)
}

// update is one call of a flush listener.
type update struct {
	key, newValue, oldValue string
	hasNew, hasOld          bool
	ts                      int64
}

func (u update) String() string {
	return fmt.Sprintf("%s: %q(%v) <- %q(%v) @%d", u.key, u.newValue, u.hasNew, u.oldValue, u.hasOld, u.ts)
}

// listened returns a cached store over a memory store, with a listener
// that appends to the returned slice, and a settable clock.
func listened(t *testing.T, maxBytes int64) (*cachedStore, state.BytesStore, *[]update, *int64) {
	t.Helper()
	below := state.NewMemoryStore("s")
	var now int64
	c := newCachedStore(below, maxBytes, func() int64 { return now })
	var got []update
	c.SetFlushListener(func(k, nv, ov []byte, ts int64) error {
		got = append(got, update{key: string(k), newValue: string(nv), oldValue: string(ov), hasNew: nv != nil, hasOld: ov != nil, ts: ts})
		return nil
	})
	return c, below, &got, &now
}

func mustGet(t *testing.T, s state.BytesStore, key string) []byte {
	t.Helper()
	v, err := s.Get([]byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func mustPut(t *testing.T, s state.BytesStore, key, value string) {
	t.Helper()
	var v []byte
	if value != "<nil>" {
		v = []byte(value)
	}
	if err := s.Put([]byte(key), v); err != nil {
		t.Fatalf("Put(%q, %q): %v", key, value, err)
	}
}

func TestCachedStoreWritesThroughWithoutCache(t *testing.T) {
	c, below, got, now := listened(t, 0)
	*now = 5
	mustPut(t, c, "a", "1")
	if v := mustGet(t, below, "a"); string(v) != "1" {
		t.Fatalf("below = %q after a write-through Put, want 1", v)
	}
	*now = 6
	mustPut(t, c, "a", "2")
	if _, err := c.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	// Deleting an absent key reports nothing.
	if old, err := c.Delete([]byte("zz")); err != nil || old != nil {
		t.Fatalf("Delete(absent) = %q, %v", old, err)
	}
	want := []update{
		{key: "a", newValue: "1", hasNew: true, ts: 5},
		{key: "a", newValue: "2", hasNew: true, oldValue: "1", hasOld: true, ts: 6},
		{key: "a", oldValue: "2", hasOld: true, ts: 6},
	}
	if !slices.Equal(*got, want) {
		t.Errorf("listener saw\n%v\nwant\n%v", *got, want)
	}
}

func TestCachedStoreMergesWritesUntilFlush(t *testing.T) {
	c, below, got, now := listened(t, 1<<20)
	mustPut(t, below, "b", "old")
	steps := []struct {
		ts         int64
		key, value string
	}{
		{1, "b", "b1"},
		{2, "a", "a1"},
		{3, "b", "b2"},
		{4, "c", "c1"},
		{5, "c", "<nil>"}, // created and deleted within the cache: nothing to report
		{6, "a", "a2"},
	}
	for _, s := range steps {
		*now = s.ts
		mustPut(t, c, s.key, s.value)
	}
	if len(*got) != 0 {
		t.Fatalf("listener called before flush: %v", *got)
	}
	if v := mustGet(t, below, "a"); v != nil {
		t.Fatalf("below holds a = %q before flush", v)
	}
	// Reads see the cache.
	if v := mustGet(t, c, "b"); string(v) != "b2" {
		t.Errorf("Get(b) through the cache = %q, want b2", v)
	}
	if v := mustGet(t, c, "c"); v != nil {
		t.Errorf("Get(c) through the cache = %q, want nil (deleted)", v)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	// One update per key, in the order keys were first written, with the
	// timestamp of the last write and the value it replaced below.
	want := []update{
		{key: "b", newValue: "b2", hasNew: true, oldValue: "old", hasOld: true, ts: 3},
		{key: "a", newValue: "a2", hasNew: true, ts: 6},
	}
	if !slices.Equal(*got, want) {
		t.Errorf("listener saw\n%v\nwant\n%v", *got, want)
	}
	for k, v := range map[string]string{"a": "a2", "b": "b2"} {
		if b := mustGet(t, below, k); string(b) != v {
			t.Errorf("below %s = %q, want %q", k, b, v)
		}
	}
	if v := mustGet(t, below, "c"); v != nil {
		t.Errorf("below c = %q, want absent", v)
	}
	*got = nil
	if err := c.Flush(); err != nil || len(*got) != 0 {
		t.Errorf("second flush: %v, listener saw %v", err, *got)
	}
}

func TestCachedStoreDeleteOfFlushedKey(t *testing.T) {
	c, below, got, _ := listened(t, 1<<20)
	mustPut(t, below, "k", "v")
	old, err := c.Delete([]byte("k"))
	if err != nil || string(old) != "v" {
		t.Fatalf("Delete = %q, %v; want v", old, err)
	}
	if old, err := c.PutIfAbsent([]byte("k"), []byte("w")); err != nil || old != nil {
		t.Fatalf("PutIfAbsent after Delete = %q, %v; want it to write", old, err)
	}
	if old, err := c.PutIfAbsent([]byte("k"), []byte("x")); err != nil || string(old) != "w" {
		t.Fatalf("PutIfAbsent over w = %q, %v", old, err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []update{{key: "k", newValue: "w", hasNew: true, oldValue: "v", hasOld: true}}
	if !slices.Equal(*got, want) {
		t.Errorf("listener saw %v, want %v", *got, want)
	}
}

func TestCachedStoreFlushesWhenFull(t *testing.T) {
	// Each entry costs its key, value and 64 bytes of overhead.
	c, below, got, _ := listened(t, 150)
	mustPut(t, c, "a", "1")
	if len(*got) != 0 {
		t.Fatalf("flushed below the limit: %v", *got)
	}
	mustPut(t, c, "a", "2") // same key: no new overhead
	if len(*got) != 0 {
		t.Fatalf("rewriting a key flushed: %v", *got)
	}
	mustPut(t, c, "b", "1") // 2*(1+64) + 2 = 132
	if len(*got) != 0 {
		t.Fatalf("flushed below the limit: %v", *got)
	}
	mustPut(t, c, "c", "1") // 197 > 150
	if len(*got) != 3 {
		t.Fatalf("after outgrowing the cache the listener saw %v, want a, b, c", *got)
	}
	if v := mustGet(t, below, "c"); string(v) != "1" {
		t.Errorf("below c = %q after the cache outgrew its size", v)
	}
	mustPut(t, c, "d", "1")
	if len(*got) != 3 {
		t.Errorf("the cache did not empty when it flushed: %v", *got)
	}
}

func TestCachedStoreIteratorsSeeCachedWrites(t *testing.T) {
	iters := map[string]func(s state.BytesStore) (state.Iterator, error){
		"All":          func(s state.BytesStore) (state.Iterator, error) { return s.All() },
		"Range":        func(s state.BytesStore) (state.Iterator, error) { return s.Range([]byte("a"), []byte("z")) },
		"ReverseRange": func(s state.BytesStore) (state.Iterator, error) { return s.ReverseRange(nil, nil) },
		"PrefixScan":   func(s state.BytesStore) (state.Iterator, error) { return s.PrefixScan([]byte("k")) },
	}
	for name, open := range iters {
		t.Run(name, func(t *testing.T) {
			c, _, got, _ := listened(t, 1<<20)
			mustPut(t, c, "k1", "v1")
			mustPut(t, c, "k2", "v2")
			it, err := open(c)
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			n := 0
			for it.Next() {
				n++
			}
			if err := it.Err(); err != nil || n != 2 {
				t.Errorf("iterated %d entries (%v), want 2", n, err)
			}
			if len(*got) != 2 {
				t.Errorf("opening an iterator reported %v, want the 2 cached writes", *got)
			}
		})
	}
}

func TestCachedStoreListenerError(t *testing.T) {
	c := newCachedStore(state.NewMemoryStore("s"), 1<<20, func() int64 { return 0 })
	c.SetFlushListener(func(_, _, _ []byte, _ int64) error { return fmt.Errorf("boom") })
	mustPut(t, c, "a", "1")
	err := c.Flush()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"s"`)) {
		t.Errorf("Flush = %v, want an error naming the store", err)
	}
}

func TestLoggedStoreWritesChangelog(t *testing.T) {
	out := &capture{}
	var now int64 = 42
	l := &loggedStore{BytesStore: state.NewMemoryStore("s"), topic: "app-s-changelog", partition: 3, out: out, ts: func() int64 { return now }}
	if l.nextOffset() != -1 {
		t.Fatalf("nextOffset before any write = %d, want -1", l.nextOffset())
	}
	key := []byte("k")
	mustPut(t, l, "k", "1")
	key[0] = 'x' // the logged record must not alias the caller's buffer
	now = 43
	if old, err := l.PutIfAbsent([]byte("k"), []byte("2")); err != nil || string(old) != "1" {
		t.Fatalf("PutIfAbsent(k) = %q, %v", old, err)
	}
	if old, err := l.PutIfAbsent([]byte("j"), []byte("3")); err != nil || old != nil {
		t.Fatalf("PutIfAbsent(j) = %q, %v", old, err)
	}
	if _, err := l.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Delete([]byte("absent")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, l, "j", "<nil>")
	type logged struct {
		key, value string
		null       bool
		ts         int64
	}
	var got []logged
	for i, r := range out.recs {
		if r.Topic != "app-s-changelog" || r.Partition != 3 || out.kinds[i] != SendChangelog {
			t.Errorf("record %d went to %s/%d as %v, want app-s-changelog/3 as a changelog record", i, r.Topic, r.Partition, out.kinds[i])
		}
		got = append(got, logged{string(r.Key), string(r.Value), r.Value == nil, r.Timestamp.UnixMilli()})
	}
	want := []logged{
		{"k", "1", false, 42},
		{"j", "3", false, 43},
		{"k", "", true, 43},
		{"j", "", true, 43},
	}
	if !slices.Equal(got, want) {
		t.Errorf("changelog = %v, want %v", got, want)
	}
	if n := l.nextOffset(); n != int64(len(want)) {
		t.Errorf("nextOffset = %d, want %d", n, len(want))
	}
	if v := mustGet(t, l, "k"); v != nil {
		t.Errorf("store k = %q after delete", v)
	}
}

// storeTopology is a graph reading "in" into a processor that puts each
// record into store spec, as raw bytes.
func storeTopology(t *testing.T, spec *StoreSpec) *Subtopology {
	t.Helper()
	g := NewGraph()
	g.Add(&NodeSpec{Name: "src", Kind: SourceKind, Topics: []Topic{{Name: "in"}}, Out: strRec,
		New: NewSource("src", serde.String(), serde.String())})
	g.Add(&NodeSpec{Name: "put", Kind: ProcessorKind, Parents: []string{"src"}, In: strRec, Out: strRec,
		New: NewProcessor("put", func() processor.Processor[string, string, string, string] { return &putter{store: spec.Name} })})
	g.AddStore(spec)
	g.Connect(spec.Name, "put")
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Subtopologies) != 1 {
		t.Fatalf("%d sub-topologies", len(plan.Subtopologies))
	}
	return plan.Subtopologies[0]
}

type putter struct {
	store string
	s     state.BytesStore
}

func (p *putter) Init(ctx processor.Context[string, string]) (err error) {
	p.s, err = processor.Store[state.BytesStore](ctx, p.store)
	return err
}

func (p *putter) Process(r processor.Record[string, string]) error {
	return p.s.Put([]byte(r.Key), []byte(r.Value))
}

func (p *putter) Close() error { return nil }

// feed processes records k=v on topic "in" of task.
func feed(t *testing.T, task *Task, kvs ...string) {
	t.Helper()
	for i := 0; i < len(kvs); i += 2 {
		task.Add(&kgo.Record{Topic: "in", Partition: 2, Key: []byte(kvs[i]), Value: []byte(kvs[i+1]), Offset: int64(i / 2), Timestamp: time.UnixMilli(int64(100 + i))})
	}
	if _, err := task.Process(len(kvs)); err != nil {
		t.Fatal(err)
	}
}

func openTask(t *testing.T, st *Subtopology, dir string, out Collector) *Task {
	t.Helper()
	task, err := NewTask(st, 2, TaskConfig{AppID: "app", Collector: out, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func taskStoreOf(t *testing.T, task *Task, name string) state.BytesStore {
	t.Helper()
	s, err := task.StateStore("put", name)
	if err != nil {
		t.Fatal(err)
	}
	return s.(state.BytesStore)
}

func TestTaskCheckpoint(t *testing.T) {
	spec := &StoreSpec{Name: "counts", Persistent: true, Logged: true}
	st := storeTopology(t, spec)
	cpPath := func(dir string) string { return filepath.Join(dir, "0_2", checkpointFile) }

	// run processes three records, checkpoints and closes the task.
	run := func(t *testing.T, dir string) {
		t.Helper()
		out := &capture{}
		task := openTask(t, st, dir, out)
		if cls := task.Changelogs(); len(cls) != 1 || cls[0].From != -1 || cls[0].Topic != "app-counts-changelog" || cls[0].Partition != 2 {
			t.Fatalf("fresh task changelogs = %+v, want app-counts-changelog/2 from -1", cls[0])
		}
		feed(t, task, "a", "1", "b", "2", "a", "3")
		if len(out.recs) != 3 {
			t.Fatalf("%d changelog records, want 3", len(out.recs))
		}
		if err := task.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		cp, err := state.ReadCheckpoint(cpPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		if off := cp["app-counts-changelog"][2]; off != 3 || len(cp) != 1 {
			t.Fatalf("checkpoint = %v, want app-counts-changelog/2 at 3", cp)
		}
		if err := task.Close(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("reopen", func(t *testing.T) {
		dir := t.TempDir()
		run(t, dir)
		task := openTask(t, st, dir, &capture{})
		defer task.Close()
		if _, err := os.Stat(cpPath(dir)); !os.IsNotExist(err) {
			t.Errorf("checkpoint still there after reopening: %v", err)
		}
		if cls := task.Changelogs(); cls[0].From != 3 {
			t.Errorf("restore from %d, want 3 (the checkpoint)", cls[0].From)
		}
		if v := mustGet(t, taskStoreOf(t, task, "counts"), "a"); string(v) != "3" {
			t.Errorf("a = %q after reopening, want the local value 3", v)
		}
	})
	damage := map[string]func(t *testing.T, dir string){
		"missing": func(t *testing.T, dir string) {
			if err := os.Remove(cpPath(dir)); err != nil {
				t.Fatal(err)
			}
		},
		"corrupt": func(t *testing.T, dir string) {
			if err := os.WriteFile(cpPath(dir), []byte("kstreams-checkpoint 1\n1\nbroken"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			run(t, dir)
			fn(t, dir)
			task := openTask(t, st, dir, &capture{})
			defer task.Close()
			if cls := task.Changelogs(); cls[0].From != -1 {
				t.Errorf("restore from %d, want -1 (the start)", cls[0].From)
			}
			s := taskStoreOf(t, task, "counts")
			if n, err := s.ApproximateNumEntries(); err != nil || n != 0 {
				t.Errorf("store holds %d entries (%v) without a valid checkpoint, want a wiped store", n, err)
			}
			if _, err := os.Stat(cpPath(dir)); !os.IsNotExist(err) {
				t.Errorf("checkpoint still there after reopening: %v", err)
			}
		})
	}
}

func TestTaskCheckpointSkipsStoresNotRestoredFromDisk(t *testing.T) {
	for _, spec := range []*StoreSpec{
		{Name: "mem", Logged: true},
		{Name: "unlogged", Persistent: true},
	} {
		t.Run(spec.Name, func(t *testing.T) {
			dir := t.TempDir()
			st := storeTopology(t, spec)
			task := openTask(t, st, dir, &capture{})
			feed(t, task, "a", "1")
			if err := task.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "0_2", checkpointFile)); !os.IsNotExist(err) {
				t.Errorf("store %+v wrote a checkpoint (%v)", spec, err)
			}
			if err := task.Close(); err != nil {
				t.Fatal(err)
			}
			task = openTask(t, st, dir, &capture{})
			defer task.Close()
			v := mustGet(t, taskStoreOf(t, task, spec.Name), "a")
			if keep := spec.Persistent; (v != nil) != keep {
				t.Errorf("after reopening a = %q; want it kept: %v", v, keep)
			}
		})
	}
}

func TestStatefulTaskNeedsStateDir(t *testing.T) {
	st := storeTopology(t, &StoreSpec{Name: "s"})
	if _, err := NewTask(st, 0, TaskConfig{AppID: "app", Collector: &capture{}}); err == nil {
		t.Fatal("NewTask with stores and no state directory succeeded")
	}
}

func TestTaskStateStoreErrors(t *testing.T) {
	st := storeTopology(t, &StoreSpec{Name: "s"})
	task := openTask(t, st, t.TempDir(), &capture{})
	defer task.Close()
	if _, err := task.StateStore("src", "s"); err == nil || !bytes.Contains([]byte(err.Error()), []byte("not connected")) {
		t.Errorf("StateStore from an unconnected node: %v", err)
	}
	if _, err := task.StateStore("put", "nope"); err == nil {
		t.Error("StateStore of an unknown store succeeded")
	}
}

func TestCachedTaskStoreFlushesOnFlushCaches(t *testing.T) {
	spec := &StoreSpec{Name: "s", Logged: true, Cached: true}
	st := storeTopology(t, spec)
	out := &capture{}
	task, err := NewTask(st, 2, TaskConfig{AppID: "app", Collector: out, StateDir: t.TempDir(), CacheMaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	feed(t, task, "a", "1", "a", "2", "b", "1")
	if len(out.recs) != 0 {
		t.Fatalf("cached store logged %d records before the flush", len(out.recs))
	}
	if err := task.FlushCaches(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range out.recs {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	if want := []string{"a=2", "b=1"}; !slices.Equal(got, want) {
		t.Errorf("changelog after flush = %v, want %v", got, want)
	}
}

// countingGets counts the Gets that reach the store below.
type countingGets struct {
	state.BytesStore
	gets int
}

func (c *countingGets) Get(key []byte) ([]byte, error) {
	c.gets++
	return c.BytesStore.Get(key)
}

// Write-through, an aggregation's read-then-write of a key reads the store
// below once; the listener still gets the right old value whatever the
// order of reads and writes, and a caller changing a slice it was given
// does not change what is reported.
func TestCachedStoreWriteThroughReadsOnce(t *testing.T) {
	below := &countingGets{BytesStore: state.NewMemoryStore("s")}
	c := newCachedStore(below, 0, func() int64 { return 0 })
	var got []update
	c.SetFlushListener(func(k, nv, ov []byte, ts int64) error {
		got = append(got, update{key: string(k), newValue: string(nv), oldValue: string(ov), hasNew: nv != nil, hasOld: ov != nil})
		return nil
	})
	mustPut(t, below.BytesStore, "a", "1")
	mustPut(t, below.BytesStore, "b", "x")

	v := mustGet(t, c, "a") // read, then write the same key: one Get below
	v[0] = '9'              // the caller's slice
	mustPut(t, c, "a", "2")
	if below.gets != 1 {
		t.Errorf("Get then Put of one key read below %d times, want 1", below.gets)
	}
	mustGet(t, c, "a")      // read another key in between: the old value
	mustPut(t, c, "b", "y") // of b is read below
	mustPut(t, c, "a", "3") // a was last written as 2
	if _, err := c.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	want := []update{
		{key: "a", newValue: "2", hasNew: true, oldValue: "1", hasOld: true},
		{key: "b", newValue: "y", hasNew: true, oldValue: "x", hasOld: true},
		{key: "a", newValue: "3", hasNew: true, oldValue: "2", hasOld: true},
		{key: "a", oldValue: "3", hasOld: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("listener saw\n%v\nwant\n%v", got, want)
	}
}

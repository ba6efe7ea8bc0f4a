package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// windowTopology is a graph reading "in" into processor "put" made by p,
// connected to store spec.
func windowTopology(t *testing.T, spec *StoreSpec, p func() processor.Processor[string, string, string, string]) *Subtopology {
	t.Helper()
	g := NewGraph()
	g.Add(&NodeSpec{Name: "src", Kind: SourceKind, Topics: []Topic{{Name: "in"}}, Out: strRec,
		New: NewSource("src", serde.String(), serde.String())})
	g.Add(&NodeSpec{Name: "put", Kind: ProcessorKind, Parents: []string{"src"}, In: strRec, Out: strRec,
		New: NewProcessor("put", p)})
	g.AddStore(spec)
	g.Connect(spec.Name, "put")
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return plan.Subtopologies[0]
}

// windowPutter puts each record into a window store, in the window
// starting at its timestamp.
type windowPutter struct {
	store string
	s     state.WindowBytesStore
}

func (p *windowPutter) Init(ctx processor.Context[string, string]) (err error) {
	p.s, err = processor.Store[state.WindowBytesStore](ctx, p.store)
	return err
}

func (p *windowPutter) Process(r processor.Record[string, string]) error {
	return p.s.Put([]byte(r.Key), r.Timestamp, []byte(r.Value))
}

func (p *windowPutter) Close() error { return nil }

func windowStoreOf(t *testing.T, task *Task) state.WindowBytesStore {
	t.Helper()
	s, err := task.StateStore("put", "win")
	if err != nil {
		t.Fatal(err)
	}
	return s.(state.WindowBytesStore)
}

// windows returns "key@start=value" for every window of s.
func windows(t *testing.T, s state.WindowBytesStore) []string {
	t.Helper()
	it, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	got := []string{}
	for it.Next() {
		got = append(got, fmt.Sprintf("%s@%d=%s", it.Key(), it.Window().Start, it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// A logged window store writes Kafka Streams' windowed changelog records
// (key + 8-byte window start + 4-byte seqnum), is checkpointed and
// reopened from disk, and is restored from its changelog, also after a
// wipe, read through the store the processor got before.
func TestWindowStoreInTask(t *testing.T) {
	opts := state.WindowStoreOptions{Retention: time.Hour, WindowSize: time.Minute}
	spec := &StoreSpec{Name: "win", Persistent: true, Logged: true, Open: WindowStoreOpen(opts), Typed: WindowStoreTyped(nil)}
	st := windowTopology(t, spec, func() processor.Processor[string, string, string, string] { return &windowPutter{store: "win"} })
	dir := t.TempDir()
	out := &capture{}
	task := openTask(t, st, dir, out)
	feed(t, task, "a", "1", "b", "2", "a", "3") // at 100, 102, 104
	want := []string{"a@100=1", "a@104=3", "b@102=2"}
	if got := windows(t, windowStoreOf(t, task)); !slices.Equal(got, want) {
		t.Fatalf("windows = %q, want %q", got, want)
	}
	wantKeys := [][]byte{
		state.WindowStoreKey([]byte("a"), 100, 0), state.WindowStoreKey([]byte("b"), 102, 0), state.WindowStoreKey([]byte("a"), 104, 0),
	}
	if len(out.recs) != len(wantKeys) {
		t.Fatalf("%d changelog records, want %d", len(out.recs), len(wantKeys))
	}
	for i, r := range out.recs {
		if r.Topic != "app-win-changelog" || r.Partition != 2 || string(r.Key) != string(wantKeys[i]) || r.Timestamp.UnixMilli() != int64(100+2*i) {
			t.Errorf("changelog record %d = %s/%d %x @%d, want app-win-changelog/2 %x @%d",
				i, r.Topic, r.Partition, r.Key, r.Timestamp.UnixMilli(), wantKeys[i], 100+2*i)
		}
	}
	if err := task.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := task.Close(); err != nil {
		t.Fatal(err)
	}

	task = openTask(t, st, dir, &capture{})
	if cls := task.Changelogs(); len(cls) != 1 || cls[0].From != 3 {
		t.Fatalf("reopened changelogs = %+v, want one from 3", cls)
	}
	s := windowStoreOf(t, task)
	if got := windows(t, s); !slices.Equal(got, want) {
		t.Fatalf("reopened windows = %q, want %q", got, want)
	}
	cl := task.Changelogs()[0]
	if err := cl.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := windows(t, s); len(got) != 0 {
		t.Fatalf("windows after a wipe = %q", got)
	}
	if err := cl.RestoreAll(out.recs); err != nil {
		t.Fatal(err)
	}
	if got := windows(t, s); !slices.Equal(got, want) {
		t.Fatalf("restored windows = %q, want %q", got, want)
	}
	if err := task.Close(); err != nil {
		t.Fatal(err)
	}

	fresh := t.TempDir()
	task = openTask(t, st, fresh, &capture{})
	defer task.Close()
	if err := task.Changelogs()[0].RestoreAll(out.recs); err != nil {
		t.Fatal(err)
	}
	if got := windows(t, windowStoreOf(t, task)); !slices.Equal(got, want) {
		t.Fatalf("windows restored into a fresh directory = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(fresh, "0_2", "win", "win.0")); err != nil {
		t.Fatalf("segment directory: %v", err)
	}
}

// A session store in a task logs Kafka Streams' session keys (key + 8-byte
// end + 8-byte start).
func TestSessionStoreInTask(t *testing.T) {
	spec := &StoreSpec{Name: "sessions", Logged: true, Open: SessionStoreOpen(state.SessionStoreOptions{Retention: time.Hour}),
		Typed: SessionStoreTyped(nil)}
	st := windowTopology(t, spec, func() processor.Processor[string, string, string, string] { return &sessionPutter{} })
	out := &capture{}
	task := openTask(t, st, t.TempDir(), out)
	defer task.Close()
	feed(t, task, "a", "1")
	want := state.SessionStoreKey([]byte("a"), serde.Window{Start: 100, End: 100})
	if len(out.recs) != 1 || string(out.recs[0].Key) != string(want) || string(out.recs[0].Value) != "1" {
		t.Fatalf("changelog = %v, want one record %x=1", out.recs, want)
	}
}

// sessionPutter puts each record into session store "sessions", as a
// session of its own timestamp.
type sessionPutter struct{ s state.SessionBytesStore }

func (p *sessionPutter) Init(ctx processor.Context[string, string]) (err error) {
	p.s, err = processor.Store[state.SessionBytesStore](ctx, "sessions")
	return err
}

func (p *sessionPutter) Process(r processor.Record[string, string]) error {
	return p.s.Put([]byte(r.Key), serde.Window{Start: r.Timestamp, End: r.Timestamp}, []byte(r.Value))
}

func (p *sessionPutter) Close() error { return nil }

func TestWindowedChangelogConfigs(t *testing.T) {
	got := WindowedChangelogConfigs(time.Hour, nil)
	if got["cleanup.policy"] != "compact,delete" || got["retention.ms"] != "90000000" {
		t.Fatalf("configs = %v, want compact,delete and 1 h + 1 day = 90000000 ms", got)
	}
	got = WindowedChangelogConfigs(time.Hour, map[string]string{"retention.ms": "5", "segment.bytes": "1000"})
	if got["retention.ms"] != "5" || got["segment.bytes"] != "1000" || got["cleanup.policy"] != "compact,delete" {
		t.Fatalf("configs with user overrides = %v", got)
	}
}

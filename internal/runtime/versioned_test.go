package runtime

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
)

// versionedPutter puts each record into a versioned store at its
// timestamp.
type versionedPutter struct {
	store string
	s     state.VersionedBytesStore
}

func (p *versionedPutter) Init(ctx processor.Context[string, string]) (err error) {
	p.s, err = processor.Store[state.VersionedBytesStore](ctx, p.store)
	return err
}

func (p *versionedPutter) Process(r processor.Record[string, string]) error {
	_, err := p.s.Put([]byte(r.Key), []byte(r.Value), r.Timestamp)
	return err
}

func (p *versionedPutter) Close() error { return nil }

// latestVersions returns "key=value@ts" of the latest version of each key.
func latestVersions(t *testing.T, s state.VersionedBytesStore, keys ...string) string {
	t.Helper()
	var out []string
	for _, k := range keys {
		r, ok, err := s.Get([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, fmt.Sprintf("%s=%s@%d", k, r.Value, r.Timestamp))
		}
	}
	return fmt.Sprint(out)
}

// Under exactly-once a versioned store keeps its uncommitted versions
// apart, as key-value and window stores do: the task reads them, queries
// (the store below) do not, and a task that crashes keeps its store and
// checkpoint and restores only from the checkpoint on.
func TestExactlyOnceVersionedStoreSurvivesCrash(t *testing.T) {
	opts := state.VersionedStoreOptions{HistoryRetention: time.Hour}
	spec := &StoreSpec{Name: "ver", Persistent: true, Logged: true, Versioned: true, Open: VersionedStoreOpen(opts), Typed: VersionedStoreTyped(nil)}
	st := windowTopology(t, spec, func() processor.Processor[string, string, string, string] { return &versionedPutter{store: "ver"} })
	dir := t.TempDir()
	task := openEOSTask(t, st, dir, &capture{})
	typed := func(task *Task) state.VersionedBytesStore {
		t.Helper()
		s, err := task.StateStore("put", "ver")
		if err != nil {
			t.Fatal(err)
		}
		return s.(state.VersionedBytesStore)
	}
	feed(t, task, "a", "1", "b", "2")
	if err := task.CommitStores(); err != nil {
		t.Fatal(err)
	}
	if err := task.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if cp, err := state.ReadCheckpoint(filepath.Join(dir, "0_2", checkpointFile)); err != nil || cp["app-ver-changelog"][2] != 2 {
		t.Fatalf("checkpoint after the commit = %v (%v), want offset 2", cp, err)
	}
	feed(t, task, "a", "3", "c", "4") // never committed
	if got := latestVersions(t, typed(task), "a", "b", "c"); got != "[a=3@100 b=2@102 c=4@102]" {
		t.Errorf("the task reads %s, want its uncommitted versions too", got)
	}
	query, err := state.VersionedStoreWritingTo(task.stores[0].queryView())
	if err != nil {
		t.Fatal(err)
	}
	if got := latestVersions(t, query, "a", "b", "c"); got != "[a=1@100 b=2@102]" {
		t.Errorf("queries read %s, want the committed versions only", got)
	}
	if err := task.Close(); err != nil { // the crash: no commit
		t.Fatal(err)
	}

	task = openEOSTask(t, st, dir, &capture{})
	defer task.Close()
	if cls := task.Changelogs(); len(cls) != 1 || cls[0].From != 2 {
		t.Fatalf("after the crash the task restores from %+v, want offset 2 (its checkpoint)", cls[0])
	}
	if got := latestVersions(t, typed(task), "a", "b", "c"); got != "[a=1@100 b=2@102]" {
		t.Errorf("after the crash the store holds %s, want the committed versions only", got)
	}
}

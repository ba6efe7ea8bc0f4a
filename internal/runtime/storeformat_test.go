package runtime

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// writePlain runs a task with a plain persistent store name, writes a=1 and
// closes it with a checkpoint, as kstreams did before timestamped stores.
func writePlain(t *testing.T, dir string, spec StoreSpec) {
	t.Helper()
	spec.Timestamped = false
	task := openTask(t, storeTopology(t, &spec), dir, &capture{})
	feed(t, task, "a", "1")
	if err := task.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := task.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreFormatChange(t *testing.T) {
	t.Run("logged: wiped and restored from the changelog", func(t *testing.T) {
		dir := t.TempDir()
		spec := StoreSpec{Name: "counts", Persistent: true, Logged: true}
		writePlain(t, dir, spec)
		spec.Timestamped = true
		task := openTask(t, storeTopology(t, &spec), dir, &capture{})
		defer task.Close()
		if cls := task.Changelogs(); cls[0].From != -1 {
			t.Errorf("restore from %d, want -1: a store in the old layout must be rebuilt", cls[0].From)
		}
		if v := mustGet(t, taskStoreOf(t, task, "counts"), "a"); v != nil {
			t.Errorf("a = %q: the plain value survived in a timestamped store", v)
		}
	})
	t.Run("unlogged: refused, naming the store", func(t *testing.T) {
		dir := t.TempDir()
		spec := StoreSpec{Name: "counts", Persistent: true}
		writePlain(t, dir, spec)
		spec.Timestamped = true
		_, err := NewTask(storeTopology(t, &spec), 2, TaskConfig{AppID: "app", Collector: &capture{}, StateDir: dir})
		if !errors.Is(err, ErrStoreFormat) || !strings.Contains(err.Error(), `"counts"`) {
			t.Fatalf("NewTask = %v, want ErrStoreFormat naming store \"counts\"", err)
		}
	})
	t.Run("same layout: kept", func(t *testing.T) {
		dir := t.TempDir()
		spec := StoreSpec{Name: "counts", Persistent: true, Logged: true, Timestamped: true}
		task := openTask(t, storeTopology(t, &spec), dir, &capture{})
		mustPut(t, taskStoreOf(t, task, "counts"), "a", string(state.WithTimestamp(7, []byte("1"))))
		if err := task.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		// No changelog record was acknowledged (the capture gives no
		// offsets): write the checkpoint entry by hand.
		if err := task.Close(); err != nil {
			t.Fatal(err)
		}
		writeCheckpointAt1(t, dir)
		task = openTask(t, storeTopology(t, &spec), dir, &capture{})
		defer task.Close()
		if cls := task.Changelogs(); cls[0].From != 1 {
			t.Errorf("restore from %d, want 1 (the checkpoint)", cls[0].From)
		}
		if v := mustGet(t, taskStoreOf(t, task, "counts"), "a"); string(v) != string(state.WithTimestamp(7, []byte("1"))) {
			t.Errorf("a = %q after reopening in the same layout", v)
		}
	})
}

func writeCheckpointAt1(t *testing.T, dir string) {
	t.Helper()
	if err := state.WriteCheckpoint(dir+"/0_2/"+checkpointFile, map[string]map[int32]int64{"app-counts-changelog": {2: 1}}); err != nil {
		t.Fatal(err)
	}
}

func TestTimestampedChangelog(t *testing.T) {
	// A timestamped store logs the plain value with the value's timestamp
	// as the record timestamp (a delete: the current record's), and a
	// restore puts the record timestamp back in front of the value.
	out := &capture{}
	l := &loggedStore{BytesStore: state.NewMemoryStore("s"), topic: "app-s-changelog", out: out, ts: func() int64 { return 99 }, timestamped: true}
	if err := l.Put([]byte("k"), state.WithTimestamp(5, []byte("v"))); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range out.recs {
		got = append(got, string(r.Key)+"="+string(r.Value)+"@"+r.Timestamp.Format("05.000"))
	}
	if want := []string{"k=v@00.005", "k=@00.099"}; !slices.Equal(got, want) || out.recs[1].Value != nil {
		t.Errorf("changelog = %q, want %q (the delete a tombstone)", got, want)
	}

	spec := &StoreSpec{Name: "s", Logged: true, Timestamped: true}
	task := openTask(t, storeTopology(t, spec), t.TempDir(), &capture{})
	defer task.Close()
	cl := task.Changelogs()[0]
	recs := []*kgo.Record{
		{Key: []byte("a"), Value: []byte("x"), Timestamp: time.UnixMilli(11)},
		{Key: []byte("b"), Value: []byte("y"), Timestamp: time.UnixMilli(12)},
		{Key: []byte("b"), Timestamp: time.UnixMilli(13)},
	}
	if err := cl.RestoreAll(recs); err != nil {
		t.Fatal(err)
	}
	s := taskStoreOf(t, task, "s")
	if v := mustGet(t, s, "a"); string(v) != string(state.WithTimestamp(11, []byte("x"))) {
		t.Errorf("restored a = %q, want x behind timestamp 11", v)
	}
	if v := mustGet(t, s, "b"); v != nil {
		t.Errorf("restored b = %q, want deleted", v)
	}
}

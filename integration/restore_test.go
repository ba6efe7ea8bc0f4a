package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// checkpoints returns the checkpoint files of app under the state
// directory dir: "<dir>/<app>/<task>/.checkpoint".
func checkpoints(t testing.TB, dir, app string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, app, "*", ".checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// runCountToEnd runs countTopology on in as app with its stores in dir,
// calls during (if set) once the instance runs, waits until every input is
// processed and the store holds exactly ids, each counted once, stops the
// instance cleanly and returns its metrics.
func runCountToEnd(t *testing.T, app, in, dir string, ids *idProducer, during func()) kstreams.Metrics {
	t.Helper()
	r := runApp(t, countTopology(t, in, nil), kstreams.ApplicationID(app), kstreams.StateDir(dir))
	waitRunning(t, r)
	if during != nil {
		during()
	}
	waitCaughtUp(t, app, 60*time.Second, in)
	waitStore(t, r.app, countStore, 30*time.Second, allCountsOne(ids.ids))
	r.stopOK(t)
	return r.app.Metrics()
}

// TestRestoreFromCheckpoint restarts a counting application on its state
// directory in three ways and checks how much it restores from the
// changelog:
//
//   - after a clean stop, the checkpoint is at the end of the changelog:
//     nothing is restored, although more input arrived meanwhile;
//   - without the checkpoint files, the local stores are wiped and restored
//     in full: every record of the changelog;
//   - with a stale checkpoint (another instance, on another state
//     directory, processed more input in between), only the changelog
//     records written since the checkpoint.
//
// Every key is counted once, so the changelog holds one record per key
// (with or without the record cache) and compaction removes nothing: the
// exact restore counts follow from the changelog's end offsets.
func TestRestoreFromCheckpoint(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 2, in)
	changelog := changelogOf(app, countStore)
	dir1, dir2 := t.TempDir(), t.TempDir()
	ids := &idProducer{topic: in, partitions: 2}

	ids.produce(t, 400)
	m := runCountToEnd(t, app, in, dir1, ids, nil)
	end1 := sum(endOffsets(t, changelog))
	t.Logf("first run: restored %d; changelog %d records", m.Restored, end1)
	if m.Restored != 0 {
		t.Errorf("first run restored %d records from an empty changelog, want 0", m.Restored)
	}
	if end1 != 400 {
		t.Errorf("changelog has %d records after 400 keys counted once, want 400", end1)
	}
	if cps := checkpoints(t, dir1, app); len(cps) != 2 {
		t.Fatalf("checkpoint files after a clean stop: %q, want one for each of the 2 tasks", cps)
	}

	// A clean restart: the checkpoint says the stores are complete.
	ids.produce(t, 300)
	m = runCountToEnd(t, app, in, dir1, ids, nil)
	end2 := sum(endOffsets(t, changelog))
	t.Logf("restart from the checkpoint: restored %d; changelog %d records", m.Restored, end2)
	if m.Restored != 0 {
		t.Errorf("restart after a clean stop restored %d records, want 0 (the checkpoint is at the end of the changelog)", m.Restored)
	}
	if end2 != 700 {
		t.Errorf("changelog has %d records after 700 keys counted once, want 700", end2)
	}

	// No checkpoint: the stores are wiped and restored in full.
	for _, cp := range checkpoints(t, dir1, app) {
		if err := os.Remove(cp); err != nil {
			t.Fatal(err)
		}
	}
	m = runCountToEnd(t, app, in, dir1, ids, nil)
	t.Logf("restart without checkpoints: restored %d", m.Restored)
	if m.Restored != end2 {
		t.Errorf("restart without checkpoints restored %d records, want all %d of the changelog", m.Restored, end2)
	}

	// Another instance on a fresh directory restores in full and counts
	// 200 more keys; the first directory's checkpoint is then stale.
	m = runCountToEnd(t, app, in, dir2, ids, func() { ids.produce(t, 200) })
	end3 := sum(endOffsets(t, changelog))
	t.Logf("other state directory: restored %d; changelog %d records", m.Restored, end3)
	if m.Restored != end2 {
		t.Errorf("instance on a fresh state directory restored %d records, want all %d of the changelog", m.Restored, end2)
	}
	if end3 != end2+200 {
		t.Errorf("changelog has %d records after 200 more keys, want %d", end3, end2+200)
	}
	m = runCountToEnd(t, app, in, dir1, ids, nil)
	t.Logf("restart from a stale checkpoint: restored %d", m.Restored)
	if m.Restored != end3-end2 {
		t.Errorf("restart from a stale checkpoint restored %d records, want the %d written since (changelog end %d, checkpoint at %d)",
			m.Restored, end3-end2, end3, end2)
	}
}

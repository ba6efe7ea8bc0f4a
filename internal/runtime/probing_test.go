package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
)

// TestHeldStateReportsRunningTasksAsLatest: a member reports the
// checkpointed offset sum of every task whose state is on disk,
// assign.LatestOffset for the tasks open as active tasks, checkpoint or
// not, and the applied positions of open standbys; stateless
// sub-topologies are never reported.
func TestHeldStateReportsRunningTasksAsLatest(t *testing.T) {
	dir := t.TempDir()
	plan := &Plan{Subtopologies: []*Subtopology{
		{ID: 0, Sources: []Topic{{Name: "in"}}, Stores: []*StoreSpec{{Name: "counts", Logged: true}, {Name: "sums", Logged: true}}},
		{ID: 1, Sources: []Topic{{Name: "other"}}},
	}}
	e := NewEngine(plan, Config{AppID: "app", StateDir: dir})
	if got := e.changelogTopics(); !slices.Equal(got[0], []string{"app-counts-changelog", "app-sums-changelog"}) || len(got) != 1 {
		t.Errorf("changelog topics %v", got)
	}
	for task, offs := range map[string]map[string]map[int32]int64{
		"0_0": {"app-counts-changelog": {0: 40}, "app-sums-changelog": {0: 2}},
		"0_1": {"app-counts-changelog": {1: 7}},
		"1_0": {"x": {0: 5}}, // stateless: not reported
	} {
		if err := os.MkdirAll(filepath.Join(dir, task), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := state.WriteCheckpoint(filepath.Join(dir, task, checkpointFile), offs); err != nil {
			t.Fatal(err)
		}
	}
	sorted := func(ts []assign.TaskOffset) []assign.TaskOffset {
		slices.SortFunc(ts, func(a, b assign.TaskOffset) int { return int(a.Task.Partition - b.Task.Partition) })
		return ts
	}
	want := []assign.TaskOffset{{Task: assign.Task{Subtopology: 0, Partition: 0}, Offset: 42}, {Task: assign.Task{Subtopology: 0, Partition: 1}, Offset: 7}}
	if got := sorted(e.heldState()); !slices.Equal(got, want) {
		t.Errorf("held state %v, want %v", got, want)
	}
	// 0_1 runs here, and 0_2 too (no checkpoint yet): both are current.
	e.registry.add("counts", processor.TaskID{Subtopology: 0, Partition: 1}, nil)
	e.registry.add("counts", processor.TaskID{Subtopology: 0, Partition: 2}, nil)
	want = []assign.TaskOffset{
		{Task: assign.Task{Subtopology: 0, Partition: 0}, Offset: 42},
		{Task: assign.Task{Subtopology: 0, Partition: 1}, Offset: assign.LatestOffset},
		{Task: assign.Task{Subtopology: 0, Partition: 2}, Offset: assign.LatestOffset},
	}
	if got := sorted(e.heldState()); !slices.Equal(got, want) {
		t.Errorf("held state with running tasks %v, want %v", got, want)
	}
	// 0_0 is an open standby that applied records past its checkpoint:
	// its live positions count; 0_3's standby has not started yet.
	var p1, p2, p3 atomic.Int64
	p1.Store(50)
	p2.Store(9)
	p3.Store(-1)
	e.registry.addPositions(processor.TaskID{Subtopology: 0, Partition: 0}, []*atomic.Int64{&p1, &p2})
	e.registry.addPositions(processor.TaskID{Subtopology: 0, Partition: 3}, []*atomic.Int64{&p3})
	want[0].Offset = 59
	if got := sorted(e.heldState()); !slices.Equal(got, want) {
		t.Errorf("held state with a standby %v, want %v", got, want)
	}
	e.registry.removePositions(processor.TaskID{Subtopology: 0, Partition: 0})
	want[0].Offset = 42
	if got := sorted(e.heldState()); !slices.Equal(got, want) {
		t.Errorf("held state after the standby closed %v, want %v", got, want)
	}
}

package runtime

import (
	"context"
	"runtime/pprof"
)

// profileLabelTask is the pprof label a stream thread carries while it
// processes a task's records or runs its wall-clock punctuators: `go tool pprof -tagfocus kstreams_task=2_0`
// (or -tags, -tagroot) splits a CPU profile by task, hence by
// sub-topology (the first number of the id).
const profileLabelTask = "kstreams_task"

// profileLabels labels the calling goroutine with the task's id until the
// returned function restores no labels. The labelled context is made once
// per task: a turn costs two pointer stores.
func (t *Task) profileLabels() (restore func()) {
	if t.labels == nil {
		t.labels = pprof.WithLabels(context.Background(), pprof.Labels(profileLabelTask, t.id.String()))
	}
	pprof.SetGoroutineLabels(t.labels)
	return func() { pprof.SetGoroutineLabels(context.Background()) }
}

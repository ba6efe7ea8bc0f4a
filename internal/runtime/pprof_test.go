package runtime

import (
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams/processor"
)

// TestProfileLabels: while a task's turn runs, the goroutine carries the
// kstreams_task pprof label with the task's id; after, none.
func TestProfileLabels(t *testing.T) {
	labels := func() string {
		var b strings.Builder
		if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	const want = `"kstreams_task":"2_1"`
	task := &Task{id: processor.TaskID{Subtopology: 2, Partition: 1}}
	restore := task.profileLabels()
	if got := labels(); !strings.Contains(got, want) {
		t.Errorf("during the turn: no %s label in the goroutine profile", want)
	}
	restore()
	if got := labels(); strings.Contains(got, want) {
		t.Errorf("after the turn: the %s label stayed", want)
	}
}

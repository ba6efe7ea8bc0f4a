package runtime

import (
	"sync"

	"github.com/kstreams-go/kstreams/processor"
)

// taskDirs tracks which thread of the instance has each task's state
// directory open, as an active or a standby task. Under cooperative
// rebalancing the threads of an instance take their new assignments
// independently: a task can become active on one thread while another
// still has it open as a standby (or the reverse) until that thread's own
// callback closes it. The thread that finds the directory taken waits,
// and opens the task from its loop once the directory is free (Kafka
// Streams retries the state directory lock the same way).
type taskDirs struct {
	mu    sync.Mutex
	owner map[processor.TaskID]*thread
}

// claim takes the directory of task id for th; it reports false if
// another thread holds it.
func (d *taskDirs) claim(id processor.TaskID, th *thread) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if o := d.owner[id]; o != nil && o != th {
		return false
	}
	if d.owner == nil {
		d.owner = map[processor.TaskID]*thread{}
	}
	d.owner[id] = th
	return true
}

// release gives up th's claim on the directory of task id.
func (d *taskDirs) release(id processor.TaskID, th *thread) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owner[id] == th {
		delete(d.owner, id)
	}
}

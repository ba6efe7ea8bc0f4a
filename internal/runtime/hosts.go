package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/kstreams-go/kstreams/state"
)

// hostMap is the last map of query endpoints to tasks an assignment
// carried; its mutex is a leaf.
type hostMap struct {
	mu    sync.Mutex
	hosts map[string]assign.HostTasks
	// parts is the number of tasks of each sub-topology, by id.
	parts []int32
}

func (h *hostMap) set(m map[string]assign.HostTasks, parts []int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hosts, h.parts = m, parts
}

// TaskCount returns the number of tasks (input partitions) of sub-topology
// sub as of the last assignment this instance received, 0 when it does
// not know (no assignment yet, or a leader that did not send the counts).
// The partition of a key is its partition among these, as Kafka Streams
// takes it from the topics' metadata: the tasks Hosts lists are fewer
// while a cooperative rebalance holds moving tasks back.
func (e *Engine) TaskCount(sub int) int32 {
	e.hostMap.mu.Lock()
	defer e.hostMap.mu.Unlock()
	if sub < 0 || sub >= len(e.hostMap.parts) {
		return 0
	}
	return e.hostMap.parts[sub]
}

// Hosts returns the query endpoints of the group and the tasks each
// instance runs, as of the last assignment this instance received (empty
// when no member sets a query endpoint).
func (e *Engine) Hosts() map[string]assign.HostTasks {
	e.hostMap.mu.Lock()
	defer e.hostMap.mu.Unlock()
	return e.hostMap.hosts
}

// Endpoint returns this instance's query endpoint.
func (e *Engine) Endpoint() string { return e.cfg.Endpoint }

// heldState lists the tasks of stateful sub-topologies whose state is in
// the state directory with a checkpoint, and the sum of the checkpointed
// changelog offsets of each. Tasks are checkpointed when they close, so
// at a join after a revocation (or a restart) this is every task whose
// state the instance keeps; tasks open as active tasks are reported as
// current (runningState).
func (e *Engine) heldState() []assign.TaskOffset {
	if e.cfg.StateDir == "" {
		return nil
	}
	entries, err := os.ReadDir(e.cfg.StateDir)
	if err != nil {
		return nil
	}
	var out []assign.TaskOffset
	for _, en := range entries {
		task, ok := e.parseTaskDir(en.Name())
		if !ok || !en.IsDir() {
			continue
		}
		cp, err := state.ReadCheckpoint(filepath.Join(e.cfg.StateDir, en.Name(), checkpointFile))
		if err != nil || len(cp) == 0 {
			continue
		}
		var sum int64
		for _, parts := range cp {
			for _, off := range parts {
				sum += off
			}
		}
		out = append(out, assign.TaskOffset{Task: task, Offset: sum})
	}
	return e.runningState(out)
}

// parseTaskDir parses a task directory name, "subtopology_partition", of
// a stateful sub-topology.
func (e *Engine) parseTaskDir(name string) (assign.Task, bool) {
	s, p, ok := strings.Cut(name, "_")
	if !ok {
		return assign.Task{}, false
	}
	sub, err1 := strconv.Atoi(s)
	part, err2 := strconv.ParseInt(p, 10, 32)
	if err1 != nil || err2 != nil || sub < 0 || sub >= len(e.subs) || !e.subs[sub].Stateful {
		return assign.Task{}, false
	}
	return assign.Task{Subtopology: sub, Partition: int32(part)}, true
}

// StoreSubtopology returns the sub-topology whose tasks hold store name.
func (e *Engine) StoreSubtopology(name string) (int, error) {
	for _, st := range e.plan.Subtopologies {
		for _, s := range st.Stores {
			if s.Name == name {
				return st.ID, nil
			}
		}
	}
	return 0, fmt.Errorf("kstreams: no state store %q in the topology", name)
}

// AppID returns the application id.
func (e *Engine) AppID() string { return e.cfg.AppID }

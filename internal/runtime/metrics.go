package runtime

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/kstreams-go/kstreams/processor"
)

// DebugMetrics holds the counters recorded only at the debug recording
// level, as Kafka Streams records its task and processor-node metrics: the
// records processed per task and per processor node. Counters are created
// once per (task, node) and kept across rebalances, so totals never go
// back. Tasks add to them with atomic operations; Snapshot reads them.
type DebugMetrics struct {
	mu     sync.Mutex
	counts map[debugKey]*atomic.Int64
	// time holds the average-and-maximum metrics (timemetrics.go).
	time timeMetrics
}

type debugKey struct {
	task processor.TaskID
	node string // "" for the task itself
}

// NewDebugMetrics returns an empty set of debug counters.
func NewDebugMetrics() *DebugMetrics {
	return &DebugMetrics{counts: map[debugKey]*atomic.Int64{}}
}

// counter returns the counter of node in task ("" for the task).
func (m *DebugMetrics) counter(task processor.TaskID, node string) *atomic.Int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := debugKey{task, node}
	c := m.counts[k]
	if c == nil {
		c = &atomic.Int64{}
		m.counts[k] = c
	}
	return c
}

// DebugCount is one debug counter: the records processed by a task (Node
// empty) or one of its processor nodes.
type DebugCount struct {
	Task      processor.TaskID
	Node      string
	Processed int64
}

// Snapshot returns every counter, ordered by task then node.
func (m *DebugMetrics) Snapshot() []DebugCount {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	out := make([]DebugCount, 0, len(m.counts))
	for k, c := range m.counts {
		out = append(out, DebugCount{Task: k.task, Node: k.node, Processed: c.Load()})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b DebugCount) int {
		if a.Task != b.Task {
			if a.Task.Subtopology != b.Task.Subtopology {
				return a.Task.Subtopology - b.Task.Subtopology
			}
			return int(a.Task.Partition - b.Task.Partition)
		}
		switch {
		case a.Node < b.Node:
			return -1
		case a.Node > b.Node:
			return 1
		}
		return 0
	})
	return out
}

// ThreadTotals returns the totals of each stream thread, in thread order.
func (e *Engine) ThreadTotals() []Totals {
	e.countersMu.Lock()
	defer e.countersMu.Unlock()
	out := make([]Totals, len(e.counters))
	for i, c := range e.counters {
		out[i].add(c)
	}
	return out
}

// Debug returns the debug counters, nil at the info recording level.
func (e *Engine) Debug() *DebugMetrics { return e.cfg.Debug }

// ThreadID returns the client id of stream thread i (from 0), as Kafka
// Streams names its threads: "<application id>-<process id>-StreamThread-<i+1>".
func (e *Engine) ThreadID(i int) string {
	return fmt.Sprintf("%s-%s-StreamThread-%d", e.cfg.AppID, e.process, i+1)
}

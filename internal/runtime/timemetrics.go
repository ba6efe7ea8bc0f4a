package runtime

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kstreams-go/kstreams/processor"
)

// AvgMax is an average and maximum over every value recorded since the
// metric was created (Kafka Streams averages over its sample windows, 30
// seconds by default; kstreams keeps the total, whose average is the
// lifetime mean). Writers are one task at a time; readers any goroutine.
type AvgMax struct {
	sum, count, max atomic.Int64
}

func (a *AvgMax) record(v int64) {
	a.sum.Add(v)
	if a.count.Add(1) == 1 || v > a.max.Load() {
		a.max.Store(v)
	}
}

// Avg returns the average value recorded (0 before the first).
func (a *AvgMax) Avg() float64 {
	n := a.count.Load()
	if n == 0 {
		return 0
	}
	return float64(a.sum.Load()) / float64(n)
}

// Max returns the largest value recorded (0 before the first).
func (a *AvgMax) Max() int64 { return a.max.Load() }

// The metrics kept as AvgMax, with Kafka Streams' names.
const (
	// MetricRecordLateness is a task's record-lateness: its stream time
	// minus each record's timestamp, 0 for a record that advances it.
	MetricRecordLateness = "record-lateness"
	// MetricSuppressionBufferSize and MetricSuppressionBufferCount are a
	// suppression buffer's bytes and records after each change.
	MetricSuppressionBufferSize  = "suppression-buffer-size"
	MetricSuppressionBufferCount = "suppression-buffer-count"
)

// timeMetrics holds the AvgMax metrics of the debug level, by task, store
// ("" for the task's own) and metric. They are kept across rebalances, as
// the debug counters.
type timeMetrics struct {
	mu sync.Mutex
	m  map[avgMaxKey]*AvgMax
}

type avgMaxKey struct {
	task          processor.TaskID
	store, metric string
}

// avgMax returns the metric of task (and store), made on first use.
func (m *DebugMetrics) avgMax(task processor.TaskID, store, metric string) *AvgMax {
	m.time.mu.Lock()
	defer m.time.mu.Unlock()
	if m.time.m == nil {
		m.time.m = map[avgMaxKey]*AvgMax{}
	}
	k := avgMaxKey{task, store, metric}
	a := m.time.m[k]
	if a == nil {
		a = &AvgMax{}
		m.time.m[k] = a
	}
	return a
}

// AvgMaxValue is one AvgMax metric in a snapshot.
type AvgMaxValue struct {
	Task   processor.TaskID
	Store  string // "" for a task metric
	Metric string
	Avg    float64
	Max    int64
}

// AvgMaxSnapshot returns the AvgMax metrics by task, store, then metric.
func (m *DebugMetrics) AvgMaxSnapshot() []AvgMaxValue {
	if m == nil {
		return nil
	}
	m.time.mu.Lock()
	out := make([]AvgMaxValue, 0, len(m.time.m))
	for k, a := range m.time.m {
		out = append(out, AvgMaxValue{Task: k.task, Store: k.store, Metric: k.metric, Avg: a.Avg(), Max: a.Max()})
	}
	m.time.mu.Unlock()
	slices.SortFunc(out, func(a, b AvgMaxValue) int {
		if a.Task != b.Task {
			if a.Task.Subtopology != b.Task.Subtopology {
				return a.Task.Subtopology - b.Task.Subtopology
			}
			return int(a.Task.Partition - b.Task.Partition)
		}
		if c := strings.Compare(a.Store, b.Store); c != 0 {
			return c
		}
		return strings.Compare(a.Metric, b.Metric)
	})
	return out
}

// recordLateness records the lateness of a record at ts against the task's
// stream time before it, as Kafka Streams' PartitionGroup (debug level).
func (t *Task) recordLateness(ts int64) {
	if t.cfg.Debug == nil {
		return
	}
	if t.lateness == nil {
		t.lateness = t.cfg.Debug.avgMax(t.id, "", MetricRecordLateness)
	}
	t.lateness.record(max(0, t.streamTime-ts))
}

// RecordBufferMetrics records a suppression buffer's size in bytes and
// records after a change (debug level), as Kafka Streams'
// InMemoryTimeOrderedKeyValueChangeBuffer.
func (n *processorNode[KIn, VIn, KOut, VOut]) RecordBufferMetrics(store string, size, count int64) {
	d := n.t.cfg.Debug
	if d == nil {
		return
	}
	d.avgMax(n.t.id, store, MetricSuppressionBufferSize).record(size)
	d.avgMax(n.t.id, store, MetricSuppressionBufferCount).record(count)
}

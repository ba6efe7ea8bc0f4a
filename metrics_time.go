package kstreams

import "github.com/kstreams-go/kstreams/internal/runtime"

// TaskLatenessMetrics is a task's record-lateness (Kafka Streams'
// record-lateness-avg and record-lateness-max, stream-task-metrics, debug
// level): for each record processed, the task's stream time before it
// minus its timestamp, 0 for a record that advances stream time. The
// average and maximum are over the task's life on this instance (Java's
// are over its last sample windows).
type TaskLatenessMetrics struct {
	// Task is the task id, "<sub-topology>_<partition>".
	Task              string
	RecordLatenessAvg float64
	RecordLatenessMax int64
}

// SuppressionBufferMetrics are the sizes of the suppression buffer of one
// task (Kafka Streams' suppression-buffer-size-avg/-max and
// suppression-buffer-count-avg/-max, stream-state-metrics, debug level),
// recorded after each change of the buffer: its bytes (as counted against
// a byte limit) and its records.
type SuppressionBufferMetrics struct {
	Task string
	// Store is the buffer's store, "<suppression name>-store".
	Store             string
	SizeAvg, CountAvg float64
	SizeMax, CountMax int64
}

// addTimeMetrics fills the record-lateness and suppression buffer metrics
// of m (debug level only).
func (a *App) addTimeMetrics(m *Metrics) {
	var buf *SuppressionBufferMetrics
	for _, v := range a.engine.Debug().AvgMaxSnapshot() {
		task := v.Task.String()
		switch v.Metric {
		case runtime.MetricRecordLateness:
			m.Lateness = append(m.Lateness, TaskLatenessMetrics{Task: task, RecordLatenessAvg: v.Avg, RecordLatenessMax: v.Max})
			continue
		case runtime.MetricSuppressionBufferSize, runtime.MetricSuppressionBufferCount:
		default:
			continue
		}
		if buf == nil || buf.Task != task || buf.Store != v.Store {
			m.SuppressionBuffers = append(m.SuppressionBuffers, SuppressionBufferMetrics{Task: task, Store: v.Store})
			buf = &m.SuppressionBuffers[len(m.SuppressionBuffers)-1]
		}
		if v.Metric == runtime.MetricSuppressionBufferSize {
			buf.SizeAvg, buf.SizeMax = v.Avg, v.Max
		} else {
			buf.CountAvg, buf.CountMax = v.Avg, v.Max
		}
	}
}

// bufferMetrics is what the runtime offers a suppression to record its
// buffer's sizes (a no-op below the debug level).
type bufferMetrics interface {
	RecordBufferMetrics(store string, size, count int64)
}

// recordBuffer records the buffer's size and record count after a change.
func (p *suppress[K, V]) recordBuffer() {
	if m, ok := p.ctx.(bufferMetrics); ok {
		m.RecordBufferMetrics(p.store, p.size, int64(len(p.rows)))
	}
}

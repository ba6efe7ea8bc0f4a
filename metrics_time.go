package kstreams

import (
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

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

// The Prometheus rendering of the record-lateness (stream-task-metrics
// record-lateness-avg/-max, tags task-id) and suppression buffer
// (stream-state-metrics suppression-buffer-size-avg/-max and
// suppression-buffer-count-avg/-max, tags task-id and the buffer's store)
// metrics, at the debug level.
var (
	promLateness = []promGauge[TaskLatenessMetrics]{
		gaugeOf(promTaskGroup, "record_lateness_avg", "Average lateness of the task's records: stream time minus the record's timestamp (ms, debug level).", taskLabels, prometheus.GaugeValue,
			func(l TaskLatenessMetrics) float64 { return l.RecordLatenessAvg }),
		gaugeOf(promTaskGroup, "record_lateness_max", "Largest lateness of the task's records (ms, debug level).", taskLabels, prometheus.GaugeValue,
			func(l TaskLatenessMetrics) float64 { return float64(l.RecordLatenessMax) }),
	}
	promSuppression = []promGauge[SuppressionBufferMetrics]{
		storeGauge("suppression_buffer_size_avg", "Average bytes in the suppression buffer, after each change (debug level).", func(b SuppressionBufferMetrics) float64 { return b.SizeAvg }),
		storeGauge("suppression_buffer_size_max", "Most bytes in the suppression buffer (debug level).", func(b SuppressionBufferMetrics) float64 { return float64(b.SizeMax) }),
		storeGauge("suppression_buffer_count_avg", "Average records in the suppression buffer, after each change (debug level).", func(b SuppressionBufferMetrics) float64 { return b.CountAvg }),
		storeGauge("suppression_buffer_count_max", "Most records in the suppression buffer (debug level).", func(b SuppressionBufferMetrics) float64 { return float64(b.CountMax) }),
	}
)

func describeTimeMetrics(ch chan<- *prometheus.Desc) {
	for _, g := range promLateness {
		ch <- g.desc
	}
	for _, g := range promSuppression {
		ch <- g.desc
	}
}

func collectTimeMetrics(ch chan<- prometheus.Metric, m Metrics, client string) {
	for _, l := range m.Lateness {
		emit(ch, promLateness, l, client, l.Task)
	}
	for _, b := range m.SuppressionBuffers {
		emit(ch, promSuppression, b, client, b.Task, b.Store)
	}
}

package kstreams

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The Prometheus rendering of the latency, rate, store and restoration
// metrics (metrics_sensors.go), named as the JMX exporter renders Kafka
// Streams' metrics: "kafka_streams_<group>_<metric>", and the consumer
// coordinator's rebalance metrics "kafka_consumer_consumer_coordinator_
// metrics_<metric>". Labels as in metrics.go: client_id (the application
// id), thread_id, task_id, processor_node_id, store.

type promGauge[T any] struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(T) float64
}

func gaugeOf[T any](group, name, help string, labels []string, kind prometheus.ValueType, value func(T) float64) promGauge[T] {
	return promGauge[T]{desc: prometheus.NewDesc(group+name, help, labels, nil), kind: kind, value: value}
}

const (
	promThreadGroup      = promPrefix + "stream_thread_metrics_"
	promTaskGroup        = promPrefix + "stream_task_metrics_"
	promNodeGroup        = promPrefix + "stream_processor_node_metrics_"
	promStateGroup       = promPrefix + "stream_state_metrics_"
	promCacheGroup       = promPrefix + "stream_record_cache_metrics_"
	promCoordinatorGroup = "kafka_consumer_consumer_coordinator_metrics_"
)

var (
	threadLabels = []string{"client_id", "thread_id"}
	taskLabels   = []string{"client_id", "task_id"}
	storeLabels  = []string{"client_id", "task_id", "store"}

	promThreadSensors = []promGauge[ThreadLatency]{
		threadGauge("process_latency_avg", "Average time to process a record (ms).", func(t ThreadLatency) float64 { return t.ProcessLatencyAvg }),
		threadGauge("process_latency_max", "Longest time to process a record (ms).", func(t ThreadLatency) float64 { return t.ProcessLatencyMax }),
		threadGauge("process_rate", "Records processed per second.", func(t ThreadLatency) float64 { return t.ProcessRate }),
		threadGauge("poll_latency_avg", "Average time of a poll (ms).", func(t ThreadLatency) float64 { return t.PollLatencyAvg }),
		threadGauge("poll_latency_max", "Longest poll (ms).", func(t ThreadLatency) float64 { return t.PollLatencyMax }),
		threadGauge("poll_rate", "Polls per second.", func(t ThreadLatency) float64 { return t.PollRate }),
		gaugeOf(promThreadGroup, "poll_total", "Polls of the thread.", threadLabels, prometheus.CounterValue, func(t ThreadLatency) float64 { return float64(t.PollTotal) }),
		threadGauge("poll_records_avg", "Average records a poll returned.", func(t ThreadLatency) float64 { return t.PollRecordsAvg }),
		threadGauge("poll_records_max", "Most records a poll returned.", func(t ThreadLatency) float64 { return t.PollRecordsMax }),
		threadGauge("commit_latency_avg", "Average time of a commit (ms).", func(t ThreadLatency) float64 { return t.CommitLatencyAvg }),
		threadGauge("commit_latency_max", "Longest commit (ms).", func(t ThreadLatency) float64 { return t.CommitLatencyMax }),
		threadGauge("commit_rate", "Commits per second.", func(t ThreadLatency) float64 { return t.CommitRate }),
		threadGauge("punctuate_latency_avg", "Average time of a wall-clock punctuation (ms).", func(t ThreadLatency) float64 { return t.PunctuateLatencyAvg }),
		threadGauge("punctuate_latency_max", "Longest wall-clock punctuation (ms).", func(t ThreadLatency) float64 { return t.PunctuateLatencyMax }),
		threadGauge("punctuate_rate", "Wall-clock punctuations per second.", func(t ThreadLatency) float64 { return t.PunctuateRate }),
		gaugeOf(promThreadGroup, "blocked_time_ns_total", "Time the thread waited on the brokers, in polls and commits (ns).", threadLabels, prometheus.CounterValue,
			func(t ThreadLatency) float64 { return float64(t.BlockedTimeNsTotal) }),
		threadGauge("thread_start_time", "When the thread started (Unix ms).", func(t ThreadLatency) float64 {
			if t.StartTime.IsZero() {
				return 0
			}
			return float64(t.StartTime.UnixMilli())
		}),
		coordGauge("rebalance_latency_avg", "Average rebalance time (ms).", prometheus.GaugeValue, func(t ThreadLatency) float64 { return t.RebalanceLatencyAvg }),
		coordGauge("rebalance_latency_max", "Longest rebalance (ms).", prometheus.GaugeValue, func(t ThreadLatency) float64 { return t.RebalanceLatencyMax }),
		coordGauge("rebalance_latency_total", "Time spent rebalancing (ms).", prometheus.CounterValue, func(t ThreadLatency) float64 { return t.RebalanceLatencyTotal }),
		coordGauge("rebalance_total", "Rebalances of the thread's member.", prometheus.CounterValue, func(t ThreadLatency) float64 { return float64(t.RebalanceTotal) }),
		coordGauge("rebalance_rate_per_hour", "Rebalances per hour.", prometheus.GaugeValue, func(t ThreadLatency) float64 { return t.RebalanceRatePerHour }),
		coordGauge("last_rebalance_seconds_ago", "Seconds since the last rebalance ended (-1: none yet).", prometheus.GaugeValue, func(t ThreadLatency) float64 { return t.LastRebalanceSecondsAgo }),
	}

	promTaskSensors = []promGauge[TaskMetrics]{
		gaugeOf(promTaskGroup, "dropped_records_total", "Records the task dropped, skipped bad records included.", taskLabels, prometheus.CounterValue,
			func(t TaskMetrics) float64 { return float64(t.Dropped) }),
		gaugeOf(promTaskGroup, "dropped_records_rate", "Records the task dropped per second.", taskLabels, prometheus.GaugeValue,
			func(t TaskMetrics) float64 { return t.DroppedRate }),
	}
	promTaskProcessRate = prometheus.NewDesc(promTaskGroup+"process_rate", "Records the task processed per second (debug level).", taskLabels, nil)
	promNodeProcessRate = prometheus.NewDesc(promNodeGroup+"process_rate", "Records the processor node processed per second (debug level).", []string{"client_id", "task_id", "processor_node_id"}, nil)

	promStoreSensors = []promGauge[StoreTaskMetrics]{
		storeGauge("put_latency_avg", "Average time of a put (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.PutLatencyAvg }),
		storeGauge("put_latency_max", "Longest put (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.PutLatencyMax }),
		storeGauge("put_rate", "Puts per second (debug level).", func(s StoreTaskMetrics) float64 { return s.PutRate }),
		storeGauge("get_latency_avg", "Average time of a get (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.GetLatencyAvg }),
		storeGauge("get_latency_max", "Longest get (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.GetLatencyMax }),
		storeGauge("get_rate", "Gets per second (debug level).", func(s StoreTaskMetrics) float64 { return s.GetRate }),
		storeGauge("fetch_latency_avg", "Average time of a window or session store read (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.FetchLatencyAvg }),
		storeGauge("fetch_latency_max", "Longest window or session store read (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.FetchLatencyMax }),
		storeGauge("fetch_rate", "Window and session store reads per second (debug level).", func(s StoreTaskMetrics) float64 { return s.FetchRate }),
		storeGauge("range_latency_avg", "Average time of a range scan, open to close (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.RangeLatencyAvg }),
		storeGauge("range_latency_max", "Longest range scan (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.RangeLatencyMax }),
		storeGauge("range_rate", "Range scans per second (debug level).", func(s StoreTaskMetrics) float64 { return s.RangeRate }),
		storeGauge("flush_latency_avg", "Average time of a flush (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.FlushLatencyAvg }),
		storeGauge("flush_latency_max", "Longest flush (ms, debug level).", func(s StoreTaskMetrics) float64 { return s.FlushLatencyMax }),
		storeGauge("flush_rate", "Flushes per second (debug level).", func(s StoreTaskMetrics) float64 { return s.FlushRate }),
	}
	promCacheSensors = []promGauge[StoreTaskMetrics]{
		cacheGauge("hit_ratio_avg", "Average hit ratio of the record cache (debug level).", func(s StoreTaskMetrics) float64 { return s.HitRatioAvg }),
		cacheGauge("hit_ratio_min", "Lowest hit ratio of the record cache (debug level).", func(s StoreTaskMetrics) float64 { return s.HitRatioMin }),
		cacheGauge("hit_ratio_max", "Highest hit ratio of the record cache (debug level).", func(s StoreTaskMetrics) float64 { return s.HitRatioMax }),
	}
	promRestoreSensors = []promGauge[RestorationMetrics]{
		gaugeOf(promStateGroup, "restore_total", "Changelog records restored into the store.", storeLabels, prometheus.CounterValue,
			func(r RestorationMetrics) float64 { return float64(r.Restored) }),
		gaugeOf(promStateGroup, "restore_rate", "Changelog records restored per second.", storeLabels, prometheus.GaugeValue,
			func(r RestorationMetrics) float64 { return r.Rate }),
		gaugeOf(promStateGroup, "restore_remaining_records_total", "Changelog records left to restore.", storeLabels, prometheus.GaugeValue,
			func(r RestorationMetrics) float64 { return float64(r.Remaining) }),
	}
)

func threadGauge(name, help string, value func(ThreadLatency) float64) promGauge[ThreadLatency] {
	return gaugeOf(promThreadGroup, name, help, threadLabels, prometheus.GaugeValue, value)
}

func coordGauge(name, help string, kind prometheus.ValueType, value func(ThreadLatency) float64) promGauge[ThreadLatency] {
	return gaugeOf(promCoordinatorGroup, name, help, threadLabels, kind, value)
}

func storeGauge[T any](name, help string, value func(T) float64) promGauge[T] {
	return gaugeOf(promStateGroup, name, help, storeLabels, prometheus.GaugeValue, value)
}

func cacheGauge(name, help string, value func(StoreTaskMetrics) float64) promGauge[StoreTaskMetrics] {
	return gaugeOf(promCacheGroup, name, help, []string{"client_id", "task_id", "record_cache_id"}, prometheus.GaugeValue, value)
}

func describeSensors(ch chan<- *prometheus.Desc) {
	for _, g := range promThreadSensors {
		ch <- g.desc
	}
	for _, g := range promTaskSensors {
		ch <- g.desc
	}
	for _, g := range promStoreSensors {
		ch <- g.desc
	}
	for _, g := range promCacheSensors {
		ch <- g.desc
	}
	for _, g := range promRestoreSensors {
		ch <- g.desc
	}
	ch <- promTaskProcessRate
	ch <- promNodeProcessRate
	describeTimeMetrics(ch)
}

func emit[T any](ch chan<- prometheus.Metric, gs []promGauge[T], v T, labels ...string) {
	for _, g := range gs {
		ch <- prometheus.MustNewConstMetric(g.desc, g.kind, g.value(v), labels...)
	}
}

func collectSensors(ch chan<- prometheus.Metric, m Metrics, client string) {
	for _, th := range m.Threads {
		emit(ch, promThreadSensors, th.ThreadLatency, client, th.ID)
	}
	for _, t := range m.Tasks {
		emit(ch, promTaskSensors, t, client, t.Task)
		if m.Level == MetricsDebug {
			ch <- prometheus.MustNewConstMetric(promTaskProcessRate, prometheus.GaugeValue, t.ProcessRate, client, t.Task)
			for node, r := range t.NodeRates {
				ch <- prometheus.MustNewConstMetric(promNodeProcessRate, prometheus.GaugeValue, r, client, t.Task, node)
			}
		}
	}
	for _, s := range m.StoreTasks {
		emit(ch, promStoreSensors, s, client, s.Task, s.Store)
		emit(ch, promCacheSensors, s, client, s.Task, s.Store)
	}
	for _, r := range m.Restorations {
		emit(ch, promRestoreSensors, r, client, r.Task, r.Store)
	}
	collectTimeMetrics(ch, m, client)
}

package kstreams

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
)

// ThreadLatency are a stream thread's latency and rate metrics, named as
// Kafka Streams' thread-level (and consumer coordinator) metrics. They are
// recorded once per poll loop iteration, never per record, at every
// recording level. Latencies are in milliseconds, as Kafka Streams'; the
// averages, maximums and rates are over the last minute (two 30-second
// samples, as metrics.num.samples and metrics.sample.window.ms), 0 when
// nothing was recorded in it.
type ThreadLatency struct {
	// ProcessLatencyAvg and ProcessLatencyMax are the time to process one
	// record (each iteration's processing time over its records);
	// ProcessRate is records processed per second.
	ProcessLatencyAvg, ProcessLatencyMax, ProcessRate float64
	// PollLatencyAvg and PollLatencyMax are the time of one poll;
	// PollRate is polls per second, PollTotal all polls; PollRecordsAvg
	// and PollRecordsMax are the records a poll returned.
	PollLatencyAvg, PollLatencyMax, PollRate, PollRecordsAvg, PollRecordsMax float64
	PollTotal                                                                int64
	// CommitLatencyAvg and CommitLatencyMax are the time of one commit
	// (flushing caches and the producer, committing offsets); CommitRate
	// is commits per second.
	CommitLatencyAvg, CommitLatencyMax, CommitRate float64
	// PunctuateLatencyAvg and PunctuateLatencyMax are the time of one
	// iteration's wall-clock punctuation that ran punctuators;
	// PunctuateRate is such punctuations per second.
	PunctuateLatencyAvg, PunctuateLatencyMax, PunctuateRate float64
	// BlockedTimeNsTotal is the time the thread waited on the brokers, in
	// polls and commits (nanoseconds).
	BlockedTimeNsTotal int64
	// StartTime is when the thread started (zero before).
	StartTime time.Time
	// RebalanceLatencyAvg, RebalanceLatencyMax and RebalanceLatencyTotal
	// are the time from a revocation (or the thread's start) to the end of
	// the next assignment; RebalanceTotal counts rebalances,
	// RebalanceRatePerHour their rate; LastRebalanceSecondsAgo is -1 before
	// the first. These are Kafka's consumer-coordinator-metrics.
	RebalanceLatencyAvg, RebalanceLatencyMax, RebalanceLatencyTotal, RebalanceRatePerHour float64
	RebalanceTotal                                                                        int64
	LastRebalanceSecondsAgo                                                               float64
}

// StoreTaskMetrics are the debug-level metrics of one store of one task:
// latencies in milliseconds and rates per second over the last minute, as
// Kafka Streams' state-store metrics, and the record cache's hit ratio (0
// for a store without cache).
type StoreTaskMetrics struct {
	Store string
	Task  string
	// Put covers Put, PutIfAbsent and Delete; Range covers range and
	// prefix scans, from their start to the iterator's close; Fetch covers
	// the reads of window and session stores (fetch, fetchAll,
	// findSessions and the like), a single-window read at once, the others
	// from their start to the iterator's close.
	PutLatencyAvg, PutLatencyMax, PutRate       float64
	GetLatencyAvg, GetLatencyMax, GetRate       float64
	FetchLatencyAvg, FetchLatencyMax, FetchRate float64
	RangeLatencyAvg, RangeLatencyMax, RangeRate float64
	FlushLatencyAvg, FlushLatencyMax, FlushRate float64
	HitRatioAvg, HitRatioMin, HitRatioMax       float64
}

// RestorationMetrics is the restoration of one store partition from its
// changelog: the last progress reported, and the records restored per
// second over the last minute.
type RestorationMetrics struct {
	Store     string
	Task      string
	Topic     string
	Partition int32
	// Restored counts records applied; Total is the offsets to restore
	// (an upper bound: compaction removes some); Remaining is what is
	// left, 0 once Done.
	Restored, Total, Remaining int64
	Rate                       float64
	Done                       bool
	Elapsed                    time.Duration
}

// DeadLetteredRecord is a record written to a dead-letter topic (see
// [DeadLetter]): where it went, the input record it copies and what went
// wrong. [App.DeadLetters] returns the last ones.
type DeadLetteredRecord = runtime.DeadLetter

// DeadLetters returns the last records (up to 100) this instance wrote to
// a dead-letter topic and the broker acknowledged, oldest first.
func (a *App) DeadLetters() []DeadLetteredRecord { return a.engine.Sensors().DeadLetters() }

// addSensors adds the latency, rate, restoration and store metrics to m.
func (a *App) addSensors(m *Metrics) {
	s := a.engine.Sensors()
	now := time.Now()
	for i, st := range s.ThreadStats(now) {
		if i < len(m.Threads) {
			m.Threads[i].ThreadLatency = threadLatency(st, now)
		}
	}
	a.addTaskSensors(m, s, now)
	for _, st := range s.StoreStats(now) {
		m.StoreTasks = append(m.StoreTasks, StoreTaskMetrics{
			Store: st.Store, Task: st.Task.String(),
			PutLatencyAvg: st.Put.Avg, PutLatencyMax: st.Put.Max, PutRate: st.Put.CountRate,
			GetLatencyAvg: st.Get.Avg, GetLatencyMax: st.Get.Max, GetRate: st.Get.CountRate,
			FetchLatencyAvg: st.Fetch.Avg, FetchLatencyMax: st.Fetch.Max, FetchRate: st.Fetch.CountRate,
			RangeLatencyAvg: st.Range.Avg, RangeLatencyMax: st.Range.Max, RangeRate: st.Range.CountRate,
			FlushLatencyAvg: st.Flush.Avg, FlushLatencyMax: st.Flush.Max, FlushRate: st.Flush.CountRate,
			HitRatioAvg: st.HitRatio.Avg, HitRatioMin: st.HitRatio.Min, HitRatioMax: st.HitRatio.Max,
		})
	}
	for _, r := range s.RestoreStats(now) {
		rm := RestorationMetrics{Store: r.Store, Task: r.Task.String(), Topic: r.Topic, Partition: r.Partition,
			Restored: r.Restored, Total: r.Total, Rate: r.Rate, Done: r.Done, Elapsed: r.Elapsed}
		if !r.Done {
			rm.Remaining = max(r.Total-r.Restored, 0)
		}
		m.Restorations = append(m.Restorations, rm)
	}
}

func threadLatency(st runtime.ThreadStats, now time.Time) ThreadLatency {
	l := ThreadLatency{
		ProcessLatencyAvg: st.Process.Avg, ProcessLatencyMax: st.Process.Max, ProcessRate: st.ProcessRecords.SumRate,
		PollLatencyAvg: st.Poll.Avg, PollLatencyMax: st.Poll.Max, PollRate: st.Poll.CountRate, PollTotal: st.Poll.Count,
		PollRecordsAvg: st.PollRecords.Avg, PollRecordsMax: st.PollRecords.Max,
		CommitLatencyAvg: st.Commit.Avg, CommitLatencyMax: st.Commit.Max, CommitRate: st.Commit.CountRate,
		PunctuateLatencyAvg: st.Punctuate.Avg, PunctuateLatencyMax: st.Punctuate.Max, PunctuateRate: st.Punctuate.CountRate,
		BlockedTimeNsTotal:  int64(st.Blocked),
		RebalanceLatencyAvg: st.Rebalance.Avg, RebalanceLatencyMax: st.Rebalance.Max, RebalanceLatencyTotal: st.Rebalance.Sum,
		RebalanceTotal: st.Rebalance.Count, RebalanceRatePerHour: st.Rebalance.CountRate * 3600,
		LastRebalanceSecondsAgo: -1,
	}
	if st.Start.UnixMilli() > 0 {
		l.StartTime = st.Start
	}
	if !st.LastRebalance.IsZero() {
		l.LastRebalanceSecondsAgo = now.Sub(st.LastRebalance).Seconds()
	}
	return l
}

// addTaskSensors adds each task's dropped records (every level) and the
// task and node process rates (debug level) to m.Tasks.
func (a *App) addTaskSensors(m *Metrics, s *runtime.Sensors, now time.Time) {
	for _, ts := range s.TaskStats(now) {
		id := ts.Task.String()
		i := slices.IndexFunc(m.Tasks, func(t TaskMetrics) bool { return t.Task == id })
		if i < 0 {
			m.Tasks = append(m.Tasks, TaskMetrics{Task: id})
			i = len(m.Tasks) - 1
		}
		m.Tasks[i].Dropped, m.Tasks[i].DroppedRate = ts.Dropped, ts.DroppedRate
	}
	slices.SortFunc(m.Tasks, func(a, b TaskMetrics) int { return compareTaskIDs(a.Task, b.Task) })
	for i := range m.Tasks {
		t := &m.Tasks[i]
		if m.Level != MetricsDebug {
			continue
		}
		t.ProcessRate = s.CounterRate("process/"+t.Task, t.Processed, now)
		t.NodeRates = map[string]float64{}
		for node, n := range t.Nodes {
			t.NodeRates[node] = s.CounterRate("node/"+t.Task+"/"+node, n, now)
		}
	}
}

// compareTaskIDs orders task ids ("<sub-topology>_<partition>") by
// sub-topology, then partition.
func compareTaskIDs(a, b string) int {
	var as, ap, bs, bp int
	_, _ = fmt.Sscanf(a, "%d_%d", &as, &ap)
	_, _ = fmt.Sscanf(b, "%d_%d", &bs, &bp)
	if as != bs {
		return as - bs
	}
	return ap - bp
}

func (a *App) serveDeadLetters(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, a.DeadLetters())
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// The windowed workloads, as Kafka's former SimpleBenchmark
// streamcountwindowed and a session counterpart, record cache off as for
// count (stateful.go) so that every update goes downstream.
//
// windowed-count counts each key in hopping windows of 1 s advancing by
// 500 ms on the records' timestamps: every record updates two windows, so
// it makes two outputs. The grace is a day (SimpleBenchmark's TimeWindows.of
// had Kafka Streams' former default of 24 h) so that no record of a run is
// late and the number of outputs is exact.
//
// session-count counts each key's sessions (inactivity gap 1 s, grace a
// day): a record that extends or merges sessions also forwards a tombstone
// per merged-away session, whose number depends on the input's timestamps,
// so the workload forwards only the updates with a count (not the
// tombstones): exactly one per record.

// windowedCountWindows are the windows of windowed-count.
var windowedCountWindows = kstreams.TimeWindowsOfSizeAndGrace(time.Second, 24*time.Hour).AdvanceBy(500 * time.Millisecond)

// sessionCountWindows are the windows of session-count.
var sessionCountWindows = kstreams.SessionWindowsOfInactivityGapAndGrace(time.Second, 24*time.Hour)

func init() {
	registerGo(&Workload{
		Name:    "windowed-count",
		Impl:    "kstreams",
		About:   "kstreams groupByKey().windowedBy(hopping 1 s / 500 ms).count() (Pebble window store, changelog, caching off) -> toStream -> sink: two outputs per input",
		Ceiling: "copy/franz-go",
		Outputs: func(n int64) int64 { return 2 * n },
	}, runWindowedCount)
	registerGo(&Workload{
		Name:    "session-count",
		Impl:    "kstreams",
		About:   "kstreams groupByKey().windowedBy(sessions, gap 1 s).count() (Pebble session store, changelog, caching off) -> toStream -> filter counts -> sink: one output per input",
		Ceiling: "copy/franz-go",
	}, runSessionCount)
}

// windowedCountTopology is source -> groupByKey -> windowed count ->
// toStream -> sink, windowed keys in Kafka Streams' time-windowed layout.
func windowedCountTopology(input, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	counts := kstreams.WindowedBy(in.GroupByKey(), windowedCountWindows).
		Count(kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: "windowed-counts", Value: serde.Int64()}})
	counts.ToStream().To(output, kstreams.ProducedWith(serde.TimeWindowed(serde.String(), windowedCountWindows.Size()), serde.Int64()))
	return b.Build()
}

func runWindowedCount(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	topo, err := windowedCountTopology(spec.Input, spec.Output)
	if err != nil {
		return nil, fmt.Errorf("windowed-count: topology: %w", err)
	}
	return runApp(ctx, spec, topo, kstreams.CacheMaxBytes(0))
}

// sessionCountTopology is source -> groupByKey -> session count ->
// toStream -> filter (counts only) -> sink, session keys in Kafka Streams'
// session-windowed layout.
func sessionCountTopology(input, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	counts := kstreams.WindowedBySession(in.GroupByKey(), sessionCountWindows).
		Count(kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: "session-counts", Value: serde.Int64()}})
	// A count is never 0, so 0 is how a tombstone (a merged-away session)
	// reaches the stream of int64 counts.
	updates := counts.ToStream().Filter(func(_ kstreams.Windowed[string], n int64) bool { return n != 0 })
	updates.To(output, kstreams.ProducedWith(serde.SessionWindowed(serde.String()), serde.Int64()))
	return b.Build()
}

func runSessionCount(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	topo, err := sessionCountTopology(spec.Input, spec.Output)
	if err != nil {
		return nil, fmt.Errorf("session-count: topology: %w", err)
	}
	return runApp(ctx, spec, topo, kstreams.CacheMaxBytes(0))
}

package main

import (
	"testing"

	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
)

// BenchmarkTaskMetrics is BenchmarkTask's filter-map topology at each
// metrics recording level. At MetricsInfo the runtime records nothing
// beyond the counters it keeps at every level (so "off" and "info" run
// the same code: the Prometheus endpoint only reads them when scraped);
// MetricsDebug adds a counter per task and per processor node. Compare
// ns/op (CPU per record, one goroutine):
//
//	go test ./bench -run '^$' -bench TaskMetrics -count 5
func BenchmarkTaskMetrics(b *testing.B) {
	for _, level := range []struct {
		name  string
		debug bool
	}{{"info", false}, {"debug", true}} {
		b.Run(level.name, func(b *testing.B) {
			topo, err := filterMapTopology(benchInput, benchOutput)
			if err != nil {
				b.Fatal(err)
			}
			plan, err := link.PlanOf(topo)
			if err != nil {
				b.Fatal(err)
			}
			cfg := runtime.TaskConfig{AppID: "bench", Collector: &discard{}, StateDir: b.TempDir()}
			if level.debug {
				cfg.Debug = runtime.NewDebugMetrics()
			}
			task, err := runtime.NewTask(plan.Subtopologies[0], 0, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { task.Close() })
			const batch = 1000
			recs := fetchedBatch(batch)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				task.Add(recs[n%batch])
				n++
				if n%batch == 0 {
					processAll(b, task)
				}
			}
			processAll(b, task)
			if level.debug {
				var total int64
				for _, c := range cfg.Debug.Snapshot() {
					if c.Node == "" {
						total += c.Processed
					}
				}
				if total != int64(n) {
					b.Fatalf("debug metrics counted %d records, want %d", total, n)
				}
			}
		})
	}
}

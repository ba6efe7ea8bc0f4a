package main

import (
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
)

// BenchmarkWindowedTask runs the windowed workloads' topologies (Pebble
// window and session stores, changelogs, no cache) on the runtime's tasks
// without a broker, as BenchmarkStatefulTask: one op is one 1 KiB input
// record. Timestamps advance 1 ms a record over 1,000 keys, so each key
// comes back 1 s later: every session-count record extends its key's
// session (a find, a remove and a put), every windowed-count record
// updates two hopping windows.
func BenchmarkWindowedTask(b *testing.B) {
	for _, tt := range []struct {
		name  string
		build func() (*kstreams.Topology, error)
	}{
		{"windowed-count", func() (*kstreams.Topology, error) { return windowedCountTopology(benchInput, benchOutput) }},
		{"session-count", func() (*kstreams.Topology, error) { return sessionCountTopology(benchInput, benchOutput) }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			topo, err := tt.build()
			if err != nil {
				b.Fatal(err)
			}
			plan, err := link.PlanOf(topo)
			if err != nil {
				b.Fatal(err)
			}
			c := &chain{taskOf: map[string]*runtime.Task{}}
			task, err := runtime.NewTask(plan.Subtopologies[0], 0, runtime.TaskConfig{AppID: "bench", Collector: c, StateDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { task.Close() })
			const batch = 1000
			recs := fetchedBatch(batch)
			start := time.Now().Add(-time.Hour)
			b.ReportAllocs()
			b.SetBytes(valueSize)
			n := 0
			for b.Loop() {
				r := recs[n%batch]
				r.Timestamp = start.Add(time.Duration(n) * time.Millisecond)
				task.Add(r)
				n++
				if n%batch == 0 {
					processAll(b, task)
				}
			}
			processAll(b, task)
		})
	}
}

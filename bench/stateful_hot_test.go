package main

import (
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkStatefulTask runs the stateful workloads' topologies (Pebble
// stores, changelogs, no cache) on the runtime's tasks without a broker:
// every sub-topology is a task, records sent to a repartition topic are
// fed to the task reading it, and everything else (changelogs, the output)
// is dropped. One op is one 1 KiB input record. This is the per-record CPU
// the timestamped stores must not raise by more than 5% (issue 8).
func BenchmarkStatefulTask(b *testing.B) {
	var hits int64
	topologies := []struct {
		name  string
		build func() (*kstreams.Topology, error)
	}{
		{"count", func() (*kstreams.Topology, error) { return countTopology(benchInput, benchOutput) }},
		{"get-put", func() (*kstreams.Topology, error) { return getPutTopology(benchInput, benchOutput, &hits) }},
		{"table-reduce", func() (*kstreams.Topology, error) { return tableReduceTopology(benchInput, benchOutput) }},
	}
	for _, tt := range topologies {
		b.Run(tt.name, func(b *testing.B) {
			topo, err := tt.build()
			if err != nil {
				b.Fatal(err)
			}
			benchTasks(b, topo)
		})
	}
}

// chain is a runtime.Collector that hands records for a task's source
// topic to that task and counts the others.
type chain struct {
	taskOf  map[string]*runtime.Task
	dropped int
}

func (c *chain) Send(rec *kgo.Record, _ runtime.SendKind) {
	if t := c.taskOf[rec.Topic]; t != nil {
		t.Add(rec)
		return
	}
	c.dropped++
}

func benchTasks(b *testing.B, topo *kstreams.Topology) {
	b.Helper()
	plan, err := link.PlanOf(topo)
	if err != nil {
		b.Fatal(err)
	}
	c := &chain{taskOf: map[string]*runtime.Task{}}
	var tasks []*runtime.Task
	for _, st := range plan.Subtopologies {
		task, err := runtime.NewTask(st, 0, runtime.TaskConfig{AppID: "bench", Collector: c, StateDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { task.Close() })
		tasks = append(tasks, task)
		for _, topic := range st.Sources {
			c.taskOf[topic.Resolve("bench")] = task
		}
	}
	const batch = 1000
	recs := fetchedBatch(batch)
	b.ReportAllocs()
	b.SetBytes(valueSize)
	n := 0
	for b.Loop() {
		tasks[0].Add(recs[n%batch])
		n++
		if n%batch == 0 {
			drainTasks(b, tasks)
		}
	}
	drainTasks(b, tasks)
	b.StopTimer()
	if c.dropped < n {
		b.Fatalf("%d records left the tasks, want at least %d", c.dropped, n)
	}
}

func drainTasks(b *testing.B, tasks []*runtime.Task) {
	for more := true; more; {
		more = false
		for _, t := range tasks {
			processAll(b, t)
		}
		for _, t := range tasks {
			more = more || t.Buffered()
		}
	}
}

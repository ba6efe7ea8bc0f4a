package main

import (
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The per-record hot path without a broker: what the runtime costs per
// record between a fetched kgo.Record and the kgo.Record handed to the
// producer. Run with
//
//	go test ./bench -run '^$' -bench . -benchmem
//
// One op is one 1 KiB input record.

const (
	benchInput  = "bench-input"
	benchOutput = "bench-output"
)

// BenchmarkFilterMapDriver pipes records through source -> filter ->
// mapValues -> sink with the kstreamstest driver. Besides the runtime it
// counts the driver's own work per record (a record copy, the output it
// keeps), so it is an upper bound; BenchmarkTask is the runtime alone.
func BenchmarkFilterMapDriver(b *testing.B) {
	topo, err := filterMapTopology(benchInput, benchOutput)
	if err != nil {
		b.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	in := kstreamstest.NewInputTopic(d, benchInput, serde.String(), serde.Bytes())
	keys, values := inputStrings()
	b.ReportAllocs()
	b.SetBytes(valueSize)
	for i := 0; b.Loop(); i++ {
		if err := in.PipeAt(keys[i%distinctKeys], values[i%distinctValues], int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := d.Metrics().Produced; got != int64(b.N) {
		b.Fatalf("produced %d records, want %d", got, b.N)
	}
}

// BenchmarkTask runs the runtime's task the way a stream thread does
// (Add a fetched batch, then Process it in chunks of 1000) with a collector
// that drops what the sink sends, so allocs/op are the runtime's own per
// record. source-sink is the bare topology; filter-map adds the two DSL
// processors.
func BenchmarkTask(b *testing.B) {
	topologies := []struct {
		name  string
		build func() (*kstreams.Topology, error)
	}{
		{"source-sink", func() (*kstreams.Topology, error) {
			bl := kstreams.NewBuilder()
			kstreams.StreamFrom(bl, benchInput, kstreams.ConsumedWith(serde.String(), serde.Bytes())).
				To(benchOutput, kstreams.ProducedWith(serde.String(), serde.Bytes()))
			return bl.Build()
		}},
		{"filter-map", func() (*kstreams.Topology, error) { return filterMapTopology(benchInput, benchOutput) }},
	}
	for _, tt := range topologies {
		b.Run(tt.name, func(b *testing.B) {
			topo, err := tt.build()
			if err != nil {
				b.Fatal(err)
			}
			benchTask(b, topo)
		})
	}
}

// discard is a runtime.Collector that counts and drops records.
type discard struct{ n int }

func (c *discard) Send(*kgo.Record, runtime.SendKind) { c.n++ }

func benchTask(b *testing.B, topo *kstreams.Topology) {
	b.Helper()
	plan, err := link.PlanOf(topo)
	if err != nil {
		b.Fatal(err)
	}
	sink := &discard{}
	task, err := runtime.NewTask(plan.Subtopologies[0], 0, runtime.TaskConfig{
		AppID: "bench", Collector: sink, StateDir: b.TempDir(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { task.Close() })
	const batch = 1000
	recs := fetchedBatch(batch)
	b.ReportAllocs()
	b.SetBytes(valueSize)
	n := 0
	for b.Loop() {
		task.Add(recs[n%batch])
		n++
		if n%batch == 0 {
			processAll(b, task)
		}
	}
	processAll(b, task)
	b.StopTimer()
	if sink.n != n {
		b.Fatalf("sent %d records, want %d", sink.n, n)
	}
}

func processAll(b *testing.B, task *runtime.Task) {
	for task.Buffered() {
		if _, err := task.Process(1000); err != nil {
			b.Fatal(err)
		}
	}
}

// fetchedBatch returns n records as a fetch returns them.
func fetchedBatch(n int) []*kgo.Record {
	keys, values := inputData()
	recs := make([]*kgo.Record, n)
	now := time.Now()
	for i := range recs {
		recs[i] = &kgo.Record{
			Topic: benchInput, Key: keys[i%distinctKeys], Value: values[i%distinctValues],
			Timestamp: now.Add(time.Duration(i) * time.Millisecond), Offset: int64(i),
		}
	}
	return recs
}

func inputStrings() (keys []string, values [][]byte) {
	kb, values := inputData()
	keys = make([]string, len(kb))
	for i, k := range kb {
		keys[i] = string(k)
	}
	return keys, values
}

package kstreams_test

import (
	"fmt"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

type reading struct {
	Sensor  string `json:"sensor"`
	TakenMs int64  `json:"taken_ms"`
}

// Event time taken from the value: each reading carries the time it was
// taken, which stamps it (and everything computed from it) instead of the
// time it was produced.
func ExampleTimestampFromKeyValue() {
	readings := serde.JSON[reading]()
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "readings", kstreams.ConsumedWith(serde.String(), readings)).
		To("stamped", kstreams.ProducedWith(serde.String(), readings))
	topo, _ := b.Build()

	taken := kstreams.TimestampFromKeyValue(serde.String(), readings,
		func(_ string, r reading, _ int64) (int64, error) { return r.TakenMs, nil })
	// In an application: kstreams.New(topo, kstreams.WithTimestampExtractor(taken), ...).
	d, _ := kstreamstest.New(topo, kstreamstest.TimestampExtractor(taken))
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "readings", serde.String(), readings)
	_ = in.PipeAt("s1", reading{Sensor: "s1", TakenMs: 1000}, 5000)
	_ = in.PipeAt("s1", reading{Sensor: "s1", TakenMs: 2000}, 6000)
	out, _ := kstreamstest.NewOutputTopic(d, "stamped", serde.String(), readings).ReadRecords()
	for _, r := range out {
		fmt.Println(r.Key, r.Timestamp)
	}
	// Output:
	// s1 1000
	// s1 2000
}

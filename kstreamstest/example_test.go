package kstreamstest_test

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// ExampleNew tests a topology without a broker: records piped in are
// processed before Pipe returns, and output topics hold what the sinks
// wrote.
func ExampleNew() {
	b := kstreams.NewBuilder()
	temps := kstreams.StreamFrom(b, "temperatures", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	hot := temps.Filter(func(_ string, c int64) bool { return c >= 30 })
	kstreams.MapValues(hot, func(c int64) string { return fmt.Sprintf("%d°C", c) }).To("alerts")
	topology, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	d, err := kstreamstest.New(topology)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "temperatures", serde.String(), serde.Int64())
	out := kstreamstest.NewOutputTopic(d, "alerts", serde.String(), serde.String())
	_ = in.PipeAt("kitchen", 21, 1000)
	_ = in.PipeAt("attic", 34, 2000)
	rec, err := out.ReadRecord()
	fmt.Println(rec.Key, rec.Value, rec.Timestamp, err)
	_, err = out.ReadRecord()
	fmt.Println(err)
	fmt.Println("processed:", d.Metrics().Processed)
	// Output:
	// attic 34°C 2000 <nil>
	// kstreamstest: no record in output topic: "alerts"
	// processed: 2
}

// heartbeat forwards one record per wall-clock second.
type heartbeat struct{}

func (heartbeat) Process(processor.Record[string, string]) error { return nil }
func (heartbeat) Close() error                                   { return nil }
func (heartbeat) Init(ctx processor.Context[string, string]) error {
	ctx.Schedule(time.Second, processor.WallClockTime, func(now int64) error {
		ctx.Forward(processor.Record[string, string]{Key: "beat", Value: fmt.Sprint(now), Timestamp: now})
		return nil
	})
	return nil
}

// ExampleDriver_AdvanceWallClock fires wall-clock punctuators: the driver's
// clock stands still until the test moves it.
func ExampleDriver_AdvanceWallClock() {
	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.Process(in, func() processor.Processor[string, string, string, string] { return heartbeat{} }).
		To("beats", kstreams.ProducedWith(serde.String(), serde.String()))
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology, kstreamstest.WallClock(time.UnixMilli(10_000)))
	defer d.Close()
	_ = d.AdvanceWallClock(500 * time.Millisecond)  // not yet due
	_ = d.AdvanceWallClock(2500 * time.Millisecond) // 11000, 12000 and 13000 are due: one beat, missed ones are skipped
	beats, _ := kstreamstest.NewOutputTopic(d, "beats", serde.String(), serde.String()).ReadKeyValues()
	fmt.Println(beats)
	// Output:
	// [{beat 13000}]
}

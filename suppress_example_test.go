package kstreams_test

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// A count per key and minute that forwards each window once, when it
// closes. The buffer's changelog is "<application id>-final-store-changelog"
// (the suppression is named "final"); a restarted instance restores it.
func ExampleTable_Suppress() {
	b := kstreams.NewBuilder()
	clicks := kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.String(), serde.String()))
	perMinute := kstreams.WindowedBy(clicks.GroupByKey(), kstreams.TimeWindowsOfSizeAndGrace(time.Minute, 10*time.Second)).Count()
	final := perMinute.Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer()), "final")
	kstreams.Map(final.ToStream(), func(w kstreams.Windowed[string], n int64) (string, int64) {
		return fmt.Sprintf("%s@%ds", w.Key, w.Window.Start/1000), n
	}).To("clicks-per-minute", kstreams.ProducedWith(serde.String(), serde.Int64()))
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
	in := kstreamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	out := kstreamstest.NewOutputTopic(d, "clicks-per-minute", serde.String(), serde.Int64())
	_ = in.PipeAt("ann", "/home", 1_000)
	_ = in.PipeAt("ann", "/cart", 30_000)
	_ = in.PipeAt("bob", "/home", 59_000)
	_ = in.PipeAt("ann", "/pay", 65_000) // next minute: the first is not closed yet (grace)
	_ = in.PipeAt("bob", "/home", 70_000)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Println(r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// ann@0s 2 30000
	// bob@0s 1 59000
}

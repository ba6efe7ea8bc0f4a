package kstreams_test

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// ExampleWindowedBySliding counts, per user, the clicks within 10 seconds
// of each other: every click makes the window ending at it ([t-10s, t]),
// and the window starting just after the previous click when this click
// falls within 10 seconds of it.
func ExampleWindowedBySliding() {
	b := kstreams.NewBuilder()
	clicks := kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.String(), serde.String()))
	w := kstreams.SlidingWindowsOfTimeDifferenceWithNoGrace(10 * time.Second)
	counts := kstreams.WindowedBySliding(clicks.GroupByKey(), w).Count()
	counts.ToStream().Foreach(func(k kstreams.Windowed[string], n int64) {
		fmt.Printf("%s [%d,%d] ms: %d\n", k.Key, k.Window.Start, k.Window.End, n)
	})
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	_ = in.PipeAt("ada", "home", 20_000)
	_ = in.PipeAt("ada", "cart", 25_000)
	_ = in.PipeAt("ada", "pay", 40_000)
	// Output:
	// ada [10000,20000] ms: 1
	// ada [20001,30001] ms: 1
	// ada [15000,25000] ms: 2
	// ada [30000,40000] ms: 1
}

// ExampleCogroup folds orders (amounts) and refunds (amounts) of each
// customer into one balance: two grouped streams, each with its aggregator,
// one store.
func ExampleCogroup() {
	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	refunds := kstreams.StreamFrom(b, "refunds", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	c := kstreams.Cogroup(orders.GroupByKey(), func(_ string, amount, balance int64) int64 { return balance + amount })
	c = kstreams.CogroupWith(c, refunds.GroupByKey(), func(_ string, amount, balance int64) int64 { return balance - amount })
	balances := c.Aggregate(func() int64 { return 0 }, kstreams.Materialized[string, int64]{Value: serde.Int64()})
	balances.ToStream().To("balances")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	_ = kstreamstest.NewInputTopic(d, "orders", serde.String(), serde.Int64()).Pipe("ada", 70)
	_ = kstreamstest.NewInputTopic(d, "refunds", serde.String(), serde.Int64()).Pipe("ada", 20)
	_ = kstreamstest.NewInputTopic(d, "orders", serde.String(), serde.Int64()).Pipe("bob", 5)
	out, _ := kstreamstest.NewOutputTopic(d, "balances", serde.String(), serde.Int64()).ReadKeyValues()
	fmt.Println(out)
	// Output:
	// [{ada 70} {ada 50} {bob 5}]
}

// ExampleSessionWindowedStream_Emit counts each user's sessions (30 minutes
// of inactivity close one) and forwards each session once, when it is
// closed, instead of every update. The store keeps sessions a day, so that
// a session is still there when a record far later closes it: with the
// default retention (gap plus grace), a session whose store segment expired
// before it closed is never forwarded, as in Kafka Streams.
func ExampleSessionWindowedStream_Emit() {
	b := kstreams.NewBuilder()
	visits := kstreams.StreamFrom(b, "visits", kstreams.ConsumedWith(serde.String(), serde.String()))
	w := kstreams.SessionWindowsOfInactivityGapWithNoGrace(30 * time.Minute)
	sessions := kstreams.WindowedBySession(visits.GroupByKey(), w).Emit(kstreams.EmitOnWindowClose).
		Count(kstreams.WindowedMaterialized[string, int64]{Retention: 24 * time.Hour})
	sessions.ToStream().Foreach(func(k kstreams.Windowed[string], n int64) {
		fmt.Printf("%s: %d visits from minute %d to %d\n", k.Key, n, k.Window.Start/60_000, k.Window.End/60_000)
	})
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "visits", serde.String(), serde.String())
	const minute = 60_000
	_ = in.PipeAt("ada", "home", 0*minute)
	_ = in.PipeAt("ada", "docs", 10*minute)
	_ = in.PipeAt("ada", "blog", 25*minute)
	_ = in.PipeAt("bob", "home", 90*minute) // stream time passes ada's session end plus the gap
	// Output:
	// ada: 3 visits from minute 0 to 25
}

package kstreams_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// ExampleNew runs an application on an embedded broker: it reads "orders",
// keeps the big ones and writes them to "big-orders". Against a real
// cluster, only the Brokers option changes.
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broker, err := embedded.Start(embedded.Options{Partitions: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()
	if err := broker.CreateTopics(ctx, 1, "orders", "big-orders"); err != nil {
		fmt.Println(err)
		return
	}

	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	big := orders.Filter(func(_ string, total int64) bool { return total >= 100 })
	big.To("big-orders")
	topology, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	stateDir, _ := os.MkdirTemp("", "example-new-")
	defer os.RemoveAll(stateDir)
	app, err := kstreams.New(topology,
		kstreams.ApplicationID("orders-app"),
		kstreams.Brokers(broker.Addrs()...),
		kstreams.StateDir(stateDir),
		kstreams.CommitInterval(100*time.Millisecond),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()

	err = embedded.Produce(ctx, broker, "orders", serde.String(), serde.Int64(),
		processor.Record[string, int64]{Key: "o1", Value: 30},
		processor.Record[string, int64]{Key: "o2", Value: 250},
		processor.Record[string, int64]{Key: "o3", Value: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := embedded.Consume(ctx, broker, "big-orders", 2, serde.String(), serde.Int64())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range out {
		fmt.Println(r.Key, r.Value)
	}
	stop()
	fmt.Println("Run:", <-done)
	// Output:
	// o2 250
	// o3 100
	// Run: <nil>
}

// ExampleLocalStore counts words on an embedded broker and reads the counts
// from the application's store, as an interactive query does.
func ExampleLocalStore() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broker, err := embedded.Start(embedded.Options{Partitions: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()
	if err := broker.CreateTopics(ctx, 0, "words"); err != nil {
		fmt.Println(err)
		return
	}

	b := kstreams.NewBuilder()
	words := kstreams.StreamFrom(b, "words", kstreams.ConsumedWith(serde.String(), serde.String()))
	byWord := kstreams.GroupBy(words, func(_, w string) string { return w })
	byWord.Count(kstreams.Materialized[string, int64]{Name: "word-counts"})
	topology, _ := b.Build()
	stateDir, _ := os.MkdirTemp("", "example-localstore-")
	defer os.RemoveAll(stateDir)
	app, err := kstreams.New(topology, kstreams.ApplicationID("word-count"), kstreams.Brokers(broker.Addrs()...),
		kstreams.StateDir(stateDir), kstreams.CommitInterval(50*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	defer func() { stop(); <-done }()

	var recs []processor.Record[string, string]
	for _, w := range strings.Fields("to be or not to be") {
		recs = append(recs, processor.Record[string, string]{Value: w})
	}
	if err := embedded.Produce(ctx, broker, "words", serde.String(), serde.String(), recs...); err != nil {
		fmt.Println(err)
		return
	}

	// The store shows what was committed: poll until every word is in.
	want := map[string]int64{"to": 2, "be": 2, "or": 1, "not": 1}
	for {
		counts, err := kstreams.LocalStore[string, int64](app, "word-counts")
		if err == nil && hasCounts(counts.Get, want) {
			break
		}
		if err != nil && !errors.Is(err, kstreams.ErrStoreNotAvailable) {
			fmt.Println(err)
			return
		}
		if ctx.Err() != nil {
			fmt.Println("timed out")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	counts, _ := kstreams.LocalStore[string, int64](app, "word-counts")
	for _, w := range []string{"to", "be", "or", "not"} {
		n, _, _ := counts.Get(w)
		fmt.Println(w, n)
	}
	// Output:
	// to 2
	// be 2
	// or 1
	// not 1
}

// hasCounts reports whether get returns want for every key.
func hasCounts(get func(string) (int64, bool, error), want map[string]int64) bool {
	for k, n := range want {
		if got, ok, err := get(k); err != nil || !ok || got != n {
			return false
		}
	}
	return true
}

// ExampleGroupBy counts words: grouping by the word repartitions the
// stream so that every occurrence of a word reaches one task.
func ExampleGroupBy() {
	b := kstreams.NewBuilder()
	lines := kstreams.StreamFrom(b, "lines", kstreams.ConsumedWith(serde.String(), serde.String()))
	words := kstreams.FlatMapValues(lines, strings.Fields)
	counts := kstreams.GroupBy(words, func(_, w string) string { return w }).Count()
	counts.ToStream().To("word-counts", kstreams.ProducedWith(serde.String(), serde.Int64()))
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "lines", serde.String(), serde.String())
	_ = in.Pipe("", "the cat")
	_ = in.Pipe("", "the dog")
	out, _ := kstreamstest.NewOutputTopic(d, "word-counts", serde.String(), serde.Int64()).ReadKeyValues()
	for _, kv := range out {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// the 1
	// cat 1
	// the 2
	// dog 1
}

// ExampleAggregate keeps the largest order of each customer.
func ExampleAggregate() {
	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	largest := kstreams.Aggregate(orders.GroupByKey(),
		func() int64 { return 0 },
		func(_ string, total, max int64) int64 { return maxOf(total, max) })
	largest.ToStream().To("largest-order")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "orders", serde.String(), serde.Int64())
	for _, o := range []kstreams.KeyValue[string, int64]{{"ada", 30}, {"bob", 70}, {"ada", 50}, {"ada", 40}} {
		_ = in.Pipe(o.Key, o.Value)
	}
	out, _ := kstreamstest.NewOutputTopic(d, "largest-order", serde.String(), serde.Int64()).ReadKeyValues()
	fmt.Println(out)
	// Output:
	// [{ada 30} {bob 70} {ada 50} {ada 50}]
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// ExampleTableFrom reads a topic as a table: each record replaces the value
// of its key, and the table forwards each change downstream.
func ExampleTableFrom() {
	b := kstreams.NewBuilder()
	emails := kstreams.TableFrom(b, "user-emails", kstreams.ConsumedWith(serde.String(), serde.String()),
		kstreams.Materialized[string, string]{Name: "emails"})
	emails.ToStream().To("email-changes")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "user-emails", serde.String(), serde.String())
	_ = in.Pipe("ada", "ada@old.example")
	_ = in.Pipe("bob", "bob@example")
	_ = in.Pipe("ada", "ada@new.example")
	out, _ := kstreamstest.NewOutputTopic(d, "email-changes", serde.String(), serde.String()).ReadKeyValues()
	for _, kv := range out {
		fmt.Println(kv.Key, kv.Value)
	}
	fmt.Println("store:", emails.StoreName())
	// Output:
	// ada ada@old.example
	// bob bob@example
	// ada ada@new.example
	// store: emails
}

// ExampleGroupTableBy counts the users of each city. When a user moves,
// the old city loses one and the new city gains one.
func ExampleGroupTableBy() {
	b := kstreams.NewBuilder()
	cityOf := kstreams.TableFrom(b, "user-city", kstreams.ConsumedWith(serde.String(), serde.String()))
	byCity := kstreams.GroupTableBy(cityOf, func(user, city string) kstreams.KeyValue[string, string] {
		return kstreams.KV(city, user)
	})
	byCity.Count().ToStream().To("users-per-city", kstreams.ProducedWith(serde.String(), serde.Int64()))
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "user-city", serde.String(), serde.String())
	_ = in.Pipe("ada", "paris")
	_ = in.Pipe("bob", "paris")
	_ = in.Pipe("ada", "oslo")
	out, _ := kstreamstest.NewOutputTopic(d, "users-per-city", serde.String(), serde.Int64()).ReadKeyValues()
	for _, kv := range out {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// paris 1
	// paris 2
	// paris 1
	// oslo 1
}

// ExampleStream_ToTable turns a stream of readings into a table of the
// latest reading of each sensor, and keeps the sensors above 30.
func ExampleStream_ToTable() {
	b := kstreams.NewBuilder()
	readings := kstreams.StreamFrom(b, "readings", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	latest := readings.ToTable(kstreams.Materialized[string, int64]{Name: "latest-reading"})
	latest.ToStream().Filter(func(_ string, v int64) bool { return v > 30 }).To("hot")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "readings", serde.String(), serde.Int64())
	_ = in.Pipe("s1", 25)
	_ = in.Pipe("s2", 31)
	_ = in.Pipe("s1", 35)
	out, _ := kstreamstest.NewOutputTopic(d, "hot", serde.String(), serde.Int64()).ReadKeyValues()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	fmt.Println(out)
	// Output:
	// [{s1 35} {s2 31}]
}

// labeler is a processor that labels values and cannot change keys.
type labeler struct {
	ctx processor.Context[string, string]
}

func (l *labeler) Init(ctx processor.Context[string, string]) error { l.ctx = ctx; return nil }
func (l *labeler) Close() error                                     { return nil }
func (l *labeler) Process(r processor.Record[string, int64]) error {
	label := "small"
	if r.Value >= 100 {
		label = "big"
	}
	l.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: label, Timestamp: r.Timestamp})
	return nil
}

// ExampleProcessValues runs a processor that keeps the key: counting its
// output per key needs no repartition topic.
func ExampleProcessValues() {
	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	labels := kstreams.ProcessValues(orders, func() processor.Processor[string, int64, string, string] { return &labeler{} })
	labels.GroupByKey().Count()
	topology, _ := b.Build()
	desc, _ := topology.Describe()
	fmt.Println("sub-topologies:", len(desc.Subtopologies))
	// Output:
	// sub-topologies: 1
}

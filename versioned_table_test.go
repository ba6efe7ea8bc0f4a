package kstreams_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// A versioned table logs each put with the version's timestamp as the
// record timestamp (a delete as a tombstone), including out-of-order puts,
// as Kafka Streams' versioned changelogs; a put older than the history
// retention is logged too (Java logs before the store decides) but neither
// kept nor forwarded.
func TestVersionedTableChangelog(t *testing.T) {
	str := serde.String()
	b := kstreams.NewBuilder()
	kstreams.TableFrom(b, "tab", kstreams.ConsumedWith(str, str),
		kstreams.Materialized[string, string]{Name: "vt", Versioned: &kstreams.Versioning{HistoryRetention: 10 * time.Millisecond}},
	).ToStream().To("out", kstreams.ProducedWith(str, str))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "tab", str, serde.Bytes())
	for _, r := range []struct {
		v  []byte
		ts int64
	}{{[]byte("a"), 10}, {[]byte("b"), 20}, {[]byte("c"), 15}, {nil, 25}, {[]byte("old"), 3}} {
		if err := in.PipeAt("k", r.v, r.ts); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := kstreamstest.NewOutputTopic(d, "kstreamstest-vt-changelog", str, serde.Bytes()).ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s=%q@%d", r.Key, r.Value, r.Timestamp))
	}
	want := []string{`k="a"@10`, `k="b"@20`, `k="c"@15`, `k=""@25`, `k="old"@3`}
	if !slices.Equal(got, want) {
		t.Errorf("changelog %v, want %v", got, want)
	}
	if n := kstreamstest.NewOutputTopic(d, "out", str, str).QueueSize(); n != 4 {
		t.Errorf("%d updates forwarded, want 4 (the expired one dropped)", n)
	}
}

// A Processor API processor reads a versioned store as of a time.
func ExampleAddVersionedStore() {
	str := serde.String()
	topo := kstreams.NewTopology()
	kstreams.AddSource(topo, "prices", kstreams.ConsumedWith(str, str), "prices")
	kstreams.AddProcessor(topo, "price-at", func() processor.Processor[string, string, string, string] {
		return &priceAt{}
	}, "prices")
	kstreams.AddVersionedStore(topo, kstreams.VersionedStoreBuilder[string, string]{
		Name: "price-history", HistoryRetention: time.Hour, InMemory: true,
	}, "price-at")
	kstreams.AddSink(topo, "out", "answers", kstreams.ProducedWith(str, str), "price-at")
	d, err := kstreamstest.New(topo)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "prices", str, str)
	_ = in.PipeAt("pen", "1.00", 10)
	_ = in.PipeAt("pen", "1.50", 30)
	_ = in.PipeAt("pen", "?", 20) // a question: the price at 20
	kvs, _ := kstreamstest.NewOutputTopic(d, "answers", str, str).ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// pen 1.00 (valid from 10 to 30)
}

// priceAt records prices and answers "?" with the price valid at the
// question's timestamp.
type priceAt struct {
	ctx   processor.Context[string, string]
	store state.VersionedKeyValueStore[string, string]
}

func (p *priceAt) Init(ctx processor.Context[string, string]) error {
	st, err := processor.Store[state.VersionedKeyValueStore[string, string]](ctx, "price-history")
	p.ctx, p.store = ctx, st
	return err
}

func (p *priceAt) Process(r processor.Record[string, string]) error {
	if r.Value != "?" {
		_, err := p.store.Put(r.Key, r.Value, r.Timestamp)
		return err
	}
	v, ok, err := p.store.GetAsOf(r.Key, r.Timestamp)
	if err != nil || !ok {
		return err
	}
	p.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: fmt.Sprintf("%s (valid from %d to %d)", v.Value, v.Timestamp, v.ValidTo), Timestamp: r.Timestamp})
	return nil
}

func (p *priceAt) Close() error { return nil }

// Orders priced with the price valid when each order was placed: the
// prices table is versioned, so an order that arrives late still gets the
// price of its time.
func ExampleVersioning() {
	str := serde.String()
	b := kstreams.NewBuilder()
	prices := kstreams.TableFrom(b, "prices", kstreams.ConsumedWith(str, str),
		kstreams.Materialized[string, string]{Name: "price-history", Versioned: &kstreams.Versioning{HistoryRetention: time.Hour}})
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(str, str))
	kstreams.StreamTableJoin(orders, prices, func(item, order, price string) string {
		return order + " " + item + " at " + price
	}).To("priced", kstreams.ProducedWith(str, str))
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	p := kstreamstest.NewInputTopic(d, "prices", str, str)
	o := kstreamstest.NewInputTopic(d, "orders", str, str)
	_ = p.PipeAt("pen", "1.00", 1000)
	_ = p.PipeAt("pen", "1.50", 5000)
	_ = o.PipeAt("pen", "order-1", 6000)
	_ = o.PipeAt("pen", "order-0", 2000) // late: priced as of 2000
	kvs, _ := kstreamstest.NewOutputTopic(d, "priced", str, str).ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Value)
	}
	// Output:
	// order-1 pen at 1.50
	// order-0 pen at 1.00
}

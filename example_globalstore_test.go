package kstreams_test

import (
	"fmt"
	"strings"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// normalizer keeps, in the global store "names", each customer's name
// upper-cased.
type normalizer struct {
	names state.KeyValueStore[string, string]
}

func (n *normalizer) Init(ctx processor.Context[struct{}, struct{}]) (err error) {
	n.names, err = processor.Store[state.KeyValueStore[string, string]](ctx, "names")
	return err
}

func (n *normalizer) Process(r processor.Record[string, string]) error {
	return n.names.Put(r.Key, strings.ToUpper(r.Value))
}

func (n *normalizer) Close() error { return nil }

// greeter looks each order's customer up in the global store "names".
type greeter struct {
	ctx   processor.Context[string, string]
	names state.ReadOnlyKeyValueStore[string, string]
}

func (g *greeter) Init(ctx processor.Context[string, string]) (err error) {
	g.ctx = ctx
	g.names, err = processor.Store[state.ReadOnlyKeyValueStore[string, string]](ctx, "names")
	return err
}

func (g *greeter) Process(r processor.Record[string, string]) error {
	name, _, err := g.names.Get(r.Value)
	if err != nil {
		return err
	}
	g.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: "for " + name, Timestamp: r.Timestamp})
	return nil
}

func (g *greeter) Close() error { return nil }

// A global store maintained by a processor of your own, read by a stream
// processor of another sub-topology.
func ExampleAddGlobalStore() {
	str := serde.String()
	b := kstreams.NewBuilder()
	kstreams.AddGlobalStore(b, kstreams.StoreBuilder[string, string]{
		Name: "names", Key: str, Value: str, DisableLogging: true, // a global store has no changelog
	}, "customers", kstreams.ConsumedWith(str, str),
		func() processor.Processor[string, string, struct{}, struct{}] { return &normalizer{} })
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(str, str))
	kstreams.Process(orders, func() processor.Processor[string, string, string, string] { return &greeter{} }).
		To("greetings", kstreams.ProducedWith(str, str))
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
	_ = kstreamstest.NewInputTopic(d, "customers", str, str).PipeAt("c1", "ann", 1)
	_ = kstreamstest.NewInputTopic(d, "orders", str, str).PipeAt("o1", "c1", 2)
	out, _ := kstreamstest.NewOutputTopic(d, "greetings", str, str).ReadKeyValues()
	fmt.Println(out)
	// Output: [{o1 for ANN}]
}

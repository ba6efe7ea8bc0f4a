package processor_test

import (
	"fmt"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// dedup forwards the first record of each key and drops the repeats,
// remembering the keys it saw in a state store.
type dedup struct {
	ctx  processor.Context[string, string]
	seen state.KeyValueStore[string, int64]
}

func (d *dedup) Init(ctx processor.Context[string, string]) error {
	seen, err := processor.Store[state.KeyValueStore[string, int64]](ctx, "seen")
	if err != nil {
		return err
	}
	d.ctx, d.seen = ctx, seen
	return nil
}

func (d *dedup) Process(r processor.Record[string, string]) error {
	_, found, err := d.seen.PutIfAbsent(r.Key, r.Timestamp)
	if err != nil || found {
		return err
	}
	d.ctx.Forward(r)
	return nil
}

func (d *dedup) Close() error { return nil }

// Example writes a processor with a state store and runs it in the test
// driver. The store is declared with kstreams.AddStateStore and connected
// to the processor by ProcessWithStores.
func Example() {
	b := kstreams.NewBuilder()
	kstreams.AddStateStore(b, kstreams.StoreBuilder[string, int64]{Name: "seen"})
	events := kstreams.StreamFrom(b, "events", kstreams.ConsumedWith(serde.String(), serde.String()))
	first := kstreams.ProcessWithStores(events,
		func() processor.Processor[string, string, string, string] { return &dedup{} },
		[]string{"seen"}, "dedup")
	first.To("first-events", kstreams.ProducedWith(serde.String(), serde.String()))
	topology, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "events", serde.String(), serde.String())
	for _, id := range []string{"e1", "e2", "e1", "e3", "e2"} {
		_ = in.Pipe(id, "payload of "+id)
	}
	out, _ := kstreamstest.NewOutputTopic(d, "first-events", serde.String(), serde.String()).ReadKeyValues()
	for _, kv := range out {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// e1 payload of e1
	// e2 payload of e2
	// e3 payload of e3
}

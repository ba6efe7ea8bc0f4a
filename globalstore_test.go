package kstreams_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// gsProcessor keeps, in global store "gs", each key's value upper-cased
// and prefixed with the record's partition metadata and the task id it
// sees; a nil value deletes. schedule makes it ask for a punctuator.
type gsProcessor struct {
	st       state.KeyValueStore[string, string]
	ctx      processor.Context[struct{}, struct{}]
	schedule bool
}

func (p *gsProcessor) Init(ctx processor.Context[struct{}, struct{}]) (err error) {
	p.ctx = ctx
	if p.schedule {
		ctx.Schedule(time.Second, processor.WallClockTime, func(int64) error { return nil })
	}
	p.st, err = processor.Store[state.KeyValueStore[string, string]](ctx, "gs")
	return err
}

func (p *gsProcessor) Process(r processor.Record[string, string]) error {
	if r.Value == "" {
		_, _, err := p.st.Delete(r.Key)
		return err
	}
	md, _ := p.ctx.RecordMetadata()
	return p.st.Put(r.Key, md.Topic+"/"+p.ctx.TaskID().String()+"/"+strings.ToUpper(r.Value))
}

func (p *gsProcessor) Close() error { return nil }

// gsLookup forwards "<value>=<row of gs at the value>" or "<value>=none".
type gsLookup struct {
	ctx processor.Context[string, string]
	st  state.ReadOnlyKeyValueStore[string, string]
}

func (p *gsLookup) Init(ctx processor.Context[string, string]) (err error) {
	p.ctx = ctx
	p.st, err = processor.Store[state.ReadOnlyKeyValueStore[string, string]](ctx, "gs")
	return err
}

func (p *gsLookup) Process(r processor.Record[string, string]) error {
	row, ok, err := p.st.Get(r.Value)
	if err != nil {
		return err
	}
	if !ok {
		row = "none"
	}
	p.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: r.Value + "=" + row, Timestamp: r.Timestamp})
	return nil
}

func (p *gsLookup) Close() error { return nil }

func gsTopology(t *testing.T, sb kstreams.StoreBuilder[string, string], proc func() *gsProcessor) (*kstreams.Topology, error) {
	t.Helper()
	b := kstreams.NewBuilder()
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	kstreams.AddGlobalStore(b, sb, "gtopic", ss,
		func() processor.Processor[string, string, struct{}, struct{}] { return proc() })
	kstreams.Process(kstreams.StreamFrom(b, "in", ss),
		func() processor.Processor[string, string, string, string] { return &gsLookup{} }).
		To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	return b.Build()
}

// A Processor API global store: its processor maintains the store from
// the global topic (metadata of the global task, -1_-1), stream processors
// read it read-only by name, unconnected, and see each update before the
// next stream record, as with Kafka Streams' TopologyTestDriver.
func TestAddGlobalStoreLookup(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		sb := kstreams.StoreBuilder[string, string]{Name: "gs", Key: serde.String(), Value: serde.String(), DisableLogging: true, InMemory: inMemory}
		topo, err := gsTopology(t, sb, func() *gsProcessor { return &gsProcessor{} })
		if err != nil {
			t.Fatal(err)
		}
		d, err := kstreamstest.New(topo)
		if err != nil {
			t.Fatal(err)
		}
		g := kstreamstest.NewInputTopic(d, "gtopic", serde.String(), serde.String())
		in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
		out := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
		steps := []func() error{
			func() error { return g.PipeAt("a", "x", 1) },
			func() error { return in.PipeAt("1", "a", 2) },
			func() error { return in.PipeAt("2", "b", 3) },
			func() error { return g.PipeAt("a", "y", 4) },
			func() error { return in.PipeAt("3", "a", 5) },
			func() error { return d.PipeBytes("gtopic", []byte("a"), nil, 6) },
			func() error { return in.PipeAt("4", "a", 7) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("inMemory=%v: step %d: %v", inMemory, i, err)
			}
		}
		kvs, err := out.ReadKeyValues()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, kv := range kvs {
			got = append(got, kv.Key+" "+kv.Value)
		}
		want := []string{"1 a=gtopic/-1_-1/X", "2 b=none", "3 a=gtopic/-1_-1/Y", "4 a=none"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("inMemory=%v: got %q, want %q", inMemory, got, want)
		}
		// The test driver hands out the store as Kafka Streams' does; a
		// stream processor asking for a writable one is refused.
		if _, err := kstreamstest.Store[state.KeyValueStore[string, string]](d, "gs"); err == nil {
			t.Errorf("inMemory=%v: the stream side got a writable global store", inMemory)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A global store is checked when the topology is built or started: logging
// must be off, as in Kafka Streams, and a global store's processor may not
// schedule punctuators.
func TestAddGlobalStoreErrors(t *testing.T) {
	_, err := gsTopology(t, kstreams.StoreBuilder[string, string]{Name: "gs", Key: serde.String(), Value: serde.String()},
		func() *gsProcessor { return &gsProcessor{} })
	if !errors.Is(err, kstreams.ErrGlobalStoreLogged) || !strings.Contains(err.Error(), `"gs"`) {
		t.Errorf("logged global store: err = %v, want %v naming the store", err, kstreams.ErrGlobalStoreLogged)
	}
	topo, err := gsTopology(t, kstreams.StoreBuilder[string, string]{Name: "gs", Key: serde.String(), Value: serde.String(), DisableLogging: true},
		func() *gsProcessor { return &gsProcessor{schedule: true} })
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err == nil {
		d.Close()
	}
	if !errors.Is(err, kstreams.ErrGlobalProcessorContext) {
		t.Errorf("scheduling global processor: err = %v, want %v", err, kstreams.ErrGlobalProcessorContext)
	}
}

// The store of a global table is readable by any processor, as a read-only
// timestamped store.
func TestGlobalTableStoreFromProcessor(t *testing.T) {
	b := kstreams.NewBuilder()
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	kstreams.GlobalTableFrom(b, "gtopic", ss, kstreams.Materialized[string, string]{Name: "gt"})
	kstreams.Process(kstreams.StreamFrom(b, "in", ss), func() processor.Processor[string, string, string, string] {
		return &gtLookup{}
	}).To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := kstreamstest.NewInputTopic(d, "gtopic", serde.String(), serde.String()).PipeAt("a", "x", 42); err != nil {
		t.Fatal(err)
	}
	if err := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeAt("1", "a", 50); err != nil {
		t.Fatal(err)
	}
	got, err := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Value != "x@42" {
		t.Errorf("got %+v, want one x@42", got)
	}
}

type gtLookup struct {
	ctx processor.Context[string, string]
	st  state.ReadOnlyTimestampedKeyValueStore[string, string]
}

func (p *gtLookup) Init(ctx processor.Context[string, string]) (err error) {
	p.ctx = ctx
	p.st, err = processor.Store[state.ReadOnlyTimestampedKeyValueStore[string, string]](ctx, "gt")
	return err
}

func (p *gtLookup) Process(r processor.Record[string, string]) error {
	vt, _, err := p.st.Get(r.Value)
	if err != nil {
		return err
	}
	p.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: vt.Value + "@" + strconv.FormatInt(vt.Timestamp, 10), Timestamp: r.Timestamp})
	return nil
}

func (p *gtLookup) Close() error { return nil }

package kstreams_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// Example builds a small topology with the DSL and runs it in the test
// driver: orders above 100 are written to "big-orders", in upper case.
func Example() {
	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	big := orders.Filter(func(_ string, total int64) bool { return total > 100 })
	labels := kstreams.MapValues(big, func(total int64) string { return fmt.Sprintf("BIG:%d", total) })
	labels.To("big-orders")
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
	in := kstreamstest.NewInputTopic(d, "orders", serde.String(), serde.Int64())
	out := kstreamstest.NewOutputTopic(d, "big-orders", serde.String(), serde.String())
	_ = in.PipeAt("o1", 50, 1000)
	_ = in.PipeAt("o2", 500, 2000)
	_ = in.PipeAt("o3", 101, 3000)
	for !out.IsEmpty() {
		r, _ := out.ReadRecord()
		fmt.Println(r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// o2 BIG:500 2000
	// o3 BIG:101 3000
}

func ExampleStream_Split() {
	b := kstreams.NewBuilder()
	words := kstreams.StreamFrom(b, "words", kstreams.ConsumedWith(serde.String(), serde.String()))
	branches := words.Split("len-").
		Branch("short", func(_, w string) bool { return len(w) <= 3 }).
		DefaultBranch("long")
	branches.Get("len-short").To("short-words")
	branches.Get("len-long").To("long-words")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "words", serde.String(), serde.String())
	for _, w := range strings.Fields("the quick brown fox") {
		_ = in.Pipe("", w)
	}
	short, _ := kstreamstest.NewOutputTopic(d, "short-words", serde.String(), serde.String()).ReadKeyValues()
	long, _ := kstreamstest.NewOutputTopic(d, "long-words", serde.String(), serde.String()).ReadKeyValues()
	fmt.Println("short:", short)
	fmt.Println("long:", long)
	// Output:
	// short: [{ the} { fox}]
	// long: [{ quick} { brown}]
}

func ExampleFlatMap() {
	b := kstreams.NewBuilder()
	lines := kstreams.StreamFrom(b, "lines", kstreams.ConsumedWith(serde.String(), serde.String()))
	words := kstreams.FlatMap(lines, func(_, line string) []kstreams.KeyValue[string, int64] {
		var out []kstreams.KeyValue[string, int64]
		for _, w := range strings.Fields(line) {
			out = append(out, kstreams.KV(w, int64(len(w))))
		}
		return out
	})
	words.To("word-lengths")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	_ = kstreamstest.NewInputTopic(d, "lines", serde.String(), serde.String()).Pipe("", "hello kafka streams")
	kvs, _ := kstreamstest.NewOutputTopic(d, "word-lengths", serde.String(), serde.Int64()).ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// hello 5
	// kafka 5
	// streams 7
}

func ExampleStream_Repartition() {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.String(), serde.String()))
	byUser := kstreams.SelectKey(s, func(_, user string) string { return user })
	byUser.Repartition(kstreams.Repartitioned[string, string]{Name: "by-user"}).To("clicks-by-user")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology, kstreamstest.ApplicationID("clicks-app"))
	defer d.Close()
	_ = kstreamstest.NewInputTopic(d, "clicks", serde.String(), serde.String()).Pipe("page-1", "ada")
	internal, _ := kstreamstest.NewOutputTopic(d, "clicks-app-by-user-repartition", serde.String(), serde.String()).ReadKeyValues()
	out, _ := kstreamstest.NewOutputTopic(d, "clicks-by-user", serde.String(), serde.String()).ReadKeyValues()
	fmt.Println(internal, out)
	// Output:
	// [{ada ada}] [{ada ada}]
}

func ExampleTopology_Describe() {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	s.Filter(func(_, v string) bool { return v != "" }, "non-empty").To("out")
	topology, _ := b.Build()
	desc, _ := topology.Describe()
	fmt.Print(desc)
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [in])
	//       --> non-empty
	//     Processor: non-empty (stores: [])
	//       --> KSTREAM-SINK-0000000002
	//       <-- KSTREAM-SOURCE-0000000000
	//     Sink: KSTREAM-SINK-0000000002 (topic: out)
	//       <-- non-empty
}

func ExampleBuilder_Build() {
	b := kstreams.NewBuilder()
	type order struct{ Total int }
	// No value serde for a struct type, and a name used twice.
	s := kstreams.StreamFrom(b, "orders", kstreams.Consumed[string, order]{Key: serde.String()})
	s.Peek(func(string, order) {}, "dup")
	s.Peek(func(string, order) {}, "dup")
	_, err := b.Build()
	var te *kstreams.TopologyError
	fmt.Println(errors.Is(err, kstreams.ErrInvalidTopology), errors.As(err, &te), len(te.Problems))
	fmt.Println(err)
	// Output:
	// true true 2
	// kstreams: invalid topology (2 problems)
	//   - source "KSTREAM-SOURCE-0000000000" reading ["orders"]: missing value serde for type kstreams_test.order (set Consumed.Value)
	//   - duplicate node name "dup" (used 2 times)
}

// counter counts records per key and emits the counts every minute of
// stream time, with the Processor API.
type counter struct {
	ctx    processor.Context[string, int64]
	counts map[string]int64
	keys   []string
}

func (c *counter) Init(ctx processor.Context[string, int64]) error {
	c.ctx, c.counts = ctx, map[string]int64{}
	ctx.Schedule(time.Minute, processor.StreamTime, c.emit)
	return nil
}

func (c *counter) Process(r processor.Record[string, string]) error {
	if _, ok := c.counts[r.Key]; !ok {
		c.keys = append(c.keys, r.Key)
	}
	c.counts[r.Key]++
	return nil
}

func (c *counter) emit(ts int64) error {
	for _, k := range c.keys {
		c.ctx.Forward(processor.Record[string, int64]{Key: k, Value: c.counts[k], Timestamp: ts})
	}
	return nil
}

func (c *counter) Close() error { return nil }

func ExampleProcess() {
	b := kstreams.NewBuilder()
	events := kstreams.StreamFrom(b, "events", kstreams.ConsumedWith(serde.String(), serde.String()))
	counts := kstreams.Process(events, func() processor.Processor[string, string, string, int64] { return &counter{} })
	counts.To("counts")
	topology, _ := b.Build()

	d, _ := kstreamstest.New(topology)
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "events", serde.String(), serde.String())
	const minute = 60_000
	_ = in.PipeAt("a", "x", 0)          // stream time 0: the first punctuation, after a is counted
	_ = in.PipeAt("b", "x", 30_000)     // no punctuation
	_ = in.PipeAt("a", "x", minute+1)   // one minute: a=2, b=1
	_ = in.PipeAt("b", "x", 5*minute-1) // minutes 2, 3 and 4 were missed: one punctuation
	out := kstreamstest.NewOutputTopic(d, "counts", serde.String(), serde.Int64())
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Printf("%d %s=%d\n", r.Timestamp, r.Key, r.Value)
	}
	// Output:
	// 0 a=1
	// 60001 a=2
	// 60001 b=1
	// 299999 a=2
	// 299999 b=2
}

// ExampleAddProcessor wires a topology node by node with the Processor API.
func ExampleAddProcessor() {
	topology := kstreams.NewTopology()
	kstreams.AddSource(topology, "source", kstreams.ConsumedWith(serde.String(), serde.String()), "in")
	kstreams.AddProcessor(topology, "upper", func() processor.Processor[string, string, string, string] {
		return &upperProcessor{}
	}, "source")
	kstreams.AddSink(topology, "sink", "out", kstreams.ProducedWith(serde.String(), serde.String()), "upper")

	d, err := kstreamstest.New(topology)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	_ = kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()).Pipe("k", "hello")
	kvs, _ := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadKeyValues()
	fmt.Println(kvs)
	// Output:
	// [{k@in/0 HELLO}]
}

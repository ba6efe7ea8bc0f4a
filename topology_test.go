package kstreams_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// routeProcessor logs its lifecycle to log. With route set it sends each
// record to the child named by its key, or to every child for key "*";
// without, to every child.
type routeProcessor struct {
	name  string
	route bool
	log   *[]string
	ctx   processor.Context[string, string]
}

func (p *routeProcessor) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	*p.log = append(*p.log, p.name+".init")
	return nil
}

func (p *routeProcessor) Process(r processor.Record[string, string]) error {
	*p.log = append(*p.log, p.name+".process "+r.Key)
	if !p.route || r.Key == "*" {
		p.ctx.Forward(r)
	} else {
		p.ctx.ForwardTo(r.Key, r)
	}
	return nil
}

func (p *routeProcessor) Close() error {
	*p.log = append(*p.log, p.name+".close")
	return nil
}

func routeSupplier(name string, route bool, log *[]string) processor.Supplier[string, string, string, string] {
	return func() processor.Processor[string, string, string, string] {
		return &routeProcessor{name: name, route: route, log: log}
	}
}

// routeTopology is src("in") -> route -> {mid -> sink-b("b"), sink-a("a")},
// built with the Processor API, mid added before its parent: children are
// in the order they were added.
func routeTopology(log *[]string) *kstreams.Topology {
	topo := kstreams.NewTopology()
	kstreams.AddProcessor(topo, "mid", routeSupplier("mid", false, log), "route")
	kstreams.AddSource(topo, "src", strs, "in")
	kstreams.AddProcessor(topo, "route", routeSupplier("route", true, log), "src")
	kstreams.AddSink(topo, "sink-a", "a", kstreams.ProducedWith(serde.String(), serde.String()), "route")
	kstreams.AddSink(topo, "sink-b", "b", kstreams.Produced[string, string]{}, "mid")
	return topo
}

func TestProcessorLifecycle(t *testing.T) {
	var log []string
	d, err := kstreamstest.New(routeTopology(&log))
	if err != nil {
		t.Fatal(err)
	}
	pipeAll(t, d, "in", rec("sink-a", "1", 1, "r0"), rec("mid", "2", 2, "r1"))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	want := []string{
		"route.init", "mid.init", // parents before children
		"route.process sink-a",
		"route.process mid", "mid.process mid",
		"route.close", "mid.close", // once each, on Close
	}
	if !slices.Equal(log, want) {
		t.Errorf("calls:\n got  %q\n want %q", log, want)
	}
	if err := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()).Pipe("k", "v"); !errors.Is(err, kstreamstest.ErrClosed) {
		t.Errorf("Pipe after Close: got %v, want ErrClosed", err)
	}
}

func TestForwardTo(t *testing.T) {
	var log []string
	d := drive(t, routeTopology(&log))
	pipeAll(t, d, "in", rec("sink-a", "1", 1, "r0"), rec("mid", "2", 2, "r1"), rec("*", "3", 3, "r2"))
	checkTopic(t, d, "a", []processor.Record[string, string]{rec("sink-a", "1", 1, "r0"), rec("*", "3", 3, "r2")})
	checkTopic(t, d, "b", []processor.Record[string, string]{rec("mid", "2", 2, "r1"), rec("*", "3", 3, "r2")})
	want := []string{
		"route.init", "mid.init",
		"route.process sink-a",
		"route.process mid", "mid.process mid",
		"route.process *", "mid.process *",
	}
	if !slices.Equal(log, want) {
		t.Errorf("calls:\n got  %q\n want %q", log, want)
	}
}

func TestForwardToUnknownChild(t *testing.T) {
	var log []string
	d := drive(t, routeTopology(&log))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	if err := in.PipeAt("sink-a", "ok", 1); err != nil {
		t.Fatal(err)
	}
	err := in.PipeAt("nope", "bad", 2)
	var re *kstreams.RecordError
	if !errors.As(err, &re) {
		t.Fatalf("got %v (%T), want a *kstreams.RecordError", err, err)
	}
	if re.Node != "route" || re.Topic != "in" || re.Partition != 0 || re.Offset != 1 || re.Stage != "processing" {
		t.Errorf("error fields: %+v", re)
	}
	const want = `kstreams: processing failed at topic "in" partition 0 offset 1 (task 0_0) in node "route": ForwardTo("nope"): not a child (children: [mid sink-a])`
	if err.Error() != want {
		t.Errorf("error:\n got  %s\n want %s", err, want)
	}
	// The task has stopped: later records fail with the same error and
	// produce nothing.
	if err2 := in.PipeAt("sink-a", "after", 3); !errors.Is(err2, re) {
		t.Errorf("pipe after failure: got %v, want the first error", err2)
	}
	checkTopic(t, d, "a", []processor.Record[string, string]{{Key: "sink-a", Value: "ok", Timestamp: 1}})
}

type order struct {
	ID    string
	Total int
}

// identity is a supplier of processors forwarding what they get.
func identity[K, V any]() processor.Supplier[K, V, K, V] {
	return func() processor.Processor[K, V, K, V] { return &passThrough[K, V]{} }
}

type passThrough[K, V any] struct{ ctx processor.Context[K, V] }

func (p *passThrough[K, V]) Init(ctx processor.Context[K, V]) error { p.ctx = ctx; return nil }
func (p *passThrough[K, V]) Process(r processor.Record[K, V]) error {
	p.ctx.Forward(r)
	return nil
}
func (p *passThrough[K, V]) Close() error { return nil }

func TestValidateReportsEveryProblem(t *testing.T) {
	topo := kstreams.NewTopology()
	kstreams.AddSource(topo, "src", strs, "in")
	// Missing serde: no value serde for a struct type.
	kstreams.AddSource(topo, "orders", kstreams.Consumed[string, order]{Key: serde.String()}, "orders")
	// Duplicate name.
	kstreams.AddProcessor(topo, "dup", identity[string, string](), "src")
	kstreams.AddProcessor(topo, "dup", identity[string, string](), "src")
	// Unknown parent.
	kstreams.AddProcessor(topo, "orphan", identity[string, string](), "ghost")
	// Cycle, through forward references.
	kstreams.AddProcessor(topo, "c1", identity[string, string](), "c2")
	kstreams.AddProcessor(topo, "c2", identity[string, string](), "c1")
	// A sink as parent.
	kstreams.AddSink(topo, "sink", "out", kstreams.Produced[string, string]{}, "src")
	kstreams.AddProcessor(topo, "after-sink", identity[string, string](), "sink")
	// Type mismatch: src forwards string values.
	kstreams.AddProcessor(topo, "counter", identity[string, int64](), "src")
	// A source with no topics.
	kstreams.AddSource(topo, "empty", strs)
	// A topic read by two sources.
	kstreams.AddSource(topo, "again", strs, "in")

	err := topo.Validate()
	if !errors.Is(err, kstreams.ErrInvalidTopology) {
		t.Fatalf("got %v, want ErrInvalidTopology", err)
	}
	var te *kstreams.TopologyError
	if !errors.As(err, &te) {
		t.Fatalf("got %T, want *kstreams.TopologyError", err)
	}
	want := []string{
		`source "orders": missing value serde for type kstreams_test.order (set Consumed.Value)`,
		`duplicate node name "dup" (used 2 times)`,
		`processor "orphan": unknown parent "ghost"`,
		`processor "after-sink": parent "sink" is a sink, which has no children`,
		`processor "counter" receives processor.Record[string,int64] but parent "src" forwards processor.Record[string,string]`,
		`source "empty" reads no topic`,
		`topic "in" is read by two sources, "src" and "again"`,
		`cycle: c2 -> c1 -> c2`,
	}
	var got []string
	for _, p := range te.Problems {
		got = append(got, p.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got  %q\n want %q", got, want)
	}
	if len(te.Problems) != 8 {
		t.Errorf("got %d problems, want 8", len(te.Problems))
	}
	if head := "kstreams: invalid topology (8 problems)\n  - "; !strings.HasPrefix(err.Error(), head) {
		t.Errorf("message %q does not start with %q", err, head)
	}
	for _, p := range want {
		if !strings.Contains(err.Error(), "\n  - "+p) {
			t.Errorf("message does not list %q", p)
		}
	}

	// Everything that runs a topology refuses it the same way.
	if _, err := kstreamstest.New(topo); !errors.As(err, &te) || len(te.Problems) != 8 {
		t.Errorf("kstreamstest.New: got %v", err)
	}
	if _, err := kstreams.New(topo, kstreams.ApplicationID("app"), kstreams.Brokers("127.0.0.1:1")); !errors.Is(err, kstreams.ErrInvalidTopology) {
		t.Errorf("kstreams.New: got %v, want ErrInvalidTopology", err)
	}
	if _, err := topo.Describe(); !errors.Is(err, kstreams.ErrInvalidTopology) {
		t.Errorf("Describe: got %v, want ErrInvalidTopology", err)
	}
}

func TestValidateProblems(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *kstreams.Builder)
		want  []string
	}{{
		name: "empty topology",
		want: []string{"no nodes: add at least one source"},
	}, {
		name: "missing serde in the DSL",
		build: func(b *kstreams.Builder) {
			kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith[string, order](serde.String(), nil)).To("out")
		},
		want: []string{
			`source "KSTREAM-SOURCE-0000000000" reading ["orders"]: missing value serde for type kstreams_test.order (set Consumed.Value)`,
			`sink "KSTREAM-SINK-0000000001" to topic "out" after node "KSTREAM-SOURCE-0000000000": missing value serde for type kstreams_test.order (set Produced.Value)`,
		},
	}, {
		name: "named type has no default serde",
		build: func(b *kstreams.Builder) {
			type userID string
			kstreams.StreamFrom(b, "users", kstreams.Consumed[userID, string]{Value: serde.String(), Name: "users"})
		},
		want: []string{`source "users" reading ["users"]: missing key serde for type kstreams_test.userID (set Consumed.Key)`},
	}, {
		name: "a serde after Map is found in Produced",
		build: func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", strs)
			o := kstreams.MapValues(s, func(v string) order { return order{ID: v} })
			o.To("out", kstreams.Produced[string, order]{Value: serde.JSON[order]()})
		},
	}, {
		name: "missing serde for a repartition",
		build: func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", strs)
			kstreams.MapValues(s, func(v string) order { return order{ID: v} }).
				Repartition(kstreams.Repartitioned[string, order]{Name: "orders"}).
				To("out", kstreams.Produced[string, order]{Value: serde.JSON[order]()})
		},
		want: []string{`Repartition after node "KSTREAM-MAPVALUES-0000000001" (topic "orders-repartition"): missing value serde for type kstreams_test.order (set Repartitioned.Value)`},
	}, {
		name: "duplicate names in the DSL",
		build: func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", strs)
			s.Filter(func(string, string) bool { return true }, "keep").To("out")
			s.FilterNot(func(string, string) bool { return true }, "keep").To("out2")
		},
		want: []string{`duplicate node name "keep" (used 2 times)`},
	}, {
		name: "two names",
		build: func(b *kstreams.Builder) {
			kstreams.StreamFrom(b, "in", strs).Filter(func(string, string) bool { return true }, "a", "b").To("out")
		},
		want: []string{`KSTREAM-FILTER: more than one name given: ["a" "b"]`},
	}, {
		name: "nil topic function",
		build: func(b *kstreams.Builder) {
			kstreams.StreamFrom(b, "in", strs).ToFunc(nil)
		},
		want: []string{`ToFunc "KSTREAM-SINK-0000000001" after node "KSTREAM-SOURCE-0000000000": nil topic function`},
	}, {
		name: "no topics",
		build: func(b *kstreams.Builder) {
			kstreams.StreamFromTopics(b, nil, strs).To("out")
		},
		want: []string{`source "KSTREAM-SOURCE-0000000000" reads no topic`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			if tt.build != nil {
				tt.build(b)
			}
			topo, err := b.Build()
			if tt.want == nil {
				if err != nil || topo == nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			var te *kstreams.TopologyError
			if !errors.As(err, &te) || !errors.Is(err, kstreams.ErrInvalidTopology) {
				t.Fatalf("Build: got %v, want a *TopologyError", err)
			}
			if topo != nil {
				t.Errorf("Build returned a topology with an error")
			}
			var got []string
			for _, p := range te.Problems {
				got = append(got, p.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func TestValidateLowLevelProblems(t *testing.T) {
	tests := []struct {
		name  string
		build func(topo *kstreams.Topology)
		want  []string
	}{{
		name: "nil supplier",
		build: func(topo *kstreams.Topology) {
			kstreams.AddSource(topo, "src", strs, "in")
			kstreams.AddProcessor[string, string, string, string](topo, "p", nil, "src")
		},
		want: []string{`processor "p": nil supplier`},
	}, {
		name: "processor without parents",
		build: func(topo *kstreams.Topology) {
			kstreams.AddSource(topo, "src", strs, "in")
			kstreams.AddProcessor(topo, "p", identity[string, string]())
		},
		want: []string{`processor "p" has no parent`},
	}, {
		name: "sink without topic",
		build: func(topo *kstreams.Topology) {
			kstreams.AddSource(topo, "src", strs, "in")
			kstreams.AddSink(topo, "sink", "", kstreams.Produced[string, string]{}, "src")
		},
		want: []string{`sink "sink": empty topic name`},
	}, {
		name: "self loop",
		build: func(topo *kstreams.Topology) {
			kstreams.AddSource(topo, "src", strs, "in")
			kstreams.AddProcessor(topo, "p", identity[string, string](), "src", "p")
		},
		want: []string{`cycle: p -> p`},
	}, {
		name: "longer cycle, in data-flow order",
		build: func(topo *kstreams.Topology) {
			kstreams.AddSource(topo, "src", strs, "in")
			kstreams.AddProcessor(topo, "a", identity[string, string](), "src", "c")
			kstreams.AddProcessor(topo, "b", identity[string, string](), "a")
			kstreams.AddProcessor(topo, "c", identity[string, string](), "b")
		},
		want: []string{`cycle: b -> c -> a -> b`},
	}, {
		name: "sink type mismatch",
		build: func(topo *kstreams.Topology) {
			kstreams.AddSource(topo, "src", strs, "in")
			kstreams.AddSink(topo, "sink", "out", kstreams.ProducedWith(serde.String(), serde.Int64()), "src")
		},
		want: []string{`sink "sink" receives processor.Record[string,int64] but parent "src" forwards processor.Record[string,string]`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo := kstreams.NewTopology()
			tt.build(topo)
			var te *kstreams.TopologyError
			if err := topo.Validate(); !errors.As(err, &te) {
				t.Fatalf("Validate: got %v, want a *TopologyError", err)
			}
			var got []string
			for _, p := range te.Problems {
				got = append(got, p.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

// describedTopology reads "in", filters, repartitions and writes "out":
// two sub-topologies.
func describedTopology(t *testing.T) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	keep := s.Filter(func(_, v string) bool { return v != "" })
	keyed := kstreams.SelectKey(keep, func(_, v string) string { return v }, "by-value")
	up := kstreams.MapValues(keyed.Repartition(kstreams.Repartitioned[string, string]{Name: "rk"}), strings.ToUpper)
	up.To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestDescribeString(t *testing.T) {
	desc, err := describedTopology(t).Describe()
	if err != nil {
		t.Fatal(err)
	}
	const want = `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [in])
      --> KSTREAM-FILTER-0000000001
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> by-value
      <-- KSTREAM-SOURCE-0000000000
    Processor: by-value (stores: [])
      --> rk-repartition-filter
      <-- KSTREAM-FILTER-0000000001
    Processor: rk-repartition-filter (stores: [])
      --> rk-repartition-sink
      <-- by-value
    Sink: rk-repartition-sink (topic: rk-repartition)
      <-- rk-repartition-filter

  Sub-topology: 1
    Source: rk-repartition-source (topics: [rk-repartition])
      --> KSTREAM-MAPVALUES-0000000006
    Processor: KSTREAM-MAPVALUES-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- rk-repartition-source
    Sink: KSTREAM-SINK-0000000007 (topic: out)
      <-- KSTREAM-MAPVALUES-0000000006

`
	if got := desc.String(); got != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
}

func TestDescribeStructure(t *testing.T) {
	desc, err := describedTopology(t).Describe()
	if err != nil {
		t.Fatal(err)
	}
	want := []kstreams.SubtopologyDescription{{
		ID: 0,
		Nodes: []kstreams.NodeDescription{
			{Name: "KSTREAM-SOURCE-0000000000", Kind: "source", Topics: []string{"in"}, Children: []string{"KSTREAM-FILTER-0000000001"}},
			{Name: "KSTREAM-FILTER-0000000001", Kind: "processor", Parents: []string{"KSTREAM-SOURCE-0000000000"}, Children: []string{"by-value"}},
			{Name: "by-value", Kind: "processor", Parents: []string{"KSTREAM-FILTER-0000000001"}, Children: []string{"rk-repartition-filter"}},
			{Name: "rk-repartition-filter", Kind: "processor", Parents: []string{"by-value"}, Children: []string{"rk-repartition-sink"}},
			{Name: "rk-repartition-sink", Kind: "sink", Topics: []string{"rk-repartition"}, Parents: []string{"rk-repartition-filter"}},
		},
	}, {
		ID: 1,
		Nodes: []kstreams.NodeDescription{
			{Name: "rk-repartition-source", Kind: "source", Topics: []string{"rk-repartition"}, Children: []string{"KSTREAM-MAPVALUES-0000000006"}},
			{Name: "KSTREAM-MAPVALUES-0000000006", Kind: "processor", Parents: []string{"rk-repartition-source"}, Children: []string{"KSTREAM-SINK-0000000007"}},
			{Name: "KSTREAM-SINK-0000000007", Kind: "sink", Topics: []string{"out"}, Parents: []string{"KSTREAM-MAPVALUES-0000000006"}},
		},
	}}
	if !reflect.DeepEqual(desc.Subtopologies, want) {
		t.Errorf("Subtopologies:\n got  %+v\n want %+v", desc.Subtopologies, want)
	}
}

func TestDescribeProcessorAPI(t *testing.T) {
	var log []string
	desc, err := routeTopology(&log).Describe()
	if err != nil {
		t.Fatal(err)
	}
	const want = `Topologies:
   Sub-topology: 0
    Source: src (topics: [in])
      --> route
    Processor: route (stores: [])
      --> mid, sink-a
      <-- src
    Processor: mid (stores: [])
      --> sink-b
      <-- route
    Sink: sink-a (topic: a)
      <-- route
    Sink: sink-b (topic: b)
      <-- mid

`
	if got := desc.String(); got != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
	if len(log) != 0 {
		t.Errorf("Describe created processors: %q", log)
	}
}

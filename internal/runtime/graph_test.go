package runtime

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

var (
	strRec = RecordType[string, string]()
	intRec = RecordType[string, int64]()
)

func srcSpec(name string, topics ...Topic) *NodeSpec {
	return &NodeSpec{Name: name, Kind: SourceKind, Topics: topics, Out: strRec}
}

func procSpec(name string, parents ...string) *NodeSpec {
	return &NodeSpec{Name: name, Kind: ProcessorKind, Parents: parents, In: strRec, Out: strRec}
}

func sinkSpec(name string, topic Topic, parents ...string) *NodeSpec {
	return &NodeSpec{Name: name, Kind: SinkKind, Parents: parents, Topics: []Topic{topic}, In: strRec}
}

func extTopic(name string) Topic { return Topic{Name: name} }

func intTopic(name string) Topic { return Topic{Name: name, Internal: true} }

// subtopologyView is what TestBuildSplitsSubtopologies checks of one.
type subtopologyView struct {
	nodes    []string
	sources  []Topic
	sinks    []Topic
	children map[string][]string
	stores   []string
}

func describeSubtopologies(p *Plan) []subtopologyView {
	var out []subtopologyView
	for i, st := range p.Subtopologies {
		if st.ID != i {
			panic("sub-topology ids are not their positions")
		}
		s := subtopologyView{sources: st.Sources, sinks: st.Sinks, children: st.Children}
		for _, n := range st.Nodes {
			s.nodes = append(s.nodes, n.Name)
		}
		for _, spec := range st.Stores {
			s.stores = append(s.stores, spec.Name)
		}
		out = append(out, s)
	}
	return out
}

func TestBuildSplitsSubtopologies(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []*NodeSpec
		stores   []string
		connect  [][2]string
		want     []subtopologyView
		internal []string
	}{{
		name:  "one chain",
		nodes: []*NodeSpec{srcSpec("src", extTopic("in")), procSpec("p", "src"), sinkSpec("out", extTopic("out"), "p")},
		want: []subtopologyView{{
			nodes: []string{"src", "p", "out"}, sources: []Topic{extTopic("in")}, sinks: []Topic{extTopic("out")},
			children: map[string][]string{"src": {"p"}, "p": {"out"}},
		}},
	}, {
		name: "a repartition topic separates two sub-topologies",
		nodes: []*NodeSpec{
			srcSpec("src", extTopic("in")), procSpec("rekey", "src"), sinkSpec("rp-sink", intTopic("rp"), "rekey"),
			srcSpec("rp-source", intTopic("rp")), procSpec("count", "rp-source"), sinkSpec("out", extTopic("out"), "count"),
		},
		internal: []string{"rp"},
		want: []subtopologyView{{
			nodes: []string{"src", "rekey", "rp-sink"}, sources: []Topic{extTopic("in")}, sinks: []Topic{intTopic("rp")},
			children: map[string][]string{"src": {"rekey"}, "rekey": {"rp-sink"}},
		}, {
			nodes: []string{"rp-source", "count", "out"}, sources: []Topic{intTopic("rp")}, sinks: []Topic{extTopic("out")},
			children: map[string][]string{"rp-source": {"count"}, "count": {"out"}},
		}},
	}, {
		name: "a node with two parents joins their sources; sources in name order",
		nodes: []*NodeSpec{
			srcSpec("s1", extTopic("zeta"), extTopic("alpha")), srcSpec("s2", extTopic("mid")), procSpec("merge", "s1", "s2"),
		},
		want: []subtopologyView{{
			nodes: []string{"s1", "s2", "merge"}, sources: []Topic{extTopic("alpha"), extTopic("mid"), extTopic("zeta")},
			children: map[string][]string{"s1": {"merge"}, "s2": {"merge"}},
		}},
	}, {
		name: "children added before their parents come after them",
		nodes: []*NodeSpec{
			sinkSpec("out", extTopic("out"), "p"), procSpec("p", "src"), srcSpec("src", extTopic("in")),
		},
		want: []subtopologyView{{
			nodes: []string{"src", "p", "out"}, sources: []Topic{extTopic("in")}, sinks: []Topic{extTopic("out")},
			children: map[string][]string{"src": {"p"}, "p": {"out"}},
		}},
	}, {
		name: "a shared store joins sub-topologies",
		nodes: []*NodeSpec{
			srcSpec("s1", extTopic("a")), procSpec("p1", "s1"),
			srcSpec("s2", extTopic("b")), procSpec("p2", "s2"),
			srcSpec("s3", extTopic("c")),
		},
		stores:  []string{"st"},
		connect: [][2]string{{"st", "p1"}, {"st", "p2"}},
		want: []subtopologyView{{
			nodes: []string{"s1", "p1", "s2", "p2"}, sources: []Topic{extTopic("a"), extTopic("b")},
			children: map[string][]string{"s1": {"p1"}, "s2": {"p2"}}, stores: []string{"st"},
		}, {
			nodes: []string{"s3"}, sources: []Topic{extTopic("c")}, children: map[string][]string{},
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGraph()
			for _, n := range tt.nodes {
				g.Add(n)
			}
			for _, s := range tt.stores {
				g.AddStore(&StoreSpec{Name: s})
			}
			for _, c := range tt.connect {
				g.Connect(c[0], c[1])
			}
			for _, it := range tt.internal {
				g.AddInternalTopic(InternalTopic{Name: it})
			}
			plan, err := g.Build()
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got := describeSubtopologies(plan); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sub-topologies:\n got  %+v\n want %+v", got, tt.want)
			}
			var internals []string
			for _, it := range plan.InternalTopics {
				internals = append(internals, it.Name)
			}
			if !slices.Equal(internals, tt.internal) {
				t.Errorf("internal topics: got %q, want %q", internals, tt.internal)
			}
			for i, st := range plan.Subtopologies {
				for _, src := range st.Sources {
					if got := plan.SubtopologyOf(src); got != plan.Subtopologies[i] {
						t.Errorf("SubtopologyOf(%v) is not sub-topology %d", src, i)
					}
				}
			}
		})
	}
}

func TestInternalTopicsSorted(t *testing.T) {
	g := NewGraph()
	g.Add(srcSpec("src", extTopic("in")))
	for _, name := range []string{"c", "a", "b"} {
		g.AddInternalTopic(InternalTopic{Name: name, Partitions: 3})
	}
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	want := []InternalTopic{{Name: "a", Partitions: 3}, {Name: "b", Partitions: 3}, {Name: "c", Partitions: 3}}
	if !reflect.DeepEqual(plan.InternalTopics, want) {
		t.Errorf("got %+v, want %+v", plan.InternalTopics, want)
	}
	if plan.SubtopologyOf(extTopic("nowhere")) != nil {
		t.Errorf("SubtopologyOf an unread topic is not nil")
	}
}

func TestBuildProblems(t *testing.T) {
	tests := []struct {
		name  string
		setup func(g *Graph)
		want  []string
	}{{
		name:  "empty graph",
		setup: func(*Graph) {},
		want:  []string{"no nodes: add at least one source"},
	}, {
		name: "empty node name",
		setup: func(g *Graph) {
			g.Add(srcSpec("", extTopic("in")))
		},
		want: []string{"a node has an empty name"},
	}, {
		name: "source with parents and empty topic",
		setup: func(g *Graph) {
			g.Add(srcSpec("a", extTopic("in")))
			s := srcSpec("b", extTopic(""))
			s.Parents = []string{"a"}
			g.Add(s)
		},
		want: []string{`source "b" cannot have parents`, `source "b": empty topic name`},
	}, {
		name: "duplicates are reported once",
		setup: func(g *Graph) {
			g.Add(srcSpec("src", extTopic("in")))
			g.Add(procSpec("p", "src"))
			g.Add(procSpec("p", "src"))
			g.Add(procSpec("p", "src"))
			g.Add(procSpec("child", "p"))
			g.AddInternalTopic(InternalTopic{Name: "rp"})
			g.AddInternalTopic(InternalTopic{Name: "rp"})
			g.AddStore(&StoreSpec{Name: "st"})
			g.AddStore(&StoreSpec{Name: "st"})
		},
		want: []string{`internal topic "rp" declared twice`, `state store "st" declared twice`, `duplicate node name "p" (used 3 times)`},
	}, {
		name: "type mismatch",
		setup: func(g *Graph) {
			g.Add(srcSpec("src", extTopic("in")))
			p := procSpec("p", "src")
			p.In = intRec
			g.Add(p)
		},
		want: []string{`processor "p" receives processor.Record[string,int64] but parent "src" forwards processor.Record[string,string]`},
	}, {
		name: "unknown stores and processors",
		setup: func(g *Graph) {
			g.Add(srcSpec("src", extTopic("in")))
			p := procSpec("p", "src")
			p.Stores = []string{"missing"}
			g.Add(p)
			g.AddStore(&StoreSpec{Name: "st"})
			g.Connect("st", "ghost")
		},
		want: []string{`state store "st": unknown processor "ghost"`, `processor "p": unknown state store "missing"`},
	}, {
		name: "recorded problems come first",
		setup: func(g *Graph) {
			g.Problem(errors.New("from the builder"))
			g.Add(procSpec("p", "nowhere"))
		},
		want: []string{"from the builder", `processor "p": unknown parent "nowhere"`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGraph()
			tt.setup(g)
			plan, err := g.Build()
			if plan != nil {
				t.Errorf("Build returned a plan with problems")
			}
			if !errors.Is(err, ErrInvalidTopology) {
				t.Fatalf("got %v, want ErrInvalidTopology", err)
			}
			var te *TopologyError
			if !errors.As(err, &te) {
				t.Fatalf("got %T", err)
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

func TestTopologyErrorMessage(t *testing.T) {
	one := &TopologyError{Problems: []error{errors.New("a")}}
	if got, want := one.Error(), "kstreams: invalid topology (1 problem)\n  - a"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	two := &TopologyError{Problems: []error{errors.New("a"), errors.New("b")}}
	if got, want := two.Error(), "kstreams: invalid topology (2 problems)\n  - a\n  - b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	cause := errors.New("cause")
	wrapped := &TopologyError{Problems: []error{cause}}
	if !errors.Is(wrapped, cause) || !errors.Is(wrapped, ErrInvalidTopology) {
		t.Errorf("errors.Is does not see the problems and the sentinel")
	}
}

func TestNames(t *testing.T) {
	g := NewGraph()
	if got := g.NextName("KSTREAM-FILTER"); got != "KSTREAM-FILTER-0000000000" {
		t.Errorf("first name %q", got)
	}
	if got := g.NextName("KSTREAM-MAP"); got != "KSTREAM-MAP-0000000001" {
		t.Errorf("second name %q", got)
	}
	if got := intTopic("rk-repartition").Resolve("app"); got != "app-rk-repartition" {
		t.Errorf("internal topic resolves to %q", got)
	}
	if got := extTopic("orders").Resolve("app"); got != "orders" {
		t.Errorf("external topic resolves to %q", got)
	}
}

func TestDescribe(t *testing.T) {
	g := NewGraph()
	g.Add(srcSpec("src", extTopic("a"), extTopic("b")))
	g.Add(procSpec("p", "src"))
	g.Add(sinkSpec("out", extTopic("out"), "p"))
	g.Add(&NodeSpec{Name: "dyn", Kind: SinkKind, Parents: []string{"p"}, In: strRec})
	g.Add(srcSpec("lonely", extTopic("c")))
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	const want = "Topologies:\n" +
		"   Sub-topology: 0\n" +
		"    Source: src (topics: [a, b])\n" +
		"      --> p\n" +
		"    Processor: p (stores: [])\n" +
		"      --> out, dyn\n" +
		"      <-- src\n" +
		"    Sink: out (topic: out)\n" +
		"      <-- p\n" +
		"    Sink: dyn (topic: chosen per record)\n" +
		"      <-- p\n" +
		"\n" +
		"  Sub-topology: 1\n" +
		"    Source: lonely (topics: [c])\n" +
		"      --> none\n" +
		"\n"
	if got := plan.Describe(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

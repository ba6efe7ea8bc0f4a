package kstreams

import (
	"fmt"
	"strings"

	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

func init() {
	link.PlanOf = func(t any) (*runtime.Plan, error) { return t.(*Topology).plan() }
}

// Topology is a graph of sources, processors and sinks: what [New] runs.
// Build one with a [Builder] (the DSL) or node by node with [AddSource],
// [AddProcessor] and [AddSink] (the Processor API), as in Kafka Streams.
//
// Problems are collected while the topology is put together and reported
// all at once, by [Builder.Build], [Topology.Validate] and [New].
type Topology struct {
	g *runtime.Graph
}

// NewTopology returns an empty topology for the Processor API.
func NewTopology() *Topology { return &Topology{g: runtime.NewGraph()} }

func (t *Topology) plan() (*runtime.Plan, error) { return t.g.Build() }

// Validate reports every problem in the topology at once: unknown or
// duplicate node names, missing serdes, cycles, type mismatches between a
// node and its parents. The error is a *[TopologyError].
func (t *Topology) Validate() error {
	_, err := t.plan()
	return err
}

// AddSource adds a source node named name reading topics.
func AddSource[K, V any](t *Topology, name string, c Consumed[K, V], topics ...string) {
	b := &Builder{t: t}
	where := "source " + quote(name)
	key := pickSerde(b, where, "Consumed", "key", c.Key)
	value := pickSerde(b, where, "Consumed", "value", c.Value)
	addSource(t, name, key, value, topics)
}

// addSource adds a source node whose serdes are already picked, so that a
// missing one is reported once.
func addSource[K, V any](t *Topology, name string, key serde.Serde[K], value serde.Serde[V], topics []string) {
	ts := make([]runtime.Topic, len(topics))
	for i, tp := range topics {
		ts[i] = runtime.Topic{Name: tp}
	}
	t.g.Add(&runtime.NodeSpec{
		Name: name, Kind: runtime.SourceKind, Topics: ts,
		Out: runtime.RecordType[K, V](),
		New: runtime.NewSource(name, key, value),
	})
}

// AddProcessor adds a processor node named name, fed by parents, running
// the processors supplier makes (one per task). Parents may be added later;
// they must exist when the topology is validated.
func AddProcessor[KIn, VIn, KOut, VOut any](t *Topology, name string, supplier processor.Supplier[KIn, VIn, KOut, VOut], parents ...string) {
	if supplier == nil {
		t.g.Problem(fmt.Errorf("processor %q: nil supplier", name))
	}
	t.g.Add(&runtime.NodeSpec{
		Name: name, Kind: runtime.ProcessorKind, Parents: parents,
		In: runtime.RecordType[KIn, VIn](), Out: runtime.RecordType[KOut, VOut](),
		New: runtime.NewProcessor(name, supplier),
	})
}

// AddSink adds a sink node named name, fed by parents, writing to topic.
func AddSink[K, V any](t *Topology, name, topic string, p Produced[K, V], parents ...string) {
	b := &Builder{t: t}
	where := "sink " + quote(name)
	key := pickSerde(b, where, "Produced", "key", p.Key)
	value := pickSerde(b, where, "Produced", "value", p.Value)
	addSink(t, name, topic, key, value, parents)
}

// addSink adds a sink node whose serdes are already picked, so that a
// missing one is reported once.
func addSink[K, V any](t *Topology, name, topic string, key serde.Serde[K], value serde.Serde[V], parents []string) {
	if topic == "" {
		t.g.Problem(fmt.Errorf("sink %q: empty topic name", name))
	}
	tp := runtime.Topic{Name: topic}
	t.g.Add(&runtime.NodeSpec{
		Name: name, Kind: runtime.SinkKind, Parents: parents, Topics: []runtime.Topic{tp},
		In:  runtime.RecordType[K, V](),
		New: runtime.NewSink(name, tp, key, value),
	})
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// TopologyError lists every problem found in a topology, in its Problems
// field ([]error). It matches [ErrInvalidTopology] with errors.Is.
type TopologyError = runtime.TopologyError

// ErrInvalidTopology is matched by every *[TopologyError] (use errors.Is).
var ErrInvalidTopology = runtime.ErrInvalidTopology

// Describe returns the topology's sub-topologies and nodes, like Kafka
// Streams' Topology.describe(). An invalid topology returns the error.
func (t *Topology) Describe() (*TopologyDescription, error) {
	p, err := t.plan()
	if err != nil {
		return nil, err
	}
	d := &TopologyDescription{text: p.Describe()}
	for _, st := range p.Subtopologies {
		sd := SubtopologyDescription{ID: st.ID}
		for _, n := range st.Nodes {
			nd := NodeDescription{Name: n.Name, Kind: kindNames[n.Kind], Parents: n.Parents, Children: st.Children[n.Name], Stores: n.Stores}
			for _, tp := range n.Topics {
				nd.Topics = append(nd.Topics, tp.Name)
			}
			sd.Nodes = append(sd.Nodes, nd)
		}
		d.Subtopologies = append(d.Subtopologies, sd)
	}
	for _, g := range p.Globals {
		d.GlobalStores = append(d.GlobalStores, GlobalStoreDescription{Name: g.Name, Topic: g.Topic})
	}
	return d, nil
}

var kindNames = map[runtime.NodeKind]string{runtime.SourceKind: "source", runtime.ProcessorKind: "processor", runtime.SinkKind: "sink"}

// TopologyDescription describes a topology: what Describe returns.
type TopologyDescription struct {
	Subtopologies []SubtopologyDescription
	// GlobalStores are the global stores (global tables and the Processor
	// API's global stores), each a copy of a whole topic.
	GlobalStores []GlobalStoreDescription
	text         string
}

// GlobalStoreDescription is a global store and the topic it copies.
type GlobalStoreDescription struct {
	Name  string
	Topic string
}

// String prints the description in Kafka Streams' layout.
func (d *TopologyDescription) String() string { return d.text }

// SubtopologyDescription is one connected part of a topology; each of its
// tasks runs one partition of it.
type SubtopologyDescription struct {
	ID    int
	Nodes []NodeDescription
}

// NodeDescription is one node. Topics are the topics a source reads or a
// sink writes (internal topics without the application id); Stores the
// state stores a processor uses.
type NodeDescription struct {
	Name     string
	Kind     string // "source", "processor" or "sink"
	Topics   []string
	Stores   []string
	Parents  []string
	Children []string
}

// String returns "kind name [topics]".
func (n NodeDescription) String() string {
	return n.Kind + " " + n.Name + " [" + strings.Join(n.Topics, ",") + "]"
}

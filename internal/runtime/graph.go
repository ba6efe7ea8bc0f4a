// Package runtime runs topologies: the logical graph a builder produces, the
// typed nodes that carry records through a task, tasks, stream threads, and
// the commit protocol. DESIGN.md at the repository root describes it.
package runtime

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// NodeKind says what a node of the graph does.
type NodeKind int

const (
	// SourceKind nodes read topics.
	SourceKind NodeKind = iota
	// ProcessorKind nodes process records.
	ProcessorKind
	// SinkKind nodes write topics.
	SinkKind
)

// Topic names a topic in a graph. Internal topics are named without the
// application id, which the runtime puts in front ("<app id>-<name>").
type Topic struct {
	Name     string
	Internal bool
}

// Resolve returns the topic's name on the cluster for application appID.
func (t Topic) Resolve(appID string) string {
	if t.Internal {
		return appID + "-" + t.Name
	}
	return t.Name
}

// InternalTopic is a topic the application creates: a repartition topic.
type InternalTopic struct {
	// Name without the application id.
	Name string
	// Partitions is the partition count; 0 means as many as the largest
	// source topic of the sub-topology that writes to it.
	Partitions int32
	// Configs are topic configs to create it with.
	Configs map[string]string
}

// NodeSpec describes one node of the logical graph.
type NodeSpec struct {
	Name    string
	Kind    NodeKind
	Parents []string
	// Topics are the topics a source reads, or the one topic a sink writes
	// (none for a sink that picks its topic per record).
	Topics []Topic
	// In is the record type the node receives (nil for sources), Out the
	// one it forwards (nil for sinks): reflect types of processor.Record.
	In, Out reflect.Type
	// Stores are the names of the state stores the node uses.
	Stores []string
	// New makes the node's per-task instance.
	New func() Node
}

// Graph is a topology under construction. It collects problems instead of
// failing on the first one, so Build can report them all at once.
type Graph struct {
	nodes    []*NodeSpec
	byName   map[string][]*NodeSpec
	internal map[string]*InternalTopic
	stores   map[string]*StoreSpec
	connect  [][2]string
	copart   [][]string
	globals  []GlobalSpec
	problems []error
	counter  int
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{byName: map[string][]*NodeSpec{}, internal: map[string]*InternalTopic{}, stores: map[string]*StoreSpec{}}
}

// NextName returns an automatic node name in Kafka Streams' style,
// "KSTREAM-FILTER-0000000003".
func (g *Graph) NextName(prefix string) string {
	n := fmt.Sprintf("%s-%010d", prefix, g.counter)
	g.counter++
	return n
}

// Add adds a node. Problems with it are reported by Build.
func (g *Graph) Add(n *NodeSpec) {
	g.nodes = append(g.nodes, n)
	g.byName[n.Name] = append(g.byName[n.Name], n)
}

// AddInternalTopic declares an internal topic the application must create.
func (g *Graph) AddInternalTopic(t InternalTopic) {
	if _, dup := g.internal[t.Name]; dup {
		g.Problem(fmt.Errorf("internal topic %q declared twice", t.Name))
		return
	}
	g.internal[t.Name] = &t
}

// AddStore declares a state store; nodes name it in NodeSpec.Stores.
func (g *Graph) AddStore(s *StoreSpec) {
	if _, dup := g.stores[s.Name]; dup {
		g.Problem(fmt.Errorf("state store %q declared twice", s.Name))
		return
	}
	g.stores[s.Name] = s
}

// Connect gives node access to store; both may be added later.
func (g *Graph) Connect(store, node string) { g.connect = append(g.connect, [2]string{store, node}) }

// Copartition declares that the records reaching the named nodes must be
// co-partitioned, as the two sides of a join: the topics of the sources
// upstream of them must have the same partition count, checked when the
// application starts (internal topics among them take the count of the
// others).
func (g *Graph) Copartition(nodes ...string) { g.copart = append(g.copart, nodes) }

// Store returns the store named name, or nil.
func (g *Graph) Store(name string) *StoreSpec { return g.stores[name] }

// Problem records a problem found while building, reported by Build.
func (g *Graph) Problem(err error) { g.problems = append(g.problems, err) }

// Node returns the node with the given name, if exactly one has it.
func (g *Graph) Node(name string) *NodeSpec {
	if ns := g.byName[name]; len(ns) == 1 {
		return ns[0]
	}
	return nil
}

// Plan is a validated graph split into sub-topologies.
type Plan struct {
	Subtopologies  []*Subtopology
	InternalTopics []InternalTopic
	// Copartitioned are the groups of topics that must have the same
	// partition count (see Graph.Copartition), each in name order.
	Copartitioned [][]Topic
	// Globals are the global stores, each a copy of a whole topic.
	Globals []GlobalSpec
}

// Subtopology is a connected part of the graph: the unit a task runs.
type Subtopology struct {
	ID int
	// Nodes in an order where parents come before children.
	Nodes []*NodeSpec
	// Sources are the topics the sub-topology reads, in name order.
	Sources []Topic
	// Sinks are the fixed topics the sub-topology writes.
	Sinks []Topic
	// Children maps a node name to its children's names, in the order they
	// were added.
	Children map[string][]string
	// Stores are the state stores the sub-topology's nodes use.
	Stores []*StoreSpec
}

// TopologyError lists every problem found in a topology.
type TopologyError struct {
	Problems []error
}

func (e *TopologyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kstreams: invalid topology (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteByte('s')
	}
	b.WriteString(")")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *TopologyError) Unwrap() []error { return e.Problems }

// ErrInvalidTopology is matched by every *TopologyError (use errors.Is).
var ErrInvalidTopology = errors.New("kstreams: invalid topology")

// Is reports whether target is ErrInvalidTopology.
func (e *TopologyError) Is(target error) bool { return target == ErrInvalidTopology }

// Build validates the graph and splits it into sub-topologies.
func (g *Graph) Build() (*Plan, error) {
	problems := slices.Clone(g.problems)
	for _, c := range g.connect {
		n := g.Node(c[1])
		if n == nil {
			problems = append(problems, fmt.Errorf("state store %q: unknown processor %q", c[0], c[1]))
			continue
		}
		if !slices.Contains(n.Stores, c[0]) {
			n.Stores = append(n.Stores, c[0])
		}
	}
	problems = append(problems, g.checkNames()...)
	problems = append(problems, g.checkEdges()...)
	problems = append(problems, g.checkTopics()...)
	problems = append(problems, g.checkStores()...)
	for _, nodes := range g.copart {
		for _, n := range nodes {
			if len(g.byName[n]) == 0 {
				problems = append(problems, fmt.Errorf("co-partitioning: unknown node %q", n))
			}
		}
	}
	if cyc := g.findCycle(); cyc != nil {
		problems = append(problems, fmt.Errorf("cycle: %s", strings.Join(cyc, " -> ")))
	}
	if len(g.nodes) == 0 {
		problems = append(problems, errors.New("no nodes: add at least one source"))
	}
	if len(problems) > 0 {
		return nil, &TopologyError{Problems: problems}
	}
	return g.plan(), nil
}

func (g *Graph) checkNames() []error {
	var errs []error
	seen := map[string]bool{}
	for _, n := range g.nodes {
		if n.Name == "" {
			errs = append(errs, errors.New("a node has an empty name"))
			continue
		}
		if len(g.byName[n.Name]) > 1 && !seen[n.Name] {
			errs = append(errs, fmt.Errorf("duplicate node name %q (used %d times)", n.Name, len(g.byName[n.Name])))
		}
		seen[n.Name] = true
	}
	return errs
}

func (g *Graph) checkEdges() []error {
	var errs []error
	for _, n := range g.nodes {
		switch {
		case n.Kind == SourceKind && len(n.Parents) > 0:
			errs = append(errs, fmt.Errorf("source %q cannot have parents", n.Name))
		case n.Kind != SourceKind && len(n.Parents) == 0:
			errs = append(errs, fmt.Errorf("%s %q has no parent", kindName(n.Kind), n.Name))
		}
		for _, p := range n.Parents {
			parent := g.Node(p)
			switch {
			case len(g.byName[p]) == 0:
				errs = append(errs, fmt.Errorf("%s %q: unknown parent %q", kindName(n.Kind), n.Name, p))
			case parent == nil:
				// duplicate name, reported by checkNames
			case parent.Kind == SinkKind:
				errs = append(errs, fmt.Errorf("%s %q: parent %q is a sink, which has no children", kindName(n.Kind), n.Name, p))
			case parent.Out != nil && n.In != nil && parent.Out != n.In:
				errs = append(errs, fmt.Errorf("%s %q receives %s but parent %q forwards %s",
					kindName(n.Kind), n.Name, n.In, p, parent.Out))
			}
		}
	}
	return errs
}

func (g *Graph) checkTopics() []error {
	var errs []error
	readBy := map[Topic]string{}
	for _, n := range g.nodes {
		if n.Kind == SourceKind && len(n.Topics) == 0 {
			errs = append(errs, fmt.Errorf("source %q reads no topic", n.Name))
		}
		if n.Kind != SourceKind {
			continue
		}
		for _, t := range n.Topics {
			if t.Name == "" {
				errs = append(errs, fmt.Errorf("source %q: empty topic name", n.Name))
			} else if other, dup := readBy[t]; dup {
				errs = append(errs, fmt.Errorf("topic %q is read by two sources, %q and %q", t.Name, other, n.Name))
			}
			readBy[t] = n.Name
		}
	}
	for _, gl := range g.globals {
		if gl.Topic == "" {
			errs = append(errs, fmt.Errorf("global store %q: empty topic name", gl.Name))
		} else if other, dup := readBy[Topic{Name: gl.Topic}]; dup {
			errs = append(errs, fmt.Errorf("topic %q is read by source %q and by global store %q", gl.Topic, other, gl.Name))
		}
	}
	return errs
}

func (g *Graph) checkStores() []error {
	var errs []error
	for _, n := range g.nodes {
		for _, name := range n.Stores {
			if g.stores[name] == nil {
				errs = append(errs, fmt.Errorf("%s %q: unknown state store %q", kindName(n.Kind), n.Name, name))
			}
		}
	}
	return errs
}

// findCycle returns the names along a cycle, or nil.
func (g *Graph) findCycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		color[name] = grey
		path = append(path, name)
		n := g.Node(name)
		if n != nil {
			for _, p := range n.Parents {
				switch color[p] {
				case grey:
					i := slices.Index(path, p)
					// path[i:] follows parent links from p to name: reversed,
					// it runs in data-flow order, and p feeds name.
					cyc := slices.Clone(path[i:])
					slices.Reverse(cyc)
					return append(cyc, name)
				case white:
					if g.Node(p) != nil {
						if c := visit(p); c != nil {
							return c
						}
					}
				}
			}
		}
		path = path[:len(path)-1]
		color[name] = black
		return nil
	}
	for _, n := range g.nodes {
		if color[n.Name] == white {
			if c := visit(n.Name); c != nil {
				return c
			}
		}
	}
	return nil
}

// plan groups the nodes of a valid graph into sub-topologies: the connected
// components of the parent edges. Topics separate sub-topologies.
func (g *Graph) plan() *Plan {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		return x
	}
	for _, n := range g.nodes {
		parent[n.Name] = n.Name
	}
	storeUser := map[string]string{}
	for _, n := range g.nodes {
		for _, p := range n.Parents {
			parent[find(n.Name)] = find(p)
		}
		// Nodes that share a store run in the same task.
		for _, st := range n.Stores {
			if other, ok := storeUser[st]; ok {
				parent[find(n.Name)] = find(other)
			}
			storeUser[st] = n.Name
		}
	}
	byRoot := map[string]*Subtopology{}
	plan := &Plan{Globals: g.Globals()}
	for _, n := range g.topoOrder() {
		r := find(n.Name)
		st := byRoot[r]
		if st == nil {
			st = &Subtopology{ID: len(plan.Subtopologies), Children: map[string][]string{}}
			byRoot[r] = st
			plan.Subtopologies = append(plan.Subtopologies, st)
		}
		st.Nodes = append(st.Nodes, n)
		for _, p := range n.Parents {
			st.Children[p] = append(st.Children[p], n.Name)
		}
		for _, name := range n.Stores {
			if spec := g.stores[name]; !slices.Contains(st.Stores, spec) {
				st.Stores = append(st.Stores, spec)
			}
		}
		switch n.Kind {
		case SourceKind:
			st.Sources = append(st.Sources, n.Topics...)
		case SinkKind:
			st.Sinks = append(st.Sinks, n.Topics...)
		}
	}
	for _, st := range plan.Subtopologies {
		sort.Slice(st.Sources, func(i, j int) bool { return st.Sources[i].Name < st.Sources[j].Name })
	}
	names := make([]string, 0, len(g.internal))
	for name := range g.internal {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		plan.InternalTopics = append(plan.InternalTopics, *g.internal[name])
	}
	for _, nodes := range g.copart {
		plan.Copartitioned = append(plan.Copartitioned, g.sourceTopics(nodes))
	}
	return plan
}

// sourceTopics returns the topics of the sources upstream of nodes (the
// nodes included), in name order.
func (g *Graph) sourceTopics(nodes []string) []Topic {
	seen := map[string]bool{}
	var out []Topic
	var visit func(name string)
	visit = func(name string) {
		n := g.Node(name)
		if n == nil || seen[name] {
			return
		}
		seen[name] = true
		if n.Kind == SourceKind {
			for _, t := range n.Topics {
				if !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
		}
		for _, p := range n.Parents {
			visit(p)
		}
	}
	for _, n := range nodes {
		visit(n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// topoOrder returns the nodes with parents before children, otherwise in
// the order they were added. The graph must be acyclic.
func (g *Graph) topoOrder() []*NodeSpec {
	done := map[string]bool{}
	var out []*NodeSpec
	var visit func(n *NodeSpec)
	visit = func(n *NodeSpec) {
		if done[n.Name] {
			return
		}
		done[n.Name] = true
		for _, p := range n.Parents {
			visit(g.Node(p))
		}
		out = append(out, n)
	}
	for _, n := range g.nodes {
		visit(n)
	}
	return out
}

func kindName(k NodeKind) string {
	switch k {
	case SourceKind:
		return "source"
	case SinkKind:
		return "sink"
	}
	return "processor"
}

// SubtopologyOf returns the sub-topology that reads topic t, if any.
func (p *Plan) SubtopologyOf(t Topic) *Subtopology {
	for _, st := range p.Subtopologies {
		if slices.Contains(st.Sources, t) {
			return st
		}
	}
	return nil
}

package ops

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kstreams-go/kstreams/internal/runtime"
)

// Topology is the description of a running application's topology that
// its operations server returns (GET /kstreams/topology) and the tool
// renders.
type Topology struct {
	AppID string `json:"application_id"`
	// Text is the description in Kafka Streams' TopologyDescription layout.
	Text          string        `json:"text"`
	Subtopologies []Subtopology `json:"subtopologies"`
}

// Subtopology is one connected part of the topology.
type Subtopology struct {
	ID    int    `json:"id"`
	Nodes []Node `json:"nodes"`
	// Stores are the state stores of the sub-topology.
	Stores []Store `json:"stores,omitempty"`
}

// Node is one source, processor or sink. Topics are names on the cluster
// (internal topics with the application id).
type Node struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Topics   []string `json:"topics,omitempty"`
	Stores   []string `json:"stores,omitempty"`
	Parents  []string `json:"parents,omitempty"`
	Children []string `json:"children,omitempty"`
}

// Store is one state store.
type Store struct {
	Name       string `json:"name"`
	Persistent bool   `json:"persistent"`
	Changelog  string `json:"changelog,omitempty"`
}

var kindNames = map[runtime.NodeKind]string{runtime.SourceKind: "source", runtime.ProcessorKind: "processor", runtime.SinkKind: "sink"}

// DescribePlan describes plan as application appID runs it.
func DescribePlan(appID string, plan *runtime.Plan) *Topology {
	t := &Topology{AppID: appID, Text: plan.Describe()}
	for _, st := range plan.Subtopologies {
		s := Subtopology{ID: st.ID}
		for _, n := range st.Nodes {
			nd := Node{Name: n.Name, Kind: kindNames[n.Kind], Stores: n.Stores, Parents: n.Parents, Children: st.Children[n.Name]}
			for _, tp := range n.Topics {
				nd.Topics = append(nd.Topics, tp.Resolve(appID))
			}
			s.Nodes = append(s.Nodes, nd)
		}
		for _, store := range st.Stores {
			sd := Store{Name: store.Name, Persistent: store.Persistent}
			if store.Logged {
				sd.Changelog = appID + "-" + store.Name + "-changelog"
			}
			s.Stores = append(s.Stores, sd)
		}
		t.Subtopologies = append(t.Subtopologies, s)
	}
	return t
}

// SubtopologyOf maps every source topic to the sub-topology reading it.
func (t *Topology) SubtopologyOf() map[string]int {
	m := map[string]int{}
	for _, s := range t.Subtopologies {
		for _, n := range s.Nodes {
			if n.Kind == "source" {
				for _, tp := range n.Topics {
					m[tp] = s.ID
				}
			}
		}
	}
	return m
}

// Dot renders the topology as a Graphviz digraph: a cluster per
// sub-topology, topics as ellipses, stores as cylinders.
func (t *Topology) Dot() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n  node [shape=box];\n", t.AppID)
	topics, stores := map[string]bool{}, map[string]bool{}
	for _, s := range t.Subtopologies {
		fmt.Fprintf(&b, "  subgraph \"cluster_%d\" {\n    label=\"Sub-topology %d\";\n", s.ID, s.ID)
		for _, n := range s.Nodes {
			fmt.Fprintf(&b, "    %q;\n", n.Name)
		}
		b.WriteString("  }\n")
		for _, n := range s.Nodes {
			for _, c := range n.Children {
				fmt.Fprintf(&b, "  %q -> %q;\n", n.Name, c)
			}
			for _, tp := range n.Topics {
				topics[tp] = true
				if n.Kind == "source" {
					fmt.Fprintf(&b, "  %q -> %q;\n", "topic:"+tp, n.Name)
				} else {
					fmt.Fprintf(&b, "  %q -> %q;\n", n.Name, "topic:"+tp)
				}
			}
			for _, st := range n.Stores {
				stores[st] = true
				fmt.Fprintf(&b, "  %q -> %q [dir=both, style=dashed];\n", n.Name, "store:"+st)
			}
		}
	}
	for _, tp := range sortedKeys(topics) {
		fmt.Fprintf(&b, "  %q [shape=ellipse, label=%q];\n", "topic:"+tp, tp)
	}
	for _, st := range sortedKeys(stores) {
		fmt.Fprintf(&b, "  %q [shape=cylinder, label=%q];\n", "store:"+st, st)
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid renders the topology as a Mermaid flowchart.
func (t *Topology) Mermaid() string {
	ids := map[string]string{}
	id := func(key string) string {
		if v, ok := ids[key]; ok {
			return v
		}
		v := fmt.Sprintf("n%d", len(ids))
		ids[key] = v
		return v
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	var edges []string
	topics, stores := map[string]bool{}, map[string]bool{}
	for _, s := range t.Subtopologies {
		fmt.Fprintf(&b, "  subgraph sub%d[\"Sub-topology %d\"]\n", s.ID, s.ID)
		for _, n := range s.Nodes {
			fmt.Fprintf(&b, "    %s[\"%s\"]\n", id("node:"+n.Name), mermaidText(n.Name))
		}
		b.WriteString("  end\n")
		for _, n := range s.Nodes {
			for _, c := range n.Children {
				edges = append(edges, fmt.Sprintf("  %s --> %s\n", id("node:"+n.Name), id("node:"+c)))
			}
			for _, tp := range n.Topics {
				topics[tp] = true
				if n.Kind == "source" {
					edges = append(edges, fmt.Sprintf("  %s --> %s\n", id("topic:"+tp), id("node:"+n.Name)))
				} else {
					edges = append(edges, fmt.Sprintf("  %s --> %s\n", id("node:"+n.Name), id("topic:"+tp)))
				}
			}
			for _, st := range n.Stores {
				stores[st] = true
				edges = append(edges, fmt.Sprintf("  %s -.- %s\n", id("node:"+n.Name), id("store:"+st)))
			}
		}
	}
	for _, tp := range sortedKeys(topics) {
		fmt.Fprintf(&b, "  %s([\"%s\"])\n", id("topic:"+tp), mermaidText(tp))
	}
	for _, st := range sortedKeys(stores) {
		fmt.Fprintf(&b, "  %s[(\"%s\")]\n", id("store:"+st), mermaidText(st))
	}
	for _, e := range edges {
		b.WriteString(e)
	}
	return b.String()
}

func mermaidText(s string) string { return strings.ReplaceAll(s, `"`, "#quot;") }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

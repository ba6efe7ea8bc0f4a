package runtime

import (
	"fmt"
	"strings"
)

// Describe prints the plan in the layout of Kafka Streams'
// TopologyDescription: sub-topologies, then each node with its topics and
// its children ("-->") and parents ("<--"). Like Java's, each sub-topology
// ends with an empty line, and the first is indented one space more than
// the others.
func (p *Plan) Describe() string {
	var b strings.Builder
	b.WriteString("Topologies:\n ")
	for _, st := range p.Subtopologies {
		fmt.Fprintf(&b, "  Sub-topology: %d\n", st.ID)
		for _, n := range st.Nodes {
			describeNode(&b, st, n)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func describeNode(b *strings.Builder, st *Subtopology, n *NodeSpec) {
	switch n.Kind {
	case SourceKind:
		fmt.Fprintf(b, "    Source: %s (topics: [%s])\n", n.Name, topicNames(n.Topics))
	case ProcessorKind:
		fmt.Fprintf(b, "    Processor: %s (stores: [%s])\n", n.Name, strings.Join(n.Stores, ", "))
	case SinkKind:
		if len(n.Topics) == 1 {
			fmt.Fprintf(b, "    Sink: %s (topic: %s)\n", n.Name, n.Topics[0].Name)
		} else {
			fmt.Fprintf(b, "    Sink: %s (topic: chosen per record)\n", n.Name)
		}
	}
	if kids := st.Children[n.Name]; len(kids) > 0 {
		fmt.Fprintf(b, "      --> %s\n", strings.Join(kids, ", "))
	} else if n.Kind != SinkKind {
		b.WriteString("      --> none\n")
	}
	if len(n.Parents) > 0 {
		fmt.Fprintf(b, "      <-- %s\n", strings.Join(n.Parents, ", "))
	}
}

func topicNames(ts []Topic) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

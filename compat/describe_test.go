package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
)

// describeDir holds Kafka Streams' description of each topology, one file a
// topology (NAME.txt), written by compat/run-java.sh rewrite
// (java/src/main/java/Describe.java) after a "----" line. Comment lines and
// a "describe-diverges: REASON" mark may come before it.
var describeDir = filepath.Join("testdata", "describe")

// TestDescribe compares each topology's description in kstreams with Kafka
// Streams': node names and kinds, the stores of each processor, the topics
// of sources and sinks (repartition topics included) and the edges, in the
// normalized form of Describe.java. Names matter: a user moving from Java
// keeps the changelog and repartition topics, named after stores and nodes.
func TestDescribe(t *testing.T) {
	names := make([]string, 0, len(topologies))
	for name := range topologies {
		names = append(names, name)
	}
	sort.Strings(names)
	cases, err := loadCases("testdata")
	if err != nil {
		t.Fatal(err)
	}
	casesOf := map[string]int{}
	for _, c := range cases {
		casesOf[c.topology]++
	}
	equal, marked, equalCases := 0, 0, 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			want, mark, err := loadDescription(filepath.Join(describeDir, name+".txt"))
			if err != nil {
				t.Fatalf("%v (compat/run-java.sh rewrite writes it)", err)
			}
			got, err := describeGo(topologies[name])
			if err != nil {
				got = "error: " + err.Error() + "\n"
			}
			diff := ""
			if got != want {
				diff = fmt.Sprintf("  want (Java):\n%s  got (kstreams):\n%s", indent(lines(want)), indent(lines(got)))
			}
			switch judge(&testCase{diverges: mark}, diff) {
			case staleMark:
				t.Errorf("describe %s: matches Java now: remove the mark %q", name, "describe-diverges: "+mark)
			case equalToJava:
				equal++
				equalCases += casesOf[name]
			case markedDiff:
				marked++
				t.Logf("describe %s: differs from Java as marked (%s):\n%s", name, mark, diff)
			default:
				t.Errorf("describe %s: differs from Java:\n%s", name, diff)
			}
		})
	}
	fmt.Printf("compat: %d topology descriptions, %d equal (%d of %d cases), %d marked diverging\n",
		len(names), equal, equalCases, len(cases), marked)
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

// loadDescription reads a description file: the text after "----" and the
// reason of a describe-diverges mark before it, if any.
func loadDescription(file string) (desc, mark string, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", "", err
	}
	head, body, ok := strings.Cut(string(data), separator+"\n")
	if !ok {
		return "", "", fmt.Errorf("%s: no %q line", file, separator)
	}
	for _, l := range strings.Split(head, "\n") {
		if r, ok := strings.CutPrefix(l, "describe-diverges:"); ok {
			mark = strings.TrimSpace(r)
		}
	}
	return strings.TrimSpace(body) + "\n", mark, nil
}

// describeGo builds topo and prints kstreams' description of it in the form
// of Describe.java.
func describeGo(topo topology) (string, error) {
	b := kstreams.NewBuilder()
	topo.build(b)
	built, err := b.Build()
	if err != nil {
		return "", err
	}
	d, err := built.Describe()
	if err != nil {
		return "", err
	}
	return normalizeDescription(d), nil
}

// normalizeDescription prints d in Describe.java's form: sub-topologies in
// id order, nodes by name, sorted lists, then the global stores.
func normalizeDescription(d *kstreams.TopologyDescription) string {
	var b strings.Builder
	subs := append([]kstreams.SubtopologyDescription(nil), d.Subtopologies...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].ID < subs[j].ID })
	for _, st := range subs {
		fmt.Fprintf(&b, "sub-topology %d\n", st.ID)
		nodes := append([]kstreams.NodeDescription(nil), st.Nodes...)
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
		for _, n := range nodes {
			switch n.Kind {
			case "source":
				fmt.Fprintf(&b, "  source %s topics=%s", n.Name, sortedList(n.Topics))
			case "processor":
				fmt.Fprintf(&b, "  processor %s stores=%s", n.Name, sortedList(n.Stores))
			case "sink":
				topic := "<extractor>"
				if len(n.Topics) == 1 {
					topic = n.Topics[0]
				}
				fmt.Fprintf(&b, "  sink %s topic=%s", n.Name, topic)
			}
			if len(n.Children) > 0 {
				fmt.Fprintf(&b, " --> %s", sortedList(n.Children))
			}
			b.WriteString("\n")
		}
	}
	globals := make([]string, 0, len(d.GlobalStores))
	for _, g := range d.GlobalStores {
		globals = append(globals, "global-store "+g.Name+" topic="+g.Topic)
	}
	sort.Strings(globals)
	for _, g := range globals {
		b.WriteString(g + "\n")
	}
	return b.String()
}

// sortedList prints items as "[a,b]", sorted and without duplicates.
func sortedList(items []string) string {
	set := map[string]bool{}
	for _, it := range items {
		set[it] = true
	}
	out := make([]string, 0, len(set))
	for it := range set {
		out = append(out, it)
	}
	sort.Strings(out)
	return "[" + strings.Join(out, ",") + "]"
}

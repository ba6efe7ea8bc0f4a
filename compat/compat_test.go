package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// TestCompat runs every case of testdata/ through kstreamstest and compares
// each output record with the Java section Kafka Streams wrote.
func TestCompat(t *testing.T) {
	cases, err := loadCases("testdata")
	if err != nil {
		t.Fatal(err)
	}
	ran, equal, skipped, marked := 0, 0, 0, 0
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".txt"), func(t *testing.T) {
			ran++
			got, err := runCase(c)
			if err != nil {
				got = append(got, "error: "+err.Error())
			}
			if c.ttdDiffer != "" {
				skipped++
				t.Skipf("%s: skipped: Java's TopologyTestDriver differs from a cluster here: %s\n  kstreams:\n%s",
					c.file, c.ttdDiffer, indent(got))
			}
			diff := compare(c, got)
			switch judge(c, diff) {
			case staleMark:
				t.Errorf("%s: matches Java now: remove the mark %q", c.file, "diverges: "+c.diverges)
			case equalToJava:
				equal++
			case markedDiff:
				marked++
				t.Logf("%s: differs from Java as marked (%s):\n%s", c.file, c.diverges, diff)
			default:
				t.Errorf("%s: differs from Java:\n%s", c.file, diff)
			}
		})
	}
	fmt.Printf("compat: %d cases, %d equal (%d marked diverging, %d skipped as java-ttd-differs)\n",
		ran, equal, marked, skipped)
}

// outcome is what a case's comparison means for the suite.
type outcome int

const (
	equalToJava  outcome = iota // passes
	markedDiff                  // differs as its diverges mark says: reported, passes
	staleMark                   // equal but marked diverging: fails until the mark goes
	unmarkedDiff                // differs without a mark: fails
)

// judge returns the outcome of c given its diff with Java ("" when equal).
func judge(c *testCase, diff string) outcome {
	switch {
	case diff == "" && c.diverges != "":
		return staleMark
	case diff == "":
		return equalToJava
	case c.diverges != "":
		return markedDiff
	default:
		return unmarkedDiff
	}
}

// runCase runs c through kstreamstest and returns the output records in the
// Java section's form.
func runCase(c *testCase) (out []string, err error) {
	topo, ok := topologies[c.topology]
	if !ok {
		return nil, fmt.Errorf("no topology %q in topologies.go", c.topology)
	}
	inputs, err := parseTopics(topo.inputs)
	if err != nil {
		return nil, err
	}
	outputs, err := parseTopics(topo.outputs)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	b := kstreams.NewBuilder()
	topo.build(b)
	built, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	d, err := kstreamstest.New(built, kstreamstest.ApplicationID("compat"), kstreamstest.WallClock(time.UnixMilli(c.wallclock)))
	if err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	defer d.Close()
	if err := pipeSteps(d, c, inputs); err != nil {
		return nil, err
	}
	for _, o := range outputs {
		recs, err := kstreamstest.NewOutputTopic(d, o.name, serde.Bytes(), serde.Bytes()).ReadRecords()
		if err != nil {
			return out, err
		}
		for _, r := range recs {
			out = append(out, fmt.Sprintf("%s %s %s %d", o.name, o.key.decode(r.Key), o.value.decode(r.Value), r.Timestamp))
		}
	}
	return out, nil
}

// pipeSteps pipes c's records and advances the wall clock, in order.
func pipeSteps(d *kstreamstest.Driver, c *testCase, inputs []topicSpec) error {
	for _, st := range c.steps {
		if st.topic == "" {
			if err := d.AdvanceWallClock(time.Duration(st.advance) * time.Millisecond); err != nil {
				return fmt.Errorf("line %d: advance: %w", st.line, err)
			}
			continue
		}
		spec, ok := findTopic(inputs, st.topic)
		if !ok {
			return fmt.Errorf("line %d: topology %s reads no topic %q", st.line, c.topology, st.topic)
		}
		k, err := spec.key.encode(st.key)
		if err != nil {
			return fmt.Errorf("line %d: key: %w", st.line, err)
		}
		v, err := spec.value.encode(st.value)
		if err != nil {
			return fmt.Errorf("line %d: value: %w", st.line, err)
		}
		if err := d.PipeBytes(st.topic, k, v, st.ts); err != nil {
			return fmt.Errorf("line %d: pipe: %w", st.line, err)
		}
	}
	return nil
}

func findTopic(ts []topicSpec, name string) (topicSpec, bool) {
	for _, t := range ts {
		if t.name == name {
			return t, true
		}
	}
	return topicSpec{}, false
}

// compare returns "" when got is c's Java section, else a readable diff: per
// output topic, the first index where the records differ, and both lists.
func compare(c *testCase, got []string) string {
	want := c.java
	if strings.Join(want, "\n") == strings.Join(got, "\n") {
		return ""
	}
	var b strings.Builder
	byTopic := func(lines []string) (map[string][]string, []string) {
		m, order := map[string][]string{}, []string{}
		for _, l := range lines {
			topic, _, _ := strings.Cut(l, " ")
			if _, ok := m[topic]; !ok {
				order = append(order, topic)
			}
			m[topic] = append(m[topic], l)
		}
		return m, order
	}
	wm, worder := byTopic(want)
	gm, gorder := byTopic(got)
	seen := map[string]bool{}
	for _, topic := range append(worder, gorder...) {
		if seen[topic] {
			continue
		}
		seen[topic] = true
		w, g := wm[topic], gm[topic]
		i := 0
		for i < len(w) && i < len(g) && w[i] == g[i] {
			i++
		}
		if i == len(w) && i == len(g) {
			continue
		}
		fmt.Fprintf(&b, "  topic %s: first difference at index %d: want %q, got %q\n", topic, i, at(w, i), at(g, i))
	}
	fmt.Fprintf(&b, "  want (Java):\n%s  got (kstreams):\n%s", indent(want), indent(got))
	return b.String()
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(nothing)"
}

func indent(lines []string) string {
	if len(lines) == 0 {
		return "    (no records)\n"
	}
	return "    " + strings.Join(lines, "\n    ") + "\n"
}

// TestCasesAreWellFormed checks what the suite relies on: every case names a
// known topology, pipes only into its inputs, has a Java section whose
// topics are its outputs, and every topology has a case.
func TestCasesAreWellFormed(t *testing.T) {
	cases, err := loadCases("testdata")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, c := range cases {
		topo, ok := topologies[c.topology]
		if !ok {
			t.Errorf("%s: unknown topology %q", c.file, c.topology)
			continue
		}
		used[c.topology] = true
		outputs, err := parseTopics(topo.outputs)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		for _, l := range c.java {
			topic, _, _ := strings.Cut(l, " ")
			if _, ok := findTopic(outputs, topic); !ok || len(strings.Fields(l)) != 4 {
				t.Errorf("%s: Java line %q: not TOPIC KEY VALUE TS of an output topic", c.file, l)
			}
		}
		if c.diverges != "" && c.ttdDiffer != "" {
			t.Errorf("%s: both diverges and java-ttd-differs", c.file)
		}
	}
	for name := range topologies {
		if !used[name] {
			t.Errorf("topology %q has no case", name)
		}
	}
	if len(cases) == 0 {
		t.Error("no cases")
	}
}

// javaTopology matches a topology's declaration in Topologies.java:
// add("name", "inputs", "outputs", ...).
var javaTopology = regexp.MustCompile(`(?m)^\s*add\("([^"]+)", "([^"]+)", "([^"]+)"`)

// TestTopologiesMatchJava checks that Go and Java define the same topology
// names with the same topics and serdes.
func TestTopologiesMatchJava(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("java", "src", "main", "java", "Topologies*.java"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Topologies*.java: %v", err)
	}
	java := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range javaTopology.FindAllStringSubmatch(string(src), -1) {
			java[m[1]] = m[2] + " -> " + m[3]
		}
	}
	for name, topo := range topologies {
		if got, want := topo.inputs+" -> "+topo.outputs, java[name]; got != want {
			t.Errorf("topology %q: Go declares %q, Java %q", name, got, want)
		}
	}
	for name := range java {
		if _, ok := topologies[name]; !ok {
			t.Errorf("topology %q: in Topologies.java, not in topologies.go", name)
		}
	}
}

package ops

import (
	"strings"
	"testing"
)

func sampleTopology() *Topology {
	return &Topology{AppID: "app", Subtopologies: []Subtopology{
		{ID: 0, Nodes: []Node{
			{Name: "src", Kind: "source", Topics: []string{"in"}, Children: []string{"agg"}},
			{Name: "agg", Kind: "processor", Stores: []string{"counts"}, Parents: []string{"src"}, Children: []string{"sink"}},
			{Name: "sink", Kind: "sink", Topics: []string{"app-x-repartition"}, Parents: []string{"agg"}},
		}},
		{ID: 1, Nodes: []Node{{Name: "src2", Kind: "source", Topics: []string{"app-x-repartition"}}}},
	}}
}

func TestRenderings(t *testing.T) {
	tp := sampleTopology()
	tests := []struct {
		name string
		out  string
		want []string
	}{
		{"dot", tp.Dot(), []string{`digraph "app"`, `"src" -> "agg";`, `"topic:in" -> "src";`, `"sink" -> "topic:app-x-repartition";`,
			`"topic:app-x-repartition" -> "src2";`, `"store:counts" [shape=cylinder`, `subgraph "cluster_1"`}},
		{"mermaid", tp.Mermaid(), []string{"flowchart LR", `subgraph sub0["Sub-topology 0"]`, `n0["src"]`, "n0 --> n1", `(["in"])`, `[("counts")]`}},
	}
	for _, tt := range tests {
		for _, w := range tt.want {
			if !strings.Contains(tt.out, w) {
				t.Errorf("%s: missing %q in\n%s", tt.name, w, tt.out)
			}
		}
	}
	if got := tp.SubtopologyOf(); got["in"] != 0 || got["app-x-repartition"] != 1 || len(got) != 2 {
		t.Errorf("SubtopologyOf = %v", got)
	}
}

func TestIsInternalTopic(t *testing.T) {
	tests := []struct {
		topic string
		want  bool
	}{
		{"app-counts-changelog", true},
		{"app-by-value-repartition", true},
		{"app-out", false},
		{"other-counts-changelog", false},
		{"app2-counts-changelog", false},
		{"counts-changelog", false},
	}
	for _, tt := range tests {
		if got := IsInternalTopic("app", tt.topic); got != tt.want {
			t.Errorf("IsInternalTopic(app, %s) = %v, want %v", tt.topic, got, tt.want)
		}
	}
}

func TestResetTarget(t *testing.T) {
	tests := []struct {
		name             string
		spec             ResetSpec
		start, end, from int64
		want             int64
	}{
		{"earliest", ResetSpec{}, 3, 10, 7, 3},
		{"latest", ResetSpec{Mode: ToLatest}, 3, 10, 7, 10},
		{"shift forward", ResetSpec{Mode: ShiftBy, Shift: 2}, 3, 10, 7, 9},
		{"shift past the end", ResetSpec{Mode: ShiftBy, Shift: 20}, 3, 10, 7, 10},
		{"shift before the start", ResetSpec{Mode: ShiftBy, Shift: -20}, 3, 10, 7, 3},
		{"shift without a commit starts at the start", ResetSpec{Mode: ShiftBy, Shift: 2}, 3, 10, -1, 5},
		{"date-time with no offset after it", ResetSpec{Mode: ToDateTime}, 3, 10, 7, 10},
	}
	for _, tt := range tests {
		if got := target(tt.spec, tt.start, tt.end, tt.from, nil, "t", 0); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

package kstreams_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// TestCogroup checks cogroups on the test driver: several inputs into one
// aggregate, a re-keyed input, a grouped stream added twice (its
// aggregator replaced), and windowed forms. The expected outputs of the
// cases shared with compat/ are Kafka Streams'.
func TestCogroup(t *testing.T) {
	type rec struct {
		topic, key, value string
		ts                int64
	}
	appendAs := func(tag string) func(string, string, string) string {
		return func(_, v, a string) string { return a + "+" + tag + ":" + v }
	}
	tests := []struct {
		name  string
		build func(b *kstreams.Builder, left, right, third kstreams.Stream[string, string]) kstreams.Stream[string, string]
		in    []rec
		want  []string
	}{{
		name: "three inputs, one re-keyed (compat cogroup-three-repartition)",
		build: func(b *kstreams.Builder, left, right, third kstreams.Stream[string, string]) kstreams.Stream[string, string] {
			c := kstreams.Cogroup(left.GroupByKey(), appendAs("l"))
			c = kstreams.CogroupWith(c, right.GroupByKey(), appendAs("r"))
			c = kstreams.CogroupWith(c, kstreams.GroupBy(third, func(_, v string) string { return v[:1] }), appendAs("t"))
			return c.Aggregate(func() string { return "" }).ToStream()
		},
		in:   []rec{{"left", "a", "x", 1}, {"third", "k", "apple", 2}, {"right", "b", "y", 3}, {"third", "k", "banana", 4}, {"left", "a", "z", 6}, {"third", "q", "axe", 7}},
		want: []string{"a=+l:x@1", "a=+l:x+t:apple@2", "b=+r:y@3", "b=+r:y+t:banana@4", "a=+l:x+t:apple+l:z@6", "a=+l:x+t:apple+l:z+t:axe@7"},
	}, {
		name: "a grouped stream added again replaces its aggregator",
		build: func(b *kstreams.Builder, left, right, _ kstreams.Stream[string, string]) kstreams.Stream[string, string] {
			g := left.GroupByKey()
			c := kstreams.Cogroup(g, appendAs("first"))
			c = kstreams.CogroupWith(c, right.GroupByKey(), appendAs("r"))
			c = kstreams.CogroupWith(c, g, appendAs("second"))
			return c.Aggregate(func() string { return "" }).ToStream()
		},
		in:   []rec{{"left", "a", "x", 1}, {"right", "a", "y", 2}},
		want: []string{"a=+second:x@1", "a=+second:x+r:y@2"},
	}, {
		name: "tumbling windows (compat cogroup-tumbling)",
		build: func(b *kstreams.Builder, left, right, _ kstreams.Stream[string, string]) kstreams.Stream[string, string] {
			c := kstreams.CogroupWith(kstreams.Cogroup(left.GroupByKey(), appendAs("l")), right.GroupByKey(), appendAs("r"))
			w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)
			return windowKeyed(c.WindowedBy(w).Aggregate(func() string { return "" }).ToStream())
		},
		in: []rec{{"left", "a", "x", 1}, {"right", "a", "y", 5}, {"right", "a", "z", 12}, {"left", "b", "w", 13}, {"left", "a", "v", 8}, {"right", "a", "u", 26}, {"left", "a", "t", 9}},
		// As in Kafka Streams, each input's processor has its own stream
		// time: the left one has seen 13, so [0,10) is still open for it at
		// 9, but the store no longer holds the window (retention 15 past
		// start 20): the record starts it afresh.
		want: []string{"a@0/10=+l:x@1", "a@0/10=+l:x+r:y@5", "a@10/20=+r:z@12", "b@10/20=+l:w@13", "a@0/10=+l:x+r:y+l:v@8", "a@20/30=+r:u@26", "a@0/10=+l:t@9"},
	}, {
		name: "session windows (compat cogroup-session)",
		build: func(b *kstreams.Builder, left, right, _ kstreams.Stream[string, string]) kstreams.Stream[string, string] {
			c := kstreams.CogroupWith(kstreams.Cogroup(left.GroupByKey(), appendAs("l")), right.GroupByKey(), appendAs("r"))
			w := kstreams.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 5*time.Millisecond)
			merge := func(_, a, b string) string { return a + "&" + b }
			return windowKeyed(c.WindowedBySession(w).Aggregate(func() string { return "" }, merge).ToStream())
		},
		in:   []rec{{"left", "a", "x", 10}, {"right", "a", "y", 20}, {"left", "a", "z", 15}, {"right", "b", "w", 16}},
		want: []string{"a@10/10=+l:x@10", "a@20/20=+r:y@20", "a@20/20=@20", "a@15/20=&+r:y+l:z@20", "b@16/16=+r:w@16"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			src := func(topic string) kstreams.Stream[string, string] {
				return kstreams.StreamFrom(b, topic, kstreams.ConsumedWith(serde.String(), serde.String()))
			}
			tt.build(b, src("left"), src("right"), src("third")).To("out", kstreams.ProducedWith(serde.String(), serde.String()))
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			d := sfDriver(t, topo)
			for _, r := range tt.in {
				if err := kstreamstest.NewInputTopic(d, r.topic, serde.String(), serde.String()).PipeAt(r.key, r.value, r.ts); err != nil {
					t.Fatal(err)
				}
			}
			recs, err := strOut(d, "out").ReadRecords()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// windowKeyed writes windowed keys as "key@start/end".
func windowKeyed(s kstreams.Stream[kstreams.Windowed[string], string]) kstreams.Stream[string, string] {
	return kstreams.SelectKey(s, func(k kstreams.Windowed[string], _ string) string {
		return fmt.Sprintf("%s@%d/%d", k.Key, k.Window.Start, k.Window.End)
	})
}

// TestCogroupTopology checks the nodes a cogroup makes, named as Kafka
// Streams names them: one aggregation per input over one store, and the
// merge node.
func TestCogroupTopology(t *testing.T) {
	b := kstreams.NewBuilder()
	left := kstreams.StreamFrom(b, "left", kstreams.ConsumedWith(serde.String(), serde.String()))
	right := kstreams.StreamFrom(b, "right", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	c := kstreams.Cogroup(left.GroupByKey(), func(_, _ string, n int64) int64 { return n + 1 })
	c = kstreams.CogroupWith(c, right.GroupByKey(), func(_ string, v, n int64) int64 { return n + v })
	c.Aggregate(func() int64 { return 0 }, kstreams.Materialized[string, int64]{Value: serde.Int64()}).ToStream().To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	td, err := topo.Describe()
	if err != nil {
		t.Fatal(err)
	}
	desc := td.String()
	for _, want := range []string{"COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000002", "COGROUPKSTREAM-AGGREGATE-0000000003", "COGROUPKSTREAM-AGGREGATE-0000000004", "COGROUPKSTREAM-MERGE-0000000005"} {
		if !strings.Contains(desc, want) {
			t.Errorf("topology lacks %s:\n%s", want, desc)
		}
	}
}

// TestCogroupBuildErrors checks that misuse fails the build with an error
// naming it, not a panic.
func TestCogroupBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *kstreams.Builder)
		want  string
	}{{
		name: "nil aggregator",
		build: func(b *kstreams.Builder) {
			in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			kstreams.Cogroup[string, string, string](in.GroupByKey(), nil).Aggregate(func() string { return "" })
		},
		want: "nil aggregator",
	}, {
		name: "nil initializer",
		build: func(b *kstreams.Builder) {
			in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			kstreams.Cogroup(in.GroupByKey(), func(_, v, a string) string { return a + v }).Aggregate(nil)
		},
		want: "nil initializer",
	}, {
		name: "stream of another builder",
		build: func(b *kstreams.Builder) {
			in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			other := kstreams.StreamFrom(kstreams.NewBuilder(), "other", kstreams.ConsumedWith(serde.String(), serde.String()))
			c := kstreams.Cogroup(in.GroupByKey(), func(_, v, a string) string { return a + v })
			kstreams.CogroupWith(c, other.GroupByKey(), func(_, v, a string) string { return a + v }).Aggregate(func() string { return "" })
		},
		want: "another Builder",
	}, {
		name: "invalid windows",
		build: func(b *kstreams.Builder) {
			in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			c := kstreams.Cogroup(in.GroupByKey(), func(_, v, a string) string { return a + v })
			c.WindowedBySliding(kstreams.SlidingWindowsOfTimeDifferenceWithNoGrace(-time.Millisecond)).Aggregate(func() string { return "" })
		},
		want: "must not be negative",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tt.build(b)
			_, err := b.Build()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want one containing %q", err, tt.want)
			}
			if tt.name == "invalid windows" && !errors.Is(err, kstreams.ErrInvalidWindows) {
				t.Errorf("Build error = %v, want ErrInvalidWindows", err)
			}
		})
	}
}

package kstreams

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/serde"
)

func joinTestTable(b *Builder, topic string) Table[string, string] {
	return TableFrom(b, topic, ConsumedWith(serde.String(), serde.String()))
}

func joinTestConcat(k, l, r string) string { return k + ":" + l + "/" + r }

// The inputs of every join are declared co-partitioned: the topics of the
// sources upstream of both sides (a repartition topic for a re-keyed
// stream).
func TestJoinsDeclareCopartitioning(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *Builder)
		want  []string
	}{
		{"stream-table", func(b *Builder) {
			s := StreamFrom(b, "s", ConsumedWith(serde.String(), serde.String()))
			StreamTableJoin(s, joinTestTable(b, "t"), joinTestConcat).To("out")
		}, []string{"s", "t"}},
		{"stream-table left, re-keyed", func(b *Builder) {
			s := SelectKey(StreamFrom(b, "s", ConsumedWith(serde.String(), serde.String())), func(_, v string) string { return v })
			StreamTableLeftJoin(s, joinTestTable(b, "t"), joinTestConcat, Joined[string, string]{Name: "j"}).To("out")
		}, []string{"j-repartition", "t"}},
		{"table-table outer", func(b *Builder) {
			TableOuterJoin(joinTestTable(b, "a"), joinTestTable(b, "b"), joinTestConcat).ToStream().To("out")
		}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder()
			tt.build(b)
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			plan, err := topo.plan()
			if err != nil {
				t.Fatal(err)
			}
			var groups [][]string
			for _, g := range plan.Copartitioned {
				var names []string
				for _, tp := range g {
					names = append(names, tp.Name)
				}
				groups = append(groups, names)
			}
			if !slices.ContainsFunc(groups, func(g []string) bool { return slices.Equal(g, tt.want) }) {
				t.Fatalf("co-partitioned groups %q, want one of %q", groups, tt.want)
			}
		})
	}
}

// An application joining topics with different partition counts fails at
// start with ErrNotCopartitioned naming the topics and their counts.
func TestJoinRefusesTopicsNotCopartitioned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.CreateTopics(ctx, 3, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := br.CreateTopics(ctx, 2, "customers"); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	s := StreamFrom(b, "orders", ConsumedWith(serde.String(), serde.String()))
	StreamTableJoin(s, joinTestTable(b, "customers"), joinTestConcat).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(topo, ApplicationID("join-copart"), Brokers(br.Addrs()...), StateDir(t.TempDir()), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(ctx)
	if !errors.Is(err, ErrNotCopartitioned) || !strings.Contains(err.Error(), `"customers" (2), "orders" (3)`) {
		t.Fatalf("Run: %v, want ErrNotCopartitioned naming customers (2) and orders (3)", err)
	}
}

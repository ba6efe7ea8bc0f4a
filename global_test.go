package kstreams_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

type globalCustomer struct {
	Name string `json:"name"`
}

type globalOrder struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
}

// A typed stream-global table join with struct values: the key comes from
// inside the stream value, the left join gives the zero value for a missing
// row, a tombstone deletes, and a record with a null key in the global
// topic is skipped and counted as dropped.
func TestStreamGlobalTableJoinTyped(t *testing.T) {
	for _, left := range []bool{false, true} {
		b := kstreams.NewBuilder()
		cust := kstreams.GlobalTableFrom(b, "customers", kstreams.ConsumedWith(serde.String(), serde.JSON[globalCustomer]()),
			kstreams.Materialized[string, globalCustomer]{Name: "customers-store"})
		if cust.Store() != "customers-store" {
			t.Errorf("Store() = %q", cust.Store())
		}
		orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.JSON[globalOrder]()))
		keyOf := func(_ string, o globalOrder) string { return o.Customer }
		joiner := func(k string, o globalOrder, c globalCustomer) string { return k + ":" + o.Customer + "=" + c.Name }
		var out kstreams.Stream[string, string]
		if left {
			out = kstreams.StreamGlobalTableLeftJoin(orders, cust, keyOf, joiner)
		} else {
			out = kstreams.StreamGlobalTableJoin(orders, cust, keyOf, joiner)
		}
		out.To("out", kstreams.ProducedWith(serde.String(), serde.String()))
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		d, err := kstreamstest.New(topo)
		if err != nil {
			t.Fatal(err)
		}
		cin := kstreamstest.NewInputTopic(d, "customers", serde.String(), serde.JSON[globalCustomer]())
		oin := kstreamstest.NewInputTopic(d, "orders", serde.String(), serde.JSON[globalOrder]())
		res := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
		steps := []func() error{
			func() error { return cin.PipeAt("c1", globalCustomer{"Ann"}, 1) },
			func() error { return oin.PipeAt("o1", globalOrder{"o1", "c1"}, 2) },
			func() error { return oin.PipeAt("o2", globalOrder{"o2", "c2"}, 3) },
			func() error { return d.PipeBytes("customers", []byte("c1"), nil, 4) },
			func() error { return d.PipeBytes("customers", nil, []byte(`{"name":"Nobody"}`), 5) },
			func() error { return oin.PipeAt("o3", globalOrder{"o3", "c1"}, 6) },
			func() error { return cin.PipeAt("c2", globalCustomer{"Bob"}, 7) },
			func() error { return oin.PipeAt("o4", globalOrder{"o4", "c2"}, 8) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("left=%v step %d: %v", left, i, err)
			}
		}
		got, err := res.ReadKeyValues()
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		for _, kv := range got {
			vals = append(vals, kv.Value)
		}
		want := "o1:c1=Ann,o4:c2=Bob"
		if left {
			want = "o1:c1=Ann,o2:c2=,o3:c1=,o4:c2=Bob"
		}
		if g := strings.Join(vals, ","); g != want {
			t.Errorf("left=%v: got %s, want %s", left, g, want)
		}
		if m := d.Metrics(); m.Dropped != 1 {
			t.Errorf("left=%v: Dropped = %d, want 1 (the null-key global record)", left, m.Dropped)
		}
		d.Close()
	}
}

// Topology errors of global tables are reported by Build.
func TestGlobalTableTopologyErrors(t *testing.T) {
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	concat := func(k, v, g string) string { return k + v + g }
	byValue := func(_, v string) string { return v }
	tests := []struct {
		name  string
		build func(b *kstreams.Builder)
		want  string
	}{
		{"topic twice", func(b *kstreams.Builder) {
			kstreams.GlobalTableFrom(b, "g", ss)
			kstreams.GlobalTableFrom(b, "g", ss)
		}, `topic "g" read by two global tables`},
		{"store name twice", func(b *kstreams.Builder) {
			kstreams.GlobalTableFrom(b, "g1", ss, kstreams.Materialized[string, string]{Name: "st"})
			kstreams.GlobalTableFrom(b, "g2", ss, kstreams.Materialized[string, string]{Name: "st"})
		}, `global store "st" declared twice`},
		{"topic also a stream source", func(b *kstreams.Builder) {
			kstreams.GlobalTableFrom(b, "g", ss, kstreams.Materialized[string, string]{Name: "gs"})
			kstreams.StreamFrom(b, "g", ss).To("out")
		}, `topic "g" is read by source "KSTREAM-SOURCE-0000000002" and by global store "gs"`},
		{"nil key selector", func(b *kstreams.Builder) {
			g := kstreams.GlobalTableFrom(b, "g", ss)
			kstreams.StreamGlobalTableJoin(kstreams.StreamFrom(b, "s", ss), g, nil, concat).To("out")
		}, "nil key selector"},
		{"nil joiner", func(b *kstreams.Builder) {
			g := kstreams.GlobalTableFrom(b, "g", ss)
			kstreams.StreamGlobalTableLeftJoin[string, string, string, string, string](kstreams.StreamFrom(b, "s", ss), g, byValue, nil).To("out")
		}, "nil joiner"},
		{"other builder", func(b *kstreams.Builder) {
			g := kstreams.GlobalTableFrom(kstreams.NewBuilder(), "g", ss)
			kstreams.StreamGlobalTableJoin(kstreams.StreamFrom(b, "s", ss), g, byValue, concat).To("out")
		}, "made by another Builder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tt.build(b)
			_, err := b.Build()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, kstreams.ErrInvalidTopology) {
				t.Errorf("Build: %v, want an invalid topology mentioning %q", err, tt.want)
			}
		})
	}
}

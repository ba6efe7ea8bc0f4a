package kstreams_test

import (
	"slices"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

type holding struct{ ID, Client, Exchange string }

func union(agg, v []string) []string {
	for _, x := range v {
		if !slices.Contains(agg, x) {
			agg = append(agg, x)
		}
	}
	return agg
}

func difference(agg, v []string) []string {
	var out []string
	for _, x := range agg {
		if !slices.Contains(v, x) {
			out = append(out, x)
		}
	}
	return out
}

// usHolders is the shareholders topology: NASDAQ positions grouped by
// client into the set of their ids.
func usHolders(t *testing.T) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	pos := kstreams.TableFrom(b, "positions", kstreams.ConsumedWith(serde.String(), serde.JSON[*holding]()))
	us := pos.Filter(func(_ string, p *holding) bool { return p.Exchange == "NASDAQ" })
	byClient := kstreams.GroupTableBy(us, func(id string, p *holding) kstreams.KeyValue[string, []string] {
		return kstreams.KV(p.Client, []string{id})
	}, kstreams.Grouped[string, []string]{Value: serde.JSON[[]string]()})
	byClient.Reduce(union, difference, kstreams.Materialized[string, []string]{Name: "us-holders"}).ToStream().To("holders")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestTableGroupByAdderSubtractor(t *testing.T) {
	d, err := kstreamstest.New(usHolders(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "positions", serde.String(), serde.JSON[*holding]())
	out := kstreamstest.NewOutputTopic(d, "holders", serde.String(), serde.JSON[[]string]())
	steps := []struct {
		id   string
		pos  *holding
		want []kstreams.KeyValue[string, []string]
	}{
		{"p1", &holding{"p1", "c1", "NASDAQ"}, []kstreams.KeyValue[string, []string]{{"c1", []string{"p1"}}}},
		{"p2", &holding{"p2", "c1", "NASDAQ"}, []kstreams.KeyValue[string, []string]{{"c1", []string{"p1", "p2"}}}},
		{"p3", &holding{"p3", "c2", "LON"}, nil},
		// moving a position to LON removes it from the client's set
		{"p2", &holding{"p2", "c1", "LON"}, []kstreams.KeyValue[string, []string]{{"c1", []string{"p1"}}}},
		// moving a position to another client moves it between groups
		{"p1", &holding{"p1", "c2", "NASDAQ"}, []kstreams.KeyValue[string, []string]{{"c1", nil}, {"c2", []string{"p1"}}}},
		// closing the last US position removes the client
		{"p1", nil, []kstreams.KeyValue[string, []string]{{"c2", nil}}},
	}
	for i, s := range steps {
		if err := in.Pipe(s.id, s.pos); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := out.ReadKeyValues()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if len(got) != len(s.want) {
			t.Fatalf("step %d: got %v, want %v", i, got, s.want)
		}
		for j := range got {
			if got[j].Key != s.want[j].Key || !slices.Equal(got[j].Value, s.want[j].Value) {
				t.Errorf("step %d: record %d = %v, want %v", i, j, got[j], s.want[j])
			}
		}
	}
}

func TestCountDropsNullKeys(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.Bytes(), serde.String()))
	s.GroupByKey().Count(kstreams.Materialized[[]byte, int64]{Name: "clicks-per-user"}).ToStream().To("counts")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "clicks", serde.Bytes(), serde.String())
	out := kstreamstest.NewOutputTopic(d, "counts", serde.String(), serde.Int64())
	for _, k := range [][]byte{[]byte("u1"), nil, []byte("u1"), []byte("u2"), nil} {
		if err := in.Pipe(k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	want := []kstreams.KeyValue[string, int64]{{"u1", 1}, {"u1", 2}, {"u2", 1}}
	if !slices.Equal(got, want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if m := d.Metrics(); m.Dropped != 2 {
		t.Errorf("Dropped = %d, want 2", m.Dropped)
	}
}

func TestGroupByRepartitionsAndAggregates(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	byCustomer := kstreams.GroupBy(s, func(order string, _ int64) string { return order[:2] },
		kstreams.Grouped[string, int64]{Name: "by-customer"})
	kstreams.Aggregate(byCustomer, func() int64 { return 100 }, func(_ string, v, agg int64) int64 { return agg + v }).
		ToStream().To("totals")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo, kstreamstest.ApplicationID("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "orders", serde.String(), serde.Int64())
	for _, o := range []struct {
		id string
		v  int64
	}{{"c1-a", 5}, {"c2-a", 7}, {"c1-b", 10}} {
		if err := in.Pipe(o.id, o.v); err != nil {
			t.Fatal(err)
		}
	}
	rep := kstreamstest.NewOutputTopic(d, "shop-by-customer-repartition", serde.String(), serde.Int64())
	if n := rep.QueueSize(); n != 3 {
		t.Errorf("repartition topic has %d records, want 3", n)
	}
	got, err := kstreamstest.NewOutputTopic(d, "totals", serde.String(), serde.Int64()).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	want := []kstreams.KeyValue[string, int64]{{"c1", 105}, {"c2", 107}, {"c1", 115}}
	if !slices.Equal(got, want) {
		t.Errorf("totals = %v, want %v", got, want)
	}
}

func TestRecordCacheMergesUpdatesOfOneKey(t *testing.T) {
	build := func(disable bool) *kstreams.Topology {
		b := kstreams.NewBuilder()
		s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
		three := kstreams.FlatMapValues(s, func(v string) []string { return []string{v, v, v} })
		three.GroupByKey().Count(kstreams.Materialized[string, int64]{DisableCaching: disable}).ToStream().To("out")
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	for _, tc := range []struct {
		name    string
		disable bool
		want    []int64
	}{
		{"cached", false, []int64{3}},
		{"uncached", true, []int64{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := kstreamstest.New(build(tc.disable), kstreamstest.CacheMaxBytes(1<<20))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()).Pipe("k", "v"); err != nil {
				t.Fatal(err)
			}
			got, err := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadKeyValues()
			if err != nil {
				t.Fatal(err)
			}
			var counts []int64
			for _, kv := range got {
				counts = append(counts, kv.Value)
			}
			if !slices.Equal(counts, tc.want) {
				t.Errorf("forwarded counts = %v, want %v", counts, tc.want)
			}
		})
	}
}

package kstreams_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/fkwire"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

func fkTestTopology(t *testing.T, name kstreams.Named) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	l := kstreams.TableFrom(b, "left", ss)
	r := kstreams.TableFrom(b, "right", ss)
	j := kstreams.ForeignKeyJoin(l, r, func(v string) string { return v[:1] },
		func(v, f string) string { return v + "/" + f }, kstreams.TableJoined[string, string]{Name: name})
	j.ToStream().To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// The parts of a foreign-key join are named as Kafka Streams names them
// (checked against Kafka Streams 4.4's TopologyDescription of the same
// topology): automatic names continue the builder's numbering, a
// TableJoined name replaces them.
func TestForeignKeyJoinNames(t *testing.T) {
	for _, tc := range []struct {
		name kstreams.Named
		want []string
	}{
		{"", []string{
			"Sink: KTABLE-SINK-0000000008 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic)",
			"Source: KTABLE-SOURCE-0000000009 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic])",
			"Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])",
			"Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])",
			"Sink: KTABLE-SINK-0000000015 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic)",
			"Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017",
			"Processor: KTABLE-FK-JOIN-OUTPUT-0000000018 (stores: [])",
			"Processor: KTABLE-TOSTREAM-0000000020",
		}},
		{"fk", []string{
			"Sink: fk-subscription-registration-sink (topic: fk-subscription-registration-topic)",
			"Processor: fk-subscription-receive (stores: [fk-subscription-store])",
			"Processor: fk-subscription-join-foreign",
			"Processor: fk-foreign-join-subscription (stores: [fk-subscription-store])",
			"Sink: fk-subscription-response-sink (topic: fk-subscription-response-topic)",
			"Source: fk-subscription-response-source (topics: [fk-subscription-response-topic])",
			"Processor: fk-subscription-response-resolver",
			"Processor: fk-result (stores: [])",
		}},
	} {
		d, err := fkTestTopology(t, tc.name).Describe()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(d.String(), w) {
				t.Errorf("name %q: description lacks %q:\n%s", tc.name, w, d)
			}
		}
	}
}

// The subscription and the response carry Kafka Streams' byte formats and
// the murmur3 hash of the row's serialized value; a response whose hash
// is not the current row's (the row changed since) is dropped.
func TestForeignKeyJoinWireAndStaleResponses(t *testing.T) {
	d, err := kstreamstest.New(fkTestTopology(t, "fk"), kstreamstest.ApplicationID("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	left := kstreamstest.NewInputTopic(d, "left", serde.String(), serde.String())
	right := kstreamstest.NewInputTopic(d, "right", serde.String(), serde.String())
	out := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
	subs := kstreamstest.NewOutputTopic(d, "app-fk-subscription-registration-topic", serde.Bytes(), serde.Bytes())
	resps := kstreamstest.NewOutputTopic(d, "app-fk-subscription-response-topic", serde.Bytes(), serde.Bytes())

	if err := right.PipeAt("a", "A", 1); err != nil {
		t.Fatal(err)
	}
	if err := left.PipeAt("k1", "a1", 2); err != nil {
		t.Fatal(err)
	}
	hash := fkwire.Hash128([]byte("a1"), fkwire.Seed)
	sub, err := subs.ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	wantSub := fkwire.AppendSubscription(nil, fkwire.Subscription{Hash: &hash, Instruction: fkwire.PropagateOnlyIfFKValAvailable, PrimaryKey: []byte("k1"), PrimaryPartition: 0})
	if string(sub.Key) != "a" || !bytes.Equal(sub.Value, wantSub) {
		t.Errorf("subscription = %q %v, want \"a\" %v", sub.Key, sub.Value, wantSub)
	}
	resp, err := resps.ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if wantResp := fkwire.AppendResponse(nil, fkwire.Response{Hash: &hash, ForeignValue: []byte("A")}); string(resp.Key) != "k1" || !bytes.Equal(resp.Value, wantResp) {
		t.Errorf("response = %q %v, want \"k1\" %v", resp.Key, resp.Value, wantResp)
	}
	if got, _ := out.ReadKeyValues(); len(got) != 1 || got[0].Value != "a1/A" {
		t.Fatalf("out = %v, want k1 a1/A", got)
	}

	stale := fkwire.Hash128([]byte("a0"), fkwire.Seed)
	for _, tc := range []struct {
		hash *fkwire.Hash
		want []string
	}{
		{&stale, nil},
		{nil, nil},
		{&hash, []string{"a1/Z"}},
	} {
		v := fkwire.AppendResponse(nil, fkwire.Response{Hash: tc.hash, ForeignValue: []byte("Z")})
		if err := d.PipeBytes("app-fk-subscription-response-topic", []byte("k1"), v, 3); err != nil {
			t.Fatal(err)
		}
		got, err := out.ReadKeyValues()
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, kv := range got {
			vs = append(vs, kv.Value)
		}
		if strings.Join(vs, ",") != strings.Join(tc.want, ",") {
			t.Errorf("response with hash %v: out = %v, want %v", tc.hash, vs, tc.want)
		}
	}
}

// An unnamed foreign-key join result keeps no store unless a later
// operation needs one, as Kafka Streams materializes its KTableSource on
// demand: a re-grouping (old values) or a join (rows by key) gets it the
// store KTABLE-FK-JOIN-OUTPUT-STATE-STORE-<n>, a plain ToStream does not.
// The compat cases fk-join-group-by-count, fk-left-join-group-by-count and
// fk-join-then-join check the records.
func TestForeignKeyJoinResultMaterializedOnDemand(t *testing.T) {
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	out := kstreams.ProducedWith(serde.String(), serde.String())
	for _, tc := range []struct {
		name  string
		use   func(b *kstreams.Builder, j kstreams.Table[string, string])
		store bool
	}{
		{"stream", func(_ *kstreams.Builder, j kstreams.Table[string, string]) { j.ToStream().To("o", out) }, false},
		{"group", func(_ *kstreams.Builder, j kstreams.Table[string, string]) {
			kstreams.GroupTableBy(j, func(k, v string) kstreams.KeyValue[string, string] { return kstreams.KV(v, k) }).Count().
				ToStream().To("o", kstreams.ProducedWith(serde.String(), serde.Int64()))
		}, true},
		{"join", func(b *kstreams.Builder, j kstreams.Table[string, string]) {
			s := kstreams.StreamFrom(b, "s", ss)
			kstreams.StreamTableJoin(s, j, func(_, a, b string) string { return a + b }).To("o", out)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			l, r := kstreams.TableFrom(b, "left", ss), kstreams.TableFrom(b, "right", ss)
			j := kstreams.ForeignKeyJoin(l, r, func(v string) string { return v }, func(v, f string) string { return f },
				kstreams.TableJoined[string, string]{}, kstreams.Materialized[string, string]{Key: serde.String(), Value: serde.String()})
			tc.use(b, j)
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			td, err := topo.Describe()
			if err != nil {
				t.Fatal(err)
			}
			desc := td.String()
			if got := strings.Contains(desc, "KTABLE-FK-JOIN-OUTPUT-STATE-STORE-"); got != tc.store {
				t.Errorf("result store in the description: %v, want %v:\n%s", got, tc.store, desc)
			}
		})
	}
}

// Orders refer to customers by the customer id in their value; the join
// keeps each order's view current as either side changes.
func ExampleForeignKeyJoin() {
	str := serde.String()
	b := kstreams.NewBuilder()
	orders := kstreams.TableFrom(b, "orders", kstreams.ConsumedWith(str, str))       // "customer|item"
	customers := kstreams.TableFrom(b, "customers", kstreams.ConsumedWith(str, str)) // name
	customerOf := func(order string) string { c, _, _ := strings.Cut(order, "|"); return c }
	views := kstreams.ForeignKeyJoin(orders, customers, customerOf,
		func(order, name string) string { _, item, _ := strings.Cut(order, "|"); return item + " for " + name },
		kstreams.TableJoined[string, string]{Name: "order-customer"},
		kstreams.Materialized[string, string]{Name: "order-views", Value: str})
	views.ToStream().To("order-views", kstreams.ProducedWith(str, str))
	topo, _ := b.Build()

	d, _ := kstreamstest.New(topo)
	defer d.Close()
	o := kstreamstest.NewInputTopic(d, "orders", str, str)
	c := kstreamstest.NewInputTopic(d, "customers", str, str)
	_ = o.PipeAt("o1", "c1|book", 1) // no customer yet: no view
	_ = c.PipeAt("c1", "Ada", 2)     // the customer arrives
	_ = o.PipeAt("o2", "c1|pen", 3)  // a second order of hers
	_ = c.PipeAt("c1", "Ada L.", 4)  // renamed: both views change
	_ = o.PipeAt("o1", "c2|book", 5) // moved to a customer not known yet
	out, _ := kstreamstest.NewOutputTopic(d, "order-views", str, str).ReadKeyValues()
	for _, kv := range out {
		fmt.Printf("%s: %q\n", kv.Key, kv.Value)
	}
	// Output:
	// o1: "book for Ada"
	// o2: "pen for Ada"
	// o1: "book for Ada L."
	// o2: "pen for Ada L."
	// o1: ""
}

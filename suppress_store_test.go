package kstreams_test

import (
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// TestSuppressStoreNames checks the names of a suppression's node and
// buffer store against Kafka Streams' descriptions of the same topologies
// (SuppressTopologyTest): unnamed, the store takes the next index as
// KTABLE-SUPPRESS-STATE-STORE-<n>; named, it is "<name>-store". The
// buffer's changelog topic is "<application id>-<store>-changelog".
func TestSuppressStoreNames(t *testing.T) {
	const anonymous = `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])
      --> KTABLE-SUPPRESS-0000000003
      <-- KSTREAM-SOURCE-0000000000
    Processor: KTABLE-SUPPRESS-0000000003 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000004])
      --> KTABLE-TOSTREAM-0000000005
      <-- KSTREAM-AGGREGATE-0000000002
    Processor: KTABLE-TOSTREAM-0000000005 (stores: [])
      --> KSTREAM-SINK-0000000006
      <-- KTABLE-SUPPRESS-0000000003
    Sink: KSTREAM-SINK-0000000006 (topic: output)
      <-- KTABLE-TOSTREAM-0000000005

`
	const named = `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])
      --> asdf
      <-- KSTREAM-SOURCE-0000000000
    Processor: asdf (stores: [asdf-store])
      --> KTABLE-TOSTREAM-0000000003
      <-- KSTREAM-AGGREGATE-0000000002
    Processor: KTABLE-TOSTREAM-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- asdf
    Sink: KSTREAM-SINK-0000000004 (topic: output)
      <-- KTABLE-TOSTREAM-0000000003

`
	for _, tc := range []struct {
		name  string
		names []kstreams.Named
		want  string
	}{
		{"anonymous", nil, anonymous},
		{"named", []kstreams.Named{"asdf"}, named},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			kstreams.StreamFrom(b, "input", kstreams.ConsumedWith(serde.String(), serde.String())).GroupByKey().Count().
				Suppress(kstreams.UntilTimeLimit(time.Second, kstreams.UnboundedBuffer()), tc.names...).
				ToStream().To("output", kstreams.ProducedWith(serde.String(), serde.Int64()))
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			d, err := topo.Describe()
			if err != nil {
				t.Fatal(err)
			}
			if d.String() != tc.want {
				t.Errorf("description:\n%s\nwant (Kafka Streams'):\n%s", d, tc.want)
			}
		})
	}
}

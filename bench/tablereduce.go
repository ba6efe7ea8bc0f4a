package main

import (
	"context"
	"fmt"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// The table-reduce workload is the shape of the shareholders app: the input
// read as a table (the input topic is compacted), each row re-grouped by a
// key computed from its key (100 groups: the key's last two digits) with a
// number computed from its value (its first byte), and reduced per group
// with an adder (sum) and a subtractor (difference). An update of a row
// takes its old number out of its group and puts the new one in: as the
// group of a key never changes, that is one repartition record, one
// aggregate update and one output per input record (Kafka Streams >= 3.5
// sends one record when the group key is unchanged; so does kstreams).
//
// Both sides materialize the source table (it must report old values)
// with a changelog of its own, Kafka Streams' default without
// topology.optimization, and run with the record cache off so that every
// update is forwarded and the number of outputs is known.

func init() {
	registerGo(&Workload{
		Name:    "table-reduce",
		Impl:    "kstreams",
		About:   "kstreams table(input) -> groupBy(100 groups) -> reduce(adder, subtractor) -> toStream -> sink; Pebble stores, changelogs, repartition, caching off",
		Ceiling: "copy/franz-go",
	}, runTableReduce)
}

// tableGroup is the group of a key: its last two characters.
func tableGroup(k string) string {
	if len(k) < 2 {
		return k
	}
	return "group-" + k[len(k)-2:]
}

// tableNumber is the number a value brings to its group: its first byte.
func tableNumber(v []byte) int64 {
	if len(v) == 0 {
		return 0
	}
	return int64(v[0])
}

func tableReduceTopology(input, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	rows := kstreams.TableFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes()),
		kstreams.Materialized[string, []byte]{Name: "rows"})
	sums := kstreams.GroupTableBy(rows,
		func(k string, v []byte) kstreams.KeyValue[string, int64] {
			return kstreams.KV(tableGroup(k), tableNumber(v))
		},
		kstreams.Grouped[string, int64]{Name: "groups", Key: serde.String(), Value: serde.Int64()}).
		Reduce(func(agg, v int64) int64 { return agg + v }, func(agg, v int64) int64 { return agg - v },
			kstreams.Materialized[string, int64]{Name: "sums"})
	sums.ToStream().To(output, kstreams.ProducedWith(serde.String(), serde.Int64()))
	return b.Build()
}

func runTableReduce(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	topo, err := tableReduceTopology(spec.Input, spec.Output)
	if err != nil {
		return nil, fmt.Errorf("table-reduce: topology: %w", err)
	}
	return runApp(ctx, spec, topo, kstreams.CacheMaxBytes(0))
}

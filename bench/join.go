package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The join workloads (issue 11). Each joins the preloaded input (-records
// records; the left side) with a side topic of distinctKeys rows, one per
// key of the input (100-byte values), written once per invocation by
// Setup; records/s counts the left records only. Both sides run with the
// record cache off, so every update goes downstream, and the joiner
// returns the left value, so the figure is the join's cost, not the
// joiner's.
//
//   - stream-table-join: the input as a stream, left-joined with the side
//     topic as a table (store "side"): one output per input record.
//   - stream-stream-join: a stream left-joined with the side topic as a
//     stream, in join windows of 10 s with no grace (Kafka's former
//     SimpleBenchmark), stores "join". The left stream is the left topic
//     (below), whose event times put every left record within 1 s of its
//     key's side record, so each left record joins exactly once (when it
//     arrives or when its side record does), no window closes during the
//     run and there is exactly one output per left record.
//   - table-table-join: the input as a table (store "rows") left-joined with
//     the side topic as a table (store "side"): one output per update of
//     the input; a side row that arrives after its key's first input row
//     adds one more, so the run ends at the first -records outputs (at most
//     distinctKeys of them from the side).
//   - fk-join: the left topic as a table (store "rows") left-joined with the
//     side table by a foreign key taken from the value (fkOf: one of 100
//     side rows), named "fk" (its subscription and response topics): one
//     output per update of the left table. A left join because an inner
//     one forwards nothing for an update whose side row has not arrived,
//     which would make the number of outputs depend on the order in which
//     the two topics are read. A side row that arrives after rows
//     subscribed to it adds one output per subscriber, so the run ends at
//     the first -records outputs.
//
// The left topic, written by Setup for stream-stream-join and fk-join, holds
// -records records with the input's keys, a value that depends on the key
// only (in the input a key takes 4 of the 64 values in turn, and an FK
// join drops the responses to a value that has changed since as stale,
// which would make the number of outputs depend on timing) and the event
// time base + (i mod 1000) ms, base being the event time of every side
// record.

const (
	// joinWindow is the time difference of stream-stream-join.
	joinWindow = 10 * time.Second
	// sideValueSize is the size of a side row's value.
	sideValueSize = 100
	// fkRows is how many side rows fk-join's foreign keys point at.
	fkRows = 100
)

func init() {
	registerGo(&Workload{
		Name:    "stream-table-join",
		Impl:    implGo,
		About:   "kstreams stream(input).leftJoin(table(side, 10,000 rows)) -> sink; Pebble store with changelog, caching off",
		Ceiling: "copy/franz-go",
		Setup:   joinInputs,
	}, runStreamTableJoin)
	registerGo(&Workload{
		Name:    "stream-stream-join",
		Impl:    implGo,
		About:   "kstreams stream(left).leftJoin(stream(side, 10,000 records), 10 s windows, no grace) -> sink; Pebble window stores with changelogs",
		Ceiling: "copy/franz-go",
		Setup:   joinInputs,
	}, runStreamStreamJoin)
	registerGo(&Workload{
		Name:    "table-table-join",
		Impl:    implGo,
		About:   "kstreams table(input).leftJoin(table(side, 10,000 rows)) -> toStream -> sink; Pebble stores with changelogs, caching off",
		Ceiling: "copy/franz-go",
		Setup:   joinInputs,
	}, runTableTableJoin)
	registerGo(&Workload{
		Name:    "fk-join",
		Impl:    implGo,
		About:   "kstreams table(left).leftJoin(table(side), foreign key from the value: 100 rows) -> toStream -> sink; subscription and response topics, caching off",
		Ceiling: "copy/franz-go",
		Setup:   joinInputs,
	}, runFKJoin)
}

// fkOf is fk-join's foreign key of a value: the side row "key-000NN" with
// NN its first byte modulo 100.
func fkOf(v []byte) string {
	n := 0
	if len(v) > 0 {
		n = int(v[0]) % fkRows
	}
	return keyPrefix + "000" + strconv.Itoa(n/10) + strconv.Itoa(n%10)
}

// joinLeft is the joiner of every join workload: the left value.
func joinLeft(v []byte) []byte { return v }

// sideTopic is the side topic of the preloaded input; leftTopic the left
// topic of stream-stream-join and fk-join.
func sideTopic(input string) string { return input + "-side" }
func leftTopic(input string) string { return input + "-join-left" }

// joinTopics are the join inputs written, by preloaded input.
var joinTopics struct {
	sync.Mutex
	base map[string]time.Time // event time of the side records
	left map[string]bool      // the left topic written
}

// joinInputs points the run at its side topic (and, for stream-stream-join
// and fk-join, at the left topic), writing them first if this invocation
// has not.
func joinInputs(ctx context.Context, env *Env, spec *RunSpec) error {
	joinTopics.Lock()
	defer joinTopics.Unlock()
	spec.Side = sideTopic(env.Input)
	keys, values := inputData()
	base, ok := joinTopics.base[env.Input]
	if !ok {
		base = time.Now().Truncate(time.Millisecond)
		if err := env.createTopic(ctx, spec.Side, nil); err != nil {
			return err
		}
		err := env.produceAll(ctx, spec.Side, distinctKeys, func(i int64) *kgo.Record {
			return &kgo.Record{Key: keys[i], Value: values[i%distinctValues][:sideValueSize], Timestamp: base}
		})
		if err != nil {
			return fmt.Errorf("writing %s: %w", spec.Side, err)
		}
		if joinTopics.base == nil {
			joinTopics.base = map[string]time.Time{}
		}
		joinTopics.base[env.Input] = base
	}
	if name, _, _ := strings.Cut(spec.Workload, "/"); name != "stream-stream-join" && name != "fk-join" {
		return nil
	}
	spec.Input = leftTopic(env.Input)
	if joinTopics.left[env.Input] {
		return nil
	}
	if err := env.createTopic(ctx, spec.Input, nil); err != nil {
		return err
	}
	err := env.produceAll(ctx, spec.Input, env.Records, func(i int64) *kgo.Record {
		return &kgo.Record{Key: keys[i%distinctKeys], Value: values[i%distinctKeys%distinctValues],
			Timestamp: base.Add(time.Duration(i%1000) * time.Millisecond)}
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", spec.Input, err)
	}
	if joinTopics.left == nil {
		joinTopics.left = map[string]bool{}
	}
	joinTopics.left[env.Input] = true
	return nil
}

var joinConsumed = kstreams.ConsumedWith(serde.String(), serde.Bytes())

var joinProduced = kstreams.ProducedWith(serde.String(), serde.Bytes())

func streamTableJoinTopology(input, side, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	rows := kstreams.TableFrom(b, side, joinConsumed, kstreams.Materialized[string, []byte]{Name: "side"})
	events := kstreams.StreamFrom(b, input, joinConsumed)
	kstreams.StreamTableLeftJoin(events, rows, func(_ string, v, _ []byte) []byte { return joinLeft(v) }).
		To(output, joinProduced)
	return b.Build()
}

func streamStreamJoinTopology(input, side, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	left := kstreams.StreamFrom(b, input, joinConsumed)
	right := kstreams.StreamFrom(b, side, joinConsumed)
	kstreams.StreamStreamLeftJoin(left, right, func(_ string, v, _ []byte) []byte { return joinLeft(v) },
		kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(joinWindow),
		kstreams.StreamJoined[string, []byte, []byte]{StoreName: "join", Key: serde.String(), Value: serde.Bytes(), OtherValue: serde.Bytes()}).
		To(output, joinProduced)
	return b.Build()
}

func tableTableJoinTopology(input, side, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	rows := kstreams.TableFrom(b, input, joinConsumed, kstreams.Materialized[string, []byte]{Name: "rows"})
	sides := kstreams.TableFrom(b, side, joinConsumed, kstreams.Materialized[string, []byte]{Name: "side"})
	kstreams.TableLeftJoin(rows, sides, func(_ string, v, _ []byte) []byte { return joinLeft(v) }).
		ToStream().To(output, joinProduced)
	return b.Build()
}

func fkJoinTopology(input, side, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	rows := kstreams.TableFrom(b, input, joinConsumed, kstreams.Materialized[string, []byte]{Name: "rows"})
	sides := kstreams.TableFrom(b, side, joinConsumed, kstreams.Materialized[string, []byte]{Name: "side"})
	kstreams.ForeignKeyLeftJoin(rows, sides, fkOf, func(v, _ []byte) []byte { return joinLeft(v) },
		kstreams.TableJoined[string, string]{Name: kstreams.Named("fk")}).
		ToStream().To(output, joinProduced)
	return b.Build()
}

// runJoin runs one of the join topologies with the record cache off.
func runJoin(name string, topology func(input, side, output string) (*kstreams.Topology, error)) workerFunc {
	return func(ctx context.Context, spec RunSpec) (map[string]int64, error) {
		topo, err := topology(spec.Input, spec.Side, spec.Output)
		if err != nil {
			return nil, fmt.Errorf("%s: topology: %w", name, err)
		}
		return runApp(ctx, spec, topo, kstreams.CacheMaxBytes(0))
	}
}

var (
	runStreamTableJoin  = runJoin("stream-table-join", streamTableJoinTopology)
	runStreamStreamJoin = runJoin("stream-stream-join", streamStreamJoinTopology)
	runTableTableJoin   = runJoin("table-table-join", tableTableJoinTopology)
	runFKJoin           = runJoin("fk-join", fkJoinTopology)
)

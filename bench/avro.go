package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	sr "github.com/kstreams-go/kstreams/serde/registry"
)

// The filter-map-avro workload is filter-map with Avro values in
// Confluent's wire format through a Confluent-compatible schema registry
// (-registry): every record's value is decoded into a struct and encoded
// again. Setup writes, once per invocation, the Avro input topic
// "<input>-avro": the preloaded input's keys, in the same order and
// partitions, each value an avroEvent whose payload is the preloaded 1 KiB
// value, written with the schema registered under "<input>-avro-value".
// The application writes its outputs with the same schema under its
// output topic's subject, which it registers on its first record, as the
// Java side does.

// avroEventSchema is the schema of the values of filter-map-avro.
const avroEventSchema = `{"type":"record","name":"BenchEvent","namespace":"kstreams.bench","fields":[
	{"name":"id","type":"string"},
	{"name":"user","type":"string"},
	{"name":"seq","type":"long"},
	{"name":"amount","type":"double"},
	{"name":"valid","type":"boolean"},
	{"name":"payload","type":"bytes"}]}`

// avroEvent is a value of filter-map-avro.
type avroEvent struct {
	ID      string  `avro:"id"`
	User    string  `avro:"user"`
	Seq     int64   `avro:"seq"`
	Amount  float64 `avro:"amount"`
	Valid   bool    `avro:"valid"`
	Payload []byte  `avro:"payload"`
}

// avroWorkload is registered by main with -registry.
var avroWorkload = &Workload{
	Name:    "filter-map-avro",
	Impl:    implGo,
	About:   "filter-map with Avro values (Confluent wire format, -registry): each value decoded to a struct and encoded again",
	Ceiling: "copy/franz-go",
	Setup:   avroInput,
	Start:   startGoWorker,
}

// The worker is known to every process (workers run without -registry);
// the workload is listed only with -registry (registerAvro).
func init() { workers[avroWorkload.Key()] = runFilterMapAvro }

// registerAvro registers filter-map-avro (main does with -registry, before
// the Java workloads, which copy it).
func registerAvro() {
	if lookup(avroWorkload.Key()) == nil {
		register(avroWorkload)
	}
}

// avroInputs are the Avro input topics written, by preloaded input.
var avroInputs struct {
	sync.Mutex
	done map[string]bool
}

// avroInputTopic is the Avro input topic of the preloaded input.
func avroInputTopic(input string) string { return input + "-avro" }

// avroInput points the run at the Avro input topic, writing it first if
// this invocation has not.
func avroInput(ctx context.Context, env *Env, spec *RunSpec) error {
	if env.Registry == "" {
		return fmt.Errorf("filter-map-avro needs -registry")
	}
	spec.Registry, spec.AvroSchema = env.Registry, avroEventSchema
	spec.Input = avroInputTopic(env.Input)
	avroInputs.Lock()
	defer avroInputs.Unlock()
	if avroInputs.done[spec.Input] {
		return nil
	}
	reg, err := sr.New(env.Registry)
	if err != nil {
		return err
	}
	values, err := sr.Avro[avroEvent](reg, avroEventSchema)
	if err != nil {
		return err
	}
	if err := env.createTopic(ctx, spec.Input, nil); err != nil {
		return err
	}
	keys, payloads := inputData()
	var encErr error
	err = env.produceAll(ctx, spec.Input, env.Records, func(i int64) *kgo.Record {
		k := keys[i%distinctKeys]
		v, err := values.Serialize(spec.Input, avroEvent{ID: strconv.FormatInt(i, 10), User: string(k), Seq: i,
			Amount: float64(i%10000) / 100, Valid: true, Payload: payloads[i%distinctValues]})
		if err != nil && encErr == nil {
			encErr = err
		}
		return &kgo.Record{Key: k, Value: v}
	})
	if err == nil {
		err = encErr
	}
	if err != nil {
		return fmt.Errorf("filter-map-avro: writing %s: %w", spec.Input, err)
	}
	if avroInputs.done == nil {
		avroInputs.done = map[string]bool{}
	}
	avroInputs.done[spec.Input] = true
	return nil
}

// filterMapAvroTopology is filterMapTopology on Avro values.
func filterMapAvroTopology(input, output string, values serde.Serde[avroEvent]) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), values))
	kept := in.Filter(func(k string, v avroEvent) bool { return strings.HasPrefix(k, keyPrefix) && v.Valid })
	mapped := kstreams.MapValues(kept, func(v avroEvent) avroEvent { return v })
	mapped.To(output, kstreams.ProducedWith(serde.String(), values))
	return b.Build()
}

func runFilterMapAvro(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	reg, err := sr.New(spec.Registry)
	if err != nil {
		return nil, fmt.Errorf("filter-map-avro: %w", err)
	}
	values, err := sr.Avro[avroEvent](reg, avroEventSchema)
	if err != nil {
		return nil, fmt.Errorf("filter-map-avro: %w", err)
	}
	topo, err := filterMapAvroTopology(spec.Input, spec.Output, values)
	if err != nil {
		return nil, fmt.Errorf("filter-map-avro: topology: %w", err)
	}
	return runApp(ctx, spec, topo)
}

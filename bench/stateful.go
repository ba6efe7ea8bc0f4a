package main

import (
	"context"
	"fmt"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// The stateful workloads. Both write one output record per input record,
// so the runner's completion condition (Outputs(n) = n records on the
// output topic) holds as for the stateless ones.
//
// count runs with the record cache off (CacheMaxBytes(0)): with a cache
// (kstreams' default 1 MiB per store and task, Java's
// statestore.cache.max.bytes 10 MiB per instance) an aggregation forwards
// one update per key per commit or eviction, so the number of outputs would
// depend on the commit interval and the cache size, and with the 30 s
// commit interval most of them would only come at the final commit, which
// happens after the runner stops the application. Off, every input record
// makes one store update, one changelog record and one output record, the
// most work per record a count does.
//
// get-put uses a Processor API store added with AddStateStore, which is not
// cached (as Java's Stores.keyValueStoreBuilder without
// withCachingEnabled()), so the cache setting does not apply to it.

func init() {
	registerGo(&Workload{
		Name:    "count",
		Impl:    "kstreams",
		About:   "kstreams groupByKey().count() (Pebble store, changelog, caching off) -> toStream -> sink: one output per input",
		Ceiling: "copy/franz-go",
	}, runCount)
	registerGo(&Workload{
		Name:    "get-put",
		Impl:    "kstreams",
		About:   "kstreams Processor API processor on a Pebble store (changelog, uncached): get the key's previous value, put the new one, forward the record",
		Ceiling: "copy/franz-go",
	}, runGetPut)
	registerGo(restoreWorkload, runRestore)
	registerGo(rebalanceWorkload, runRebalance)
}

// countStore is the store of the count workload (and of restore's).
const countStore = "counts"

// countTopology is source -> groupByKey -> count (store "counts") and, if
// output is not "", -> toStream -> sink.
func countTopology(input, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	counts := in.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: countStore, Value: serde.Int64()})
	if output != "" {
		counts.ToStream().To(output, kstreams.ProducedWith(serde.String(), serde.Int64()))
	}
	return b.Build()
}

func runCount(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	topo, err := countTopology(spec.Input, spec.Output)
	if err != nil {
		return nil, fmt.Errorf("count: topology: %w", err)
	}
	return runApp(ctx, spec, topo, kstreams.CacheMaxBytes(0))
}

// getPutStore is the store of the get-put workload.
const getPutStore = "last-value"

// getPut reads the key's previous value from its store, writes the new one
// and forwards the record unchanged.
type getPut struct {
	ctx   processor.Context[string, []byte]
	store state.KeyValueStore[string, []byte]
	// hits counts keys that had a previous value, so the Get is used.
	hits *int64
}

func (p *getPut) Init(ctx processor.Context[string, []byte]) error {
	p.ctx = ctx
	var err error
	p.store, err = processor.Store[state.KeyValueStore[string, []byte]](ctx, getPutStore)
	return err
}

func (p *getPut) Process(rec processor.Record[string, []byte]) error {
	_, ok, err := p.store.Get(rec.Key)
	if err != nil {
		return err
	}
	if ok {
		*p.hits++
	}
	if err := p.store.Put(rec.Key, rec.Value); err != nil {
		return err
	}
	p.ctx.Forward(rec)
	return nil
}

func (p *getPut) Close() error { return nil }

// getPutTopology is source -> get-put (store "last-value", Pebble, logged)
// -> sink. The store holds the 1 KiB values, so its changelog carries as
// many bytes as the output.
func getPutTopology(input, output string, hits *int64) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	kstreams.AddStateStore(b, kstreams.StoreBuilder[string, []byte]{Name: getPutStore, Key: serde.String(), Value: serde.Bytes()})
	in := kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	out := kstreams.ProcessWithStores(in, func() processor.Processor[string, []byte, string, []byte] {
		return &getPut{hits: hits}
	}, []string{getPutStore})
	out.To(output, kstreams.ProducedWith(serde.String(), serde.Bytes()))
	return b.Build()
}

func runGetPut(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	// One stream thread: the processors of all tasks run on its goroutine,
	// so a plain counter is safe; it is read after Run returns.
	var hits int64
	topo, err := getPutTopology(spec.Input, spec.Output, &hits)
	if err != nil {
		return nil, fmt.Errorf("get-put: topology: %w", err)
	}
	stats, err := runApp(ctx, spec, topo)
	if stats != nil {
		stats["get_hits"] = hits
	}
	return stats, err
}

// appOptions are the options of every Go worker's application (one
// thread, the run's client settings, its state directory) plus extra.
func appOptions(spec RunSpec, extra ...kstreams.Option) ([]kstreams.Option, error) {
	opts, err := spec.Client.appOpts()
	if err != nil {
		return nil, err
	}
	switch spec.Client.Metrics {
	case "info":
		extra = append(extra, kstreams.OpsServer("127.0.0.1:0"), kstreams.MetricsRecordingLevel(kstreams.MetricsInfo))
	case "debug":
		extra = append(extra, kstreams.OpsServer("127.0.0.1:0"), kstreams.MetricsRecordingLevel(kstreams.MetricsDebug))
	}
	if spec.Client.exactlyOnce() {
		extra = append(extra, kstreams.ProcessingGuarantee(kstreams.ExactlyOnce))
	}
	if spec.MemTable != 0 {
		extra = append(extra, kstreams.StoreOptions(state.PebbleOptions{MemTableSize: spec.MemTable}))
	}
	return append([]kstreams.Option{
		kstreams.ApplicationID(spec.AppID),
		kstreams.Brokers(spec.Brokers...),
		kstreams.Threads(1),
		kstreams.CommitInterval(spec.Client.CommitInterval),
		kstreams.MaxPollRecords(spec.Client.MaxPollRecords),
		kstreams.StateDir(spec.StateDir),
		kstreams.ClientOptions(opts...),
	}, extra...), nil
}

func appStats(m kstreams.Metrics) map[string]int64 {
	return map[string]int64{
		"processed": m.Processed, "produced": m.Produced, "commits": m.Commits,
		"rebalances": m.Rebalances, "skipped": m.Skipped, "restored": m.Restored,
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

func init() {
	registerGo(&Workload{
		Name:    "source",
		Impl:    "kstreams",
		About:   "kstreams source only: deserializes every record and counts it; one marker record to the output once all are read",
		Ceiling: "copy/franz-go",
		Goal:    0.8,
		Outputs: func(int64) int64 { return 1 },
		Marker:  true,
	}, runSource)
	registerGo(&Workload{
		Name:    "passthrough",
		Impl:    "kstreams",
		About:   "kstreams source -> sink, keys as strings, values as bytes",
		Ceiling: "copy/franz-go",
		Goal:    0.8,
	}, runPassthrough)
	registerGo(&Workload{
		Name:    "filter-map",
		Impl:    "kstreams",
		About:   "kstreams source -> filter -> mapValues -> sink, keys as strings, values as bytes; every record passes",
		Ceiling: "copy/franz-go",
		Goal:    0.8,
	}, runFilterMap)
}

// filterMapTopology is the stateless topology: source -> filter ->
// mapValues -> sink. The filter keeps every record and mapValues returns
// the value unchanged, so the output is the input and the figure is the
// runtime's cost, not the user functions'. Keys are strings (deserialized
// and serialized as a Java String serde would), values raw bytes.
func filterMapTopology(input, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	kept := in.Filter(func(k string, v []byte) bool { return strings.HasPrefix(k, keyPrefix) && v != nil })
	mapped := kstreams.MapValues(kept, func(v []byte) []byte { return v })
	mapped.To(output, kstreams.ProducedWith(serde.String(), serde.Bytes()))
	return b.Build()
}

// sourceTopology reads every record and forwards only the records-th one
// it sees (counting across tasks: one stream thread runs them all) to the
// output: the marker the runner waits for. The filter is the cheapest way
// to know that the source has read everything; Bench.java does the same.
func sourceTopology(input, output string, records int64) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	var seen int64
	in := kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	in.Filter(func(string, []byte) bool { seen++; return seen == records }).
		To(output, kstreams.ProducedWith(serde.String(), serde.Bytes()))
	return b.Build()
}

func runSource(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	topo, err := sourceTopology(spec.Input, spec.Output, spec.Records)
	if err != nil {
		return nil, fmt.Errorf("source: topology: %w", err)
	}
	return runApp(ctx, spec, topo)
}

// passthroughTopology is source -> sink.
func passthroughTopology(input, output string) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, input, kstreams.ConsumedWith(serde.String(), serde.Bytes())).
		To(output, kstreams.ProducedWith(serde.String(), serde.Bytes()))
	return b.Build()
}

func runPassthrough(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	topo, err := passthroughTopology(spec.Input, spec.Output)
	if err != nil {
		return nil, fmt.Errorf("passthrough: topology: %w", err)
	}
	return runApp(ctx, spec, topo)
}

func runFilterMap(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	topo, err := filterMapTopology(spec.Input, spec.Output)
	if err != nil {
		return nil, fmt.Errorf("filter-map: topology: %w", err)
	}
	return runApp(ctx, spec, topo)
}

// runApp runs topo as a one-thread kstreams application with the run's
// client settings and state directory, plus extra options, until ctx is
// done, and returns its counters.
func runApp(ctx context.Context, spec RunSpec, topo *kstreams.Topology, extra ...kstreams.Option) (map[string]int64, error) {
	opts, err := appOptions(spec, extra...)
	if err != nil {
		return nil, err
	}
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		return nil, err
	}
	if spec.Client.Metrics == "info" || spec.Client.Metrics == "debug" {
		go scrapeMetrics(ctx, app)
	}
	runErr := app.Run(ctx)
	return appStats(app.Metrics()), runErr
}

// scrapeMetrics reads the app's /metrics every second until ctx is done,
// as a (busy) Prometheus would.
func scrapeMetrics(ctx context.Context, app *kstreams.App) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		addr := app.OpsAddr()
		if addr == "" {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			continue
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

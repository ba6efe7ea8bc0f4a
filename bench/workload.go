package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// A Workload is one application the runner measures: it reads the preloaded
// input topic and writes to a fresh output topic until the runner has seen
// Outputs(n) records there.
//
// Every run of a workload gets a fresh application id (consumer group) and
// a fresh output topic. The runner starts the application, polls the output
// topic's end offsets until they add up to Outputs(n), then stops it: the
// figure is n over the time from start to the last output, so it includes
// start-up and the group join, as a user would see it.
type Workload struct {
	// Name is what the workload does ("copy", "filter-map"). Workloads with
	// the same Name and a different Impl do the same work and are compared.
	Name string
	// Impl is what runs it: "franz-go" (a hand-written client loop, the
	// ceiling), "kstreams", and later "kafka-streams" (Java).
	Impl string
	// About says in one line what is measured.
	About string
	// Ceiling is the key (Name/Impl) of the workload whose rate bounds this
	// one's on the same broker; "" for a ceiling itself.
	Ceiling string
	// Goal is the ratio to Ceiling this workload should reach; 0 for none.
	Goal float64
	// Outputs returns how many output records n input records make. Nil:
	// one per input.
	Outputs func(n int64) int64
	// Marker says the one output is a marker written when the work is
	// done, so time to first output says nothing and is not reported.
	Marker bool
	// Records, if not 0, is how many records one run processes whatever
	// -records is (restore: the changelog's size); records/s counts these.
	Records int64
	// VsJava is the ratio of Go's throughput to Java's this workload
	// should reach; 0 means the default, goalVsJava.
	VsJava float64
	// Setup prepares what a run needs besides the input and output topics
	// (extra topics, state). Nil: nothing.
	Setup func(ctx context.Context, env *Env, spec *RunSpec) error
	// Start launches the application for one run. The runner calls Stop on
	// the handle once all outputs are in.
	Start func(ctx context.Context, spec RunSpec) (Running, error)
}

// Key identifies a workload in -workloads and in Ceiling: "Name/Impl".
func (w *Workload) Key() string { return w.Name + "/" + w.Impl }

// records is how many records a run of w processes when -records is n.
func (w *Workload) records(n int64) int64 {
	if w.Records != 0 {
		return w.Records
	}
	return n
}

func (w *Workload) outputs(n int64) int64 {
	if w.Outputs == nil {
		return n
	}
	return w.Outputs(n)
}

// Running is an application started by Workload.Start.
type Running interface {
	// Done is closed when the application exits by itself, which before
	// Stop is a failure.
	Done() <-chan struct{}
	// Stop asks the application to shut down cleanly (commit, leave the
	// group), waits for it and returns what it reports.
	Stop(ctx context.Context) (AppResult, error)
}

// AppResult is what a stopped application reports.
type AppResult struct {
	// PeakRSS is the process's peak resident set size in bytes; 0 if the
	// application did not run in a process of its own.
	PeakRSS int64
	// CPUSeconds is the user plus system CPU time of the process.
	CPUSeconds float64
	// Stats are the application's own counters (processed, produced,
	// commits), printed with -v.
	Stats map[string]int64
}

// registry holds every workload.
var registry []*Workload

// workloadOrder is the order of the table: the ceiling, then the workloads
// of issue 4 (as in Kafka's former streams benchmark suite), the joins of
// issue 11, then restore and rebalance (issue 12).
// Unlisted names follow in registration order.
var workloadOrder = []string{"copy", "source", "passthrough", "filter-map", "filter-map-avro", "count", "get-put", "table-reduce", "windowed-count", "session-count", "stream-table-join", "stream-stream-join", "table-table-join", "fk-join", "restore", "rebalance"}

// before orders workloads by workloadOrder, then Go before Java.
func before(a, b *Workload) int {
	rank := func(w *Workload) int {
		if i := slices.Index(workloadOrder, w.Name); i >= 0 {
			return i
		}
		return len(workloadOrder)
	}
	if d := rank(a) - rank(b); d != 0 {
		return d
	}
	impl := func(w *Workload) int {
		switch w.Impl {
		case "franz-go":
			return 0
		case implGo:
			return 1
		case implJava:
			return 2
		}
		return 3
	}
	return impl(a) - impl(b)
}

func register(w *Workload) {
	if slices.ContainsFunc(registry, func(o *Workload) bool { return o.Key() == w.Key() }) {
		panic("bench: workload registered twice: " + w.Key())
	}
	registry = append(registry, w)
	slices.SortStableFunc(registry, before)
}

func lookup(key string) *Workload {
	for _, w := range registry {
		if w.Key() == key {
			return w
		}
	}
	return nil
}

// selectWorkloads resolves a -workloads list: each item is a Name (every
// Impl of it) or a Name/Impl key; "all" or "" is every workload. The
// ceilings of the selected workloads are added, so their ratios can be
// computed. The result is in table order.
func selectWorkloads(list string) ([]*Workload, error) {
	want := map[string]bool{}
	if list == "" || list == "all" {
		for _, w := range registry {
			want[w.Key()] = true
		}
	}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" || item == "all" {
			continue
		}
		found := false
		for _, w := range registry {
			if w.Key() == item || w.Name == item {
				want[w.Key()] = true
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("bench: unknown workload %q (see -list)", item)
		}
	}
	for _, w := range registry {
		if want[w.Key()] && w.Ceiling != "" {
			if lookup(w.Ceiling) == nil {
				return nil, fmt.Errorf("bench: workload %s: unknown ceiling %q", w.Key(), w.Ceiling)
			}
			want[w.Ceiling] = true
		}
	}
	var out []*Workload
	for _, w := range registry {
		if want[w.Key()] {
			out = append(out, w)
		}
	}
	return out, nil
}

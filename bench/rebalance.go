package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The rebalance workload measures scaling out: how long after a third
// instance joins two that process a steady input the group is balanced
// with every task processing.
//
// Setup commits the input's end offsets for the application id: the
// preloaded records are not processed. The worker (Go or Java) writes a
// steady trickle itself, one record per input partition every
// rebalanceTick with keys "rb-<partition>-<n mod 100>", and runs the count
// topology (a store with a changelog, no record cache, no sink) in two
// instances of one stream thread each. Once both run and every partition
// is processed, it starts a third instance: rebalance_ms is the time from
// then to the moment all three are running, the third processes, and every
// partition has processed a record since all were running. max_pause_ms
// is the longest time a partition went without a processed record in
// between (a task that moves pauses; one that stays should not). Then the
// worker writes the marker the runner waits for.

// rebalanceTick is the trickle's period per partition.
const rebalanceTick = 10 * time.Millisecond

var rebalanceWorkload = &Workload{
	Name: "rebalance",
	Impl: implGo,
	About: "two count instances process a steady input, a third joins; " +
		"rebalance_ms = time from its start to the group balanced with every task processing",
	Outputs: func(int64) int64 { return 1 },
	Marker:  true,
	Records: 1,
	Setup:   commitInputEnd,
}

// commitInputEnd commits the input's end offsets for the run's
// application id.
func commitInputEnd(ctx context.Context, env *Env, spec *RunSpec) error {
	ends, err := env.Admin.ListEndOffsets(ctx, spec.Input)
	if err == nil {
		err = ends.Error()
	}
	if err == nil {
		err = env.Admin.CommitAllOffsets(ctx, spec.AppID, ends.Offsets())
	}
	if err != nil {
		return fmt.Errorf("rebalance: committing the end offsets of %s for %s: %w", spec.Input, spec.AppID, err)
	}
	return nil
}

// partitionClock records when each partition last had a record processed,
// and the longest pause of each since mark.
type partitionClock struct {
	mu     sync.Mutex
	last   map[int32]time.Time
	pause  time.Duration
	marked bool
}

func (c *partitionClock) peek(k string, _ []byte) {
	p, ok := rebalancePartition(k)
	if !ok {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.last[p]; ok && c.marked {
		c.pause = max(c.pause, now.Sub(last))
	}
	c.last[p] = now
}

// rebalancePartition parses the partition out of a trickle key.
func rebalancePartition(k string) (int32, bool) {
	rest, ok := strings.CutPrefix(k, "rb-")
	if !ok {
		return 0, false
	}
	s, _, _ := strings.Cut(rest, "-")
	n, err := strconv.Atoi(s)
	return int32(n), err == nil
}

// since reports whether every one of n partitions had a record processed
// at t or later.
func (c *partitionClock) since(t time.Time, n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range int32(n) {
		if last, ok := c.last[p]; !ok || last.Before(t) {
			return false
		}
	}
	return true
}

func (c *partitionClock) mark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.marked = true
}

func (c *partitionClock) longest() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pause
}

// trickle writes one record to each of n partitions of topic every
// rebalanceTick until ctx ends.
func trickle(ctx context.Context, cl *kgo.Client, topic string, n int) {
	tick := time.NewTicker(rebalanceTick)
	defer tick.Stop()
	for i := 0; ; i++ {
		for p := range int32(n) {
			k := fmt.Appendf(nil, "rb-%d-%d", p, i%100)
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Key: k, Value: k}, nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func runRebalance(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(spec.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, fmt.Errorf("rebalance: client: %w", err)
	}
	defer cl.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go trickle(runCtx, cl, spec.Input, spec.Partitions)

	clock := &partitionClock{last: map[int32]time.Time{}}
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, spec.Input, kstreams.ConsumedWith(serde.String(), serde.Bytes())).
		Peek(clock.peek).
		GroupByKey().Count(kstreams.Materialized[string, int64]{Name: countStore, Value: serde.Int64()})
	topo, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("rebalance: topology: %w", err)
	}
	var apps []*kstreams.App
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	start := func(name string) error {
		s := spec
		s.StateDir = filepath.Join(spec.StateDir, name)
		opts, err := appOptions(s, kstreams.CacheMaxBytes(0))
		if err != nil {
			return err
		}
		app, err := kstreams.New(topo, opts...)
		if err != nil {
			return err
		}
		apps = append(apps, app)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := app.Run(runCtx); err != nil {
				errs <- fmt.Errorf("rebalance: instance %s: %w", name, err)
			}
		}()
		return nil
	}
	running := func() bool {
		for _, a := range apps {
			if a.State() != kstreams.Running {
				return false
			}
		}
		return true
	}
	wait := func(what string, cond func() bool) error {
		for !cond() {
			select {
			case err := <-errs:
				return err
			case <-ctx.Done():
				return fmt.Errorf("rebalance: waiting for %s: %w", what, ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	}
	var stats map[string]int64
	err = func() error {
		if err := errors.Join(start("a"), start("b")); err != nil {
			return err
		}
		began := time.Now()
		if err := wait("two instances to process", func() bool { return running() && clock.since(began, spec.Partitions) }); err != nil {
			return err
		}
		added := time.Now()
		clock.mark()
		if err := start("c"); err != nil {
			return err
		}
		var all time.Time
		if err := wait("the group to balance", func() bool {
			if !running() || apps[2].Metrics().Processed == 0 {
				all = time.Time{}
				return false
			}
			if all.IsZero() {
				all = time.Now()
			}
			return clock.since(all, spec.Partitions)
		}); err != nil {
			return err
		}
		balanced := time.Now()
		stats = map[string]int64{
			"rebalance_ms": balanced.Sub(added).Milliseconds(),
			"max_pause_ms": clock.longest().Milliseconds(),
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: spec.Output, Key: []byte("balanced"), Value: []byte("1")}).FirstErr(); err != nil {
			return fmt.Errorf("rebalance: writing the marker: %w", err)
		}
		<-ctx.Done()
		return nil
	}()
	cancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		err = errors.Join(err, e)
	}
	var processed int64
	for _, a := range apps {
		processed += a.Metrics().Processed
	}
	if stats == nil {
		stats = map[string]int64{}
	}
	stats["processed"] = processed
	return stats, err
}

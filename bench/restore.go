package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The restore workload measures how fast a fresh instance rebuilds a
// Pebble store from its changelog.
//
// Setup (before the clock starts) runs the count topology without a sink,
// in the runner's process, with the record cache off, over the whole input
// under the run's application id: every input record makes one changelog
// record, so "<app id>-counts-changelog" holds Records records (10,000
// distinct keys, each updated Records/10,000 times; the log cleaner does
// not touch the active segment, so none are compacted away). It then stops
// that instance cleanly (input offsets committed) and deletes its state
// directory, checkpoint included.
//
// The measured application is a fresh instance with the same application
// id and topology: it finds no local state, restores the whole changelog,
// then finds nothing left to process. As soon as its Metrics().Restored
// reaches the changelog's size it writes one marker record to the output
// topic, which is what the runner waits for: the time is from starting the
// process to the store being restored, start-up and group join included,
// and records/s is changelog records per second (the changelog has as many
// records as the input has). The worker also reports restore_ms, from the
// first restore progress event to the last Done one, the restore alone.

// restoreWorkload is registered by stateful.go's init, after count and
// get-put, so that the table lists them in that order.
var restoreWorkload = &Workload{
	Name: "restore",
	Impl: "kstreams",
	About: "a fresh instance restores a count store (Pebble) from a changelog of -records records; " +
		"records/s = changelog records / time to restored (no ceiling: the copy ratio is for scale)",
	Ceiling: "copy/franz-go",
	Outputs: func(int64) int64 { return 1 },
	Setup:   fillChangelog,
}

// changelogTopic is the changelog of the count store of app id.
func changelogTopic(appID string) string { return appID + "-" + countStore + "-changelog" }

// fillChangelog runs the count topology over the input until its changelog
// holds one record per input record, stops it and deletes its state.
func fillChangelog(ctx context.Context, env *Env, spec *RunSpec) error {
	topo, err := countTopology(spec.Input, "")
	if err != nil {
		return fmt.Errorf("restore: topology: %w", err)
	}
	opts, err := statefulOpts(*spec, kstreams.CacheMaxBytes(0))
	if err != nil {
		return err
	}
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()
	changelog := changelogTopic(spec.AppID)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for filled := false; !filled; {
		select {
		case err := <-runErr:
			return fmt.Errorf("restore: filling %s: stopped early: %v", changelog, err)
		case <-runCtx.Done():
			cancel()
			<-runErr
			n, _ := env.endOffsets(context.Background(), changelog)
			return fmt.Errorf("restore: filling %s: %d of %d records: %w", changelog, n, spec.Records, runCtx.Err())
		case <-tick.C:
		}
		if app.Metrics().Processed < spec.Records {
			continue
		}
		n, err := env.endOffsets(runCtx, changelog)
		filled = err == nil && n >= spec.Records
	}
	cancel()
	if err := <-runErr; err != nil {
		return fmt.Errorf("restore: filling %s: %w", changelog, err)
	}
	if err := os.RemoveAll(spec.StateDir); err != nil {
		return fmt.Errorf("restore: deleting the state of the fill: %w", err)
	}
	return nil
}

// restoreClock records the first restore event and the last Done one.
type restoreClock struct {
	mu          sync.Mutex
	first, done time.Time
}

func (c *restoreClock) progress(p kstreams.RestoreProgress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.first.IsZero() {
		c.first = now.Add(-p.Elapsed)
	}
	if p.Done {
		c.done = now
	}
}

func (c *restoreClock) took() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.IsZero() || c.done.IsZero() {
		return 0
	}
	return c.done.Sub(c.first)
}

func runRestore(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(spec.Brokers...), kgo.DefaultProduceTopic(spec.Output))
	if err != nil {
		return nil, fmt.Errorf("restore: client: %w", err)
	}
	defer cl.Close()
	changelog := changelogTopic(spec.AppID)
	offs, err := kadm.NewClient(cl).ListEndOffsets(ctx, changelog)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("restore: end offsets of %s: %w", changelog, err)
	}
	var want int64
	offs.Each(func(o kadm.ListedOffset) { want += o.Offset })

	topo, err := countTopology(spec.Input, "")
	if err != nil {
		return nil, fmt.Errorf("restore: topology: %w", err)
	}
	var clock restoreClock
	opts, err := statefulOpts(spec, kstreams.CacheMaxBytes(0), kstreams.RestoreListener(clock.progress))
	if err != nil {
		return nil, err
	}
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()

	var toRestored time.Duration
	var waitErr error
	tick := time.NewTicker(time.Millisecond)
wait:
	for {
		select {
		case err := <-runErr:
			runErr <- err
			waitErr = fmt.Errorf("restore: stopped after restoring %d of %d records: %v", app.Metrics().Restored, want, err)
			break wait
		case <-ctx.Done():
			break wait
		case <-tick.C:
		}
		if app.Metrics().Restored >= want {
			toRestored = time.Since(start)
			// The marker the runner waits for.
			waitErr = cl.ProduceSync(ctx, &kgo.Record{Key: []byte("restored"), Value: fmt.Appendf(nil, "%d", want)}).FirstErr()
			if waitErr != nil {
				waitErr = fmt.Errorf("restore: writing the marker: %w", waitErr)
			}
			break wait
		}
	}
	tick.Stop()
	if waitErr == nil {
		<-ctx.Done()
	}
	cancel()
	err = <-runErr
	stats := appStats(app.Metrics())
	stats["changelog_records"] = want
	stats["to_restored_ms"] = toRestored.Milliseconds()
	stats["restore_ms"] = clock.took().Milliseconds()
	return stats, errors.Join(waitErr, err)
}

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The restore workload measures how fast a fresh instance rebuilds a
// persistent store from its changelog.
//
// Setup (before the clock starts) writes the changelog of the count
// topology's store, "<app id>-counts-changelog", directly: restoreRecords
// records (10,000 distinct keys, each updated restoreRecords/10,000 times
// with its running count as an 8-byte big-endian long, Kafka's LongSerde
// layout), partitioned by key as the input is (murmur2), so each changelog
// partition holds the keys of its task. The topic is compacted, but the log
// cleaner does not touch the active segment, so none are compacted away.
// Setup also commits the input's end offsets for the application id: the
// measured instance has nothing left to process.
//
// The measured application (Go or Java) is a fresh instance with that
// application id and the count topology: it finds no local state, restores
// the whole changelog, and as soon as it has restored as many records as
// the changelog holds it writes one marker record to the output topic,
// which is what the runner waits for: the time is from starting the process
// to the store being restored, start-up and group join included, and
// records/s is changelog records per second. The Go worker also reports
// restore_ms, from the first restore progress event to the last Done one,
// the restore alone.

// restoreRecords is the size of the changelog to restore (-restore-records).
var restoreRecords int64 = 1_000_000

// restoreWorkload is registered by stateful.go's init; the runner sets its
// Records from -restore-records.
var restoreWorkload = &Workload{
	Name: "restore",
	Impl: "kstreams",
	About: "a fresh instance restores a count store (Pebble) from a changelog of -restore-records records; " +
		"records/s = changelog records / time from start to restored",
	Outputs: func(int64) int64 { return 1 },
	Marker:  true,
	Setup:   fillChangelog,
	VsJava:  2,
}

// changelogTopic is the changelog of the count store of app id.
func changelogTopic(appID string) string { return appID + "-" + countStore + "-changelog" }

// fillChangelog writes spec.Records count updates to the changelog of the
// run's application id and commits the input's end offsets for it.
func fillChangelog(ctx context.Context, env *Env, spec *RunSpec) error {
	changelog := changelogTopic(spec.AppID)
	compact := "compact"
	if err := env.createTopic(ctx, changelog, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return err
	}
	keys, _ := inputData()
	counts := make([]int64, len(keys))
	err := env.produceAll(ctx, changelog, spec.Records, func(i int64) *kgo.Record {
		k := i % int64(len(keys))
		counts[k]++
		return &kgo.Record{Key: keys[k], Value: binary.BigEndian.AppendUint64(nil, uint64(counts[k]))}
	})
	if err != nil {
		return fmt.Errorf("restore: filling %s: %w", changelog, err)
	}
	ends, err := env.Admin.ListEndOffsets(ctx, spec.Input)
	if err == nil {
		err = ends.Error()
	}
	if err == nil {
		err = env.Admin.CommitAllOffsets(ctx, spec.AppID, ends.Offsets())
	}
	if err != nil {
		return fmt.Errorf("restore: committing the end offsets of %s for %s: %w", spec.Input, spec.AppID, err)
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
	opts, err := appOptions(spec, kstreams.CacheMaxBytes(0), kstreams.RestoreListener(clock.progress))
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

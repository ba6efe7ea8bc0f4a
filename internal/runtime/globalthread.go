package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams/state"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globalThread keeps the instance's global stores up to date: a client of
// its own reads every partition of their topics, with no group, into the
// stores the stream tasks read (see DESIGN.md, "Global thread").
type globalThread struct {
	cl     *kgo.Client
	stores map[string]*GlobalStore // by topic
	logger *slog.Logger
	// Restored counts the records applied while restoring.
	restored int64
	// offsets are the next offsets to apply, by topic and partition;
	// checkpoint is the file they are written to for the persistent
	// stores (empty without any), every interval and at close; mu guards
	// offsets, which the checkpoint ticker reads.
	mu         sync.Mutex
	offsets    map[string]map[int32]int64
	checkpoint string
	interval   time.Duration
}

// globalCheckpointFile is the checkpoint of the global stores, in the
// application's state directory, where Kafka Streams keeps its own.
const globalCheckpointFile = "global/.checkpoint"

// newGlobalThread makes the global thread of stores (by name) and restores
// them: it returns once every partition of their topics has been read to
// the end offset it had when restoring began, from the checkpoint for the
// persistent stores. It returns nil without stores. The stores stay the
// caller's to close if it fails.
func (e *Engine) newGlobalThread(ctx context.Context, stores map[string]*GlobalStore) (*globalThread, error) {
	if len(stores) == 0 {
		return nil, nil
	}
	g := &globalThread{
		stores: map[string]*GlobalStore{}, offsets: map[string]map[int32]int64{}, interval: e.cfg.CommitInterval,
		logger: e.cfg.Logger.With("thread", e.cfg.AppID+"-GlobalStreamThread"),
	}
	var topics []string
	persistent := map[string]bool{}
	for _, st := range stores {
		t := st.Spec().Topic
		g.stores[t] = st
		g.offsets[t] = map[int32]int64{}
		topics = append(topics, t)
		persistent[t] = st.Spec().Persistent
		if st.Spec().Persistent {
			g.checkpoint = filepath.Join(e.cfg.StateDir, globalCheckpointFile)
		}
	}
	checkpointed := map[string]map[int32]int64{}
	if g.checkpoint != "" {
		var err error
		if checkpointed, err = state.ReadCheckpoint(g.checkpoint); err != nil {
			return nil, fmt.Errorf("kstreams: global thread: %w", err)
		}
	}
	meta, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.cfg.Brokers...)}, e.cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("kstreams: global thread: client: %w", err)
	}
	// Under exactly-once the global stores hold committed records only:
	// they are restored up to the last stable offset.
	listEnds := kadm.NewClient(meta).ListEndOffsets
	if e.cfg.ExactlyOnce {
		listEnds = kadm.NewClient(meta).ListCommittedOffsets
	}
	ends, err := listEnds(ctx, topics...)
	var starts kadm.ListedOffsets
	if err == nil {
		// Records below the log start offset are gone (retention): a
		// partition whose records all are has nothing to restore, and
		// waiting for them would never end.
		starts, err = kadm.NewClient(meta).ListStartOffsets(ctx, topics...)
	}
	meta.Close()
	if err != nil {
		return nil, fmt.Errorf("kstreams: global thread: start and end offsets of %q: %w", topics, err)
	}
	from := map[string]map[int32]kgo.Offset{}
	type target struct {
		start, end, restored int64
		done                 bool
	}
	pending := map[string]map[int32]*target{} // partitions still to restore
	for _, t := range topics {
		from[t] = map[int32]kgo.Offset{}
		pending[t] = map[int32]*target{}
	}
	var lookErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lookErr = errors.Join(lookErr, fmt.Errorf("topic %q partition %d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		from[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		start := int64(0)
		if off, ok := checkpointed[o.Topic][o.Partition]; ok && persistent[o.Topic] {
			from[o.Topic][o.Partition] = kgo.NewOffset().At(off)
			start = off
			g.offsets[o.Topic][o.Partition] = off
		}
		if ls, ok := starts.Lookup(o.Topic, o.Partition); ok && ls.Err == nil && ls.Offset > start {
			start = ls.Offset
		}
		if o.Offset > start {
			pending[o.Topic][o.Partition] = &target{start: start, end: o.Offset}
		}
	})
	for _, t := range topics {
		if len(from[t]) == 0 {
			lookErr = errors.Join(lookErr, fmt.Errorf("topic %q: %w", t, ErrGlobalTopicMissing))
		}
	}
	if lookErr != nil {
		return nil, fmt.Errorf("kstreams: global thread: %w", lookErr)
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(e.cfg.Brokers...), kgo.ConsumePartitions(from),
		kgo.ClientID(e.cfg.AppID + "-global"),
		// Transaction markers count as read: a partition whose last
		// offsets are markers is restored once they are reached.
		kgo.KeepControlRecords()}, e.cfg.ClientOpts...)
	opts = append(opts, isolation(e.cfg)...)
	if g.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kstreams: global thread: client: %w", err)
	}
	left := 0
	for _, ps := range pending {
		left += len(ps)
	}
	began := time.Now()
	report := e.sensors.globalRestoreListener(e.cfg.Logger, e.cfg.AppID+"-GlobalStreamThread", e.cfg.RestoreListener)
	for left > 0 {
		fs := g.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			g.cl.Close()
			return nil, fmt.Errorf("kstreams: global thread: restoring: %w", err)
		}
		touched := map[topicPartition]*target{}
		err := g.apply(fs, true, func(rec *kgo.Record) {
			g.restored++
			tg, ok := pending[rec.Topic][rec.Partition]
			if !ok {
				return
			}
			tg.restored++
			touched[topicPartition{rec.Topic, rec.Partition}] = tg
			if rec.Offset+1 >= tg.end {
				delete(pending[rec.Topic], rec.Partition)
				left--
				tg.done = true
			}
		})
		if err != nil {
			g.cl.Close()
			return nil, fmt.Errorf("kstreams: global thread: restoring: %w", err)
		}
		// Each partition's progress after the batch, for the restore
		// metrics, the logs and the user's listener.
		for tp, tg := range touched {
			report(RestoreProgress{
				Store: g.stores[tp.topic].Spec().Name, Topic: tp.topic, Partition: tp.partition,
				Restored: tg.restored, Total: tg.end - tg.start, Elapsed: time.Since(began), Done: tg.done,
			})
		}
	}
	if err := g.writeCheckpoint(); err != nil {
		g.cl.Close()
		return nil, err
	}
	g.logger.Info("kstreams: global stores restored", "records", g.restored, "topics", topics)
	return g, nil
}

// ErrGlobalTopicMissing reports that the topic of a global table does not
// exist.
var ErrGlobalTopicMissing = errors.New("kstreams: the topic of a global table does not exist")

// apply writes the records of fs to their stores (control records, which
// are not data, are only passed to each), calling each after a record;
// fetch errors are logged (the client retries). It stops at the first
// error of a store.
func (g *globalThread) apply(fs kgo.Fetches, restoring bool, each func(*kgo.Record)) error {
	fs.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			g.logger.Warn("kstreams: global thread: fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	var err error
	fs.EachRecord(func(rec *kgo.Record) {
		if err != nil {
			return
		}
		if st := g.stores[rec.Topic]; st != nil && !rec.Attrs.IsControl() {
			if _, err = st.Update(GlobalRecord{
				Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
				Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp.UnixMilli(), Headers: rec.Headers,
			}, restoring); err != nil {
				return
			}
		}
		if ps := g.offsets[rec.Topic]; ps != nil {
			g.mu.Lock()
			ps[rec.Partition] = rec.Offset + 1
			g.mu.Unlock()
		}
		if each != nil {
			each(rec)
		}
	})
	return err
}

// writeCheckpoint flushes the persistent stores and writes the offsets
// they have applied to the checkpoint file, if there are any.
func (g *globalThread) writeCheckpoint() error {
	if g.checkpoint == "" {
		return nil
	}
	// The offsets are taken before the flush: every record below them is
	// in the stores when they are flushed.
	offsets := map[string]map[int32]int64{}
	g.mu.Lock()
	for t, st := range g.stores {
		if st.Spec().Persistent && len(g.offsets[t]) > 0 {
			offsets[t] = maps.Clone(g.offsets[t])
		}
	}
	g.mu.Unlock()
	for t := range offsets {
		if err := g.stores[t].bs.Flush(); err != nil {
			return fmt.Errorf("kstreams: global store %q: flush: %w", g.stores[t].Spec().Name, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(g.checkpoint), 0o755); err != nil {
		return fmt.Errorf("kstreams: global thread: %w", err)
	}
	if err := state.WriteCheckpoint(g.checkpoint, offsets); err != nil {
		return fmt.Errorf("kstreams: global thread: %w", err)
	}
	return nil
}

// run keeps the stores up to date until ctx ends or a store fails,
// checkpointing the persistent stores every interval (on a goroutine of its
// own), then closes the client; the engine writes the last checkpoint once
// it has returned.
func (g *globalThread) run(ctx context.Context) error {
	defer g.cl.Close()
	if g.checkpoint != "" {
		tickerDone := make(chan struct{})
		defer func() { <-tickerDone }()
		tickCtx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			defer close(tickerDone)
			tick := time.NewTicker(max(g.interval, time.Millisecond))
			defer tick.Stop()
			for {
				select {
				case <-tickCtx.Done():
					return
				case <-tick.C:
					if err := g.writeCheckpoint(); err != nil {
						g.logger.Warn("kstreams: global thread: checkpoint", "err", err)
					}
				}
			}
		}()
	}
	for ctx.Err() == nil {
		if err := g.apply(g.cl.PollFetches(ctx), false, nil); err != nil {
			g.logger.Error("kstreams: global thread stopped", "err", err)
			return err
		}
	}
	return nil
}

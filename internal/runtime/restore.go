package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RestoreProgress reports the restoration of one store partition from its
// changelog.
type RestoreProgress struct {
	Store     string
	Topic     string
	Partition int32
	// Restored counts the records applied so far; Total is the number of
	// offsets to restore (an upper bound: compaction removes some).
	Restored, Total int64
	Elapsed         time.Duration
	Done            bool
}

// restoreTarget is one changelog partition being restored.
type restoreTarget struct {
	cl       *Changelog
	end      int64
	start    int64
	restored int64
	done     bool
	began    time.Time
}

// restorer reads changelog partitions with a client of its own, outside the
// consumer group: those of the active tasks that are restoring, a bounded
// batch at a time between the thread's processing (step), and those of the
// standby tasks, for as long as they are assigned.
type restorer struct {
	cl       *kgo.Client
	adm      *kadm.Client
	listener func(RestoreProgress)
	counters *Counters
	// eos: the changelogs are read committed only, up to their last
	// stable offsets, with transaction markers kept (see apply).
	eos bool
	// standby are the changelog partitions kept up to date for standby
	// tasks.
	standby map[topicPartition]*Changelog
	// active are the changelog partitions of restoring active tasks.
	active map[topicPartition]*restoreTarget
}

func newRestorer(cfg Config, counters *Counters) (*restorer, error) {
	// Changelog records are small and many: with franz-go's 1 MiB per
	// partition, one buffered fetch decodes to ~40,000 records per
	// partition (~200 B each in memory), which made a 1M-record restore
	// peak at ~130 MiB RSS. 256 KiB fetches bring that to ~90 MiB for a few
	// percent of restore speed. The application's own client options come
	// after, so an explicit FetchMaxPartitionBytes still wins.
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.FetchMaxPartitionBytes(256 << 10)}, cfg.ClientOpts...)
	if cfg.ExactlyOnce {
		// Transaction markers are kept: a changelog whose last offsets
		// before the end are markers is restored once they are read.
		opts = append(opts, kgo.KeepControlRecords())
	}
	cl, err := kgo.NewClient(append(opts, isolation(cfg)...)...)
	if err != nil {
		return nil, fmt.Errorf("kstreams: restore client: %w", err)
	}
	return &restorer{cl: cl, adm: kadm.NewClient(cl), listener: cfg.RestoreListener, counters: counters, eos: cfg.ExactlyOnce,
		standby: map[topicPartition]*Changelog{}, active: map[topicPartition]*restoreTarget{}}, nil
}

func (r *restorer) close() { r.cl.Close() }

// errRestoreBroker wraps the brokers' errors met while restoring (as
// opposed to the stores'): the restore can be tried again.
var errRestoreBroker = errors.New("kstreams: restoring")

// begin starts restoring the changelogs of task t. It reports whether
// they are complete already (nothing to read).
func (r *restorer) begin(ctx context.Context, t *Task) (bool, error) {
	targets, err := r.targets(ctx, t.Changelogs())
	if err != nil || len(targets) == 0 {
		return err == nil, err
	}
	offsets := map[string]map[int32]kgo.Offset{}
	now := time.Now()
	for tp, tg := range targets {
		tg.began = now
		r.active[tp] = tg
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = map[int32]kgo.Offset{}
		}
		offsets[tp.topic][tp.partition] = kgo.NewOffset().At(tg.start)
		if tg.start < 0 {
			offsets[tp.topic][tp.partition] = kgo.NewOffset().AtStart()
		}
	}
	r.cl.AddConsumePartitions(offsets)
	return false, nil
}

// cancel stops restoring task t (revoked or closed while restoring).
func (r *restorer) cancel(t *Task) {
	parts := map[string][]int32{}
	for tp, tg := range r.active {
		if tg.cl.task == t {
			delete(r.active, tp)
			parts[tp.topic] = append(parts[tp.topic], tp.partition)
		}
	}
	if len(parts) > 0 {
		r.cl.RemoveConsumePartitions(parts)
	}
}

// restoreBatch bounds the records one poll of step applies, and
// restoreBudget the time one step spends: the other tasks of the thread
// process between steps.
const (
	restoreBatch  = 10_000
	restoreBudget = 20 * time.Millisecond
)

// step applies what has been fetched for restoring and standby tasks,
// without waiting for more, for at most restoreBudget. It returns the
// restoring tasks whose changelogs are all complete now.
func (r *restorer) step() ([]*Task, error) {
	if len(r.active) == 0 && len(r.standby) == 0 {
		return nil, nil
	}
	deadline := time.Now().Add(restoreBudget)
	finished := map[*Task]bool{}
	for {
		fetches := r.cl.PollRecords(nil, restoreBatch) //nolint:staticcheck // a nil context returns what is buffered
		if fetches.Empty() {
			break
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if r.active[topicPartition{t, p}] != nil {
				ferr = errors.Join(ferr, fmt.Errorf("changelog %q partition %d: %w", t, p, err))
			}
		})
		if ferr != nil {
			return nil, fmt.Errorf("%w: %w", errRestoreBroker, ferr)
		}
		var aerr error
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if aerr != nil {
				return
			}
			tp := topicPartition{fp.Topic, fp.Partition}
			if c := r.standby[tp]; c != nil {
				if aerr = r.applyStandby(c, fp.Records); aerr == nil {
					end := fp.HighWatermark
					if r.eos {
						end = fp.LastStableOffset
					}
					c.noteEnd(end)
				}
				return
			}
			if t := r.active[tp]; t != nil && !t.done {
				aerr = r.apply(t, fp.Records)
				if t.done {
					finished[t.cl.task] = true
				}
			}
		})
		if aerr != nil {
			return nil, aerr
		}
		if time.Now().After(deadline) {
			break
		}
	}
	var done []*Task
	for t := range finished {
		if r.complete(t) {
			done = append(done, t)
		}
	}
	return done, nil
}

// complete reports whether every changelog of task t is restored; if so
// it stops reading them.
func (r *restorer) complete(t *Task) bool {
	for _, tg := range r.active {
		if tg.cl.task == t && !tg.done {
			return false
		}
	}
	r.cancel(t)
	return true
}

// targets finds each changelog's end offset and drops those already there.
// A checkpoint past the end (a recreated changelog) wipes the store.
func (r *restorer) targets(ctx context.Context, cls []*Changelog) (map[topicPartition]*restoreTarget, error) {
	var topics []string
	for _, c := range cls {
		topics = append(topics, c.Topic)
	}
	ends, err := r.endOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("%w: listing changelog end offsets: %w", errRestoreBroker, err)
	}
	targets := map[topicPartition]*restoreTarget{}
	for _, c := range cls {
		lo, ok := ends.Lookup(c.Topic, c.Partition)
		if !ok || lo.Err != nil {
			return nil, fmt.Errorf("%w: changelog %q partition %d: end offset: %w", errRestoreBroker, c.Topic, c.Partition, errors.Join(lo.Err, errIf(!ok, "not found")))
		}
		if c.From > lo.Offset {
			if err := c.Reset(); err != nil {
				return nil, err
			}
		}
		if c.From >= lo.Offset || lo.Offset == 0 {
			c.Restored(lo.Offset)
			continue
		}
		targets[topicPartition{c.Topic, c.Partition}] = &restoreTarget{cl: c, end: lo.Offset, start: c.From}
	}
	return targets, nil
}

// endOffsets lists the offsets a restore reads up to: the end of each
// partition, or under exactly-once its last stable offset (what follows
// belongs to transactions still open, committed or aborted later).
func (r *restorer) endOffsets(ctx context.Context, topics ...string) (kadm.ListedOffsets, error) {
	if r.eos {
		return r.adm.ListCommittedOffsets(ctx, topics...)
	}
	return r.adm.ListEndOffsets(ctx, topics...)
}

func errIf(cond bool, msg string) error {
	if cond {
		return errors.New(msg)
	}
	return nil
}

func (r *restorer) apply(t *restoreTarget, recs []*kgo.Record) error {
	n := 0
	for n < len(recs) && recs[n].Offset < t.end {
		if recs[n].Offset+1 >= t.end {
			t.done = true
		}
		n++
	}
	if n == 0 {
		return nil
	}
	data := dataRecords(recs[:n])
	if err := t.cl.RestoreAll(data); err != nil {
		return err
	}
	t.restored += int64(len(data))
	r.counters.Restored.Add(int64(len(data)))
	// The store holds every update before the next offset: a task
	// closed while restoring checkpoints what it has.
	t.cl.Restored(recs[n-1].Offset + 1)
	if t.done {
		t.cl.Restored(t.end)
	}
	if r.listener != nil {
		total := t.end - max(t.start, 0)
		r.listener(RestoreProgress{
			Store: t.cl.StoreName(), Topic: t.cl.Topic, Partition: t.cl.Partition,
			Restored: t.restored, Total: total, Elapsed: time.Since(t.began), Done: t.done,
		})
	}
	return nil
}

// addStandby starts following the changelogs of a standby task.
func (r *restorer) addStandby(cls []*Changelog) {
	offsets := map[string]map[int32]kgo.Offset{}
	for _, c := range cls {
		r.standby[topicPartition{c.Topic, c.Partition}] = c
		if offsets[c.Topic] == nil {
			offsets[c.Topic] = map[int32]kgo.Offset{}
		}
		offsets[c.Topic][c.Partition] = kgo.NewOffset().AtStart()
		if c.From >= 0 {
			offsets[c.Topic][c.Partition] = kgo.NewOffset().At(c.From)
		}
	}
	r.cl.AddConsumePartitions(offsets)
	// The end offsets give the standbys a lag before anything is fetched
	// (an idle changelog fetches nothing); queries on standbys need it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if ends, err := r.endOffsets(ctx, slices.Collect(maps.Keys(offsets))...); err == nil {
		for _, c := range cls {
			if lo, ok := ends.Lookup(c.Topic, c.Partition); ok && lo.Err == nil {
				c.noteEnd(lo.Offset)
			}
		}
	}
}

// removeStandby stops following the changelogs of a standby task.
func (r *restorer) removeStandby(cls []*Changelog) {
	parts := map[string][]int32{}
	for _, c := range cls {
		delete(r.standby, topicPartition{c.Topic, c.Partition})
		parts[c.Topic] = append(parts[c.Topic], c.Partition)
	}
	r.cl.RemoveConsumePartitions(parts)
}

func (r *restorer) applyStandby(c *Changelog, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	data := dataRecords(recs)
	if err := c.RestoreAll(data); err != nil {
		return err
	}
	c.Restored(recs[len(recs)-1].Offset + 1)
	r.counters.StandbyUpdates.Add(int64(len(data)))
	return nil
}

// dataRecords returns recs without transaction markers (kept under
// exactly-once for their offsets only), in recs' own array when there are
// none.
func dataRecords(recs []*kgo.Record) []*kgo.Record {
	i := slices.IndexFunc(recs, func(r *kgo.Record) bool { return r.Attrs.IsControl() })
	if i < 0 {
		return recs
	}
	out := slices.Clone(recs[:i])
	for _, r := range recs[i:] {
		if !r.Attrs.IsControl() {
			out = append(out, r)
		}
	}
	return out
}

// isolation returns the fetch isolation of every consumer of the
// application: read committed under exactly-once.
func isolation(cfg Config) []kgo.Opt {
	if cfg.ExactlyOnce {
		return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}
	}
	return nil
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
}

// newGlobalThread makes the global thread of stores (by name) and restores
// them: it returns once every partition of their topics has been read to
// the end offset it had when restoring began. It returns nil without
// stores.
func (e *Engine) newGlobalThread(ctx context.Context, stores map[string]*GlobalStore) (*globalThread, error) {
	if len(stores) == 0 {
		return nil, nil
	}
	g := &globalThread{stores: map[string]*GlobalStore{}, logger: e.cfg.Logger.With("thread", e.cfg.AppID+"-GlobalStreamThread")}
	var topics []string
	for _, st := range stores {
		g.stores[st.Spec().Topic] = st
		topics = append(topics, st.Spec().Topic)
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
	meta.Close()
	if err != nil {
		return nil, fmt.Errorf("kstreams: global thread: end offsets of %q: %w", topics, err)
	}
	from := map[string]map[int32]kgo.Offset{}
	pending := map[string]map[int32]int64{} // partitions still to restore: end offset
	for _, t := range topics {
		from[t] = map[int32]kgo.Offset{}
		pending[t] = map[int32]int64{}
	}
	var lookErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lookErr = errors.Join(lookErr, fmt.Errorf("topic %q partition %d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		from[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		if o.Offset > 0 {
			pending[o.Topic][o.Partition] = o.Offset
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
	for left > 0 {
		fs := g.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			g.cl.Close()
			return nil, fmt.Errorf("kstreams: global thread: restoring: %w", err)
		}
		g.apply(fs, func(rec *kgo.Record) {
			g.restored++
			if end, ok := pending[rec.Topic][rec.Partition]; ok && rec.Offset+1 >= end {
				delete(pending[rec.Topic], rec.Partition)
				left--
			}
		})
	}
	g.logger.Info("kstreams: global stores restored", "records", g.restored, "topics", topics)
	return g, nil
}

// ErrGlobalTopicMissing reports that the topic of a global table does not
// exist.
var ErrGlobalTopicMissing = errors.New("kstreams: the topic of a global table does not exist")

// apply writes the records of fs to their stores (control records, which
// are not data, are only passed to each), calling each after a record;
// fetch errors are logged (the client retries).
func (g *globalThread) apply(fs kgo.Fetches, each func(*kgo.Record)) {
	fs.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) {
			g.logger.Warn("kstreams: global thread: fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	fs.EachRecord(func(rec *kgo.Record) {
		if st := g.stores[rec.Topic]; st != nil && !rec.Attrs.IsControl() {
			st.Apply(rec.Key, rec.Value, rec.Timestamp.UnixMilli())
		}
		if each != nil {
			each(rec)
		}
	})
}

// run keeps the stores up to date until ctx ends, then closes the client.
func (g *globalThread) run(ctx context.Context) {
	defer g.cl.Close()
	for ctx.Err() == nil {
		g.apply(g.cl.PollFetches(ctx), nil)
	}
}

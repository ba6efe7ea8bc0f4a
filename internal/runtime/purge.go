package runtime

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// purger deletes the records of repartition topics below the offsets the
// thread committed, as Kafka Streams does every repartition.purge.interval.ms:
// once committed, no owner of the task will read them again. One deletion
// runs at a time, on its own goroutine, so a slow broker never holds the
// thread; a failed one is retried at the next commit after the interval.
// The committed offsets not yet deleted below are kept (owed), so that the
// last commit before the input goes quiet is purged too, one interval
// later, as Kafka Streams purges on its own schedule and not only at a
// commit.
type purger struct {
	topics   map[string]bool
	interval time.Duration
	last     time.Time
	owed     map[string]map[int32]int64 // thread goroutine only
	running  atomic.Bool
	// purged counts the partitions whose records were deleted.
	purged atomic.Int64
}

func newPurger(e *Engine) *purger {
	p := &purger{topics: map[string]bool{}, interval: e.cfg.PurgeInterval}
	for _, st := range e.plan.Subtopologies {
		for _, t := range st.Sources {
			if t.Internal {
				p.topics[t.Resolve(e.cfg.AppID)] = true
			}
		}
	}
	return p
}

// afterCommit notes the committed offsets of repartition topics (none when
// the thread had nothing new to commit) and starts deleting below every
// offset owed, if the interval has passed and no deletion runs.
func (p *purger) afterCommit(th *thread, offsets map[string]map[int32]kgo.EpochOffset) {
	if len(p.topics) == 0 || p.interval <= 0 {
		return
	}
	for topic, parts := range offsets {
		if !p.topics[topic] {
			continue
		}
		for part, eo := range parts {
			if p.owed == nil {
				p.owed = map[string]map[int32]int64{}
			}
			if p.owed[topic] == nil {
				p.owed[topic] = map[int32]int64{}
			}
			p.owed[topic][part] = eo.Offset
		}
	}
	if len(p.owed) == 0 || time.Since(p.last) < p.interval || p.running.Load() {
		return
	}
	var del kadm.Offsets
	for topic, parts := range p.owed {
		for part, off := range parts {
			del.AddOffset(topic, part, off, -1)
		}
	}
	// A failed deletion is logged and retried with the offsets of the
	// next commit (deleting below a later offset covers it).
	p.owed = nil
	p.last = time.Now()
	p.running.Store(true)
	timeout := th.requestTimeout()
	adm := kadm.NewClient(th.cl)
	logger := th.e.cfg.Logger
	go func() {
		defer p.running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		resps, err := adm.DeleteRecords(ctx, del)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			logger.Debug("kstreams: purging repartition topics failed; retrying after the next commit", "error", err)
			return
		}
		p.purged.Add(int64(len(resps)))
	}()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	registerGo(&Workload{
		Name: "copy",
		Impl: "franz-go",
		About: "the ceiling: a franz-go consume-then-produce loop doing a streams app's I/O " +
			"(group member, one client, produce each record by key, flush and commit every commit interval)",
	}, runCopy)
}

// runCopy is the ceiling for a streams app on this broker: the I/O that
// kstreams does for a stateless topology, written by hand against franz-go
// with nothing in between. One client is the group member and the
// producer, as in a kstreams stream thread; it polls like one (at most
// MaxPollRecords, a 100ms poll bound, rebalances blocked while records are
// handled), produces every record to the output topic with the same key,
// value, timestamp and headers through the same key partitioner, and every
// CommitInterval flushes the producer and then commits the polled offsets
// (at-least-once, as kstreams).
func runCopy(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	c := &copier{spec: spec}
	opts, err := spec.Client.appOpts()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.SeedBrokers(spec.Brokers...),
		kgo.ConsumerGroup(spec.AppID),
		kgo.ConsumeTopics(spec.Input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.OnPartitionsRevoked(c.onRevoked),
	)
	if c.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("copy: client: %w", err)
	}
	runErr := c.loop(ctx)
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if runErr == nil {
		runErr = c.commit(closeCtx)
	}
	c.cl.Close()
	return c.stats(), runErr
}

type copier struct {
	spec     RunSpec
	cl       *kgo.Client
	polled   atomic.Int64
	produced atomic.Int64
	commits  atomic.Int64

	mu      sync.Mutex
	prodErr error
}

func (c *copier) loop(ctx context.Context) error {
	last := time.Now()
	for ctx.Err() == nil {
		pollCtx, cancel := context.WithTimeout(ctx, min(100*time.Millisecond, c.spec.Client.CommitInterval))
		fetches := c.cl.PollRecords(pollCtx, c.spec.Client.MaxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			return errors.New("copy: client closed")
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = fmt.Errorf("copy: fetching %s[%d]: %w", topic, p, err)
			}
		})
		fetches.EachRecord(c.send)
		c.polled.Add(int64(fetches.NumRecords()))
		var err error
		if ferr == nil && time.Since(last) >= c.spec.Client.CommitInterval {
			last = time.Now()
			if err = c.commit(ctx); ctx.Err() != nil {
				err = nil // cut short by the stop; the final commit follows
			}
		}
		c.cl.AllowRebalance()
		if err = errors.Join(ferr, err, c.producerError()); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) send(r *kgo.Record) {
	out := &kgo.Record{Topic: c.spec.Output, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers}
	c.cl.Produce(context.Background(), out, c.produced1)
}

func (c *copier) produced1(_ *kgo.Record, err error) {
	if err == nil {
		c.produced.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prodErr == nil {
		c.prodErr = fmt.Errorf("copy: producing: %w", err)
	}
}

func (c *copier) producerError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prodErr
}

// commit flushes the producer, then commits what was polled: every polled
// record has been handed to the producer, so once the flush is done its
// output is on the broker.
func (c *copier) commit(ctx context.Context) error {
	if err := c.cl.Flush(ctx); err != nil {
		return fmt.Errorf("copy: flushing: %w", err)
	}
	if err := c.producerError(); err != nil {
		return err
	}
	if len(c.cl.UncommittedOffsets()) == 0 {
		return nil
	}
	if err := c.cl.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("copy: committing: %w", err)
	}
	c.commits.Add(1)
	return nil
}

func (c *copier) onRevoked(ctx context.Context, _ *kgo.Client, _ map[string][]int32) {
	_ = c.commit(ctx) // after the final commit of a clean stop, a no-op
}

func (c *copier) stats() map[string]int64 {
	return map[string]int64{"polled": c.polled.Load(), "produced": c.produced.Load(), "commits": c.commits.Load()}
}

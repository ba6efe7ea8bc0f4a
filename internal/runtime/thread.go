package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type topicPartition struct {
	topic     string
	partition int32
}

type sendKindKey struct{}

// kindCtx holds, per SendKind, the context its records carry, so that the
// promise and the partitioner know what a record is without allocating.
var kindCtx = [...]context.Context{
	SendOutput:     context.WithValue(context.Background(), sendKindKey{}, SendOutput),
	SendDeadLetter: context.WithValue(context.Background(), sendKindKey{}, SendDeadLetter),
	SendChangelog:  context.WithValue(context.Background(), sendKindKey{}, SendChangelog),
}

func kindOf(rec *kgo.Record) SendKind {
	if rec.Context == nil {
		return SendOutput
	}
	k, _ := rec.Context.Value(sendKindKey{}).(SendKind)
	return k
}

// thread is a stream thread: one goroutine, one franz-go client that is both
// the group member and the producer, and the tasks it was assigned.
//
// The goroutine running run owns the tasks. The group callbacks run on
// franz-go's goroutine, but BlockRebalanceOnPoll makes them wait until run
// calls AllowRebalance, and polls wait while they run; mu makes that
// hand-over explicit.
type thread struct {
	e        *Engine
	id       int
	cl       *kgo.Client
	bal      *assign.Balancer
	counters *Counters
	restorer *restorer

	mu         sync.Mutex
	tasks      []*Task
	standbys   map[processor.TaskID]*Task
	byPart     map[topicPartition]*Task
	fatal      error
	lastCommit time.Time

	prodMu  sync.Mutex
	prodErr error
}

func newThread(e *Engine, id int) (*thread, error) {
	th := &thread{e: e, id: id, byPart: map[topicPartition]*Task{}, standbys: map[processor.TaskID]*Task{}, counters: e.newCounters()}
	th.bal = assign.NewBalancer(e.subs, assign.Subscription{Process: e.process}, e.cfg.Standbys)
	var topics []string
	for _, s := range e.subs {
		topics = append(topics, s.Topics...)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(e.cfg.Brokers...),
		kgo.ClientID(fmt.Sprintf("%s-%s-StreamThread-%d", e.cfg.AppID, e.process, id+1)),
		kgo.ConsumerGroup(e.cfg.AppID),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(th.bal),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(th.onAssigned),
		kgo.OnPartitionsRevoked(th.onRevoked),
		kgo.OnPartitionsLost(th.onLost),
		kgo.RecordPartitioner(partitioner{kgo.StickyKeyPartitioner(nil)}),
	}
	if e.cfg.ThreadClientOpts != nil {
		opts = append(opts, e.cfg.ThreadClientOpts(e.ThreadID(id))...)
	}
	restorer, err := newRestorer(e.cfg, th.counters)
	if err != nil {
		return nil, err
	}
	// The group may call back as soon as the client exists; the callbacks
	// take th.mu, so they wait until the thread is complete.
	th.mu.Lock()
	defer th.mu.Unlock()
	th.restorer = restorer
	cl, err := kgo.NewClient(append(opts, e.cfg.ClientOpts...)...)
	if err != nil {
		restorer.close()
		return nil, fmt.Errorf("kstreams: thread %d: client: %w", id+1, err)
	}
	th.cl = cl
	return th, nil
}

func (th *thread) run(ctx context.Context) error {
	th.e.threadRebalancing(th.id, true)
	th.lastCommit = time.Now()
	// The producer id is loaded lazily at the first record; loading it
	// while the group forms takes a round trip off the first output.
	// Failures are the producer's to report when it produces.
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, _, _ = th.cl.ProducerID(wctx)
	}()
	for {
		if ctx.Err() != nil {
			return th.shutdown()
		}
		pollCtx, cancel := context.WithTimeout(ctx, th.pollWait())
		fetches := th.cl.PollRecords(pollCtx, th.e.cfg.MaxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			return th.fatalErr()
		}
		err := th.handle(ctx, fetches)
		th.cl.AllowRebalance()
		if err != nil {
			th.abort()
			return err
		}
	}
}

// pollWait bounds a poll so that wall-clock punctuators and commits are not
// held up by an idle input.
func (th *thread) pollWait() time.Duration {
	return min(100*time.Millisecond, th.e.cfg.CommitInterval)
}

func (th *thread) handle(ctx context.Context, fetches kgo.Fetches) error {
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.fatal != nil {
		return th.fatal
	}
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			th.e.cfg.Logger.Warn("kstreams: fetch error", "topic", topic, "partition", p, "error", err)
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		if t := th.byPart[topicPartition{r.Topic, r.Partition}]; t != nil {
			t.Add(r)
		}
	})
	if err := th.restorer.pollStandby(); err != nil {
		return err
	}
	for _, t := range th.tasks {
		for t.Buffered() {
			if _, err := t.Process(1000); err != nil {
				return err
			}
		}
		if err := t.PunctuateWallClock(); err != nil {
			return err
		}
	}
	if err := th.producerError(); err != nil {
		return err
	}
	if time.Since(th.lastCommit) >= th.e.cfg.CommitInterval {
		// A commit cut short by the application stopping is no failure:
		// shutdown commits again, with a context of its own.
		if err := th.commitLocked(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// commitLocked flushes everything produced so far, then commits the offsets
// of the records processed: outputs are on the broker before the inputs
// that caused them are marked done (at-least-once).
func (th *thread) commitLocked(ctx context.Context) error {
	th.lastCommit = time.Now()
	// A failed task with stores is left out: its caches may hold part of
	// the record that failed, so neither its state nor its offsets are
	// committed. A failed stateless task commits the records before the
	// one that failed.
	healthy := make([]*Task, 0, len(th.tasks))
	for _, t := range th.tasks {
		if t.Err() == nil || len(t.stores) == 0 {
			healthy = append(healthy, t)
		}
	}
	for _, t := range healthy {
		if err := t.FlushCaches(); err != nil {
			return err
		}
	}
	if err := th.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kstreams: flushing the producer: %w", err)
	}
	if err := th.producerError(); err != nil {
		return err
	}
	for _, t := range healthy {
		if err := t.Checkpoint(); err != nil {
			return err
		}
	}
	for _, t := range th.standbys {
		if err := t.Checkpoint(); err != nil {
			return err
		}
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	any := false
	for _, t := range healthy {
		any = t.Offsets(offsets) || any
	}
	if !any {
		return nil
	}
	if err := commitSync(ctx, th.cl, offsets); err != nil {
		return err
	}
	for _, t := range healthy {
		t.Committed()
	}
	th.counters.Commits.Add(1)
	return nil
}

func commitSync(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var cerr error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("topic %q partition %d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("kstreams: committing offsets: %w", cerr)
	}
	return nil
}

// Send implements Collector: it produces asynchronously; the promise applies
// the production-error policy.
func (th *thread) Send(rec *kgo.Record, kind SendKind) {
	th.cl.Produce(kindCtx[kind], rec, th.produced)
}

func (th *thread) produced(rec *kgo.Record, err error) {
	if err == nil {
		th.counters.Produced.Add(1)
		return
	}
	th.counters.ProduceFailed.Add(1)
	perr := &ProduceError{Topic: rec.Topic, Partition: rec.Partition, Err: err}
	policy := th.e.cfg.OnProduceError
	if kindOf(rec) != SendOutput {
		policy = Policy{Kind: PolicyFail}
	}
	switch policy.Kind {
	case PolicySkip:
		th.counters.Skipped.Add(1)
		th.e.cfg.Logger.Warn("kstreams: skipping record the producer could not send", "error", perr.Error())
	case PolicyDeadLetter:
		th.counters.DeadLettered.Add(1)
		re := &RecordError{Topic: rec.Topic, Partition: rec.Partition, Offset: -1, Stage: "producing", Err: err}
		th.cl.TryProduce(kindCtx[SendDeadLetter], DeadLetterRecord(rec, policy.Topic, re), th.produced)
	default:
		th.setProducerError(perr)
	}
}

func (th *thread) setProducerError(err error) {
	th.prodMu.Lock()
	defer th.prodMu.Unlock()
	if th.prodErr == nil {
		th.prodErr = err
	}
}

func (th *thread) producerError() error {
	th.prodMu.Lock()
	defer th.prodMu.Unlock()
	return th.prodErr
}

func (th *thread) collectorFor() TaskConfig {
	return TaskConfig{
		AppID:         th.e.cfg.AppID,
		StateDir:      th.e.cfg.StateDir,
		CacheMaxBytes: th.e.cfg.CacheMaxBytes,
		Pebble:        &th.e.cfg.Pebble,
		Registry:      &th.e.registry,
		Extractor:     th.e.cfg.Extractor,
		OnBadRecord:   th.e.cfg.OnBadRecord,
		Collector:     th,
		Clock:         SystemClock{},
		Counters:      th.counters,
		Logger:        th.e.cfg.Logger.With("thread", th.e.ThreadID(th.id)),
		Debug:         th.e.cfg.Debug,
	}
}

func (th *thread) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.counters.Rebalances.Add(1)
	active := map[processor.TaskID]bool{}
	for topic, parts := range assigned {
		if st := th.e.plan.subtopologyOfResolved(topic, th.e.cfg.AppID); st != nil {
			for _, p := range parts {
				active[processor.TaskID{Subtopology: st.ID, Partition: p}] = true
			}
		}
	}
	wanted := map[processor.TaskID]bool{}
	for _, t := range th.bal.Last().Standby {
		if id := (processor.TaskID{Subtopology: t.Subtopology, Partition: t.Partition}); !active[id] {
			wanted[id] = true
		}
	}
	th.dropStandbysLocked(wanted)
	var created []*Task
	for topic, parts := range assigned {
		st := th.e.plan.subtopologyOfResolved(topic, th.e.cfg.AppID)
		if st == nil {
			continue
		}
		for _, p := range parts {
			t, err := th.ensureTaskLocked(st, p)
			if err != nil && th.fatal == nil {
				th.fatal = err
			}
			if t != nil {
				created = append(created, t)
			}
		}
	}
	if th.fatal == nil {
		th.fatal = th.restoreLocked(ctx, created)
	}
	if th.fatal == nil {
		th.fatal = th.addStandbysLocked(wanted)
	}
	slices.SortFunc(th.tasks, func(a, b *Task) int {
		if a.id.Subtopology != b.id.Subtopology {
			return a.id.Subtopology - b.id.Subtopology
		}
		return int(a.id.Partition - b.id.Partition)
	})
	th.e.cfg.Logger.Info("kstreams: tasks assigned", "thread", th.id+1, "tasks", taskIDs(th.tasks))
	th.e.threadRebalancing(th.id, false)
}

// ensureTaskLocked creates the task for partition p of st unless the thread
// has it; it returns the task it created.
func (th *thread) ensureTaskLocked(st *Subtopology, p int32) (*Task, error) {
	id := processor.TaskID{Subtopology: st.ID, Partition: p}
	for _, t := range th.tasks {
		if t.id == id {
			return nil, nil
		}
	}
	t, err := NewTask(st, p, th.collectorFor())
	if err != nil {
		return nil, err
	}
	th.tasks = append(th.tasks, t)
	for _, q := range t.queues {
		th.byPart[topicPartition{q.topic, q.partition}] = t
	}
	return t, nil
}

// restoreLocked restores the stores of new tasks before they process
// anything. It runs in the assignment callback, so fetching for the
// tasks' partitions starts only afterwards.
func (th *thread) restoreLocked(ctx context.Context, tasks []*Task) error {
	var cls []*Changelog
	for _, t := range tasks {
		cls = append(cls, t.Changelogs()...)
	}
	return th.restorer.restore(ctx, cls)
}

// dropStandbysLocked closes the standby tasks not in keep, with a
// checkpoint, so that an active task opened on the same directory restores
// only what the standby had not seen.
func (th *thread) dropStandbysLocked(keep map[processor.TaskID]bool) {
	for id, t := range th.standbys {
		if keep[id] {
			continue
		}
		th.closeStandby(t)
		delete(th.standbys, id)
	}
}

func (th *thread) closeStandby(t *Task) {
	th.restorer.removeStandby(t.Changelogs())
	if err := t.Checkpoint(); err != nil {
		th.e.cfg.Logger.Warn("kstreams: checkpointing standby task", "task", t.id.String(), "error", err)
	}
	if err := t.Close(); err != nil {
		th.e.cfg.Logger.Warn("kstreams: closing standby task", "task", t.id.String(), "error", err)
	}
}

// addStandbysLocked opens the wanted standby tasks the thread lacks and
// starts following their changelogs.
func (th *thread) addStandbysLocked(wanted map[processor.TaskID]bool) error {
	for id := range wanted {
		if th.standbys[id] != nil {
			continue
		}
		t, err := NewStandbyTask(th.e.plan.Subtopologies[id.Subtopology], id.Partition, th.collectorFor())
		if err != nil {
			return err
		}
		th.standbys[id] = t
		th.restorer.addStandby(t.Changelogs())
	}
	return nil
}

func (th *thread) onRevoked(ctx context.Context, _ *kgo.Client, _ map[string][]int32) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.e.threadRebalancing(th.id, true)
	// Standbys are closed (with a checkpoint) before every rejoin, like
	// the active tasks: the new assignment may make one of them active
	// on another thread of this instance, which can only open the task's
	// directory once this thread has closed it. (Eager rebalancing runs
	// every member's onRevoked before any member's onAssigned.)
	th.dropStandbysLocked(nil)
	if th.fatal == nil {
		if err := th.commitLocked(ctx); err != nil {
			th.fatal = err
		}
	}
	th.closeTasksLocked()
}

func (th *thread) onLost(_ context.Context, _ *kgo.Client, _ map[string][]int32) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.e.threadRebalancing(th.id, true)
	th.e.cfg.Logger.Warn("kstreams: partitions lost; closing tasks without committing", "thread", th.id+1)
	th.closeTasksLocked()
	th.dropStandbysLocked(nil)
}

func (th *thread) closeTasksLocked() {
	for _, t := range th.tasks {
		if err := t.Close(); err != nil {
			th.e.cfg.Logger.Warn("kstreams: closing task", "task", t.id.String(), "error", err)
		}
	}
	th.tasks = nil
	clear(th.byPart)
}

func (th *thread) fatalErr() error {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.fatal
}

// shutdown commits, closes the tasks and leaves the group. It returns what
// stopped the thread or the commit's error.
func (th *thread) shutdown() error {
	fatal, err := th.close(30 * time.Second)
	return errors.Join(fatal, th.producerError(), err)
}

// abort closes after a failure: what was processed successfully is still
// committed (unless the producer failed), so a restart repeats little.
func (th *thread) abort() {
	if _, err := th.close(10 * time.Second); err != nil {
		th.e.cfg.Logger.Warn("kstreams: commit after failure", "error", err)
	}
}

// close commits within timeout, unless the thread or its producer failed,
// closes the tasks and standbys, and leaves the group.
func (th *thread) close(timeout time.Duration) (fatal, commitErr error) {
	th.mu.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fatal = th.fatal
	if fatal == nil && th.producerError() == nil {
		commitErr = th.commitLocked(ctx)
	}
	th.closeTasksLocked()
	th.dropStandbysLocked(nil)
	th.mu.Unlock()
	th.cl.AllowRebalance()
	th.cl.Close()
	th.restorer.close()
	return fatal, commitErr
}

func taskIDs(ts []*Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.id.String()
	}
	return out
}

// ProduceError is a record the producer could not send.
type ProduceError struct {
	Topic     string
	Partition int32
	Err       error
}

func (e *ProduceError) Error() string {
	return fmt.Sprintf("kstreams: producing to topic %q partition %d failed: %v", e.Topic, e.Partition, e.Err)
}

// Unwrap returns the cause.
func (e *ProduceError) Unwrap() error { return e.Err }

func (p *Plan) subtopologyOfResolved(topic, appID string) *Subtopology {
	for _, st := range p.Subtopologies {
		for _, t := range st.Sources {
			if t.Resolve(appID) == topic {
				return st
			}
		}
	}
	return nil
}

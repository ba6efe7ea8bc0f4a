package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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

// sendCtx is the context a produced record carries: what the record is,
// for the promise and the partitioner, and the input record whose
// processing produced it (offset -1 when there is none: a punctuator, a
// cache flush), for the error if the record cannot be written.
type sendCtx struct {
	context.Context
	kind        SendKind
	inTopic     string
	inPartition int32
	inOffset    int64
}

// kindCtx holds, per SendKind, the context of records produced outside
// any input record, so that they cost no allocation.
var kindCtx = [...]*sendCtx{
	SendOutput:            {Context: context.Background(), kind: SendOutput, inOffset: -1},
	SendDeadLetter:        {Context: context.Background(), kind: SendDeadLetter, inOffset: -1},
	SendChangelog:         {Context: context.Background(), kind: SendChangelog, inOffset: -1},
	SendOutputToPartition: {Context: context.Background(), kind: SendOutputToPartition, inOffset: -1},
}

func sendInfo(rec *kgo.Record) *sendCtx {
	if c, ok := rec.Context.(*sendCtx); ok {
		return c
	}
	return kindCtx[SendOutput]
}

func kindOf(rec *kgo.Record) SendKind { return sendInfo(rec).kind }

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
	sens     *ThreadSensors
	restorer *restorer
	purger   *purger

	// session and heartbeat are the client's group session timeout and
	// heartbeat interval.
	session, heartbeat time.Duration

	mu sync.Mutex
	// tasks are the active tasks that process; restoring those restoring
	// their stores first (restoring.go); waiting those, and
	// waitingStandby the standbys, whose directory another thread of the
	// instance has not given up yet (taskdirs.go).
	tasks          []*Task
	restoring      map[processor.TaskID]*restoringTask
	waiting        map[processor.TaskID]bool
	waitingStandby map[processor.TaskID]bool
	// lost are the tasks loseTasksLocked closed while the member kept
	// their partitions: paused until the next assignment.
	lost map[processor.TaskID]bool
	// restoringN counts restoring and waiting tasks, for pollWait.
	restoringN atomic.Int32
	standbys   map[processor.TaskID]*Task
	byPart     map[topicPartition]*Task
	fatal      error
	lastCommit time.Time
	// confirmed is when the member last knew it owned its assignment: an
	// assignment, a successful commit or membership check.
	confirmed time.Time
	// freezes is how many process freezes of Engine.watch the thread has
	// handled.
	freezes int64
	// closing is set once the thread shuts down: a revocation then only
	// closes what is left.
	closing bool
	// committedAt is what the group committed for the partitions being
	// assigned, read when they are (offsetmeta.go; nil: nothing read).
	committedAt func(topic string, partition int32) (CommittedOffset, bool)
	// cur is the task processing, for Send to name the input record;
	// src, srcKind and srcCtx cache the last context Send made.
	cur     *Task
	src     *kgo.Record
	srcKind SendKind
	srcCtx  *sendCtx

	// rejoin asks the loop to make the member rejoin the group after it
	// closed tasks that may have moved (set under mu, read after it).
	rejoin atomic.Bool
	// groupLog, fetchLog and commitLog rate-limit repeated warnings.
	groupLog, fetchLog, commitLog throttle

	prodMu  sync.Mutex
	prodErr error
	// prodFence is a fenced producer's error a record's promise got, and
	// fence one the loop got (Begin, End; under mu): the loop recovers
	// (eosfence.go). clientOpts are the client's options, for the new
	// client then; warmCl holds the thread's current client for the
	// warm-up probes (probing.go).
	prodFence  error
	fence      error
	clientOpts []kgo.Opt
	warmCl     *atomic.Pointer[kgo.Client]
	// promise is the promise of the records the current client produces.
	promise func(*kgo.Record, error)
	// abortFailing is when aborting the open transaction began to fail
	// (zero when it does not): past txnTimeout the producer is
	// re-initialized (eosfence.go). Under mu.
	abortFailing time.Time
	// aborts counts the commits in a row the session aborted instead
	// (errTxnAborted); the next commit waits commitBackoff more (eos.go).
	aborts int

	// sess is the transactional session under exactly-once (eos.go), nil
	// under at-least-once; cl is its client. inTxn says a transaction is
	// open; abortTxn that it must be aborted before anything else (the
	// member gave up its tasks since it began). Both under mu.
	sess     *kgo.GroupTransactSession
	inTxn    bool
	abortTxn bool
	// clearRevoke says tasks were revoked between transactions: the
	// session, which then fails the next transaction, is reset first
	// (beginLocked). Under mu.
	clearRevoke bool
	// blocked says a rebalance callback waits for the loop (exactly-once:
	// the loop commits and lets it through).
	blocked atomic.Bool
	// joining is when the member began rejoining the group (its session
	// ended), zero once it has its new assignment. Under mu.
	joining time.Time
	// revokedNow says tasks were revoked in the rebalance under way.
	revokedNow bool
	// abortRetry says the last abort did not end the transaction: it is
	// ended again, without counting it twice. rewindTo holds the
	// committed offsets of tasks rewound since the last commit, for the
	// consumer after such an abort. Both under mu.
	abortRetry bool
	rewindTo   map[string]map[int32]kgo.EpochOffset
	// The lag probe of idling tasks (idle.go): at most one under way.
	probing   bool
	lastProbe time.Time
	lagRes    chan lagProbe
}

func newThread(e *Engine, id int) (*thread, error) {
	th := &thread{e: e, id: id, byPart: map[topicPartition]*Task{}, standbys: map[processor.TaskID]*Task{}, counters: e.countersOf(id), sens: e.sensors.thread(id), purger: newPurger(e),
		restoring: map[processor.TaskID]*restoringTask{}, waiting: map[processor.TaskID]bool{}, waitingStandby: map[processor.TaskID]bool{},
		lost:     map[processor.TaskID]bool{},
		lagRes:   make(chan lagProbe, 1),
		groupLog: throttle{every: logEvery}, fetchLog: throttle{every: logEvery}, commitLog: throttle{every: logEvery}}
	th.bal = assign.NewBalancer(e.subs, assign.Subscription{Process: e.process, Endpoint: e.cfg.Endpoint}, e.cfg.Standbys, e.heldState)
	warmCl := th.enableWarmup()
	if req := e.shutdownRequest(); req != nil {
		th.bal.RequestShutdown(*req)
	}
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
	if e.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(fmt.Sprintf("%s-%d", e.cfg.InstanceID, id+1)))
	}
	if e.cfg.ExactlyOnce {
		eos, err := th.eosOpts()
		if err != nil {
			return nil, err
		}
		opts = append(opts, eos...)
	}
	restorer, err := newRestorer(e.cfg, th.counters)
	if err != nil {
		return nil, err
	}
	// The group may call back as soon as the client exists; the callbacks
	// take th.mu, so they wait until the thread is complete.
	th.mu.Lock()
	defer th.mu.Unlock()
	// The thread rebalances until its first assignment, which may come
	// before run starts: marked here, before the client exists, and not in
	// run, which would mark it again after that assignment and leave the
	// instance Rebalancing until the next one.
	e.threadRebalancing(id, true)
	th.rebalanceStarted()
	th.restorer = restorer
	restorer.listener = e.sensors.restoreListener(e.plan, e.cfg.Logger, e.ThreadID(id), e.cfg.RestoreListener)
	opts = slices.Clip(append(opts, e.cfg.ClientOpts...))
	var cl *kgo.Client
	var err2 error
	if e.cfg.ExactlyOnce {
		th.sess, err2 = kgo.NewGroupTransactSession(th.withClientHooks(opts)...)
		if err2 == nil {
			cl = th.sess.Client()
		}
	} else {
		cl, err2 = kgo.NewClient(th.withClientHooks(opts)...)
	}
	if err2 != nil {
		restorer.close()
		return nil, fmt.Errorf("kstreams: thread %d: client: %w", id+1, err2)
	}
	th.cl = cl
	th.clientOpts, th.warmCl = opts, warmCl
	th.promise = th.promiseFor(cl)
	warmCl.Store(cl)
	th.session, _ = cl.OptValue(kgo.SessionTimeout).(time.Duration)
	th.heartbeat, _ = cl.OptValue(kgo.HeartbeatInterval).(time.Duration)
	return th, nil
}

// withClientHooks returns opts and, when the engine has them, fresh
// per-client hooks (the client metrics): a client made anew after a
// fence gets its own, as the old one's may still be registered until it
// has closed.
func (th *thread) withClientHooks(opts []kgo.Opt) []kgo.Opt {
	if th.e.cfg.ThreadClientOpts == nil {
		return opts
	}
	return append(slices.Clip(opts), th.e.cfg.ThreadClientOpts(th.e.ThreadID(th.id))...)
}

// logEvery is how often a repeated warning (the group cannot be joined, a
// commit is postponed) is logged again while the condition lasts.
const logEvery = 30 * time.Second

func (th *thread) run(ctx context.Context) error {
	th.lastCommit = time.Now()
	th.sens.Start.Store(th.lastCommit.UnixMilli())
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
		pollStart := time.Now()
		fetches := th.cl.PollRecords(pollCtx, th.e.cfg.MaxPollRecords)
		th.polled(pollStart, fetches)
		cancel()
		if fetches.IsClientClosed() {
			return th.fatalErr()
		}
		err := th.handle(ctx, fetches)
		if cause := th.fenceOf(err); cause != nil {
			// Kafka Streams' TaskMigratedException (eosfence.go).
			if rerr := th.recoverFenced(ctx, cause); rerr != nil {
				th.mu.Lock()
				th.dropStandbysLocked(nil)
				th.mu.Unlock()
				th.restorer.close()
				return rerr
			}
			continue
		}
		th.allowRebalance()
		if err != nil {
			th.abort()
			return err
		}
		if th.rejoin.Swap(false) || th.probeDue() {
			th.cl.ForceRebalance()
		}
	}
}

// pollWait bounds a poll so that wall-clock punctuators and commits are not
// held up by an idle input, nor a restoration by polls that wait.
func (th *thread) pollWait() time.Duration {
	if th.restoringN.Load() > 0 {
		return 5 * time.Millisecond
	}
	return min(100*time.Millisecond, th.e.cfg.CommitInterval)
}

// allowRebalance lets a waiting rebalance callback run. Under exactly-once
// it does so only between transactions, so that a revocation never finds
// one open (revokeLocked): a waiting callback makes the loop commit at
// once (handle).
func (th *thread) allowRebalance() {
	th.mu.Lock()
	open := th.sess != nil && th.inTxn
	th.mu.Unlock()
	if !open {
		th.blocked.Store(false)
		th.cl.AllowRebalance()
	}
}

func (th *thread) handle(ctx context.Context, fetches kgo.Fetches) error {
	th.mu.Lock()
	defer th.mu.Unlock()
	defer func() { th.cur = nil }()
	if th.fatal != nil {
		return th.fatal
	}
	if err := th.fencedLocked(); err != nil {
		return err
	}
	th.checkFreezeLocked()
	if th.sess != nil {
		drop, err := th.beginLocked(ctx)
		if err != nil || drop {
			return err
		}
	}
	fetches.EachError(th.fetchError)
	th.addFetched(fetches)
	if err := th.restoreStepLocked(ctx); err != nil {
		return err
	}
	var it iteration
	defer it.record(th.sens)
	// The tasks take turns, a batch of records each, then punctuate;
	// between turns the thread commits once the commit interval has
	// passed, as Kafka Streams' StreamThread does between its processing
	// iterations, so that a long backlog (a poll's worth of slow records,
	// or the input a task buffered while it waited for another partition)
	// is committed as it goes rather than at its end.
	for {
		processed := 0
		start := time.Now()
		for _, t := range th.tasks {
			th.cur = t
			// A batch ends early when the commit is due.
			n, err := t.ProcessUntil(processBatch, th.lastCommit.Add(th.e.cfg.CommitInterval))
			it.records += n
			if err != nil {
				return err
			}
			processed += n
		}
		punctStart, punctBefore := time.Now(), th.counters.Punctuations.Load()
		it.process += punctStart.Sub(start)
		for _, t := range th.tasks {
			th.cur = t
			if err := t.PunctuateWallClock(); err != nil {
				return err
			}
		}
		if th.counters.Punctuations.Load() != punctBefore {
			it.punctuated = true
			it.punctuate += time.Since(punctStart)
		}
		th.cur = nil
		if processed == 0 {
			// Nothing buffered, or the tasks wait for empty partitions
			// (idling).
			break
		}
		if th.sess != nil && th.blocked.Load() {
			// A rebalance callback waits: commit below and let it in.
			break
		}
		if !th.commitDue() {
			continue
		}
		if err := th.maybeCommitLocked(ctx); err != nil {
			return err
		}
		if th.sess != nil {
			// The next records go into a new transaction. A
			// transaction to abort (it cannot be here: the group
			// callbacks wait for the poll) drops what is buffered.
			drop, err := th.beginLocked(ctx)
			if err != nil || drop {
				return err
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	th.probeLagsLocked(ctx)
	if err := th.producerError(); err != nil {
		return err
	}
	if th.commitDue() {
		return th.maybeCommitLocked(ctx)
	}
	return nil
}

// processBatch is how many records a task processes in one turn of the
// thread's processing loop, at most.
const processBatch = 1000

// maybeCommitLocked commits; a commit that cannot be made now is
// postponed to the next commit interval, and one cut short by the
// application stopping is no failure either: shutdown commits again, with
// a context of its own.
func (th *thread) maybeCommitLocked(ctx context.Context) error {
	commitStart, commitsBefore := time.Now(), th.counters.Commits.Load()
	err := th.commitLocked(ctx)
	th.committed(commitStart, commitsBefore)
	if errors.Is(err, errNotCommitted) {
		if ctx.Err() == nil {
			th.postponed(err)
		}
		err = nil
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// commitDue says whether the loop commits now: every commit interval;
// under exactly-once also at once when a rebalance callback waits for the
// loop (allowRebalance), but not while the member rejoins the group: its
// generation is changing, and a transaction committing offsets under the
// old one would be refused and aborted (unless that lasts more than
// maxJoinWait, which the transaction timeout bounds).
func (th *thread) commitDue() bool {
	due := time.Since(th.lastCommit) >= th.e.cfg.CommitInterval
	if th.sess == nil {
		return due
	}
	due = time.Since(th.lastCommit) >= th.e.cfg.CommitInterval+commitBackoff(th.aborts)
	if !th.joining.IsZero() && time.Since(th.joining) < maxJoinWait {
		due = false
	}
	return due || th.blocked.Load()
}

// maxJoinWait bounds how long a transaction stays open while the member
// rejoins the group (commitDue); well below txnTimeout.
const maxJoinWait = 3 * time.Second

// fetchError logs an error of a poll: group errors (the member cannot
// join) and fetch errors, each kind once when it starts and then at most
// every logEvery, with the number held back, so that an unreachable broker
// is plain at a glance without flooding the log.
func (th *thread) fetchError(topic string, p int32, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	var ge *kgo.ErrGroupSession
	if errors.As(err, &ge) {
		if ok, held := th.groupLog.allow(time.Now()); ok {
			th.e.cfg.Logger.Warn("kstreams: cannot join the consumer group; retrying until the brokers answer",
				"thread", th.id+1, "group", th.e.cfg.AppID, "brokers", th.e.cfg.Brokers, "error", ge.Err, "repeats", held)
		}
		return
	}
	if ok, held := th.fetchLog.allow(time.Now()); ok {
		th.e.cfg.Logger.Warn("kstreams: fetch error; retrying", "thread", th.id+1, "topic", topic, "partition", p, "error", err, "repeats", held)
	}
}

// postponed logs a commit that could not be made now, unless the tasks
// were closed instead (which is logged on its own).
func (th *thread) postponed(err error) {
	if len(th.tasks) == 0 {
		return
	}
	if ok, held := th.commitLog.allow(time.Now()); ok {
		th.e.cfg.Logger.Warn("kstreams: commit postponed; retrying at the next commit interval",
			"thread", th.id+1, "tasks", taskIDs(th.tasks), "error", err, "repeats", held)
	}
}

// commitLocked flushes everything produced so far, then commits the offsets
// of the records processed: outputs are on the broker before the inputs
// that caused them are marked done (at-least-once). Before it writes
// anything it makes sure the member still owns its tasks; tasks that may
// have moved are closed without flushing. It returns an error wrapping
// errNotCommitted when the commit cannot be made now (the broker does not
// answer, the tasks moved), and other errors only when the thread must
// stop.
func (th *thread) commitLocked(ctx context.Context) error {
	if th.sess != nil {
		return th.commitTxnLocked(ctx)
	}
	th.lastCommit = time.Now()
	th.checkFreezeLocked()
	return th.commitTasksLocked(ctx, th.tasks, true)
}

// commitTasksLocked is the at-least-once commit of tasks (all of the
// thread's, with the standbys' checkpoints, or those revoked).
func (th *thread) commitTasksLocked(ctx context.Context, tasks []*Task, standbys bool) error {
	// A failed task with stores is left out: its caches may hold part of
	// the record that failed, so neither its state nor its offsets are
	// committed. A failed stateless task commits the records before the
	// one that failed.
	healthy := make([]*Task, 0, len(tasks))
	for _, t := range tasks {
		if t.Err() == nil || len(t.stores) == 0 {
			healthy = append(healthy, t)
		}
	}
	if len(healthy) > 0 {
		if err := th.confirmLocked(ctx); err != nil {
			return err
		}
	}
	for _, t := range healthy {
		if err := t.FlushCaches(); err != nil {
			return err
		}
	}
	fctx, cancel := context.WithTimeout(ctx, th.requestTimeout())
	err := th.cl.Flush(fctx)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: %d produced records not acknowledged: %w", errNotCommitted, th.cl.BufferedProduceRecords(), err)
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
		if !standbys {
			break
		}
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
		th.purger.afterCommit(th, nil) // what an earlier commit left owed
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, th.requestTimeout())
	err = commitSync(th.commitMetadataContext(cctx), th.cl, offsets)
	cancel()
	switch classify(err) {
	case faultNone:
	case faultMigrated:
		th.loseTasksLocked("the offset commit was refused", err)
		return fmt.Errorf("%w: %w", errNotCommitted, err)
	case faultTransient:
		return fmt.Errorf("%w: %w", errNotCommitted, err)
	default:
		return err
	}
	th.confirmed = time.Now()
	for _, t := range healthy {
		t.Committed()
	}
	th.counters.Commits.Add(1)
	th.purger.afterCommit(th, offsets)
	return nil
}

// errNotCommitted wraps the reason a commit could not be made now. It is
// not fatal: the offsets stay uncommitted and are committed later, or by
// the next owner of the tasks.
var errNotCommitted = errors.New("offsets not committed")

// confirmLocked makes sure the member still owns its tasks before they
// write anything: the group coordinator confirms the member's generation.
// A member that is no longer in it closes its tasks without flushing (they
// may be running elsewhere already: their writes would land after the new
// owner's) and rejoins. A coordinator that does not answer postpones the
// commit; once it has not confirmed the membership for a session timeout
// the session has expired (or will before anything written now lands), so
// the tasks are treated as lost.
func (th *thread) confirmLocked(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, th.probeTimeout())
	err := probeMembership(pctx, th.cl, th.e.cfg.AppID)
	cancel()
	switch classify(err) {
	case faultNone:
		th.confirmed = time.Now()
		return nil
	case faultMigrated:
		th.loseTasksLocked("the group coordinator no longer knows this member's generation", err)
	case faultTransient:
		if ctx.Err() == nil && time.Since(th.confirmed) > th.session {
			th.loseTasksLocked(fmt.Sprintf("the group coordinator has not confirmed the membership for %v, longer than the session timeout %v",
				time.Since(th.confirmed).Round(time.Millisecond), th.session), err)
		}
	default:
		return fmt.Errorf("kstreams: checking the group membership: %w", err)
	}
	return fmt.Errorf("%w: %w", errNotCommitted, err)
}

// checkFreezeLocked closes the tasks, without flushing, if the process was
// frozen long enough for the group session to expire meanwhile.
func (th *thread) checkFreezeLocked() {
	w := th.e.watch
	frozen, n := w.frozen(th.freezes)
	th.freezes = n
	if frozen {
		th.loseTasksLocked(fmt.Sprintf("the process was frozen for %v; the group session (%v) may have expired meanwhile",
			time.Duration(w.longest.Load()).Round(time.Millisecond), th.session), nil)
	}
}

// loseTasksLocked closes the tasks without flushing their caches or
// committing (they may be running on another member already), and has the
// member rejoin the group, which gives it its tasks anew, restored from
// their changelogs and resumed from the committed offsets.
func (th *thread) loseTasksLocked(why string, cause error) {
	if len(th.tasks) == 0 {
		return
	}
	th.e.cfg.Logger.Warn("kstreams: tasks may have moved to another member; closing them without flushing or committing, and rejoining the group",
		"thread", th.id+1, "tasks", taskIDs(th.tasks), "reason", why, "error", cause)
	ids := th.taskIDsLocked()
	th.closeTasksLocked()
	// The member keeps their partitions until it rejoins (cooperative
	// rebalancing): nothing is fetched for them meanwhile, and the next
	// assignment makes the tasks anew from the committed offsets.
	for _, id := range ids {
		th.lost[id] = true
		th.cl.PauseFetchPartitions(th.partitionsOfTask(id))
	}
	th.abortTxn = th.sess != nil
	th.e.threadRebalancing(th.id, true)
	th.rejoin.Store(true)
}

// probeTimeout bounds a membership check.
func (th *thread) probeTimeout() time.Duration { return min(th.session/4, 5*time.Second) }

// requestTimeout bounds the producer flush and the offset commit of one
// commit, so that a broker that does not answer postpones the commit
// instead of holding the thread.
func (th *thread) requestTimeout() time.Duration { return max(th.session/2, time.Second) }

func commitSync(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var cerr error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for i, t := range resp.Topics {
			topic := t.Topic
			if topic == "" && i < len(req.Topics) { // answered by topic id
				topic = req.Topics[i].Topic
			}
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("topic %q partition %d: %w", topic, p.Partition, e)
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
// the production-error policy. The record carries what it is and which
// input record it comes from.
func (th *thread) Send(rec *kgo.Record, kind SendKind) {
	if kind != SendChangelog && kind != SendOutputToPartition {
		rec.Partition = -1 // until the partitioner picks one
	}
	th.cl.Produce(th.sendContext(kind), rec, th.promise)
}

// sendContext returns the context of a record of kind produced now; one
// is made per input record (and kind) that produces something.
func (th *thread) sendContext(kind SendKind) *sendCtx {
	var src *kgo.Record
	if th.cur != nil {
		src = th.cur.raw
	}
	if src == nil {
		return kindCtx[kind]
	}
	if src != th.src || kind != th.srcKind || th.srcCtx == nil {
		th.src, th.srcKind = src, kind
		th.srcCtx = &sendCtx{Context: context.Background(), kind: kind, inTopic: src.Topic, inPartition: src.Partition, inOffset: src.Offset}
	}
	return th.srcCtx
}

// promiseFor returns the promise of the records client cl produces.
func (th *thread) promiseFor(cl *kgo.Client) func(*kgo.Record, error) {
	return func(rec *kgo.Record, err error) { th.produced(cl, rec, err) }
}

func (th *thread) produced(cl *kgo.Client, rec *kgo.Record, err error) {
	info := sendInfo(rec)
	if err == nil {
		th.counters.Produced.Add(1)
		if info.kind == SendDeadLetter {
			th.counters.DeadLettered.Add(1)
			th.deadLettered(rec, info)
		}
		return
	}
	if th.e.cfg.ExactlyOnce && errors.Is(err, kgo.ErrAborting) {
		// The thread aborted the transaction the record was in (eos.go):
		// it is produced again when its input is processed again.
		return
	}
	if th.e.cfg.ExactlyOnce && th.warmCl.Load() != cl {
		// A record of a fenced client (eosfence.go): its transaction
		// is abandoned and its tasks closed.
		return
	}
	if th.noteProduceFence(err) {
		// Not the record's fault: the producer is done for, the loop
		// recovers (eosfence.go) and the record's input is processed
		// again from the last commit.
		return
	}
	th.counters.ProduceFailed.Add(1)
	perr := &ProduceError{Topic: rec.Topic, Partition: rec.Partition, Kind: info.kind,
		InputTopic: info.inTopic, InputPartition: info.inPartition, InputOffset: info.inOffset, Err: err}
	policy := th.e.cfg.OnProduceError
	if info.kind != SendOutput && info.kind != SendOutputToPartition {
		policy = Policy{Kind: PolicyFail}
	}
	switch policy.Kind {
	case PolicySkip:
		th.counters.Skipped.Add(1)
		th.e.cfg.Logger.Warn("kstreams: skipping record the producer could not send", "error", perr.Error())
	case PolicyDeadLetter:
		re := &RecordError{Topic: rec.Topic, Partition: rec.Partition, Offset: -1, Stage: "producing", Err: err}
		dl := DeadLetterRecord(rec, policy.Topic, re)
		dl.Partition = -1
		dctx := &sendCtx{Context: context.Background(), kind: SendDeadLetter, inTopic: info.inTopic, inPartition: info.inPartition, inOffset: info.inOffset}
		cl.TryProduce(dctx, dl, th.promiseFor(cl))
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
		Idling:        th.e.cfg.MaxTaskIdle >= 0,
		MaxTaskIdle:   th.e.cfg.MaxTaskIdle,
		OnBadRecord:   th.e.cfg.OnBadRecord,
		OnProcessing:  th.e.cfg.OnProcessingError,
		Collector:     th,
		Clock:         SystemClock{},
		Counters:      th.counters,
		Logger:        th.e.cfg.Logger.With("thread", th.e.ThreadID(th.id)),
		Debug:         th.e.cfg.Debug,
		Sensors:       th.e.sensors,
		Globals:       th.e.globals,
		ExactlyOnce:   th.e.cfg.ExactlyOnce,
	}
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
	for id := range th.waitingStandby {
		if !keep[id] {
			delete(th.waitingStandby, id)
		}
	}
}

func (th *thread) closeStandby(t *Task) {
	for _, ts := range t.stores {
		th.e.registry.removeStandby(ts.spec.Name, t.id)
	}
	th.e.registry.removePositions(t.id)
	th.restorer.removeStandby(t.Changelogs())
	// A standby's stores hold committed updates only: its checkpoint is
	// always written when it closes.
	if err := t.FinalCheckpoint(); err != nil {
		th.e.cfg.Logger.Warn("kstreams: checkpointing standby task", "task", t.id.String(), "error", err)
	}
	if err := t.Close(); err != nil {
		th.e.cfg.Logger.Warn("kstreams: closing standby task", "task", t.id.String(), "error", err)
	}
	th.e.dirs.release(t.id, th)
}

// addStandbysLocked opens the wanted standby tasks the thread lacks and
// starts following their changelogs; those whose directory another thread
// holds wait (waitingStandby).
func (th *thread) addStandbysLocked(wanted map[processor.TaskID]bool) error {
	for id := range wanted {
		if th.standbys[id] != nil {
			continue
		}
		if !th.e.dirs.claim(id, th) {
			th.waitingStandby[id] = true
			continue
		}
		t, err := NewStandbyTask(th.e.plan.Subtopologies[id.Subtopology], id.Partition, th.collectorFor())
		if err != nil {
			th.e.dirs.release(id, th)
			return err
		}
		th.standbys[id] = t
		for _, ts := range t.stores {
			th.e.registry.addStandby(ts.spec.Name, id, ts.base, &ts.lag)
		}
		th.e.registry.addPositions(id, t.livePositions())
		th.restorer.addStandby(t.Changelogs())
	}
	return nil
}

// closeTasksLocked closes every active task: running (without flushing),
// restoring and waiting.
func (th *thread) closeTasksLocked() {
	for _, t := range th.tasks {
		th.closeTaskLocked(t)
	}
	th.tasks = nil
	clear(th.byPart)
	for _, r := range th.restoring {
		th.closeRestoringLocked(r)
	}
	for id := range th.waiting {
		th.cl.ResumeFetchPartitions(th.partitionsOfTask(id))
	}
	clear(th.waiting)
	th.restoringN.Store(int32(len(th.waitingStandby)))
}

func (th *thread) fatalErr() error {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.fatal
}

// shutdown commits, closes the tasks and leaves the group, within the
// close timeout. It returns what stopped the thread, the commit's error,
// or what the close left undone.
func (th *thread) shutdown() error {
	fatal, err := th.close(th.e.cfg.CloseTimeout)
	return errors.Join(fatal, th.producerError(), err)
}

// abort closes after a failure: what was processed successfully is still
// committed (unless the producer failed), so a restart repeats little.
func (th *thread) abort() {
	if _, err := th.close(th.e.cfg.CloseTimeout); err != nil {
		th.e.cfg.Logger.Warn("kstreams: commit after failure", "error", err)
	}
}

// close commits, unless the thread or its producer failed, closes the
// tasks and standbys, and leaves the group, all within timeout: franz-go's
// own close waits for the group to be left, without a deadline, so it is
// left running behind if the brokers do not answer in time. What could
// not be flushed or committed is reported in an error wrapping
// ErrCloseIncomplete.
func (th *thread) close(timeout time.Duration) (fatal, closeErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if th.sess != nil {
		th.holdRebalances()
	}
	th.mu.Lock()
	th.closing = true
	fatal = th.fatal
	if fatal == nil && th.producerError() == nil {
		closeErr = th.commitLocked(ctx)
		if th.sess != nil && errors.Is(closeErr, errTxnAborted) {
			// Closing in a rebalance under exactly-once: the last
			// transaction was aborted, not left open, so the work
			// since the last commit is redone by the tasks' next owner
			// with nothing duplicated or lost. As Kafka Streams, whose
			// clean shutdown ignores a task migration, that is no
			// failure of the close.
			th.e.cfg.Logger.Warn("kstreams: the last transaction was aborted at close (the group rebalanced); the tasks' next owner processes their records since the last commit again",
				"thread", th.e.ThreadID(th.id), "tasks", taskIDs(th.tasks), "error", closeErr)
			closeErr = nil
		}
		if errors.Is(closeErr, errNotCommitted) {
			closeErr = th.leftLocked(closeErr)
		}
		if errors.Is(closeErr, ErrProducerFenced) {
			// The tasks migrated: another producer owns them, or the
			// coordinator aborted the transaction. They close without
			// committing; their next owner processes the uncommitted
			// records, exactly once.
			th.e.cfg.Logger.Warn("kstreams: the transactional producer was fenced at close; the open transaction is aborted and its records processed again by the tasks' next owner",
				"thread", th.e.ThreadID(th.id), "tasks", taskIDs(th.tasks), "error", closeErr)
			closeErr = nil
		}
	} else if th.sess != nil {
		if err := th.abortLocked(ctx, "the thread failed"); err != nil {
			th.e.cfg.Logger.Warn("kstreams: aborting the transaction at close", "thread", th.id+1, "error", err)
		}
	}
	th.closeTasksLocked()
	th.dropStandbysLocked(nil)
	th.mu.Unlock()
	th.cl.AllowRebalance()
	if err := th.cl.LeaveGroupContext(ctx); err != nil {
		th.e.cfg.Logger.Warn("kstreams: could not leave the consumer group; the group notices after the session timeout",
			"thread", th.id+1, "session timeout", th.session, "error", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		th.cl.Close()
		th.restorer.close()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// The leave and every request above were bounded by ctx: what is
		// left is connections closing; give them a moment.
		select {
		case <-done:
		case <-time.After(closeGrace):
			th.e.cfg.Logger.Warn("kstreams: the Kafka client did not close within the close timeout; leaving it behind",
				"thread", th.id+1, "close timeout", timeout)
			closeErr = errors.Join(closeErr, fmt.Errorf("%w: thread %d: the Kafka client did not close within %v", ErrCloseIncomplete, th.id+1, timeout))
		}
	}
	return fatal, closeErr
}

// closeGrace is how long a close waits past its timeout for the client's
// connections to close.
const closeGrace = time.Second

// leftLocked describes what a close leaves uncommitted and unflushed.
func (th *thread) leftLocked(cause error) error {
	var uncommitted []string
	for _, t := range th.tasks {
		if t.Offsets(map[string]map[int32]kgo.EpochOffset{}) {
			uncommitted = append(uncommitted, t.id.String())
		}
	}
	return fmt.Errorf("%w: thread %d: offsets of tasks %v not committed (their records are processed again by the next owner), %d produced records not acknowledged: %w",
		ErrCloseIncomplete, th.id+1, uncommitted, th.cl.BufferedProduceRecords(), cause)
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
	Topic string
	// Partition is -1 when the record was never given one (its topic does
	// not exist, for instance).
	Partition int32
	// Kind says what the record was: an output, a dead letter, a
	// changelog record.
	Kind SendKind
	// InputTopic, InputPartition and InputOffset locate the input record
	// whose processing produced the record; InputOffset is -1 when there
	// was none (a punctuator, a cache flush at commit).
	InputTopic     string
	InputPartition int32
	InputOffset    int64
	Err            error
}

func (e *ProduceError) Error() string {
	where := fmt.Sprintf("topic %q", e.Topic)
	if e.Partition >= 0 {
		where += fmt.Sprintf(" partition %d", e.Partition)
	}
	from := ""
	if e.InputOffset >= 0 {
		from = fmt.Sprintf(" for input record topic %q partition %d offset %d", e.InputTopic, e.InputPartition, e.InputOffset)
	}
	return fmt.Sprintf("kstreams: producing %s to %s failed%s: %v", e.Kind, where, from, e.Err)
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

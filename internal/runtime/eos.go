package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exactly-once (Kafka Streams' exactly_once_v2): each stream thread runs
// its work in Kafka transactions of its own client, a franz-go
// GroupTransactSession. Outputs, changelog records, dead letters and the
// input offsets (sent with the member id and generation, so that a member
// that left the generation is fenced) commit or abort together. See
// DESIGN.md "Commit protocol (exactly-once)".

// txnTimeout is the transaction timeout under exactly-once, Kafka Streams'
// transaction.timeout.ms default: how long a transaction of a crashed
// thread that nothing fences holds back read-committed consumers.
const txnTimeout = 10 * time.Second

// eosOpts returns the options that make a thread's client transactional.
func (th *thread) eosOpts() ([]kgo.Opt, error) {
	id, err := th.transactionalID()
	if err != nil {
		return nil, err
	}
	return []kgo.Opt{
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(txnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers reach the tasks, which commit past them
		// at rest (Task.Control).
		kgo.KeepControlRecords(),
		kgo.OnPartitionsCallbackBlocked(th.rebalanceBlocked),
	}, nil
}

// transactionalID returns the thread's transactional id, stable across
// restarts of the instance: "<application id>-<instance>-<thread>", the
// instance being InstanceID or else an id kept in the state directory.
// A restarted instance so fences its predecessor's producer and aborts
// the transaction it left open at once, instead of after txnTimeout.
func (th *thread) transactionalID() (string, error) {
	inst := th.e.cfg.InstanceID
	if inst == "" {
		var err error
		if inst, err = stableProcessID(th.e.cfg.StateDir); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s-%s-%d", th.e.cfg.AppID, inst, th.id+1), nil
}

// processIDFile holds, in the application's state directory, the id that
// names the instance's transactional ids.
const processIDFile = "kstreams-process-id"

// stableProcessID reads the instance id kept in dir, making one the first
// time.
func stableProcessID(dir string) (string, error) {
	path := filepath.Join(dir, processIDFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("kstreams: state directory: %w", err)
	}
	id := newProcessID()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("kstreams: writing the process id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("kstreams: writing the process id: %w", err)
	}
	return id, nil
}

// holdRebalances waits for a rebalance callback that is running to
// return and keeps new ones off until AllowRebalance (what a poll does
// with BlockRebalanceOnPoll). The last transaction is ended with this
// held: the session's callbacks hold the lock that ending a transaction
// takes, and wait for th.mu, which the close holds while it ends it.
func (th *thread) holdRebalances() {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	th.cl.PollRecords(done, 1)
}

// beginLocked makes sure a transaction is open before the thread produces
// anything. If the open transaction must be aborted (the member gave up
// its tasks since it began), it aborts it first and reports that the
// poll's records must be dropped: aborting rewinds the consumer to the
// committed offsets, from which they are fetched again.
//
// Tasks revoked while the transaction was open make the tasks that stay
// rewind too (their uncommitted updates are dropped with it). Tasks
// revoked between transactions leave the session marked failed: ending
// it outside any transaction resets it, and puts the consumer back to the
// committed offsets of what was fetched since, so the poll's records are
// dropped then too.
func (th *thread) beginLocked(ctx context.Context) (drop bool, err error) {
	if th.abortTxn {
		drop = true
		th.clearRevoke = false
		if err := th.abortLocked(ctx, "the tasks were revoked or lost"); err != nil {
			if f := th.fencedLocked(); f != nil {
				return drop, f
			}
			// Tried again at the next poll; a producer that cannot go
			// on fails Begin then.
			th.e.cfg.Logger.Warn("kstreams: aborting the transaction failed; retrying", "thread", th.id+1, "error", err)
			return drop, nil
		}
		if err := th.rewindLocked(ctx, errors.New("tasks were revoked during the transaction")); err != nil {
			return drop, err
		}
	}
	if th.clearRevoke && !th.inTxn {
		drop = true
		th.clearRevoke = false
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), th.requestTimeout())
		_, err := th.sess.End(actx, kgo.TryAbort)
		cancel()
		if th.noteFenceLocked(err) {
			return drop, fencedError(th, err)
		}
		if err != nil && ctx.Err() == nil {
			return drop, fmt.Errorf("kstreams: thread %d: resetting the transactional session after a revocation: %w", th.id+1, err)
		}
	}
	if th.inTxn {
		return drop, nil
	}
	if err := th.sess.Begin(); err != nil {
		if th.noteFenceLocked(err) {
			return drop, fencedError(th, err)
		}
		return drop, fmt.Errorf("kstreams: thread %d: beginning a transaction: %w", th.id+1, err)
	}
	th.inTxn = true
	return drop, nil
}

// abortLocked aborts the open transaction: its records are discarded and
// the consumer goes back to the committed offsets. The tasks' stores are
// not touched: callers close the tasks (dirty) or rewind them.
func (th *thread) abortLocked(ctx context.Context, why string) error {
	th.abortTxn = false
	if !th.inTxn {
		return nil
	}
	th.inTxn = false
	if !th.abortRetry {
		th.counters.AbortedTransactions.Add(1)
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), th.requestTimeout())
	defer cancel()
	_, err := th.sess.End(actx, kgo.TryAbort)
	if th.noteFenceLocked(err) {
		// Nothing to retry: the producer is re-initialized (eosfence.go).
		th.inTxn, th.abortRetry = false, false
		th.e.cfg.Logger.Info("kstreams: transaction abandoned: the producer was fenced", "thread", th.id+1, "reason", why, "error", err)
		return fencedError(th, err)
	}
	// End returns before ending the transaction when aborting the
	// buffered records times out (a broker down): it is aborted again
	// before the next one begins. Ending an ended transaction does
	// nothing.
	th.inTxn, th.abortTxn, th.abortRetry = err != nil, err != nil, err != nil
	th.abortFailedLocked(err)
	th.rewindConsumerLocked()
	th.e.cfg.Logger.Info("kstreams: transaction aborted", "thread", th.id+1, "reason", why, "error", err)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("kstreams: thread %d: aborting the transaction: %w", th.id+1, err)
	}
	return nil
}

// The offsets a transaction commits are those of the records processed,
// not those polled: a thread commits between processing turns (thread.go),
// when its tasks still hold polled records, and a task waiting for an
// empty partition (idling) holds records across polls. franz-go's session
// commits what was polled; setTxnOffsets rewrites its request. The
// session then takes the polled offsets for committed, and an abort would
// rewind the consumer to them: rewindConsumerLocked sets it back to the
// offsets actually committed.

// setTxnOffsets makes req commit the offsets of positions (the partitions
// whose offsets or metadata the thread's tasks moved), and nothing else.
func setTxnOffsets(req *kmsg.TxnOffsetCommitRequest, positions map[string]map[int32]kgo.EpochOffset) {
	ids := map[string][16]byte{}
	for _, t := range req.Topics {
		ids[t.Topic] = t.TopicID
	}
	topics := slices.Sorted(maps.Keys(positions))
	req.Topics = req.Topics[:0]
	for _, topic := range topics {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = topic, ids[topic]
		parts := positions[topic]
		for _, p := range slices.Sorted(maps.Keys(parts)) {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, parts[p].Offset, parts[p].Epoch
			rp.Metadata = &req.MemberID
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
}

// rewindConsumerLocked sets the consumer back to the offsets the tasks
// committed (or started from), after a transaction was aborted: the
// session rewound it to the offsets it polled before, which may be past
// records the tasks held unprocessed.
func (th *thread) rewindConsumerLocked() {
	pos := map[string]map[int32]kgo.EpochOffset{}
	for topic, parts := range th.rewindTo {
		for p, o := range parts {
			addOffset(pos, topic, p, o)
		}
	}
	for _, t := range th.tasks {
		t.CommittedPositions(pos)
	}
	if len(pos) > 0 {
		th.cl.SetOffsets(pos)
	}
}

// commitTxnLocked is the exactly-once commit: flush the caches (their
// updates and changelog records join the transaction), flush the
// producer, then commit the transaction with the consumed offsets. Only
// once it committed do the crash-consistent stores get its updates and the
// checkpoints their offsets. A transaction that cannot commit is aborted
// and the tasks rewind to their committed state (rewindLocked).
func (th *thread) commitTxnLocked(ctx context.Context) error {
	th.lastCommit = time.Now()
	th.checkFreezeLocked()
	if th.abortTxn || len(th.lost) > 0 {
		// With tasks lost, records fetched for their partitions before
		// the pause were dropped: committing the consumer's positions
		// would skip them.
		return th.abortLocked(ctx, "the tasks were revoked or lost")
	}
	if err := th.fencedLocked(); err != nil {
		return err
	}
	if !th.inTxn {
		if th.closing {
			for _, t := range th.tasks {
				if err := t.FinalCheckpoint(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, t := range th.tasks {
		if err := t.Err(); err != nil {
			// Under exactly-once a failed task fails the whole
			// transaction: its partial work must not commit.
			if aerr := th.abortLocked(ctx, "a task failed"); aerr != nil {
				return aerr
			}
			return fmt.Errorf("%w: task %s failed: %w", errNotCommitted, t.id, err)
		}
	}
	for _, t := range th.tasks {
		if err := t.FlushCaches(); err != nil {
			_ = th.abortLocked(ctx, "a task failed")
			return err
		}
	}
	// The transaction's requests are bounded by the request timeout but
	// not cut short by the application stopping: a transaction ended
	// half-way leaves its outcome unknown.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), th.requestTimeout())
	err := th.cl.Flush(fctx)
	cancel()
	if err == nil {
		err = th.producerError()
		if err != nil {
			// A record the producer could not send fails the
			// transaction under every production policy but skip
			// and dead letter, which the promise handled.
			_ = th.abortLocked(ctx, "a record could not be produced")
			return err
		}
	}
	// Only what moved since the last commit (or whose processor
	// metadata changed) is committed: an offset commit repeating the
	// committed offsets makes a transaction of its own for nothing, and
	// one sent right after the previous transaction ended can be refused
	// while that one's markers are written (commitBackoff).
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, t := range th.tasks {
		t.Offsets(offsets)
	}
	if ferr := th.fencedLocked(); ferr != nil {
		th.inTxn = false
		th.counters.AbortedTransactions.Add(1)
		return ferr
	}
	committed := false
	if err == nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), th.requestTimeout())
		committed, err = th.sess.End(th.txnCommitMetadataContext(cctx, offsets), kgo.TryCommit)
		cancel()
		th.inTxn = false
		if !committed && th.noteFenceLocked(err) {
			th.counters.AbortedTransactions.Add(1)
			return fencedError(th, err)
		}
		if !committed {
			// The session aborted it instead, unless End returned
			// before ending it (its flush timed out): abort it then.
			th.counters.AbortedTransactions.Add(1)
			if err != nil {
				th.inTxn, th.abortRetry = true, true
				err = errors.Join(err, th.abortLocked(ctx, "the commit failed"))
			}
		}
	} else {
		err = errors.Join(err, th.abortLocked(ctx, "the producer could not flush"))
	}
	if !committed {
		if err == nil {
			err = errTxnAborted
			th.aborts++
		}
		th.rewindConsumerLocked()
		if rerr := th.rewindLocked(ctx, err); rerr != nil {
			return rerr
		}
		return fmt.Errorf("%w: %w", errNotCommitted, err)
	}
	th.confirmed = time.Now()
	th.rewindTo = nil
	if len(offsets) > 0 {
		// Committed offsets of its own, not an empty transaction.
		th.aborts = 0
	}
	for _, t := range th.tasks {
		if err := t.CommitStores(); err != nil {
			return err
		}
		checkpoint := t.Checkpoint
		if th.closing {
			checkpoint = t.FinalCheckpoint
		}
		if err := checkpoint(); err != nil {
			return err
		}
		t.Committed()
	}
	for _, t := range th.standbys {
		if err := t.Checkpoint(); err != nil {
			return err
		}
	}
	th.counters.Commits.Add(1)
	th.purger.afterCommit(th, offsets)
	return nil
}

// commitBackoff is how much longer than the commit interval the loop
// waits before it commits again after aborts commits in a row that the
// session aborted itself: an offset commit sent while the coordinator
// still writes the markers of the transaction before it is refused
// (CONCURRENT_TRANSACTIONS), which franz-go's session takes for a reason
// to abort; committing again at once, after the rewind, meets the markers
// of that abort in turn, and a slow broker (one restarting, a partition
// short of in-sync replicas) can keep that up indefinitely. Doubling from
// 100 ms up to 2 s, well inside the transaction timeout, lets the markers
// land.
func commitBackoff(aborts int) time.Duration {
	if aborts <= 0 {
		return 0
	}
	return min(100*time.Millisecond<<min(aborts-1, 5), 2*time.Second)
}

// errTxnAborted says the session aborted the transaction instead of
// committing it, and the abort went through: the group rebalanced since it
// began (tasks revoked, the generation over) or refused its offsets.
// Nothing it wrote is visible; the tasks' next owner, this member or
// another, processes their records again from the last commit.
var errTxnAborted = errors.New("the group rebalanced or refused the offsets; transaction aborted")

// rewindLocked brings the tasks back to their last commit after an
// aborted transaction: they are closed without flushing (dropping the
// uncommitted store updates), made anew and restored (in the background)
// from their checkpoints, which match the committed changelog offsets, so
// only what other commits added is read. The consumer was rewound by the
// abort.
func (th *thread) rewindLocked(ctx context.Context, cause error) error {
	if len(th.tasks) == 0 || th.closing {
		return nil
	}
	if ctx.Err() != nil {
		// The application is stopping: the tasks are closed, and
		// restored from their checkpoints at the next start.
		th.closeTasksLocked()
		return nil
	}
	th.e.cfg.Logger.Warn("kstreams: transaction aborted; rewinding the tasks to their last commit",
		"thread", th.id+1, "tasks", taskIDs(th.tasks), "error", cause)
	// Restoring tasks processed nothing: they stay as they are.
	var ids []processor.TaskID
	for _, t := range th.tasks {
		ids = append(ids, t.id)
	}
	if err := th.loadCommittedLocked(ctx, ids); err != nil {
		th.loseTasksLocked("reading the committed offsets after an aborted transaction failed", err)
		return nil
	}
	// The new tasks do not know the committed offsets: an abort still to
	// come (abortRetry) rewinds the consumer to these.
	if th.rewindTo == nil {
		th.rewindTo = map[string]map[int32]kgo.EpochOffset{}
	}
	for _, t := range th.tasks {
		t.CommittedPositions(th.rewindTo)
		th.closeTaskLocked(t)
	}
	th.tasks = nil
	clear(th.byPart)
	for _, id := range ids {
		if err := th.startTaskLocked(id); err != nil {
			return err
		}
	}
	th.updateRebalancingLocked()
	return nil
}

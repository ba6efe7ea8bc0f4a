package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A fenced producer under exactly-once. The transaction coordinator
// refuses a producer whose epoch is not current: another producer took
// its transactional id (a zombie and its replacement), or the coordinator
// aborted its transaction itself, bumping the epoch, because it outlived
// the transaction timeout (a broker restart that takes longer than it).
// The producer's errors then say so: PRODUCER_FENCED,
// INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING, UNKNOWN_PRODUCER_ID,
// INVALID_TXN_STATE. Under the transaction protocol v2 (KIP-890) franz-go
// cannot re-initialize such a producer: the client is done for.
//
// Kafka Streams takes these for a TaskMigratedException (StreamsProducer,
// RecordCollectorImpl): the thread closes all its active tasks dirty (the
// open transaction is aborted, their uncommitted state dropped), creates
// its producer anew and rejoins the group (StreamThread unsubscribes and
// subscribes again); the tasks it gets back restore and resume from the
// committed offsets. The thread does the same here (recoverFenced): the
// producer being the group member's client, it leaves the group, closes
// the client, and makes a new one with the same transactional id, whose
// InitProducerID fences whatever the old one left open. Authorization
// errors stay fatal: a new producer would be refused again.

// txnFault says what an error of the transactional producer (a record's
// promise, Begin, End) means: faultMigrated for a fenced producer (the
// thread recovers, recoverFenced), faultFatal for an authorization error
// (the thread stops), faultNone for anything else (handled where it
// occurs: a failed commit is aborted and retried, a production error goes
// to the production policy).
func txnFault(err error) faultKind {
	switch {
	case err == nil:
		return faultNone
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.SaslAuthenticationFailed):
		return faultFatal
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch),
		errors.Is(err, kerr.InvalidProducerIDMapping), errors.Is(err, kerr.UnknownProducerID),
		errors.Is(err, kerr.InvalidTxnState), errors.Is(err, kerr.OutOfOrderSequenceNumber),
		errors.Is(err, kerr.TransactionalIDNotFound), errors.Is(err, kerr.TransactionCoordinatorFenced):
		return faultMigrated
	}
	return faultNone
}

// ErrProducerFenced is wrapped by the error a stream thread recovers from
// under exactly-once when its producer is fenced; it reaches users only in
// logs.
var ErrProducerFenced = errors.New("kstreams: the transactional producer was fenced")

// fencedError wraps err, a fenced producer's error, so that the loop
// recovers from it (recoverFenced) instead of stopping.
func fencedError(th *thread, err error) error {
	return fmt.Errorf("%w: thread %d: %w", ErrProducerFenced, th.id+1, err)
}

// noteFenceLocked remembers a fenced producer's error seen by the thread's
// loop (Begin, End); it reports whether err was one.
func (th *thread) noteFenceLocked(err error) bool {
	if th.sess == nil || txnFault(err) != faultMigrated {
		return false
	}
	if th.fence == nil {
		th.fence = err
	}
	return true
}

// produceFault is txnFault for the error of a record's promise: under
// exactly-once a record that could not be written for want of a broker
// (no connection, a timeout, not enough in-sync replicas) fails its
// transaction, which cannot be retried with that record missing, so the
// producer is re-initialized as for a fence and the tasks resume from the
// last commit. A topic that does not exist is the production policy's.
func produceFault(err error) faultKind {
	if f := txnFault(err); f != faultNone {
		return f
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kgo.ErrClientClosed) {
		return faultNone
	}
	if classify(err) == faultTransient {
		return faultMigrated
	}
	return faultNone
}

// noteProduceFence remembers, under exactly-once, the error of a record's
// promise that calls for a new producer (produceFault); any goroutine.
func (th *thread) noteProduceFence(err error) bool {
	if !th.e.cfg.ExactlyOnce || produceFault(err) != faultMigrated {
		return false
	}
	th.prodMu.Lock()
	defer th.prodMu.Unlock()
	if th.prodFence == nil {
		th.prodFence = err
	}
	return true
}

// abortFailedLocked notes that aborting the open transaction failed (err
// nil: it succeeded). A producer that cannot abort for longer than the
// transaction timeout is re-initialized: the new one fences and aborts
// what it left open.
func (th *thread) abortFailedLocked(err error) {
	switch {
	case err == nil:
		th.abortFailing = time.Time{}
	case th.abortFailing.IsZero():
		th.abortFailing = time.Now()
	case time.Since(th.abortFailing) > txnTimeout && th.fence == nil:
		th.fence = fmt.Errorf("aborting the transaction has failed for %v: %w", time.Since(th.abortFailing).Round(time.Second), err)
	}
}

// fencedLocked returns the fenced producer's error the thread saw, if any,
// wrapped in ErrProducerFenced.
func (th *thread) fencedLocked() error {
	err := th.fence
	if err == nil {
		th.prodMu.Lock()
		err = th.prodFence
		th.prodMu.Unlock()
	}
	if err == nil {
		return nil
	}
	return fencedError(th, err)
}

// fenceOf returns the fenced producer's error behind err, the error of a
// loop iteration, or one the thread noted meanwhile; nil if there is none
// (or not under exactly-once).
func (th *thread) fenceOf(err error) error {
	if th.sess == nil {
		return nil
	}
	if errors.Is(err, ErrProducerFenced) {
		return err
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.noteFenceLocked(err) {
		return fencedError(th, err)
	}
	return th.fencedLocked()
}

// recoverFenced is the thread's TaskMigratedException: it closes every
// active task without committing (the open transaction is abandoned, to
// be aborted by the new producer's initialization), closes the client (it
// leaves the group), makes a new one with the same options, transactional
// id included, and returns to the loop, whose next poll joins the group
// again. Standby tasks stay (they hold committed data only), as in Kafka
// Streams.
func (th *thread) recoverFenced(ctx context.Context, cause error) error {
	th.mu.Lock()
	n := th.counters.TaskMigrations.Add(1)
	id, _ := th.transactionalID()
	th.e.cfg.Logger.Warn("kstreams: the transactional producer was fenced (task migrated); closing the tasks without committing, re-initializing the producer and rejoining the group",
		"thread", th.e.ThreadID(th.id), "transactional id", id, "tasks", taskIDs(th.tasks),
		"restoring", len(th.restoring), "error", cause, "migrations", n)
	th.closeTasksLocked()
	clear(th.lost)
	th.inTxn, th.abortTxn, th.clearRevoke, th.abortRetry = false, false, false, false
	th.rewindTo = nil
	th.fence = nil
	old := th.cl
	// The old client's group callbacks, run while it leaves the group,
	// find it is not the thread's client and do nothing; its record
	// promises find it is not warmCl (so, first, before the fence is
	// cleared: a promise in between would set it again).
	th.cl = nil
	th.warmCl.Store(nil)
	th.prodMu.Lock()
	th.prodFence = nil
	th.prodMu.Unlock()
	th.joining, th.revokedNow = time.Now(), false
	th.rejoin.Store(false)
	th.rebalanceStarted()
	th.e.threadRebalancing(th.id, true)
	th.mu.Unlock()

	old.AllowRebalance()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), th.requestTimeout())
	if err := old.LeaveGroupContext(lctx); err != nil {
		th.e.cfg.Logger.Warn("kstreams: the fenced client could not leave the group; the group notices after the session timeout",
			"thread", th.e.ThreadID(th.id), "error", err)
	}
	cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		old.Close()
	}()
	select {
	case <-done:
	case <-time.After(closeGrace):
		// Its connections close in the background.
	}
	th.blocked.Store(false)

	th.mu.Lock()
	defer th.mu.Unlock()
	sess, err := kgo.NewGroupTransactSession(th.withClientHooks(th.clientOpts)...)
	if err != nil {
		return fmt.Errorf("kstreams: thread %d: re-initializing the producer after it was fenced: %w", th.id+1, err)
	}
	th.sess, th.cl = sess, sess.Client()
	th.warmCl.Store(th.cl)
	th.promise = th.promiseFor(th.cl)
	th.abortFailing = time.Time{}
	// Initialize the producer now: its InitProducerID bumps the epoch,
	// which aborts what the fenced producer left open, while the group
	// forms.
	go func(cl *kgo.Client) {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, _, _ = cl.ProducerID(wctx)
	}(th.cl)
	return nil
}

package runtime

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Incremental cooperative rebalancing, the thread's side (the balancer's
// is internal/assign/cooperative.go). franz-go calls onRevoked with only
// the partitions the new assignment takes away, before onAssigned with
// only those it adds: the thread closes the tasks that move and keeps the
// others running, their stores open, through the rebalance. A new active
// task restores its stores in the background (restoring.go) while the
// thread's other tasks process. See DESIGN.md "Rebalancing".

func (th *thread) onAssigned(ctx context.Context, cl *kgo.Client, added map[string][]int32) {
	assignedAt := time.Now()
	th.mu.Lock()
	defer th.mu.Unlock()
	if cl != th.cl {
		return // a fenced client leaving (eosfence.go)
	}
	defer th.rebalanceDone(assignedAt)
	th.counters.Rebalances.Add(1)
	th.confirmed = time.Now()
	// A member that revoked tasks in this rebalance rejoins at once (the
	// second phase): it is still joining.
	th.joining = time.Time{}
	if th.revokedNow {
		th.joining = time.Now()
	}
	th.revokedNow = false
	th.rejoin.Store(false)
	if th.checkShutdownLocked() {
		return
	}
	if th.groupLog.reset() {
		th.e.cfg.Logger.Warn("kstreams: joined the consumer group again", "thread", th.id+1, "group", th.e.cfg.AppID)
	}
	last := th.bal.Last()
	active := map[processor.TaskID]bool{}
	for _, t := range last.Active {
		active[taskIDOf(t)] = true
	}
	wanted := map[processor.TaskID]bool{}
	for _, t := range last.Standby {
		if id := taskIDOf(t); !active[id] {
			wanted[id] = true
		}
	}
	th.e.hostMap.set(last.Hosts, last.Partitions)
	// What the thread runs and the assignment no longer names was revoked
	// before this callback; anything left (an assignment the member did
	// not revoke for) is closed without committing.
	stale := map[processor.TaskID]bool{}
	for _, id := range th.taskIDsLocked() {
		if !active[id] {
			stale[id] = true
		}
	}
	if len(stale) > 0 {
		th.e.cfg.Logger.Warn("kstreams: closing tasks the new assignment does not name", "thread", th.id+1, "tasks", len(stale))
		th.abortTxn = th.abortTxn || th.sess != nil && th.inTxn
		th.revokeLocked(context.Background(), stale, false)
	}
	th.dropStandbysLocked(wanted)
	th.resumeLostLocked()
	fresh := map[processor.TaskID]bool{}
	for topic, parts := range added {
		if st := th.e.plan.subtopologyOfResolved(topic, th.e.cfg.AppID); st != nil {
			for _, p := range parts {
				fresh[processor.TaskID{Subtopology: st.ID, Partition: p}] = true
			}
		}
	}
	var rewind, start []processor.TaskID
	for _, id := range slices.SortedFunc(maps.Keys(active), compareTaskIDs) {
		if !th.hasTaskLocked(id) {
			start = append(start, id)
		}
	}
	if err := th.loadCommittedLocked(ctx, start); err != nil && th.fatal == nil {
		// The tasks would start without their partition times and
		// processor metadata: give them back and rejoin, as for a
		// restore the broker fails.
		if classify(err) == faultFatal && ctx.Err() == nil {
			th.fatal = err
		} else {
			// Like loseTasksLocked: the partitions stay paused until the
			// next assignment, which opens the tasks from the commit.
			th.e.cfg.Logger.Warn("kstreams: reading the committed offsets failed; rejoining", "thread", th.e.ThreadID(th.id), "error", err)
			for _, id := range start {
				th.lost[id] = true
				th.cl.PauseFetchPartitions(th.partitionsOfTask(id))
			}
			th.rejoin.Store(true)
			start = nil
		}
	}
	for _, id := range start {
		if th.fatal != nil {
			continue
		}
		if !fresh[id] {
			// The member kept the partitions while the thread closed
			// the task (loseTasksLocked): what was fetched meanwhile
			// was dropped, so consumption goes back to the commit.
			rewind = append(rewind, id)
		}
		if err := th.startTaskLocked(id); err != nil {
			th.fatal = err
		}
	}
	th.rewindPositionsLocked(rewind)
	if th.fatal == nil {
		th.fatal = th.addStandbysLocked(wanted)
	}
	th.e.cfg.Logger.Info("kstreams: tasks assigned", "thread", th.e.ThreadID(th.id),
		"tasks", slices.SortedFunc(slices.Values(th.taskIDsLocked()), compareTaskIDs),
		"restoring", len(th.restoring), "waiting", len(th.waiting))
	th.updateRebalancingLocked()
}

func taskIDOf(t assign.Task) processor.TaskID {
	return processor.TaskID{Subtopology: t.Subtopology, Partition: t.Partition}
}

func compareTaskIDs(a, b processor.TaskID) int {
	return cmp.Or(cmp.Compare(a.Subtopology, b.Subtopology), cmp.Compare(a.Partition, b.Partition))
}

// taskIDsLocked lists the active tasks of the thread: running, restoring
// and waiting for their directory.
func (th *thread) taskIDsLocked() []processor.TaskID {
	var out []processor.TaskID
	for _, t := range th.tasks {
		out = append(out, t.id)
	}
	for id := range th.restoring {
		out = append(out, id)
	}
	for id := range th.waiting {
		out = append(out, id)
	}
	return out
}

func (th *thread) hasTaskLocked(id processor.TaskID) bool {
	if th.restoring[id] != nil || th.waiting[id] {
		return true
	}
	return slices.ContainsFunc(th.tasks, func(t *Task) bool { return t.id == id })
}

// partitionsOfTask returns the input partitions of task id.
func (th *thread) partitionsOfTask(id processor.TaskID) map[string][]int32 {
	out := map[string][]int32{}
	if id.Subtopology < 0 || id.Subtopology >= len(th.e.plan.Subtopologies) {
		return out
	}
	for _, t := range th.e.plan.Subtopologies[id.Subtopology].Sources {
		out[t.Resolve(th.e.cfg.AppID)] = []int32{id.Partition}
	}
	return out
}

// startTaskLocked opens active task id: at once if it has no changelog to
// restore, else as a restoring task, its input paused until its stores
// are complete. A task whose directory another thread of the instance
// still holds waits for it (taskdirs.go).
func (th *thread) startTaskLocked(id processor.TaskID) error {
	st := th.e.plan.Subtopologies[id.Subtopology]
	if len(st.Stores) > 0 && !th.e.dirs.claim(id, th) {
		th.waiting[id] = true
		th.cl.PauseFetchPartitions(th.partitionsOfTask(id))
		return nil
	}
	cfg := th.collectorFor()
	cfg.Committed = th.committedAt
	t, err := NewTask(st, id.Partition, cfg)
	if err != nil {
		th.e.dirs.release(id, th)
		return err
	}
	if len(t.Changelogs()) == 0 {
		th.runLocked(t)
		return nil
	}
	// NewTask hid its stores from queries: they restore first.
	th.restoring[id] = &restoringTask{t: t}
	th.cl.PauseFetchPartitions(th.partitionsOfTask(id))
	return nil
}

// runLocked makes t one of the tasks the thread processes.
func (th *thread) runLocked(t *Task) {
	th.tasks = append(th.tasks, t)
	for _, q := range t.queues {
		th.byPart[topicPartition{q.topic, q.partition}] = t
	}
	slices.SortFunc(th.tasks, func(a, b *Task) int { return compareTaskIDs(a.id, b.id) })
}

// rewindPositionsLocked sets the consumer back to the committed offsets of
// the input partitions of tasks ids.
func (th *thread) rewindPositionsLocked(ids []processor.TaskID) {
	if len(ids) == 0 {
		return
	}
	committed := th.cl.CommittedOffsets()
	set := map[string]map[int32]kgo.EpochOffset{}
	for _, id := range ids {
		for topic, parts := range th.partitionsOfTask(id) {
			for _, p := range parts {
				if o, ok := committed[topic][p]; ok {
					if set[topic] == nil {
						set[topic] = map[int32]kgo.EpochOffset{}
					}
					set[topic][p] = o
				}
			}
		}
	}
	th.cl.SetOffsets(set)
}

// updateRebalancingLocked tells the engine whether the thread is between
// a revocation and a complete assignment: rejoining, or with tasks not yet
// restored. The instance is Rebalancing meanwhile, as Kafka Streams is
// while tasks restore.
func (th *thread) updateRebalancingLocked() {
	n := len(th.restoring) + len(th.waiting) + len(th.waitingStandby)
	th.restoringN.Store(int32(n))
	th.e.threadRebalancing(th.id, th.rejoin.Load() || n > 0)
}

func (th *thread) onRevoked(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	th.mu.Lock()
	defer th.mu.Unlock()
	if cl != th.cl {
		return // a fenced client leaving (eosfence.go)
	}
	ids := map[processor.TaskID]bool{}
	for topic, parts := range lost {
		if st := th.e.plan.subtopologyOfResolved(topic, th.e.cfg.AppID); st != nil {
			for _, p := range parts {
				ids[processor.TaskID{Subtopology: st.ID, Partition: p}] = true
			}
		}
	}
	if th.joining.IsZero() {
		th.joining = time.Now()
	}
	th.rebalanceStarted()
	if len(ids) == 0 {
		// Cooperative rebalancing calls this at the end of every
		// session; nothing moves.
		return
	}
	th.e.threadRebalancing(th.id, true)
	for id := range ids {
		// Not this member's to rewind any more (rewindConsumerLocked).
		for topic, parts := range th.partitionsOfTask(id) {
			for _, p := range parts {
				delete(th.rewindTo[topic], p)
			}
		}
	}
	th.e.cfg.Logger.Info("kstreams: tasks revoked", "thread", th.e.ThreadID(th.id),
		"tasks", slices.SortedFunc(maps.Keys(ids), compareTaskIDs))
	th.revokedNow = true
	th.revokeLocked(ctx, ids, true)
}

// revokeLocked closes the active tasks ids (running, restoring or
// waiting); the thread's other tasks are left alone. Under at-least-once
// the revoked tasks commit first (if commit), so that their next owner
// resumes where they stopped. Under exactly-once the loop lets rebalances
// through only between transactions (run), so no transaction is open
// here: the revoked tasks hold exactly their committed state and close
// with a checkpoint; the session, which marks itself failed at any
// revocation, is reset before the next transaction (beginLocked). Should a
// transaction be open, the revoked tasks close without flushing and the
// loop aborts it and rewinds the tasks that stay.
func (th *thread) revokeLocked(ctx context.Context, ids map[processor.TaskID]bool, commit bool) {
	for id := range th.waiting {
		if ids[id] {
			delete(th.waiting, id)
			th.cl.ResumeFetchPartitions(th.partitionsOfTask(id))
		}
	}
	for id, r := range th.restoring {
		if ids[id] {
			th.closeRestoringLocked(r)
		}
	}
	var revoked, kept []*Task
	for _, t := range th.tasks {
		if ids[t.id] {
			revoked = append(revoked, t)
		} else {
			kept = append(kept, t)
		}
	}
	if len(revoked) == 0 {
		return
	}
	final := false
	switch {
	case th.sess != nil && th.inTxn:
		th.abortTxn = true
	case th.sess != nil:
		th.clearRevoke = true
		final = th.fatal == nil
	case commit && th.fatal == nil && !th.closing:
		err := th.commitTasksLocked(ctx, revoked, false)
		if errors.Is(err, errNotCommitted) {
			th.postponed(err)
			err = nil
		}
		if err != nil {
			th.fatal = err
		}
	}
	th.e.cfg.Logger.Info("kstreams: revoked tasks closing", "thread", th.e.ThreadID(th.id), "tasks", taskIDs(revoked), "kept", taskIDs(kept))
	for _, t := range revoked {
		if final {
			if err := t.FinalCheckpoint(); err != nil {
				th.e.cfg.Logger.Warn("kstreams: checkpointing revoked task", "task", t.id.String(), "error", err)
			}
		}
		th.closeTaskLocked(t)
	}
	th.tasks = slices.DeleteFunc(th.tasks, func(t *Task) bool { return ids[t.id] })
}

// closeTaskLocked closes active task t and gives up its directory; the
// caller removes it from th.tasks.
func (th *thread) closeTaskLocked(t *Task) {
	if err := t.Close(); err != nil {
		th.e.cfg.Logger.Warn("kstreams: closing task", "task", t.id.String(), "error", err)
	}
	for _, q := range t.queues {
		if th.byPart[topicPartition{q.topic, q.partition}] == t {
			delete(th.byPart, topicPartition{q.topic, q.partition})
		}
	}
	th.e.dirs.release(t.id, th)
}

func (th *thread) onLost(_ context.Context, cl *kgo.Client, _ map[string][]int32) {
	th.mu.Lock()
	defer th.mu.Unlock()
	if cl != th.cl {
		return // a fenced client leaving (eosfence.go)
	}
	th.e.threadRebalancing(th.id, true)
	th.rebalanceStarted()
	th.joining = time.Now()
	if len(th.tasks)+len(th.restoring)+len(th.waiting) > 0 {
		th.e.cfg.Logger.Warn("kstreams: group membership lost; closing tasks without committing, and rejoining",
			"thread", th.id+1, "tasks", taskIDs(th.tasks))
	}
	th.abortTxn = th.sess != nil && th.inTxn
	th.clearRevoke = false
	th.rewindTo = nil // the member fetches from the committed offsets anew
	th.closeTasksLocked()
	th.resumeLostLocked()
	th.dropStandbysLocked(nil)
}

// resumeLostLocked resumes the partitions of the tasks loseTasksLocked
// closed: the assignment that follows makes them anew (paused again while
// they restore).
func (th *thread) resumeLostLocked() {
	for id := range th.lost {
		th.cl.ResumeFetchPartitions(th.partitionsOfTask(id))
	}
	clear(th.lost)
}

// rebalanceBlocked is called (on a goroutine of its own) when a rebalance
// callback waits for the loop: under exactly-once the loop then commits
// its transaction at once and lets the rebalance through (run).
func (th *thread) rebalanceBlocked(_ context.Context, cl *kgo.Client) {
	if th.warmCl.Load() != cl {
		return // a fenced client leaving (eosfence.go)
	}
	th.blocked.Store(true)
}

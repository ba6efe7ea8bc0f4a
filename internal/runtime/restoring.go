package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/kstreams-go/kstreams/processor"
)

// Restoration in the background. A new active task with changelogs does
// not process until its stores are restored; it restores from the
// thread's loop, a bounded step (restorer.step) per iteration between the
// processing of the thread's other tasks, much as Kafka Streams' restore
// phase does. Meanwhile its input partitions are paused and its stores are
// hidden from queries, and the instance reports Rebalancing, so that a
// query of the store gets the retriable ErrStoreNotAvailable.

// restoringTask is an active task whose stores are being restored.
type restoringTask struct {
	t *Task
	// begun says its changelogs are being read; until then the restorer
	// must list their end offsets, retried after retryAt when the
	// brokers do not answer.
	begun   bool
	retryAt time.Time
}

// restoreBeginTimeout bounds the listing of a restoring task's changelog
// end offsets, which the loop waits for.
const restoreBeginTimeout = 2 * time.Second

// restoreStepLocked opens the tasks that waited for their directories,
// starts the restoration of new restoring tasks, applies one bounded step
// of fetched changelog records (restoring and standby tasks), and makes
// the tasks whose stores are complete run.
func (th *thread) restoreStepLocked(ctx context.Context) error {
	changed := false
	for id := range th.waiting {
		if !th.e.dirs.claim(id, th) {
			continue
		}
		delete(th.waiting, id)
		changed = true
		if err := th.loadCommittedLocked(ctx, []processor.TaskID{id}); err != nil {
			// Without its partition times the task would start from
			// scratch: leave it waiting, and try again next step.
			th.waiting[id] = true
			th.e.dirs.release(id, th)
			continue
		}
		// startTaskLocked pauses the partitions again (a no-op) and
		// resumes them once the task runs.
		if err := th.startTaskLocked(id); err != nil {
			return err
		}
		if th.restoring[id] == nil {
			th.cl.ResumeFetchPartitions(th.partitionsOfTask(id))
		}
	}
	if len(th.waitingStandby) > 0 {
		wanted := th.waitingStandby
		th.waitingStandby = map[processor.TaskID]bool{}
		if err := th.addStandbysLocked(wanted); err != nil {
			return err
		}
		changed = changed || len(th.waitingStandby) < len(wanted)
	}
	now := time.Now()
	for _, r := range th.restoring {
		if r.begun || now.Before(r.retryAt) {
			continue
		}
		bctx, cancel := context.WithTimeout(ctx, restoreBeginTimeout)
		done, err := th.restorer.begin(bctx, r.t)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, errRestoreBroker) && classify(err) != faultFatal {
				r.retryAt = now.Add(time.Second)
				th.restoreWarn(err)
				continue
			}
			return err
		}
		r.begun = true
		if done {
			th.finishRestoreLocked(r)
			changed = true
		}
	}
	done, err := th.restorer.step()
	if err != nil {
		if !errors.Is(err, errRestoreBroker) || classify(err) == faultFatal {
			return err
		}
		th.restoreWarn(err)
	}
	for _, t := range done {
		if r := th.restoring[t.id]; r != nil && r.t == t {
			th.finishRestoreLocked(r)
			changed = true
		}
	}
	if changed {
		th.updateRebalancingLocked()
	}
	return nil
}

// restoreWarn logs a broker error met while restoring, which is retried.
func (th *thread) restoreWarn(err error) {
	if ok, held := th.fetchLog.allow(time.Now()); ok {
		th.e.cfg.Logger.Warn("kstreams: restoring; retrying", "thread", th.id+1, "error", err, "repeats", held)
	}
}

// finishRestoreLocked makes a restored task run: its stores become
// queryable and its input partitions are fetched.
func (th *thread) finishRestoreLocked(r *restoringTask) {
	delete(th.restoring, r.t.id)
	r.t.showStores()
	th.runLocked(r.t)
	th.cl.ResumeFetchPartitions(th.partitionsOfTask(r.t.id))
	th.e.cfg.Logger.Info("kstreams: task restored", "thread", th.id+1, "task", r.t.id.String())
}

// closeRestoringLocked closes a restoring task, with a checkpoint of what
// it restored (its stores hold committed changelog records only).
func (th *thread) closeRestoringLocked(r *restoringTask) {
	delete(th.restoring, r.t.id)
	th.restorer.cancel(r.t)
	if err := r.t.FinalCheckpoint(); err != nil {
		th.e.cfg.Logger.Warn("kstreams: checkpointing restoring task", "task", r.t.id.String(), "error", err)
	}
	th.closeTaskLocked(r.t)
	th.cl.ResumeFetchPartitions(th.partitionsOfTask(r.t.id))
}

// hideStores takes the task's stores out of the query registry while it
// restores.
func (t *Task) hideStores() {
	t.hidden = true
	if t.cfg.Registry == nil {
		return
	}
	for _, ts := range t.stores {
		t.cfg.Registry.remove(ts.spec.Name, t.id)
		t.cfg.Registry.setRestoring(ts.spec.Name, t.id, true)
	}
}

// showStores puts the task's stores in the query registry.
func (t *Task) showStores() {
	t.hidden = false
	if t.cfg.Registry == nil {
		return
	}
	for _, ts := range t.stores {
		t.cfg.Registry.add(ts.spec.Name, t.id, ts.queryView())
		t.cfg.Registry.setRestoring(ts.spec.Name, t.id, false)
	}
}

package runtime

import (
	"log/slog"
	"slices"
	"time"

	"github.com/kstreams-go/kstreams/processor"
)

// restoreLogEvery is how often a restoration in progress logs its
// progress, per store partition.
const restoreLogEvery = 10 * time.Second

// restoreListener returns the restore listener of thread: it keeps each
// store partition's progress and rate for the metrics, logs the start, the
// progress (at most every restoreLogEvery) and the end of each restoration
// at info level, and passes the progress on to user, if set.
func (s *Sensors) restoreListener(plan *Plan, logger *slog.Logger, thread string, user func(RestoreProgress)) func(RestoreProgress) {
	subOf := map[string]int{}
	for _, st := range plan.Subtopologies {
		for _, spec := range st.Stores {
			subOf[spec.Name] = st.ID
		}
	}
	return func(p RestoreProgress) {
		task := processor.TaskID{Subtopology: subOf[p.Store], Partition: p.Partition}
		s.restored(p, task, thread, logger)
		if user != nil {
			user(p)
		}
	}
}

// globalRestoreListener is restoreListener for the global stores, which
// the global thread restores: each store partition counts as task
// "-1_<partition>" (Kafka Streams tags all of a global store's metrics
// with task -1_-1; the partition keeps the series of each partition apart).
func (s *Sensors) globalRestoreListener(logger *slog.Logger, thread string, user func(RestoreProgress)) func(RestoreProgress) {
	return func(p RestoreProgress) {
		s.restored(p, processor.TaskID{Subtopology: -1, Partition: p.Partition}, thread, logger)
		if user != nil {
			user(p)
		}
	}
}

func (s *Sensors) restored(p RestoreProgress, task processor.TaskID, thread string, logger *slog.Logger) {
	now := time.Now()
	s.mu.Lock()
	k := storeKey{task, p.Store}
	e := s.restores[k]
	fresh := e == nil || e.last.Done || p.Restored < e.last.Restored
	if e == nil {
		e = &restoreEntry{}
		s.restores[k] = e
	}
	n := p.Restored
	if !fresh {
		n -= e.last.Restored
	}
	e.last = p
	e.rate.record(float64(n), now)
	logNow := fresh || p.Done || now.Sub(e.loggedAt) >= restoreLogEvery
	if logNow {
		e.loggedAt = now
	}
	s.mu.Unlock()
	if !logNow {
		return
	}
	attrs := []any{"thread", thread, "task", task.String(), "store", p.Store, "topic", p.Topic, "partition", p.Partition,
		"restored", p.Restored, "total", p.Total, "elapsed", p.Elapsed.Round(time.Millisecond)}
	if fresh {
		logger.Info("kstreams: restoring store", attrs...)
	}
	switch {
	case p.Done:
		logger.Info("kstreams: store restored", attrs...)
	case !fresh:
		logger.Info("kstreams: restoration progress", attrs...)
	}
}

// RestoreStats returns the restorations this instance ran, by task then
// store, the last progress of each with its rate.
func (s *Sensors) RestoreStats(now time.Time) []RestoreState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RestoreState, 0, len(s.restores))
	for k, e := range s.restores {
		out = append(out, RestoreState{RestoreProgress: e.last, Task: k.task, Rate: e.rate.read(now).SumRate})
	}
	slices.SortFunc(out, func(a, b RestoreState) int {
		if c := compareTasks(a.Task, b.Task); c != 0 {
			return c
		}
		return cmpString(a.Store, b.Store)
	})
	return out
}

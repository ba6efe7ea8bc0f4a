package runtime

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// WarmupConfig configures how the group leader moves stateful tasks
// (assign.Warmup): a task goes active only to an instance whose copy of
// its state is within AcceptableRecoveryLag of its changelogs' end when
// one exists; elsewhere it first warms up as an extra standby (at most
// MaxWarmupReplicas at a time), and a probing rebalance
// ProbingRebalanceInterval later moves the warm-ups that caught up.
type WarmupConfig struct {
	AcceptableRecoveryLag    int64
	MaxWarmupReplicas        int
	ProbingRebalanceInterval time.Duration
}

// DefaultWarmup returns Kafka Streams' defaults: 10,000 records, two
// warm-ups, ten minutes.
func DefaultWarmup() WarmupConfig {
	return WarmupConfig{
		AcceptableRecoveryLag:    assign.DefaultAcceptableRecoveryLag,
		MaxWarmupReplicas:        assign.DefaultMaxWarmupReplicas,
		ProbingRebalanceInterval: assign.DefaultProbingRebalanceInterval,
	}
}

// changelogTopics maps each sub-topology with logged stores to their
// changelog topics.
func (e *Engine) changelogTopics() map[int][]string {
	out := map[int][]string{}
	for _, st := range e.plan.Subtopologies {
		for _, s := range st.Stores {
			if s.Logged {
				out[st.ID] = append(out[st.ID], s.Changelog().Resolve(e.cfg.AppID))
			}
		}
	}
	return out
}

// enableWarmup makes the thread's balancer assign with warm-ups. The
// leader lists the changelogs' end offsets with the thread's own client,
// which the caller stores in the returned pointer once it exists (the
// group may ask for an assignment as soon as the client does).
func (th *thread) enableWarmup() *atomic.Pointer[kgo.Client] {
	var cl atomic.Pointer[kgo.Client]
	w := th.e.cfg.Warmup
	if w == (WarmupConfig{}) {
		w = DefaultWarmup()
	}
	th.bal.SetWarmup(assign.Warmup{
		AcceptableRecoveryLag:    w.AcceptableRecoveryLag,
		MaxWarmupReplicas:        w.MaxWarmupReplicas,
		ProbingRebalanceInterval: w.ProbingRebalanceInterval,
		Changelogs:               th.e.changelogTopics(),
		EndOffsets: func(ctx context.Context, topics []string) (map[string]map[int32]int64, error) {
			return listEnds(ctx, cl.Load(), topics)
		},
		Log: th.e.cfg.Logger.With("thread", th.id+1),
	})
	return &cl
}

// errNoClient is returned when the leader asks for end offsets before the
// thread's client exists (it cannot: the client is the member).
var errNoClient = errors.New("kstreams: the thread's client is not ready")

// listEnds returns the end offsets of the partitions of topics; topics
// that do not exist (a changelog not created yet) are left out.
func listEnds(ctx context.Context, cl *kgo.Client, topics []string) (map[string]map[int32]int64, error) {
	if cl == nil {
		return nil, errNoClient
	}
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	var first error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			if first == nil && !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				first = o.Err
			}
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out, first
}

// probeDue reports whether the assignment asked this member to rejoin for
// a probing rebalance by now.
func (th *thread) probeDue() bool { return th.bal.ProbeDue(time.Now()) }

// runningState updates held (the state directory's checkpoints) with what
// the instance's open tasks know better: tasks whose stores are open as
// active tasks (not restoring) are assign.LatestOffset, as current as their changelogs
// whatever their last checkpoint says (Kafka Streams reports running
// active tasks the same way); open standby tasks (warm-ups among them)
// report the changelog positions they have applied, which run ahead of
// their last checkpoint.
func (e *Engine) runningState(held []assign.TaskOffset) []assign.TaskOffset {
	live := map[assign.Task]int64{}
	e.registry.mu.Lock()
	for id, ps := range e.registry.positions {
		sum := int64(0)
		for _, p := range ps {
			if p.Load() < 0 {
				sum = -1
				break
			}
			sum += p.Load()
		}
		if sum >= 0 {
			live[taskOf(id)] = sum
		}
	}
	for name, byTask := range e.registry.m {
		for id := range byTask {
			if e.registry.restoring[name][id] {
				// Restoring in the background: only as current as what it
				// has restored, which its checkpoint (held) approximates.
				continue
			}
			live[taskOf(id)] = assign.LatestOffset
		}
	}
	e.registry.mu.Unlock()
	for i := range held {
		if off, ok := live[held[i].Task]; ok {
			held[i].Offset = off
			delete(live, held[i].Task)
		}
	}
	for _, t := range slices.SortedFunc(maps.Keys(live), compareTask) {
		if t.Subtopology < len(e.subs) && e.subs[t.Subtopology].Stateful {
			held = append(held, assign.TaskOffset{Task: t, Offset: live[t]})
		}
	}
	return held
}

func compareTask(a, b assign.Task) int {
	return cmp.Or(cmp.Compare(a.Subtopology, b.Subtopology), cmp.Compare(a.Partition, b.Partition))
}

// livePositions returns the live changelog positions of the task's
// logged stores.
func (t *Task) livePositions() []*atomic.Int64 {
	var out []*atomic.Int64
	for _, ts := range t.stores {
		if ts.logged != nil {
			out = append(out, &ts.live)
		}
	}
	return out
}

// addPositions records the live changelog positions of standby task id.
func (r *registry) addPositions(id processor.TaskID, ps []*atomic.Int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.positions == nil {
		r.positions = map[processor.TaskID][]*atomic.Int64{}
	}
	r.positions[id] = ps
}

// removePositions forgets standby task id's positions.
func (r *registry) removePositions(id processor.TaskID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.positions, id)
}

func taskOf(id processor.TaskID) assign.Task {
	return assign.Task{Subtopology: id.Subtopology, Partition: id.Partition}
}

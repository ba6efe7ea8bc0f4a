package runtime

import (
	"context"
	"errors"
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

// runningState marks, in held (the state directory's checkpoints), the
// tasks whose stores are open as active tasks on this instance as
// assign.LatestOffset: they are as current as their changelogs, whatever
// their last checkpoint says (Kafka Streams reports running active tasks
// the same way).
func (e *Engine) runningState(held []assign.TaskOffset) []assign.TaskOffset {
	running := map[assign.Task]bool{}
	e.registry.mu.Lock()
	for _, byTask := range e.registry.m {
		for id := range byTask {
			running[taskOf(id)] = true
		}
	}
	e.registry.mu.Unlock()
	if len(running) == 0 {
		return held
	}
	for i := range held {
		if running[held[i].Task] {
			held[i].Offset = assign.LatestOffset
			delete(running, held[i].Task)
		}
	}
	for t := range running {
		if t.Subtopology < len(e.subs) && e.subs[t.Subtopology].Stateful {
			held = append(held, assign.TaskOffset{Task: t, Offset: assign.LatestOffset})
		}
	}
	return held
}

func taskOf(id processor.TaskID) assign.Task {
	return assign.Task{Subtopology: id.Subtopology, Partition: id.Partition}
}

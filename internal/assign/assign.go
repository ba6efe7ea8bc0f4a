// Package assign is the group balancer of kstreams: it hands out tasks
// (sub-topology, partition) to the members of an application's consumer
// group, so that every source partition of a task goes to the same member.
//
// Members send a small versioned JSON document in their join metadata's user
// data; the leader's assignment carries each member's tasks back in the sync
// assignment's user data.
package assign

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProtocolName is the group protocol every kstreams member uses.
const ProtocolName = "kstreams"

const version = 1

// Task is a task id: sub-topology and partition.
type Task struct {
	Subtopology int   `json:"s"`
	Partition   int32 `json:"p"`
}

// Subtopology is what the balancer knows of one sub-topology: the topics
// (resolved names) it reads.
type Subtopology struct {
	ID     int
	Topics []string
	// Stateful sub-topologies have logged stores: their tasks get standbys.
	Stateful bool
}

// Subscription is a member's user data in its join request.
type Subscription struct {
	Version int    `json:"v"`
	Process string `json:"process"`
	// Endpoint is where this member's instance serves queries (host:port),
	// empty when it serves none.
	Endpoint string `json:"endpoint,omitempty"`
	// Standby lists the standby tasks the member had.
	Standby []Task `json:"standby,omitempty"`
}

// Assignment is a member's user data in the sync response.
type Assignment struct {
	Version int    `json:"v"`
	Active  []Task `json:"active"`
	Standby []Task `json:"standby,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Balancer is a kgo.GroupBalancer for one application instance's member.
type Balancer struct {
	subs     []Subtopology
	topicOf  map[string]int
	self     Subscription
	standbys int

	mu   sync.Mutex
	last Assignment
}

// NewBalancer returns the balancer for a member of process self that, as
// the leader, gives each stateful task standbys standby replicas.
func NewBalancer(subs []Subtopology, self Subscription, standbys int) *Balancer {
	b := &Balancer{subs: subs, topicOf: map[string]int{}, self: self, standbys: standbys}
	b.self.Version = version
	for _, s := range subs {
		for _, t := range s.Topics {
			b.topicOf[t] = s.ID
		}
	}
	return b
}

// ProtocolName implements kgo.GroupBalancer.
func (*Balancer) ProtocolName() string { return ProtocolName }

// IsCooperative implements kgo.GroupBalancer: kstreams rebalances eagerly.
func (*Balancer) IsCooperative() bool { return false }

// JoinGroupMetadata implements kgo.GroupBalancer.
func (b *Balancer) JoinGroupMetadata(topics []string, current map[string][]int32, _ int32) []byte {
	b.mu.Lock()
	sub := b.self
	sub.Standby = b.last.Standby
	b.mu.Unlock()
	ud, _ := json.Marshal(sub)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 0
	meta.Topics = topics
	meta.UserData = ud
	for _, t := range sortedKeys(current) {
		meta.OwnedPartitions = append(meta.OwnedPartitions, kmsg.ConsumerMemberMetadataOwnedPartition{Topic: t, Partitions: current[t]})
	}
	return meta.AppendTo(nil)
}

// ParseSyncAssignment implements kgo.GroupBalancer. It keeps the assignment's
// user data for Last.
func (b *Balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var ka kmsg.ConsumerMemberAssignment
	if err := ka.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("kstreams: parsing sync assignment: %w", err)
	}
	var a Assignment
	if len(ka.UserData) > 0 {
		if err := json.Unmarshal(ka.UserData, &a); err != nil {
			return nil, fmt.Errorf("kstreams: parsing assignment user data: %w", err)
		}
	}
	if a.Error != "" {
		return nil, fmt.Errorf("kstreams: the group leader could not assign tasks: %s", a.Error)
	}
	b.mu.Lock()
	b.last = a
	b.mu.Unlock()
	m := make(map[string][]int32, len(ka.Topics))
	for _, t := range ka.Topics {
		m[t.Topic] = t.Partitions
	}
	return m, nil
}

// Last returns the user data of the last assignment this member received.
func (b *Balancer) Last() Assignment {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// MemberBalancer implements kgo.GroupBalancer.
func (b *Balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	return cb, cb.MemberTopics(), err
}

// Member is one group member as the balancer sees it.
type Member struct {
	ID       string
	Sub      Subscription
	Previous []Task
}

// Balance implements kgo.ConsumerBalancerBalance.
func (b *Balancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	var members []Member
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		mem := Member{ID: m.MemberID}
		_ = json.Unmarshal(meta.UserData, &mem.Sub)
		mem.Previous = b.tasksOf(meta.OwnedPartitions)
		members = append(members, mem)
	})
	tasks, err := Tasks(b.subs, topics)
	if err != nil {
		cb.SetError(err)
		return syncAssignment{}
	}
	plan := Distribute(tasks, members)
	standby := DistributeStandbys(b.statefulTasks(tasks), members, plan, b.standbys)
	return b.syncAssignment(members, plan, standby, topics)
}

func (b *Balancer) statefulTasks(tasks []Task) []Task {
	var out []Task
	for _, t := range tasks {
		if b.subs[t.Subtopology].Stateful {
			out = append(out, t)
		}
	}
	return out
}

// DistributeStandbys gives each task up to n standbys, on members of
// processes other than the one running the task actively and other than
// each other. A member that had the standby keeps it; the rest go to the
// least loaded eligible member.
func DistributeStandbys(tasks []Task, members []Member, active map[string][]Task, n int) map[string][]Task {
	out := map[string][]Task{}
	if n <= 0 {
		return out
	}
	owner := map[Task]string{}
	load := map[string]int{}
	for id, ts := range active {
		for _, t := range ts {
			owner[t] = id
		}
		load[id] = len(ts)
	}
	process := map[string]string{}
	had := map[Task][]string{}
	for _, m := range members {
		process[m.ID] = m.Sub.Process
		for _, t := range m.Sub.Standby {
			had[t] = append(had[t], m.ID)
		}
	}
	for _, t := range tasks {
		used := map[string]bool{process[owner[t]]: true}
		for range n {
			id := pickStandby(t, members, had[t], used, process, load)
			if id == "" {
				break
			}
			used[process[id]] = true
			out[id] = append(out[id], t)
			load[id]++
		}
	}
	return out
}

func pickStandby(t Task, members []Member, had []string, used map[string]bool, process map[string]string, load map[string]int) string {
	for _, id := range had {
		if p, ok := process[id]; ok && !used[p] {
			return id
		}
	}
	best := ""
	for _, m := range members {
		if used[m.Sub.Process] {
			continue
		}
		if best == "" || load[m.ID] < load[best] {
			best = m.ID
		}
	}
	return best
}

func (b *Balancer) tasksOf(owned []kmsg.ConsumerMemberMetadataOwnedPartition) []Task {
	seen := map[Task]bool{}
	var out []Task
	for _, o := range owned {
		s, ok := b.topicOf[o.Topic]
		if !ok {
			continue
		}
		for _, p := range o.Partitions {
			t := Task{Subtopology: s, Partition: p}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// ErrMissingTopic is returned when a source topic does not exist.
var ErrMissingTopic = errors.New("kstreams: source topic not found")

// Tasks lists the tasks of the sub-topologies: one per partition of the
// largest source topic of each.
func Tasks(subs []Subtopology, topics map[string]int32) ([]Task, error) {
	var tasks []Task
	for _, s := range subs {
		var n int32
		for _, t := range s.Topics {
			c, ok := topics[t]
			if !ok || c <= 0 {
				return nil, fmt.Errorf("%w: %q (sub-topology %d)", ErrMissingTopic, t, s.ID)
			}
			n = max(n, c)
		}
		for p := range n {
			tasks = append(tasks, Task{Subtopology: s.ID, Partition: p})
		}
	}
	return tasks, nil
}

// Distribute gives every task to one member: a member keeps the tasks it
// had up to its fair share (len(tasks)/len(members), one more for as many
// members as the division leaves over), and the rest go to the least loaded
// members, so that loads differ by at most one. The result maps member id
// to its tasks, in task order.
func Distribute(tasks []Task, members []Member) map[string][]Task {
	plan := make(map[string][]Task, len(members))
	if len(members) == 0 {
		return plan
	}
	base, extra := len(tasks)/len(members), len(tasks)%len(members)
	prev := map[Task]int{}
	for i := len(members) - 1; i >= 0; i-- {
		for _, t := range members[i].Previous {
			prev[t] = i
		}
	}
	var over []Task
	for _, t := range tasks {
		if i, ok := prev[t]; ok && len(plan[members[i].ID]) < base {
			plan[members[i].ID] = append(plan[members[i].ID], t)
			continue
		}
		over = append(over, t)
	}
	// Only extra members may keep one task above base.
	var rest []Task
	for _, t := range over {
		if i, ok := prev[t]; ok && extra > 0 && len(plan[members[i].ID]) == base {
			plan[members[i].ID] = append(plan[members[i].ID], t)
			extra--
			continue
		}
		rest = append(rest, t)
	}
	for _, t := range rest {
		best := 0
		for i := range members {
			if len(plan[members[i].ID]) < len(plan[members[best].ID]) {
				best = i
			}
		}
		plan[members[best].ID] = append(plan[members[best].ID], t)
	}
	for id := range plan {
		slices.SortFunc(plan[id], func(a, b Task) int {
			if a.Subtopology != b.Subtopology {
				return a.Subtopology - b.Subtopology
			}
			return int(a.Partition - b.Partition)
		})
	}
	return plan
}

type syncAssignment []kmsg.SyncGroupRequestGroupAssignment

func (s syncAssignment) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return s }

func (b *Balancer) syncAssignment(members []Member, plan, standby map[string][]Task, topics map[string]int32) syncAssignment {
	out := make(syncAssignment, 0, len(members))
	for _, m := range members {
		parts := map[string][]int32{}
		for _, t := range plan[m.ID] {
			for _, topic := range b.subs[t.Subtopology].Topics {
				if t.Partition < topics[topic] {
					parts[topic] = append(parts[topic], t.Partition)
				}
			}
		}
		ka := kmsg.NewConsumerMemberAssignment()
		for _, topic := range sortedKeys(parts) {
			ka.Topics = append(ka.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: topic, Partitions: parts[topic]})
		}
		ka.UserData, _ = json.Marshal(Assignment{Version: version, Active: plan[m.ID], Standby: standby[m.ID]})
		out = append(out, kmsg.SyncGroupRequestGroupAssignment{MemberID: m.ID, MemberAssignment: ka.AppendTo(nil)})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

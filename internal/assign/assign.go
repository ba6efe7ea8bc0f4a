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

const version = 2

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
	// Active and Standby list the tasks the member had in its last
	// assignment.
	Active  []Task `json:"active,omitempty"`
	Standby []Task `json:"standby,omitempty"`
	// State lists the tasks whose state the member's instance holds on
	// disk, with the changelog offsets their stores are complete up to.
	State []TaskOffset `json:"state,omitempty"`
	// Shutdown, when set, asks every member of the group to shut down.
	Shutdown *ShutdownRequest `json:"shutdown,omitempty"`
}

// ShutdownRequest is an instance's request that the whole application shut
// down: the leader answers every member with it instead of tasks.
type ShutdownRequest struct {
	// Process is the requesting instance's process id.
	Process string `json:"process"`
	// Cause is the error that made it ask.
	Cause string `json:"cause,omitempty"`
}

// TaskOffset is a task whose state an instance holds, and the sum over its
// changelog partitions of the offsets the state is complete up to.
type TaskOffset struct {
	Task   Task  `json:"t"`
	Offset int64 `json:"o"`
}

// Assignment is a member's user data in the sync response.
type Assignment struct {
	Version int    `json:"v"`
	Active  []Task `json:"active"`
	Standby []Task `json:"standby,omitempty"`
	Error   string `json:"error,omitempty"`
	// Hosts maps every query endpoint of the group to the tasks its
	// instance runs, so that any member knows where a key's state lives.
	Hosts map[string]HostTasks `json:"hosts,omitempty"`
	// Partitions is the number of tasks (input partitions) of each
	// sub-topology, by id: where a key lives is its partition among
	// these, which Hosts cannot tell while a moving task is held back
	// from every member.
	Partitions []int32 `json:"parts,omitempty"`
	// Shutdown, when set, tells the member to shut down: a member of the
	// group asked for it, and no tasks are assigned.
	Shutdown *ShutdownRequest `json:"shutdown,omitempty"`
	// ProbeAt, when set, is when (Unix milliseconds, the leader's clock)
	// the member is to rejoin the group for a probing rebalance: warm-up
	// replicas are catching up. One member of the leader's instance gets
	// it.
	ProbeAt int64 `json:"probe,omitempty"`
}

// HostTasks are the active and standby tasks of one instance.
type HostTasks struct {
	Active  []Task `json:"active,omitempty"`
	Standby []Task `json:"standby,omitempty"`
}

// Balancer is a kgo.GroupBalancer for one application instance's member.
type Balancer struct {
	subs     []Subtopology
	topicOf  map[string]int
	self     Subscription
	standbys int
	// state, if set, lists the tasks whose state the instance holds;
	// called at every join.
	state func() []TaskOffset

	// warm, if set, makes the leader assign with warm-ups (warmup.go).
	warm *Warmup

	mu   sync.Mutex
	last Assignment
	// probeAt is when the member is due to rejoin for a probing
	// rebalance, zero when it is not.
	probeAt int64
}

// NewBalancer returns the balancer for a member of process self that, as
// the leader, gives each stateful task standbys standby replicas. state, if
// not nil, reports the tasks whose state the instance holds at each join.
func NewBalancer(subs []Subtopology, self Subscription, standbys int, state func() []TaskOffset) *Balancer {
	b := &Balancer{subs: subs, topicOf: map[string]int{}, self: self, standbys: standbys, state: state}
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

// IsCooperative implements kgo.GroupBalancer: kstreams rebalances
// incrementally (cooperative.go).
func (*Balancer) IsCooperative() bool { return true }

// JoinGroupMetadata implements kgo.GroupBalancer.
func (b *Balancer) JoinGroupMetadata(topics []string, current map[string][]int32, generation int32) []byte {
	b.mu.Lock()
	sub := b.self
	sub.Active, sub.Standby = b.last.Active, b.last.Standby
	b.mu.Unlock()
	if b.state != nil {
		sub.State = b.state()
	}
	ud, _ := json.Marshal(sub)
	meta := kmsg.NewConsumerMemberMetadata()
	// Version 2 carries the owned partitions and their generation, which
	// the leader needs to move tasks cooperatively.
	meta.Version = 2
	meta.Generation = generation
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
	b.probeAt = a.ProbeAt
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
	if req := shutdownRequested(members); req != nil {
		return shutdownAssignment(members, req)
	}
	tasks, err := Tasks(b.subs, topics)
	if err != nil {
		cb.SetError(err)
		return syncAssignment{}
	}
	var plan, standby map[string][]Task
	var probeAt int64
	if b.warm != nil {
		plan, standby, probeAt = b.balanceHA(tasks, members)
	} else {
		plan = Distribute(tasks, members)
		standby = DistributeStandbys(b.statefulTasks(tasks), members, plan, b.standbys)
	}
	holdMoving(members, plan)
	return b.syncAssignment(members, plan, standby, taskCounts(tasks), topics, probeAt)
}

// taskCounts returns the number of tasks of each sub-topology, by id.
func taskCounts(tasks []Task) []int32 {
	var out []int32
	for _, t := range tasks {
		for len(out) <= t.Subtopology {
			out = append(out, 0)
		}
		out[t.Subtopology] = max(out[t.Subtopology], t.Partition+1)
	}
	return out
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
// each other. A member that had the standby keeps it; then a member of an
// instance holding the task's state gets it; the rest go to the least
// loaded eligible member.
func DistributeStandbys(tasks []Task, members []Member, active map[string][]Task, n int) map[string][]Task {
	return distributeStandbys(tasks, members, active, n, nil)
}

// distributeStandbys is DistributeStandbys keeping each task's standbys
// out of the processes exclude lists for it as well.
func distributeStandbys(tasks []Task, members []Member, active map[string][]Task, n int, exclude map[Task][]string) map[string][]Task {
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
	// Then the members of instances holding the task's state.
	for t, is := range candidates(members) {
		for _, i := range is {
			had[t] = append(had[t], members[i].ID)
		}
	}
	for _, t := range tasks {
		used := map[string]bool{process[owner[t]]: true}
		for _, p := range exclude[t] {
			used[p] = true
		}
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

// Distribute gives every task to one member, balanced so that loads differ
// by at most one (len(tasks)/len(members), one more for as many members as
// the division leaves over). Within that bound a task goes, in order of
// preference, to the member that ran it before, then to a member of the
// instance holding the most complete copy of its state (the highest
// changelog offset reported), then to the least loaded member. Tasks are
// dealt partition by partition across sub-topologies, so that a member
// keeping part of its tasks keeps some of each sub-topology. The result
// maps member id to its tasks, in task order.
func Distribute(tasks []Task, members []Member) map[string][]Task {
	plan := make(map[string][]Task, len(members))
	if len(members) == 0 {
		return plan
	}
	base, extra := len(tasks)/len(members), len(tasks)%len(members)
	cands := candidates(members)
	// Partition first, then sub-topology: a member that keeps part of
	// what it had keeps tasks of every sub-topology, not all of one.
	order := slices.Clone(tasks)
	slices.SortStableFunc(order, func(a, b Task) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return a.Subtopology - b.Subtopology
	})
	var over []Task
	for _, t := range order {
		if i := firstWith(cands[t], members, plan, func(n int) bool { return n < base }); i >= 0 {
			plan[members[i].ID] = append(plan[members[i].ID], t)
			continue
		}
		over = append(over, t)
	}
	var rest []Task
	for _, t := range over {
		if i := firstWith(cands[t], members, plan, func(n int) bool { return n == base && extra > 0 }); i >= 0 {
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
		slices.SortFunc(plan[id], compareTasks)
	}
	return plan
}

func compareTasks(a, b Task) int {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology - b.Subtopology
	}
	return int(a.Partition - b.Partition)
}

// firstWith returns the first candidate whose load passes ok, -1 if none.
func firstWith(cands []int, members []Member, plan map[string][]Task, ok func(int) bool) int {
	for _, i := range cands {
		if ok(len(plan[members[i].ID])) {
			return i
		}
	}
	return -1
}

// candidates lists, for each task, the members that should run it, best
// first: the member that ran it (its owned partitions or last assignment),
// then the members of the instances holding its state, most complete
// first. Members of one instance come in member order.
func candidates(members []Member) map[Task][]int {
	out := map[Task][]int{}
	seen := map[Task]map[int]bool{}
	add := func(t Task, i int) {
		if seen[t] == nil {
			seen[t] = map[int]bool{}
		}
		if !seen[t][i] {
			seen[t][i] = true
			out[t] = append(out[t], i)
		}
	}
	for i, m := range members {
		for _, t := range m.Previous {
			add(t, i)
		}
		for _, t := range m.Sub.Active {
			add(t, i)
		}
	}
	type holder struct {
		i      int
		offset int64
	}
	held := map[Task][]holder{}
	for i, m := range members {
		for _, s := range m.Sub.State {
			held[s.Task] = append(held[s.Task], holder{i, s.Offset})
		}
	}
	for t, hs := range held {
		slices.SortStableFunc(hs, func(a, b holder) int {
			if a.offset != b.offset {
				if a.offset > b.offset {
					return -1
				}
				return 1
			}
			return a.i - b.i
		})
		for _, h := range hs {
			add(t, h.i)
		}
	}
	return out
}

type syncAssignment []kmsg.SyncGroupRequestGroupAssignment

func (s syncAssignment) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return s }

// Hosts maps the query endpoint of every member that has one to the tasks
// of its instance (members of one instance share an endpoint).
func Hosts(members []Member, plan, standby map[string][]Task) map[string]HostTasks {
	hosts := map[string]HostTasks{}
	for _, m := range members {
		if m.Sub.Endpoint == "" {
			continue
		}
		h := hosts[m.Sub.Endpoint]
		h.Active = append(h.Active, plan[m.ID]...)
		h.Standby = append(h.Standby, standby[m.ID]...)
		slices.SortFunc(h.Active, compareTasks)
		slices.SortFunc(h.Standby, compareTasks)
		hosts[m.Sub.Endpoint] = h
	}
	if len(hosts) == 0 {
		return nil
	}
	return hosts
}

// syncAssignment encodes each member's tasks and the task counts of the
// sub-topologies (counts); probeAt, if not zero, goes
// to the first member of the leader's instance (the first member if the
// leader's instance has none).
func (b *Balancer) syncAssignment(members []Member, plan, standby map[string][]Task, counts []int32, topics map[string]int32, probeAt int64) syncAssignment {
	out := make(syncAssignment, 0, len(members))
	hosts := Hosts(members, plan, standby)
	prober := slices.IndexFunc(members, func(m Member) bool { return m.Sub.Process == b.self.Process })
	for i, m := range members {
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
		a := Assignment{Version: version, Active: plan[m.ID], Standby: standby[m.ID], Hosts: hosts, Partitions: counts}
		if i == max(prober, 0) {
			a.ProbeAt = probeAt
		}
		ka.UserData, _ = json.Marshal(a)
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

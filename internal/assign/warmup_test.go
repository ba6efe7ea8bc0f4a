package assign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// haMember is member id of process proc that reports the given task
// offset sums.
func haMember(id, proc string, state map[Task]int64, prev ...Task) Member {
	m := Member{ID: id, Sub: Subscription{Process: proc}, Previous: prev}
	for _, t := range slices.SortedFunc(maps.Keys(state), compareTasks) {
		m.Sub.State = append(m.Sub.State, TaskOffset{Task: t, Offset: state[t]})
	}
	return m
}

// offsets gives every task the same reported offset sum.
func offsets(ts []Task, off int64) map[Task]int64 {
	out := map[Task]int64{}
	for _, t := range ts {
		out[t] = off
	}
	return out
}

// targets returns the tasks whose balanced placement among procs (one
// member each) is proc.
func targets(ts []Task, procs []string, proc string) []Task {
	capOf := map[string]int{}
	for _, p := range procs {
		capOf[p] = 1
	}
	sorted := slices.Clone(procs)
	slices.Sort(sorted)
	var out []Task
	for t, p := range rendezvous(ts, sorted, capOf) {
		if p == proc {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, compareTasks)
	return out
}

// activeOn maps each task to the process of the member running it.
func activeOn(ms []Member, active map[string][]Task) map[Task]string {
	proc := map[string]string{}
	for _, m := range ms {
		proc[m.ID] = m.Sub.Process
	}
	out := map[Task]string{}
	for id, ts := range active {
		for _, t := range ts {
			out[t] = proc[id]
		}
	}
	return out
}

func TestAssignHA(t *testing.T) {
	const end = 100_000 // every stateful task's changelog end offset sum
	four := tasks(4, 0)
	onB := targets(four, []string{"A", "B"}, "B")
	notOnB := slices.DeleteFunc(slices.Clone(four), func(t Task) bool { return slices.Contains(onB, t) })
	if len(onB) != 2 {
		t.Fatalf("balance wants %v on B, want two of four tasks", onB)
	}
	tests := []struct {
		name     string
		tasks    []Task
		stateful []Task
		members  []Member
		cfg      HAConfig
		// activeOn maps tasks to the process that must run them.
		activeOn map[Task]string
		// warmups maps members to their warm-up replicas.
		warmups   map[string][]Task
		movements int
	}{
		{
			name:     "caught-up clients win, the new one warms up",
			tasks:    four,
			stateful: four,
			members:  []Member{haMember("a", "A", offsets(four, LatestOffset), four...), haMember("b", "B", nil)},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 2},
			activeOn: map[Task]string{four[0]: "A", four[1]: "A", four[2]: "A", four[3]: "A"},
			warmups:  map[string][]Task{"b": onB}, movements: 2,
		},
		{
			name:     "warm-ups capped",
			tasks:    four,
			stateful: four,
			members:  []Member{haMember("a", "A", offsets(four, LatestOffset), four...), haMember("b", "B", nil)},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 1},
			activeOn: map[Task]string{four[0]: "A", four[1]: "A", four[2]: "A", four[3]: "A"},
			warmups:  map[string][]Task{"b": onB[:1]}, movements: 2,
		},
		{
			name:     "a warm-up within the acceptable lag takes over",
			tasks:    four,
			stateful: four,
			members: []Member{
				haMember("a", "A", offsets(four, LatestOffset), four...),
				haMember("b", "B", offsets(onB, end-10_000)),
			},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 2},
			activeOn: map[Task]string{onB[0]: "B", onB[1]: "B", notOnB[0]: "A", notOnB[1]: "A"},
		},
		{
			name:     "a warm-up one record short of the acceptable lag keeps warming",
			tasks:    four,
			stateful: four,
			members: []Member{
				haMember("a", "A", offsets(four, LatestOffset), four...),
				haMember("b", "B", offsets(onB, end-10_001)),
			},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 2},
			activeOn: map[Task]string{four[0]: "A", four[1]: "A", four[2]: "A", four[3]: "A"},
			warmups:  map[string][]Task{"b": onB}, movements: 2,
		},
		{
			name:     "no caught-up client: the most caught-up one runs it",
			tasks:    four,
			stateful: four,
			members: []Member{
				haMember("a", "A", offsets(four, end-50_000)),
				haMember("b", "B", offsets(four, end-60_000)),
			},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 2},
			activeOn: map[Task]string{four[0]: "A", four[1]: "A", four[2]: "A", four[3]: "A"},
			warmups:  map[string][]Task{"b": onB}, movements: 2,
		},
		{
			name:     "no state anywhere: balance decides",
			tasks:    four,
			stateful: four,
			members:  []Member{haMember("a", "A", nil), haMember("b", "B", nil)},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 2},
			activeOn: map[Task]string{onB[0]: "B", onB[1]: "B", notOnB[0]: "A", notOnB[1]: "A"},
		},
		{
			name:     "stateless tasks are simply balanced",
			tasks:    tasks(0, 4),
			members:  []Member{haMember("a", "A", nil, tasks(0, 4)...), haMember("b", "B", nil)},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 2},
			activeOn: map[Task]string{{1, 0}: "A", {1, 1}: "A", {1, 2}: "B", {1, 3}: "B"},
		},
		{
			name:     "stateless tasks fill the new client while stateful ones stay",
			tasks:    tasks(4, 4),
			stateful: four,
			members:  []Member{haMember("a", "A", offsets(four, LatestOffset), tasks(4, 4)...), haMember("b", "B", nil)},
			cfg:      HAConfig{AcceptableRecoveryLag: 10_000, MaxWarmupReplicas: 2},
			activeOn: map[Task]string{four[0]: "A", four[1]: "A", four[2]: "A", four[3]: "A",
				{1, 0}: "B", {1, 1}: "B", {1, 2}: "B", {1, 3}: "B"},
			warmups: map[string][]Task{"b": onB}, movements: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isStateful := map[Task]bool{}
			ends := map[Task]int64{}
			for _, task := range tt.stateful {
				isStateful[task] = true
				ends[task] = end
			}
			plan := AssignHA(tt.tasks, isStateful, tt.members, Lags(tt.members, ends), tt.cfg)
			checkPlanCovers(t, tt.tasks, plan.Active)
			got := activeOn(tt.members, plan.Active)
			if !maps.Equal(got, tt.activeOn) {
				t.Errorf("active tasks on %v, want %v", got, tt.activeOn)
			}
			if !maps.EqualFunc(plan.Warmups, tt.warmups, slices.Equal) && len(plan.Warmups)+len(tt.warmups) > 0 {
				t.Errorf("warm-ups %v, want %v", plan.Warmups, tt.warmups)
			}
			if plan.Movements != tt.movements {
				t.Errorf("%d movements, want %d", plan.Movements, tt.movements)
			}
			for id, ws := range plan.Warmups {
				for _, w := range ws {
					if !slices.Contains(plan.Standby[id], w) {
						t.Errorf("warm-up %v of %s is not among its standbys %v", w, id, plan.Standby[id])
					}
				}
			}
			if n := loadSpread(tt.members, plan.Active); len(tt.stateful) == 0 && n > 1 {
				t.Errorf("member loads differ by %d: %v", n, plan.Active)
			}
		})
	}
}

// checkPlanCovers checks that every task runs on exactly one member.
func checkPlanCovers(t *testing.T, all []Task, plan map[string][]Task) {
	t.Helper()
	seen := map[Task]int{}
	for _, ts := range plan {
		for _, task := range ts {
			seen[task]++
		}
	}
	for _, task := range all {
		if seen[task] != 1 {
			t.Errorf("task %v assigned %d times: %v", task, seen[task], plan)
		}
	}
	if len(seen) != len(all) {
		t.Errorf("%d tasks assigned, want %d: %v", len(seen), len(all), plan)
	}
}

func loadSpread(ms []Member, plan map[string][]Task) int {
	lo, hi := -1, 0
	for _, m := range ms {
		n := len(plan[m.ID])
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return hi - lo
}

// TestAssignHAStandbys: no standby on the process of its active task nor
// in a process holding a warm-up of the task; with two processes the
// warm-up is the only replica, with three the standby goes to the third.
func TestAssignHAStandbys(t *testing.T) {
	four := tasks(4, 0)
	isStateful := map[Task]bool{}
	for _, task := range four {
		isStateful[task] = true
	}
	for _, procs := range [][]string{{"A", "B"}, {"A", "B", "C"}} {
		t.Run(fmt.Sprint(procs), func(t *testing.T) {
			ms := []Member{haMember("a", "A", offsets(four, LatestOffset), four...)}
			for _, p := range procs[1:] {
				ms = append(ms, haMember(p, p, nil))
			}
			plan := AssignHA(four, isStateful, ms, Lags(ms, offsets(four, 100_000)), HAConfig{AcceptableRecoveryLag: 100, MaxWarmupReplicas: 8, Standbys: 1})
			owner := activeOn(ms, plan.Active)
			procOf := map[string]string{}
			for _, m := range ms {
				procOf[m.ID] = m.Sub.Process
			}
			replicas := map[Task][]string{}
			for id, ts := range plan.Standby {
				for _, task := range ts {
					p := procOf[id]
					if p == owner[task] {
						t.Errorf("standby of %v on %s, the process of its active", task, p)
					}
					if slices.Contains(replicas[task], p) {
						t.Errorf("two replicas of %v on %s", task, p)
					}
					replicas[task] = append(replicas[task], p)
				}
			}
			for _, task := range four {
				if owner[task] != "A" {
					t.Errorf("%v active on %s, want caught-up A", task, owner[task])
				}
				want := 1
				for _, ws := range plan.Warmups {
					if slices.Contains(ws, task) && len(procs) == 3 {
						want = 2
					}
				}
				if len(replicas[task]) != want {
					t.Errorf("%v has replicas on %v, want %d (its warm-up, if any, and one standby)", task, replicas[task], want)
				}
			}
			if plan.Movements == 0 {
				t.Error("no movement although balance wants tasks on the new processes")
			}
		})
	}
}

// TestAssignHAConverges plays probing rebalances: A runs four stateful
// tasks, B joins with no state; at each probing rebalance B's warm-ups
// have caught up. B gets its share only through caught-up warm-ups, at
// most MaxWarmupReplicas per round, and then no more movement is due.
func TestAssignHAConverges(t *testing.T) {
	const end = 50_000
	all := tasks(8, 0)
	ends := offsets(all, end)
	aState := offsets(all, LatestOffset)
	bState := map[Task]int64{}
	stateful := offsets(all, 1)
	isStateful := map[Task]bool{}
	for task := range stateful {
		isStateful[task] = true
	}
	cfg := HAConfig{AcceptableRecoveryLag: 1000, MaxWarmupReplicas: 2}
	rounds := 0
	for ; rounds < 10; rounds++ {
		ms := []Member{haMember("a", "A", aState), haMember("b", "B", bState)}
		plan := AssignHA(all, isStateful, ms, Lags(ms, ends), cfg)
		for _, task := range plan.Active["b"] {
			if off, ok := bState[task]; !ok || off != LatestOffset && end-off > cfg.AcceptableRecoveryLag {
				t.Fatalf("round %d: %v active on B, whose copy is at %d of %d", rounds, task, off, end)
			}
		}
		if len(plan.Warmups["b"]) > cfg.MaxWarmupReplicas {
			t.Fatalf("round %d: %d warm-ups %v", rounds, len(plan.Warmups["b"]), plan.Warmups)
		}
		if plan.Movements == 0 {
			if len(plan.Active["a"]) != 4 || len(plan.Active["b"]) != 4 {
				t.Fatalf("round %d: settled on %v, want four tasks each", rounds, plan.Active)
			}
			break
		}
		// Until the next probe, the warm-ups catch up and the actives
		// stay current.
		aState, bState = map[Task]int64{}, map[Task]int64{}
		for _, task := range plan.Active["a"] {
			aState[task] = LatestOffset
		}
		for _, task := range plan.Active["b"] {
			bState[task] = LatestOffset
		}
		for _, task := range plan.Standby["b"] {
			bState[task] = end - 10
		}
	}
	if rounds != 2 {
		t.Errorf("settled after %d probing rebalances, want 2 (four tasks to move, two warm-ups a round)", rounds)
	}
}

func TestLags(t *testing.T) {
	task := Task{0, 0}
	ends := map[Task]int64{task: 1000}
	tests := []struct {
		name  string
		state []map[Task]int64
		want  int64
	}{
		{"nothing reported", []map[Task]int64{nil}, 1000},
		{"checkpoint", []map[Task]int64{{task: 900}}, 100},
		{"running active", []map[Task]int64{{task: LatestOffset}}, LatestOffset},
		{"past the end", []map[Task]int64{{task: 1200}}, 1000},
		{"best member of the process counts", []map[Task]int64{{task: 100}, {task: 950}, nil}, 50},
		{"running active beats a checkpoint", []map[Task]int64{{task: 990}, {task: LatestOffset}}, LatestOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ms []Member
			for i, s := range tt.state {
				ms = append(ms, haMember(fmt.Sprint(i), "P", s))
			}
			if got := Lags(ms, ends)["P"][task]; got != tt.want {
				t.Errorf("lag %d, want %d", got, tt.want)
			}
		})
	}
}

// TestBalancerWarmupProbe runs the leader path with warm-ups: the end
// offsets come from the changelogs, the leader's instance alone is told
// when to probe, and ProbeDue fires once, at that time.
func TestBalancerWarmupProbe(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}, Stateful: true}}
	topics := map[string]int32{"in": 4}
	now := time.UnixMilli(1_000_000)
	var listed []string
	warm := Warmup{
		AcceptableRecoveryLag: 100, MaxWarmupReplicas: 2, ProbingRebalanceInterval: 2 * time.Second,
		Changelogs: map[int][]string{0: {"app-store-changelog"}},
		EndOffsets: func(_ context.Context, ts []string) (map[string]map[int32]int64, error) {
			listed = ts
			return map[string]map[int32]int64{"app-store-changelog": {0: 5000, 1: 5000, 2: 5000, 3: 5000}}, nil
		},
		Now: func() time.Time { return now },
	}
	state := func(s []TaskOffset) func() []TaskOffset { return func() []TaskOffset { return s } }
	var caughtUp []TaskOffset
	for p := range int32(4) {
		caughtUp = append(caughtUp, TaskOffset{Task: Task{0, p}, Offset: 5000})
	}
	bals := map[string]*Balancer{
		"a1": NewBalancer(subs, Subscription{Process: "A"}, 0, state(caughtUp)),
		"b1": NewBalancer(subs, Subscription{Process: "B"}, 0, state(nil)),
	}
	for _, b := range bals {
		b.SetWarmup(warm)
	}
	var jms []kmsg.JoinGroupResponseMember
	for _, id := range []string{"b1", "a1"} {
		jms = append(jms, kmsg.JoinGroupResponseMember{MemberID: id, ProtocolMetadata: bals[id].JoinGroupMetadata([]string{"in"}, nil, 0)})
	}
	// a1 leads.
	mb, _, err := bals["a1"].MemberBalancer(jms)
	if err != nil {
		t.Fatal(err)
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range into.IntoSyncAssignment() {
		if _, err := bals[a.MemberID].ParseSyncAssignment(a.MemberAssignment); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(listed, []string{"app-store-changelog"}) {
		t.Errorf("listed end offsets of %v", listed)
	}
	a, b := bals["a1"].Last(), bals["b1"].Last()
	if len(a.Active) != 4 || len(b.Active) != 0 || len(b.Standby) != 2 {
		t.Errorf("A runs %v, B runs %v with standbys %v: want all on A, two warm-ups on B", a.Active, b.Active, b.Standby)
	}
	if want := now.Add(2 * time.Second).UnixMilli(); a.ProbeAt != want || b.ProbeAt != 0 {
		t.Errorf("probe at %d on A, %d on B; want %d on A only", a.ProbeAt, b.ProbeAt, want)
	}
	if bals["a1"].ProbeDue(now.Add(time.Second)) {
		t.Error("probe due a second early")
	}
	if !bals["a1"].ProbeDue(now.Add(2*time.Second)) || bals["a1"].ProbeDue(now.Add(3*time.Second)) {
		t.Error("probe not due exactly once at its time")
	}
	if bals["b1"].ProbeDue(now.Add(time.Hour)) {
		t.Error("probe due on B")
	}

	// When the end offsets cannot be read, tasks stay where their state
	// is and a probe is asked for.
	warm.EndOffsets = func(context.Context, []string) (map[string]map[int32]int64, error) {
		return nil, errors.New("broker down")
	}
	bals["a1"].SetWarmup(warm)
	mb, _, err = bals["a1"].MemberBalancer(jms)
	if err != nil {
		t.Fatal(err)
	}
	into, err = mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range into.IntoSyncAssignment() {
		var ka kmsg.ConsumerMemberAssignment
		if err := ka.ReadFrom(sa.MemberAssignment); err != nil {
			t.Fatal(err)
		}
		var asg Assignment
		if err := json.Unmarshal(ka.UserData, &asg); err != nil {
			t.Fatal(err)
		}
		if sa.MemberID == "a1" && asg.ProbeAt == 0 {
			t.Errorf("no probe asked for after the end offsets failed")
		}
	}
}

// TestAssignHAThreads: an instance's share of the stateful tasks follows
// its member count, its members share it evenly, and a member keeps the
// tasks it ran within its instance.
func TestAssignHAThreads(t *testing.T) {
	six := tasks(6, 0)
	isStateful := map[Task]bool{}
	for _, task := range six {
		isStateful[task] = true
	}
	ms := []Member{haMember("a1", "A", nil), haMember("a2", "A", nil), haMember("b1", "B", nil)}
	plan := AssignHA(six, isStateful, ms, Lags(ms, offsets(six, 0)), HAConfig{AcceptableRecoveryLag: 0, MaxWarmupReplicas: 2})
	checkPlanCovers(t, six, plan.Active)
	for _, id := range []string{"a1", "a2", "b1"} {
		if len(plan.Active[id]) != 2 {
			t.Errorf("%s runs %v, want two tasks each: %v", id, plan.Active[id], plan.Active)
		}
	}
	// The same group again, each member reporting what it ran: nothing
	// moves.
	ms[0].Previous, ms[1].Previous, ms[2].Previous = plan.Active["a1"], plan.Active["a2"], plan.Active["b1"]
	again := AssignHA(six, isStateful, ms, Lags(ms, offsets(six, 0)), HAConfig{AcceptableRecoveryLag: 0, MaxWarmupReplicas: 2})
	if !maps.EqualFunc(again.Active, plan.Active, slices.Equal) {
		t.Errorf("second assignment %v, want the first %v", again.Active, plan.Active)
	}
}

// TestRendezvousSpreadsEachSubtopology: whatever the process ids, the tasks
// of each sub-topology spread over the processes (a query store's
// partitions must not all land on one instance), and the totals balance.
func TestRendezvousSpreadsEachSubtopology(t *testing.T) {
	var tasks []Task
	for s := 0; s < 3; s++ {
		for p := int32(0); p < 3; p++ {
			tasks = append(tasks, Task{Subtopology: s, Partition: p})
		}
	}
	for i := 0; i < 50; i++ {
		procs := []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i*7+3)}
		slices.Sort(procs)
		capOf := map[string]int{procs[0]: 1, procs[1]: 1}
		perSub := map[int]map[string]int{}
		total := map[string]int{}
		for tk, p := range rendezvous(tasks, procs, capOf) {
			if perSub[tk.Subtopology] == nil {
				perSub[tk.Subtopology] = map[string]int{}
			}
			perSub[tk.Subtopology][p]++
			total[p]++
		}
		for s, counts := range perSub {
			for _, p := range procs {
				if n := counts[p]; n < 1 || n > 2 {
					t.Errorf("processes %v: sub-topology %d has %d tasks on %s, want 1 or 2 (%v)", procs, s, n, p, counts)
				}
			}
		}
		if d := total[procs[0]] - total[procs[1]]; d < -1 || d > 1 {
			t.Errorf("processes %v: totals %v, want within one", procs, total)
		}
	}
}

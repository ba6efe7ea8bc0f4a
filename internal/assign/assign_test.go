package assign

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
)

func TestTasks(t *testing.T) {
	subs := []Subtopology{
		{ID: 0, Topics: []string{"a", "b"}},
		{ID: 1, Topics: []string{"app-rp-repartition"}},
	}
	tests := []struct {
		name    string
		subs    []Subtopology
		topics  map[string]int32
		want    []Task
		wantErr string
	}{{
		name:   "the largest source topic sets the task count",
		subs:   subs,
		topics: map[string]int32{"a": 2, "b": 3, "app-rp-repartition": 1, "unrelated": 9},
		want: []Task{
			{Subtopology: 0, Partition: 0}, {Subtopology: 0, Partition: 1}, {Subtopology: 0, Partition: 2},
			{Subtopology: 1, Partition: 0},
		},
	}, {
		name:   "no sub-topologies",
		topics: map[string]int32{"a": 1},
	}, {
		name:    "a missing topic",
		subs:    subs,
		topics:  map[string]int32{"a": 2, "app-rp-repartition": 1},
		wantErr: `kstreams: source topic not found: "b" (sub-topology 0)`,
	}, {
		name:    "a topic without partitions counts as missing",
		subs:    subs,
		topics:  map[string]int32{"a": 2, "b": 2, "app-rp-repartition": 0},
		wantErr: `kstreams: source topic not found: "app-rp-repartition" (sub-topology 1)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tasks(tt.subs, tt.topics)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrMissingTopic) || err.Error() != tt.wantErr {
					t.Fatalf("got %v, want %q matching ErrMissingTopic", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// tasks returns n tasks of sub-topology 0 and m of sub-topology 1.
func tasks(n, m int32) []Task {
	var out []Task
	for p := range n {
		out = append(out, Task{Subtopology: 0, Partition: p})
	}
	for p := range m {
		out = append(out, Task{Subtopology: 1, Partition: p})
	}
	return out
}

// members returns members with the given ids and previous tasks.
func members(prev map[string][]Task, ids ...string) []Member {
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = Member{ID: id, Sub: Subscription{Process: "proc-" + id}, Previous: prev[id]}
	}
	return out
}

// checkPlan checks that plan gives every task to exactly one member, keeps
// each member's tasks in order, and is balanced within one task.
func checkPlan(t *testing.T, all []Task, ms []Member, plan map[string][]Task) {
	t.Helper()
	owner := map[Task]string{}
	lo, hi := len(all), 0
	for _, m := range ms {
		ts := plan[m.ID]
		lo, hi = min(lo, len(ts)), max(hi, len(ts))
		if !slices.IsSortedFunc(ts, func(a, b Task) int {
			if a.Subtopology != b.Subtopology {
				return a.Subtopology - b.Subtopology
			}
			return int(a.Partition - b.Partition)
		}) {
			t.Errorf("%s's tasks are not in order: %v", m.ID, ts)
		}
		for _, task := range ts {
			if other, dup := owner[task]; dup {
				t.Errorf("task %v given to %s and %s", task, other, m.ID)
			}
			owner[task] = m.ID
		}
	}
	if len(ms) == 0 {
		return
	}
	for _, task := range all {
		if _, ok := owner[task]; !ok {
			t.Errorf("task %v not assigned", task)
		}
	}
	if len(owner) != len(all) {
		t.Errorf("%d tasks assigned, want %d", len(owner), len(all))
	}
	if len(ms) > 0 && hi-lo > 1 {
		t.Errorf("unbalanced: loads from %d to %d: %v", lo, hi, plan)
	}
	for id := range plan {
		if !slices.ContainsFunc(ms, func(m Member) bool { return m.ID == id }) {
			t.Errorf("plan names %q, not a member", id)
		}
	}
}

// moved counts the tasks whose owner changed from the members' previous
// tasks to plan (new tasks and tasks of departed members count).
func moved(all []Task, prev map[string][]Task, plan map[string][]Task) int {
	before, after := map[Task]string{}, map[Task]string{}
	for id, ts := range prev {
		for _, task := range ts {
			before[task] = id
		}
	}
	for id, ts := range plan {
		for _, task := range ts {
			after[task] = id
		}
	}
	n := 0
	for _, task := range all {
		if before[task] != after[task] {
			n++
		}
	}
	return n
}

func TestDistribute(t *testing.T) {
	t0 := Task{Subtopology: 0, Partition: 0}
	t1 := Task{Subtopology: 0, Partition: 1}
	t2 := Task{Subtopology: 0, Partition: 2}
	t3 := Task{Subtopology: 0, Partition: 3}
	u0 := Task{Subtopology: 1, Partition: 0}
	tests := []struct {
		name    string
		tasks   []Task
		ids     []string
		prev    map[string][]Task
		want    map[string][]Task // nil: only the invariants are checked
		wantMov int               // tasks whose owner may change
	}{{
		name:  "no members",
		tasks: tasks(2, 0),
		want:  map[string][]Task{},
	}, {
		name:    "one member takes everything",
		tasks:   tasks(3, 1),
		ids:     []string{"a"},
		want:    map[string][]Task{"a": {t0, t1, t2, u0}},
		wantMov: 4,
	}, {
		name:    "fresh start: round robin by load, in member order, partition by partition",
		tasks:   tasks(4, 1),
		ids:     []string{"a", "b"},
		want:    map[string][]Task{"a": {t0, t1, t3}, "b": {t2, u0}},
		wantMov: 5,
	}, {
		name:    "more members than tasks",
		tasks:   tasks(2, 0),
		ids:     []string{"a", "b", "c"},
		want:    map[string][]Task{"a": {t0}, "b": {t1}},
		wantMov: 2,
	}, {
		name:  "sticky: balanced previous owners keep their tasks",
		tasks: tasks(4, 1),
		ids:   []string{"a", "b"},
		prev:  map[string][]Task{"a": {t1, t3}, "b": {t0, t2, u0}},
		want:  map[string][]Task{"a": {t1, t3}, "b": {t0, t2, u0}},
	}, {
		name:  "sticky with fewer tasks than members",
		tasks: tasks(2, 0),
		ids:   []string{"a", "b", "c"},
		prev:  map[string][]Task{"c": {t0}, "b": {t1}},
		want:  map[string][]Task{"c": {t0}, "b": {t1}},
	}, {
		name:    "adding a member moves the fewest tasks",
		tasks:   tasks(6, 0),
		ids:     []string{"a", "b", "c"},
		prev:    map[string][]Task{"a": tasks(3, 0), "b": tasks(6, 0)[3:]},
		wantMov: 2,
	}, {
		name:    "adding a member to an uneven split",
		tasks:   tasks(7, 0),
		ids:     []string{"a", "b", "c"},
		prev:    map[string][]Task{"a": tasks(4, 0), "b": tasks(7, 0)[4:]},
		wantMov: 2,
	}, {
		name:    "adding a member to one that had everything",
		tasks:   tasks(5, 0),
		ids:     []string{"a", "b"},
		prev:    map[string][]Task{"a": tasks(5, 0)},
		wantMov: 2,
	}, {
		name:    "removing a member reassigns only its tasks",
		tasks:   tasks(6, 3),
		ids:     []string{"a", "b"},
		prev:    map[string][]Task{"a": tasks(3, 0), "b": tasks(6, 0)[3:], "c": tasks(0, 3)},
		wantMov: 3,
	}, {
		name:    "new tasks go to the least loaded",
		tasks:   tasks(4, 2),
		ids:     []string{"a", "b"},
		prev:    map[string][]Task{"a": {t0, t1, t2}, "b": {t3}},
		want:    map[string][]Task{"a": {t0, t1, t2}, "b": {t3, Task{1, 0}, Task{1, 1}}},
		wantMov: 2,
	}, {
		name:    "a task claimed twice goes to the first claimant",
		tasks:   tasks(2, 0),
		ids:     []string{"a", "b"},
		prev:    map[string][]Task{"a": {t0}, "b": {t0, t1}},
		want:    map[string][]Task{"a": {t0}, "b": {t1}},
		wantMov: 2, // t0 counts as a's or b's before, by map order
	}, {
		name:    "previous tasks that no longer exist are ignored",
		tasks:   tasks(2, 0),
		ids:     []string{"a", "b"},
		prev:    map[string][]Task{"a": {Task{0, 7}, Task{0, 8}}, "b": {t0}},
		want:    map[string][]Task{"a": {t1}, "b": {t0}},
		wantMov: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := members(tt.prev, tt.ids...)
			plan := Distribute(tt.tasks, ms)
			checkPlan(t, tt.tasks, ms, plan)
			if tt.want != nil && !reflect.DeepEqual(plan, tt.want) {
				t.Errorf("plan:\n got  %v\n want %v", plan, tt.want)
			}
			if got := moved(tt.tasks, tt.prev, plan); got > tt.wantMov {
				t.Errorf("%d tasks moved, want at most %d: %v", got, tt.wantMov, plan)
			}
			// Deterministic: the same input gives the same plan.
			for range 5 {
				if again := Distribute(tt.tasks, members(tt.prev, tt.ids...)); !reflect.DeepEqual(again, plan) {
					t.Fatalf("not deterministic:\n %v\n %v", plan, again)
				}
			}
		})
	}
}

// TestDistributeRebalances grows a group from 1 to 6 members and shrinks it
// back, feeding each plan into the next: every step is balanced, and moves
// only what balance needs.
func TestDistributeRebalances(t *testing.T) {
	all := tasks(12, 5)
	var prev map[string][]Task
	step := func(ids []string) {
		t.Helper()
		ms := members(prev, ids...)
		plan := Distribute(all, ms)
		checkPlan(t, all, ms, plan)
		// Every task of a departed member moves, plus at most what the
		// members above the new upper bound must give away.
		need := 0
		hi := (len(all) + len(ids) - 1) / len(ids)
		for id, ts := range prev {
			if !slices.Contains(ids, id) {
				need += len(ts)
			} else if len(ts) > hi {
				need += len(ts) - hi
			}
		}
		if prev == nil {
			need = len(all)
		} else if len(ids) > len(prev) {
			// A new member takes at least the lower bound from the others.
			need = max(need, (len(ids)-len(prev))*(len(all)/len(ids)))
		}
		if got := moved(all, prev, plan); got > need {
			t.Errorf("%v: %d tasks moved, want at most %d: %v", ids, got, need, plan)
		}
		prev = plan
	}
	ids := []string{"m1", "m2", "m3", "m4", "m5", "m6"}
	for n := 1; n <= len(ids); n++ {
		step(ids[:n])
	}
	for n := len(ids) - 1; n >= 1; n-- {
		step(ids[len(ids)-n:])
	}
	if got := slices.Sorted(maps.Keys(prev)); !slices.Equal(got, []string{"m6"}) {
		t.Errorf("last plan names %v", got)
	}
}

func TestDistributeStandbys(t *testing.T) {
	ms := []Member{
		{ID: "a1", Sub: Subscription{Process: "A"}},
		{ID: "a2", Sub: Subscription{Process: "A"}},
		{ID: "b1", Sub: Subscription{Process: "B", Standby: []Task{{0, 0}}}},
		{ID: "c1", Sub: Subscription{Process: "C"}},
	}
	active := map[string][]Task{"a1": {{0, 0}}, "a2": {{0, 1}}, "b1": {{0, 2}}, "c1": {}}
	got := DistributeStandbys(tasks(3, 0), ms, active, 1)
	for id, ts := range got {
		for _, task := range ts {
			var ownerProcess, process string
			for _, m := range ms {
				if slices.Contains(active[m.ID], task) {
					ownerProcess = m.Sub.Process
				}
				if m.ID == id {
					process = m.Sub.Process
				}
			}
			if process == ownerProcess {
				t.Errorf("standby of %v on %s, in the same process as its active task", task, id)
			}
		}
	}
	if !slices.Contains(got["b1"], Task{0, 0}) {
		t.Errorf("b1 had the standby of 0_0 and lost it: %v", got)
	}
	if n := len(got["a1"]) + len(got["a2"]) + len(got["b1"]) + len(got["c1"]); n != 3 {
		t.Errorf("%d standbys, want 3: %v", n, got)
	}
	if none := DistributeStandbys(tasks(3, 0), ms, active, 0); len(none) != 0 {
		t.Errorf("standbys with n = 0: %v", none)
	}
	// Two replicas need two other processes.
	two := DistributeStandbys([]Task{{0, 0}}, ms, active, 2)
	var hosts []string
	for id, ts := range two {
		if len(ts) > 0 {
			hosts = append(hosts, id)
		}
	}
	slices.Sort(hosts)
	if len(hosts) != 2 || hosts[0][0] == hosts[1][0] || hosts[0][0] == 'a' || hosts[1][0] == 'a' {
		t.Errorf("two standbys of 0_0 (active on A): on %v", hosts)
	}
}

func Example_distribute() {
	all := tasks(4, 0)
	plan := Distribute(all, []Member{{ID: "a", Previous: all}, {ID: "b"}})
	fmt.Println(plan["a"], plan["b"])
	// Output: [{0 0} {0 1}] [{0 2} {0 3}]
}

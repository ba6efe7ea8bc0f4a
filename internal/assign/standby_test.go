package assign

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// standbyMember is a member of process proc that had the given standbys.
func standbyMember(id, proc string, had ...Task) Member {
	return Member{ID: id, Sub: Subscription{Process: proc, Standby: had}}
}

// checkStandbys checks the rules every standby assignment keeps: no
// standby in the process of its active task, no two standbys of a task in
// one process, no standby on an unknown member, and as many standbys per
// task as there are other processes, up to n.
func checkStandbys(t *testing.T, tasks []Task, ms []Member, active, got map[string][]Task, n int) {
	t.Helper()
	process := map[string]string{}
	procs := map[string]bool{}
	for _, m := range ms {
		process[m.ID] = m.Sub.Process
		procs[m.Sub.Process] = true
	}
	owner := map[Task]string{}
	for id, ts := range active {
		for _, task := range ts {
			owner[task] = process[id]
		}
	}
	hosts := map[Task][]string{}
	for id, ts := range got {
		p, ok := process[id]
		if !ok {
			t.Errorf("standbys %v on unknown member %q", ts, id)
		}
		for _, task := range ts {
			if p == owner[task] {
				t.Errorf("standby of %v on %s, in process %s of its active task", task, id, p)
			}
			if slices.Contains(hosts[task], p) {
				t.Errorf("two standbys of %v in process %s", task, p)
			}
			hosts[task] = append(hosts[task], p)
		}
	}
	for _, task := range tasks {
		want := min(n, len(procs)-1)
		if len(hosts[task]) != want {
			t.Errorf("%v has %d standbys (%v), want %d", task, len(hosts[task]), hosts[task], want)
		}
	}
}

func TestDistributeStandbysRules(t *testing.T) {
	tests := []struct {
		name    string
		tasks   []Task
		members []Member
		active  map[string][]Task
		n       int
		// sticky lists standbys that must stay where they were.
		sticky map[string][]Task
	}{
		{
			name:    "one replica over three processes",
			tasks:   tasks(3, 0),
			members: []Member{standbyMember("a", "A"), standbyMember("b", "B"), standbyMember("c", "C")},
			active:  map[string][]Task{"a": {{0, 0}}, "b": {{0, 1}}, "c": {{0, 2}}},
			n:       1,
		},
		{
			name:    "two replicas need two other processes",
			tasks:   tasks(4, 0),
			members: []Member{standbyMember("a", "A"), standbyMember("b", "B"), standbyMember("c", "C")},
			active:  map[string][]Task{"a": {{0, 0}, {0, 3}}, "b": {{0, 1}}, "c": {{0, 2}}},
			n:       2,
		},
		{
			name:  "more replicas than other processes",
			tasks: tasks(2, 1),
			members: []Member{
				standbyMember("a1", "A"), standbyMember("a2", "A"), standbyMember("b", "B"),
			},
			active: map[string][]Task{"a1": {{0, 0}}, "a2": {{1, 0}}, "b": {{0, 1}}},
			n:      3,
		},
		{
			name:    "one process: no standbys",
			tasks:   tasks(3, 0),
			members: []Member{standbyMember("a1", "A"), standbyMember("a2", "A")},
			active:  map[string][]Task{"a1": {{0, 0}, {0, 1}}, "a2": {{0, 2}}},
			n:       1,
		},
		{
			name:  "previous holders keep their standbys",
			tasks: tasks(4, 0),
			members: []Member{
				standbyMember("a", "A", Task{0, 1}),
				standbyMember("b", "B", Task{0, 0}, Task{0, 2}, Task{0, 3}),
				standbyMember("c", "C"),
			},
			active: map[string][]Task{"a": {{0, 0}}, "b": {{0, 1}}, "c": {{0, 2}, {0, 3}}},
			n:      1,
			sticky: map[string][]Task{"a": {{0, 1}}, "b": {{0, 0}, {0, 2}, {0, 3}}},
		},
		{
			name:  "a previous holder that now runs the task loses its standby",
			tasks: tasks(1, 0),
			members: []Member{
				standbyMember("a", "A", Task{0, 0}),
				standbyMember("b", "B"),
			},
			active: map[string][]Task{"a": {{0, 0}}, "b": nil},
			n:      1,
			sticky: map[string][]Task{"b": {{0, 0}}},
		},
		{
			name:  "a previous holder that left",
			tasks: tasks(1, 0),
			members: []Member{
				standbyMember("a", "A"),
				standbyMember("c", "C"),
			},
			active: map[string][]Task{"a": {{0, 0}}},
			n:      1,
			sticky: map[string][]Task{"c": {{0, 0}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DistributeStandbys(tc.tasks, tc.members, tc.active, tc.n)
			checkStandbys(t, tc.tasks, tc.members, tc.active, got, tc.n)
			for id, want := range tc.sticky {
				for _, task := range want {
					if !slices.Contains(got[id], task) {
						t.Errorf("%s had the standby of %v and lost it: %v", id, task, got)
					}
				}
			}
		})
	}
}

func TestDistributeStandbysGoToTheLeastLoaded(t *testing.T) {
	ms := []Member{standbyMember("a", "A"), standbyMember("b", "B"), standbyMember("c", "C")}
	// a runs everything: the standbys spread over b and c.
	active := map[string][]Task{"a": tasks(6, 0)}
	got := DistributeStandbys(tasks(6, 0), ms, active, 1)
	if len(got["a"]) != 0 || len(got["b"]) != 3 || len(got["c"]) != 3 {
		t.Errorf("standbys = %v, want 3 on b and 3 on c", got)
	}
	// b is loaded with active tasks: c takes the standbys of a's tasks.
	active = map[string][]Task{"a": {{0, 0}, {0, 1}}, "b": {{0, 2}, {0, 3}, {0, 4}, {0, 5}}}
	got = DistributeStandbys(tasks(2, 0), ms, active, 1)
	if !slices.Equal(got["c"], []Task{{0, 0}, {0, 1}}) {
		t.Errorf("standbys = %v, want both on idle c", got)
	}
}

func TestDistributeStandbysNone(t *testing.T) {
	ms := []Member{standbyMember("a", "A"), standbyMember("b", "B")}
	active := map[string][]Task{"a": tasks(2, 0)}
	for _, n := range []int{0, -1} {
		if got := DistributeStandbys(tasks(2, 0), ms, active, n); len(got) != 0 {
			t.Errorf("n = %d: %v", n, got)
		}
	}
	if got := DistributeStandbys(nil, ms, active, 1); len(got) != 0 {
		t.Errorf("no tasks: %v", got)
	}
}

// TestBalancerStandbysOnlyForStatefulTasks runs the balancer's leader path
// over two members of two processes: sub-topology 0 is stateful, 1 is not.
func TestBalancerStandbysOnlyForStatefulTasks(t *testing.T) {
	subs := []Subtopology{
		{ID: 0, Topics: []string{"counts-in"}, Stateful: true},
		{ID: 1, Topics: []string{"stateless-in"}},
	}
	topics := map[string]int32{"counts-in": 3, "stateless-in": 3}
	names := []string{"counts-in", "stateless-in"}
	bals := map[string]*Balancer{}
	var jms []kmsg.JoinGroupResponseMember
	for i, id := range []string{"m1", "m2"} {
		b := NewBalancer(subs, Subscription{Process: fmt.Sprintf("proc-%d", i)}, 1, nil)
		bals[id] = b
		jms = append(jms, kmsg.JoinGroupResponseMember{MemberID: id, ProtocolMetadata: b.JoinGroupMetadata(names, nil, 0)})
	}
	mb, _, err := bals["m1"].MemberBalancer(jms)
	if err != nil {
		t.Fatal(err)
	}
	active := map[Task]string{}
	standby := map[Task][]string{}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range into.IntoSyncAssignment() {
		if _, err := bals[a.MemberID].ParseSyncAssignment(a.MemberAssignment); err != nil {
			t.Fatal(err)
		}
		last := bals[a.MemberID].Last()
		for _, task := range last.Active {
			active[task] = a.MemberID
		}
		for _, task := range last.Standby {
			standby[task] = append(standby[task], a.MemberID)
		}
	}
	if len(active) != 6 {
		t.Fatalf("%d active tasks, want 6: %v", len(active), active)
	}
	for task, hosts := range standby {
		if task.Subtopology != 0 {
			t.Errorf("stateless task %v has standbys on %v", task, hosts)
		}
	}
	for p := range int32(3) {
		task := Task{0, p}
		if hosts := standby[task]; len(hosts) != 1 || hosts[0] == active[task] {
			t.Errorf("stateful task %v (active on %s) has standbys %v, want one on the other member", task, active[task], hosts)
		}
	}
	// The next join tells the leader where the standbys were.
	for id, b := range bals {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(b.JoinGroupMetadata(names, nil, 0)); err != nil {
			t.Fatal(err)
		}
		var sub Subscription
		if err := json.Unmarshal(meta.UserData, &sub); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sub.Standby, b.Last().Standby) {
			t.Errorf("%s rejoins with standbys %v, want %v", id, sub.Standby, b.Last().Standby)
		}
	}
}

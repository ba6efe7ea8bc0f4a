package assign

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDistributeFollowsState: members that rejoin after an eager revoke own
// no partitions; their last assignment and the state on their disks keep
// every task where it was, and a newcomer without state gets only what
// balance requires.
func TestDistributeFollowsState(t *testing.T) {
	all := tasks(12, 0)
	withState := func(id string, ts []Task, offset int64) Member {
		m := Member{ID: id, Sub: Subscription{Process: "proc-" + id}}
		for _, task := range ts {
			m.Sub.State = append(m.Sub.State, TaskOffset{Task: task, Offset: offset})
		}
		return m
	}
	tests := []struct {
		name    string
		members []Member
		want    map[string][]Task
	}{
		{
			name: "last assignment kept",
			members: []Member{
				{ID: "a", Sub: Subscription{Process: "A", Active: all[:6]}},
				{ID: "b", Sub: Subscription{Process: "B", Active: all[6:]}},
			},
			want: map[string][]Task{"a": all[:6], "b": all[6:]},
		},
		{
			name: "restarted members find their state",
			members: []Member{
				withState("a", all[6:], 100),
				withState("b", all[:6], 100),
			},
			want: map[string][]Task{"a": all[6:], "b": all[:6]},
		},
		{
			name: "most complete copy wins",
			members: []Member{
				withState("a", all, 10),
				withState("b", all[:6], 50),
			},
			want: map[string][]Task{"a": all[6:], "b": all[:6]},
		},
		{
			name: "newcomer gets its share only",
			members: []Member{
				withState("a", all, 10),
				{ID: "b", Sub: Subscription{Process: "B"}},
				{ID: "c", Sub: Subscription{Process: "C"}},
			},
			want: map[string][]Task{"a": all[:4], "b": {{0, 4}, {0, 6}, {0, 8}, {0, 10}}, "c": {{0, 5}, {0, 7}, {0, 9}, {0, 11}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Distribute(all, tt.members)
			for id, want := range tt.want {
				if !slices.Equal(got[id], want) {
					t.Errorf("%s: %v, want %v", id, got[id], want)
				}
			}
		})
	}
}

// TestDistributeStandbysFollowState: a standby goes to the instance that
// holds the task's state, never to the active's instance.
func TestDistributeStandbysFollowState(t *testing.T) {
	ms := []Member{
		{ID: "a", Sub: Subscription{Process: "A", State: []TaskOffset{{Task{0, 0}, 5}, {Task{0, 1}, 5}}}},
		{ID: "b", Sub: Subscription{Process: "B"}},
		{ID: "c", Sub: Subscription{Process: "C", State: []TaskOffset{{Task{0, 0}, 3}}}},
	}
	active := map[string][]Task{"a": {{0, 0}}, "b": {{0, 1}}}
	got := DistributeStandbys(tasks(2, 0), ms, active, 1)
	if !slices.Equal(got["c"], []Task{{0, 0}}) || !slices.Equal(got["a"], []Task{{0, 1}}) {
		t.Errorf("standbys = %v, want 0_0 on c and 0_1 on a", got)
	}
	checkStandbys(t, tasks(2, 0), ms, active, got, 1)
}

// TestBalancerHostsMap runs the leader path over three instances (two
// threads on one) with query endpoints: every member gets the same map of
// endpoint to tasks, covering every task once as active, and the state
// reported at join makes a restart keep the tasks in place.
func TestBalancerHostsMap(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}, Stateful: true}}
	topics := map[string]int32{"in": 6}
	type inst struct{ member, proc, endpoint string }
	insts := []inst{{"m1", "p1", "h1:1"}, {"m2", "p1", "h1:1"}, {"m3", "p2", "h2:1"}, {"m4", "p3", "h3:1"}}
	held := map[string][]TaskOffset{}
	run := func() map[string]Assignment {
		t.Helper()
		var jms []kmsg.JoinGroupResponseMember
		bals := map[string]*Balancer{}
		for _, in := range insts {
			proc := in.proc
			b := NewBalancer(subs, Subscription{Process: proc, Endpoint: in.endpoint}, 1, func() []TaskOffset { return held[proc] })
			bals[in.member] = b
			jms = append(jms, kmsg.JoinGroupResponseMember{MemberID: in.member, ProtocolMetadata: b.JoinGroupMetadata([]string{"in"}, nil, 0)})
		}
		mb, _, err := bals[insts[0].member].MemberBalancer(jms)
		if err != nil {
			t.Fatal(err)
		}
		into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Assignment{}
		for _, a := range into.IntoSyncAssignment() {
			if _, err := bals[a.MemberID].ParseSyncAssignment(a.MemberAssignment); err != nil {
				t.Fatal(err)
			}
			out[a.MemberID] = bals[a.MemberID].Last()
		}
		return out
	}
	first := run()
	want, _ := json.Marshal(first["m1"].Hosts)
	seen := map[Task]string{}
	for id, a := range first {
		if got, _ := json.Marshal(a.Hosts); string(got) != string(want) {
			t.Errorf("%s hosts %s, want %s", id, got, want)
		}
	}
	for ep, h := range first["m1"].Hosts {
		for _, task := range h.Active {
			if prev, ok := seen[task]; ok {
				t.Errorf("task %v active on %s and %s", task, prev, ep)
			}
			seen[task] = ep
		}
		for _, task := range h.Standby {
			if slices.Contains(h.Active, task) {
				t.Errorf("task %v active and standby on %s", task, ep)
			}
		}
	}
	if len(seen) != 6 {
		t.Errorf("hosts cover %d tasks, want 6: %v", len(seen), first["m1"].Hosts)
	}
	// Every instance restarts (new members, no last assignment) with its
	// state on disk: nothing moves.
	for i, in := range insts {
		insts[i].member = in.member + "-new"
		for _, task := range first[in.member].Active {
			held[in.proc] = append(held[in.proc], TaskOffset{Task: task, Offset: 10})
		}
	}
	second := run()
	for _, in := range insts {
		old := first[in.member[:len(in.member)-len("-new")]].Active
		if got := second[in.member].Active; len(got) != len(old) {
			t.Errorf("%s: %v after restart, had %v", in.member, got, old)
		}
	}
	again, _ := json.Marshal(second[insts[0].member].Hosts)
	var h1, h2 map[string]HostTasks
	_ = json.Unmarshal(want, &h1)
	_ = json.Unmarshal(again, &h2)
	for ep := range h1 {
		if !slices.Equal(h1[ep].Active, h2[ep].Active) {
			t.Errorf("%s: active %v after restart, had %v", ep, h2[ep].Active, h1[ep].Active)
		}
	}
}

// TestDistributeSpreadsSubtopologies: the first member had every task; when
// a second joins, each keeps tasks of both sub-topologies (an aggregation
// is not left wholly on one instance).
func TestDistributeSpreadsSubtopologies(t *testing.T) {
	all := tasks(3, 3)
	got := Distribute(all, []Member{
		{ID: "a", Sub: Subscription{Process: "A", Active: all}},
		{ID: "b", Sub: Subscription{Process: "B"}},
	})
	for _, id := range []string{"a", "b"} {
		subs := map[int]bool{}
		for _, task := range got[id] {
			subs[task.Subtopology] = true
		}
		if len(got[id]) != 3 || len(subs) != 2 {
			t.Errorf("%s: %v, want 3 tasks of both sub-topologies", id, got[id])
		}
	}
}

package assign

import (
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestHoldMoving: a task planned for a member while another member still
// owns it is assigned to nobody in this rebalance (its owner revokes it
// and rejoins); tasks that stay, and tasks nobody owns, are assigned.
func TestHoldMoving(t *testing.T) {
	all := tasks(6, 0)
	tests := []struct {
		name     string
		members  []Member
		plan     map[string][]Task
		want     map[string][]Task
		wantHeld int
	}{
		{
			name: "newcomer waits for the revoke",
			members: []Member{
				{ID: "a", Previous: all[:3]},
				{ID: "b", Previous: all[3:]},
				{ID: "c"},
			},
			plan:     map[string][]Task{"a": all[:2], "b": all[3:5], "c": {all[2], all[5]}},
			want:     map[string][]Task{"a": all[:2], "b": all[3:5], "c": {}},
			wantHeld: 2,
		},
		{
			name: "unowned tasks go at once",
			members: []Member{
				{ID: "a", Previous: all[:2]},
				{ID: "b"},
			},
			plan:     map[string][]Task{"a": all[:3], "b": all[3:]},
			want:     map[string][]Task{"a": all[:3], "b": all[3:]},
			wantHeld: 0,
		},
		{
			name: "a task claimed twice stays with a claimant",
			members: []Member{
				{ID: "a", Previous: all[:1]},
				{ID: "b", Previous: all[:1]},
			},
			plan:     map[string][]Task{"a": all[:1], "b": all[1:2]},
			want:     map[string][]Task{"a": all[:1], "b": all[1:2]},
			wantHeld: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := holdMoving(tt.members, tt.plan)
			if held != tt.wantHeld {
				t.Errorf("held %d, want %d", held, tt.wantHeld)
			}
			if !maps.EqualFunc(tt.plan, tt.want, slices.Equal) {
				t.Errorf("plan %v, want %v", tt.plan, tt.want)
			}
		})
	}
}

// TestBalancerIsCooperative: the join metadata carries the owned
// partitions (version 1 and up), which cooperative rebalancing needs.
func TestBalancerIsCooperative(t *testing.T) {
	b := NewBalancer([]Subtopology{{ID: 0, Topics: []string{"in"}}}, Subscription{Process: "p"}, 0, nil)
	if !b.IsCooperative() {
		t.Fatal("balancer is not cooperative")
	}
	meta := b.JoinGroupMetadata([]string{"in"}, map[string][]int32{"in": {1, 2}}, 7)
	var m kmsg.ConsumerMemberMetadata
	if err := m.ReadFrom(meta); err != nil {
		t.Fatal(err)
	}
	if len(m.OwnedPartitions) != 1 || !slices.Equal(m.OwnedPartitions[0].Partitions, []int32{1, 2}) || m.Generation != 7 {
		t.Fatalf("owned partitions %+v generation %d", m.OwnedPartitions, m.Generation)
	}
}

// TestAssignmentCarriesTaskCounts: while a cooperative rebalance holds a
// moving task back from every member, the hosts no longer name it, and
// the assignment still tells each member how many tasks each
// sub-topology has (the partitions keys hash into, for queries).
func TestAssignmentCarriesTaskCounts(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"a"}}, {ID: 1, Topics: []string{"b"}, Stateful: true}}
	topics := map[string]int32{"a": 3, "b": 5}
	all, err := Tasks(subs, topics)
	if err != nil {
		t.Fatal(err)
	}
	ms := []Member{
		{ID: "m1", Sub: Subscription{Process: "p1", Endpoint: "h1:1"}, Previous: all},
		{ID: "m2", Sub: Subscription{Process: "p2", Endpoint: "h2:1"}},
	}
	plan := Distribute(all, ms)
	if held := holdMoving(ms, plan); held == 0 {
		t.Fatalf("no task held back from the newcomer: plan %v", plan)
	}
	b := NewBalancer(subs, Subscription{Process: "p1", Endpoint: "h1:1"}, 0, nil)
	for _, sa := range b.syncAssignment(ms, plan, nil, taskCounts(all), topics, 0) {
		if _, err := b.ParseSyncAssignment(sa.MemberAssignment); err != nil {
			t.Fatal(err)
		}
		last := b.Last()
		if !slices.Equal(last.Partitions, []int32{3, 5}) {
			t.Errorf("member %s: task counts %v, want [3 5]", sa.MemberID, last.Partitions)
		}
		placed := 0
		for _, h := range last.Hosts {
			placed += len(h.Active)
		}
		if placed >= len(all) {
			t.Errorf("member %s: hosts place %d of %d tasks; the held-back ones should be missing", sa.MemberID, placed, len(all))
		}
	}
}

package assign

import (
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A member that requests a shutdown says so in its join metadata; the
// leader then answers every member with the request and no partitions,
// and each member's Last shows it.
func TestShutdownRequestRoundTrip(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}}}
	asker := NewBalancer(subs, Subscription{Process: "p1"}, 0, nil)
	asker.RequestShutdown(ShutdownRequest{Process: "p1", Cause: "boom"})
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(asker.JoinGroupMetadata([]string{"in"}, nil, 0)); err != nil {
		t.Fatal(err)
	}
	var sub Subscription
	if err := json.Unmarshal(meta.UserData, &sub); err != nil {
		t.Fatal(err)
	}
	if sub.Shutdown == nil || sub.Shutdown.Process != "p1" || sub.Shutdown.Cause != "boom" {
		t.Fatalf("subscription shutdown %+v", sub.Shutdown)
	}
	ms := []Member{{ID: "m1", Sub: Subscription{Process: "p0"}}, {ID: "m2", Sub: sub}}
	req := shutdownRequested(ms)
	if req == nil || shutdownRequested(ms[:1]) != nil {
		t.Fatalf("shutdownRequested = %v", req)
	}
	out := shutdownAssignment(ms, req)
	if len(out) != 2 {
		t.Fatalf("%d assignments, want 2", len(out))
	}
	for _, a := range out {
		other := NewBalancer(subs, Subscription{Process: "p0"}, 0, nil)
		parts, err := other.ParseSyncAssignment(a.MemberAssignment)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 0 {
			t.Errorf("member %s assigned %v, want nothing", a.MemberID, parts)
		}
		if got := other.Last().Shutdown; got == nil || got.Process != "p1" || got.Cause != "boom" {
			t.Errorf("member %s: Last().Shutdown = %+v", a.MemberID, got)
		}
	}
}

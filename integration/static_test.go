package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// TestStaticMemberRestartWithoutRebalance runs two static members; one
// stops and comes back (same instance id, same state directory) within the
// session timeout: the group does not rebalance (the other member gets no
// new assignment) and the restarted member processes its tasks again.
func TestStaticMemberRestartWithoutRebalance(t *testing.T) {
	if !realBroker {
		t.Skip("the embedded broker (kfake) rebalances when a static member rejoins; needs " + brokersEnv)
	}
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 4, in)
	topo := countTopology(t, in, nil)
	dirB := t.TempDir()
	opts := func(id, dir string) []kstreams.Option {
		return []kstreams.Option{kstreams.ApplicationID(app), kstreams.StateDir(dir), kstreams.InstanceID(id)}
	}
	a := runApp(t, topo, opts("a", t.TempDir())...)
	b := runApp(t, topo, opts("b", dirB)...)
	ids := &idProducer{topic: in, partitions: 4}
	poll(t, 60*time.Second, "both instances to process records", func() (bool, string) {
		pa, pb := a.app.Metrics().Processed, b.app.Metrics().Processed
		if pa > 0 && pb > 0 && a.app.State() == kstreams.Running && b.app.State() == kstreams.Running {
			return true, ""
		}
		ids.produce(t, 8)
		return false, fmt.Sprintf("processed: A %d, B %d", pa, pb)
	})
	// Let the rebalances in flight (a cooperative move, a warm-up's
	// probing rebalance) settle.
	waitSettled(t, app, in, a, b)
	rebA := a.app.Metrics().Rebalances

	b.stopOK(t)
	restarted := time.Now()
	b2 := runApp(t, topo, opts("b", dirB)...)
	poll(t, 30*time.Second, "the restarted member to process records", func() (bool, string) {
		ids.produce(t, 8)
		return b2.app.Metrics().Processed > 0, fmt.Sprintf("B processed %d, state %v", b2.app.Metrics().Processed, b2.app.State())
	})
	t.Logf("restarted member processing %v after its restart", time.Since(restarted))
	if got := a.app.Metrics().Rebalances; got != rebA {
		t.Errorf("the other member got %d assignments across the restart, want none (the group rebalanced)", got-rebA)
	}
	if got := b2.app.Metrics().Rebalances; got != 1 {
		t.Errorf("the restarted member got %d assignments, want 1 (its old one back)", got)
	}
}

package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// failover is what the instance that took over measured.
type failover struct {
	// restored counts the changelog records it restored when it took
	// over; standbyUpdates those it had applied to standby replicas.
	restored, standbyUpdates int64
	// changelog counts the records of the changelog partitions of the
	// tasks it took over; tail those written after its standbys had
	// caught up.
	changelog, tail int64
}

// failoverSetup is the layout of a failover run.
type failoverSetup struct {
	standbys   int
	partitions int32
	// threadsA and threadsB are the stream threads of each instance
	// (default 1).
	threadsA, threadsB int
}

// runFailover runs two instances, A and B, of a counting application over
// s.partitions partitions with s.standbys standby replicas, counts 5000
// keys (each once), then 400 more, and stops A cleanly: B takes over A's
// tasks. With a standby, B first waits until its standby replicas hold the
// keys of A's tasks, so that only some of the last 400 may be left for B to
// restore.
func runFailover(t *testing.T, s failoverSetup) failover {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, s.partitions, in)
	changelog := changelogOf(app, countStore)
	topo := countTopology(t, in, nil)
	opts := func(name string, threads int) []kstreams.Option {
		return []kstreams.Option{kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()),
			kstreams.StandbyReplicas(s.standbys), kstreams.Threads(max(threads, 1)), clientID(name)}
	}

	a := runApp(t, topo, opts("A", s.threadsA)...)
	waitRunning(t, a)
	b := runApp(t, topo, opts("B", s.threadsB)...)
	// Produce only once both hold tasks, so that B's standbys follow A's
	// changelog partitions from their first record.
	asg := waitShared(t, app, in, s.partitions, []string{"A", "B"}, func() (bool, string) { return isRunning(a, b) })
	aParts := asg["A"]
	ids := &idProducer{topic: in, partitions: s.partitions}
	ids.produce(t, 5000)
	waitCaughtUp(t, app, 60*time.Second, in)
	ofA := func(ends map[int32]int64) int64 {
		n := int64(0)
		for _, p := range aParts {
			n += ends[p]
		}
		return n
	}
	caughtUp := ofA(endOffsets(t, changelog))
	if s.standbys > 0 {
		poll(t, 30*time.Second, "B's standby replicas to catch up", func() (bool, string) {
			m := b.app.Metrics()
			return m.StandbyUpdates >= caughtUp && m.StandbyUpdates > 0,
				fmt.Sprintf("B applied %d standby updates of %d (A's partitions %v)", m.StandbyUpdates, caughtUp, aParts)
		})
	}
	ids.produce(t, 400)
	waitCaughtUp(t, app, 60*time.Second, in)
	before := b.app.Metrics()
	if ok, why := isRunning(a, b); !ok {
		t.Fatalf("an instance is not running before the failover: %s", why)
	}
	if before.Restored != 0 {
		t.Errorf("B restored %d records before the failover, want 0 (its tasks started from empty changelogs)", before.Restored)
	}

	a.stopOK(t)
	var f failover
	f.changelog = ofA(endOffsets(t, changelog))
	f.tail = f.changelog - caughtUp
	poll(t, 60*time.Second, "B to take over A's tasks", func() (bool, string) {
		if b.app.State() == kstreams.Error {
			t.Fatalf("B failed when it took over: %v", b.waitErr(t, 10*time.Second))
		}
		// Rebalances counts assignments as they begin; the state is
		// RUNNING again once the restore is done.
		if b.app.Metrics().Rebalances == before.Rebalances {
			return false, "B has not been assigned A's tasks yet"
		}
		if asg := assignment(t, app, in); len(asg) != 1 || len(asg["B"]) != int(s.partitions) {
			return false, fmt.Sprintf("assignment %v", asg)
		}
		return isRunning(b)
	})
	waitStore(t, b.app, countStore, 30*time.Second, allCountsOne(ids.ids))
	after := b.app.Metrics()
	f.restored = after.Restored - before.Restored
	f.standbyUpdates = after.StandbyUpdates
	t.Logf("%+v: B restored %d and applied %d standby updates of A's %d changelog records (%d written after the standbys caught up); assignment before %v",
		s, f.restored, f.standbyUpdates, f.changelog, f.tail, asg)

	// Every record of A's changelog partitions reached B once: through a
	// standby replica before the failover, or the restore after it. (Every
	// key is counted once, so compaction removes nothing.)
	if f.restored+f.standbyUpdates != f.changelog {
		t.Errorf("B restored %d and applied %d standby updates, want %d in all (A's changelog partitions %v)",
			f.restored, f.standbyUpdates, f.changelog, aParts)
	}
	if s.standbys == 0 && f.standbyUpdates != 0 {
		t.Errorf("B applied %d standby updates without standby replicas", f.standbyUpdates)
	}
	if s.standbys > 0 && f.restored > f.tail {
		t.Errorf("B restored %d records with a caught-up standby, want at most the %d written after it caught up", f.restored, f.tail)
	}
	return f
}

// TestStandbyShortensFailover runs the same failover with one standby
// replica and without: with the standby, the instance that takes over
// restores only what its standby had not seen yet, far less than the full
// restore without one.
func TestStandbyShortensFailover(t *testing.T) {
	var with, without failover
	okWith := t.Run("standby", func(t *testing.T) { with = runFailover(t, failoverSetup{standbys: 1, partitions: 4}) })
	okWithout := t.Run("none", func(t *testing.T) { without = runFailover(t, failoverSetup{standbys: 0, partitions: 4}) })
	if !okWith || !okWithout {
		return
	}
	t.Logf("restored on failover: %d with a standby replica, %d without", with.restored, without.restored)
	if with.restored >= without.restored {
		t.Errorf("restored %d records with a standby replica, %d without: want fewer with", with.restored, without.restored)
	}
	if without.restored < 2500 {
		t.Errorf("restored %d records without a standby, want A's whole share of at least 2500 keys", without.restored)
	}
}

// TestStandbyOnAnotherThread: with several stream threads per instance, a
// task whose standby replica one thread of B holds may become active on
// another thread of B. B must not fail (the standby's store has to be
// closed before the other thread opens the task's directory) and must
// still restore only what the standby had not seen. With one thread in A
// and three in B over six partitions, the assignment after A leaves puts
// some of A's tasks on threads of B other than their standby's.
func TestStandbyOnAnotherThread(t *testing.T) {
	runFailover(t, failoverSetup{standbys: 1, partitions: 6, threadsA: 1, threadsB: 3})
}

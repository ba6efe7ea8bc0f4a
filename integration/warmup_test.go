package integration

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// TestScaleOutWarmsUpBeforeMoving: instance A counts 20,000 keys over four
// partitions alone; then instance B joins while A keeps processing new
// keys (500 a second). B's share (two tasks) must not become active on B
// while B's copy of their state is further than the acceptable lag (1,000
// records) behind and A's is current: B first gets them as warm-up
// replicas, and a probing rebalance (every 2s) moves them once caught up.
// The moved tasks arrive warm: B restores at most the acceptable lag per
// task when they become active, against the ~10,000 changelog records of
// the two tasks, which B's warm-ups applied instead.
func TestScaleOutWarmsUpBeforeMoving(t *testing.T) {
	const (
		partitions = 4
		keys       = 20_000
		acceptable = 1000
		probe      = 2 * time.Second
	)
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, partitions, in)
	changelog := changelogOf(app, countStore)
	topo := countTopology(t, in, nil)
	opts := func(name string) []kstreams.Option {
		return []kstreams.Option{kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()), clientID(name),
			kstreams.AcceptableRecoveryLag(acceptable), kstreams.MaxWarmupReplicas(2), kstreams.ProbingRebalanceInterval(probe)}
	}

	a := runApp(t, topo, opts("A")...)
	waitAssignment(t, app, in, map[string]int{"A": partitions}, func() (bool, string) { return isRunning(a) })
	ids := &idProducer{topic: in, partitions: partitions}
	ids.produce(t, keys)
	waitCaughtUp(t, app, 60*time.Second, in)
	waitStore(t, a.app, countStore, 30*time.Second, allCountsOne(ids.ids))
	ends := endOffsets(t, changelog)

	// Watch the group from B's start: every stable assignment, with B's
	// standby updates at the time.
	type seen struct {
		asg     map[string][]int32
		standby int64
		at      time.Duration
	}
	var (
		mu      sync.Mutex
		history []seen
	)
	start := time.Now()
	b := runApp(t, topo, opts("B")...)
	stop := make(chan struct{})
	watched, fed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(fed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			ids.produce(inGoroutine{t}, 25)
		}
	}()
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			asg := assignment(t, app, in)
			if _, ok := asg["B"]; !ok {
				continue
			}
			s := seen{asg: asg, standby: b.app.Metrics().StandbyUpdates, at: time.Since(start)}
			mu.Lock()
			if n := len(history); n == 0 || fmt.Sprint(history[n-1].asg) != fmt.Sprint(asg) {
				history = append(history, s)
			}
			mu.Unlock()
		}
	}()
	final := waitAssignment(t, app, in, map[string]int{"A": 2, "B": 2}, func() (bool, string) { return isRunning(a, b) })
	moved := time.Since(start)
	close(stop)
	<-watched
	<-fed
	waitStore(t, b.app, countStore, 30*time.Second, func(m map[string]int64) (bool, string) {
		return len(m) > 0, fmt.Sprintf("%d keys", len(m))
	})

	var onB, onBNow int64
	endsNow := endOffsets(t, changelog)
	for _, p := range final["B"] {
		onB += ends[p]
		onBNow += endsNow[p]
	}
	m := b.app.Metrics()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("B's tasks %v (changelog records %d when B started, %d after the move) active %v after B started; B restored %d records, applied %d standby updates; assignments seen: %+v",
		final["B"], onB, onBNow, moved.Round(time.Millisecond), m.Restored, m.StandbyUpdates, history)

	// B was in the group with no active task first (its share warming
	// up), and got its share only at a later rebalance.
	if len(history) == 0 || len(history[0].asg["B"]) != 0 {
		t.Errorf("first assignment seen with B: %+v, want B in the group with no task", history)
	}
	if moved < probe {
		t.Errorf("B's share became active %v after B started, before the %v probing rebalance", moved, probe)
	}
	// No task of B's became active before its copy was warm: restoring
	// on B when they moved took at most the acceptable lag each.
	if m.Restored > int64(len(final["B"]))*acceptable {
		t.Errorf("B restored %d records when its tasks became active, want at most %d (the acceptable lag of %d per task)",
			m.Restored, len(final["B"])*acceptable, acceptable)
	}
	if m.StandbyUpdates < onB-int64(len(final["B"]))*acceptable {
		t.Errorf("B applied %d records as warm-up replicas, want about the %d of its tasks' changelogs", m.StandbyUpdates, onB)
	}
	// A keeps the other tasks: none of them moved.
	for _, s := range history {
		for _, p := range s.asg["B"] {
			if !slices.Contains(final["B"], p) {
				t.Errorf("partition %d was active on B (%+v) but is not B's in the end", p, s)
			}
		}
	}
	// Every key counted once, across both instances.
	ids.produce(t, 100)
	waitCaughtUp(t, app, 60*time.Second, in)
	waitStore(t, b.app, countStore, 30*time.Second, func(mb map[string]int64) (bool, string) {
		ma, err := storeContents[string, int64](a.app, countStore)
		if err != nil {
			return false, err.Error()
		}
		all := map[string]int64{}
		for k, v := range ma {
			all[k] += v
		}
		for k, v := range mb {
			all[k] += v
		}
		return allCountsOne(ids.ids)(all)
	})
}

// inGoroutine is a test's TB for a goroutine of its own: Fatalf reports
// the failure and ends that goroutine (FailNow belongs to the test's
// goroutine).
type inGoroutine struct{ testing.TB }

func (g inGoroutine) Fatalf(format string, args ...any) {
	g.Errorf(format, args...)
	runtime.Goexit()
}

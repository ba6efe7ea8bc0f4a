package integration

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// scaleOut is the layout of a scale-out run.
type scaleOut struct {
	// before is how many instances run before the new one joins.
	before     int
	partitions int32
	keys       int
}

// TestScaleOutWarmsUpBeforeMoving: instances count keys over some
// partitions; then one more instance, N, joins while they keep processing
// new keys (500 a second). N's share must not become active on N while N's
// copy of its state is further than the acceptable lag (1,000 records)
// behind and another instance's is current: N first gets it as warm-up
// replicas (two at a time), and probing rebalances (every 2s) move the
// tasks once caught up. The moved tasks arrive warm: N restores at most
// the acceptable lag per task when they become active, against the
// changelog records of its tasks, which N's warm-ups applied instead.
func TestScaleOutWarmsUpBeforeMoving(t *testing.T) {
	t.Run("second instance", func(t *testing.T) { runScaleOut(t, scaleOut{before: 1, partitions: 4, keys: 20_000}) })
	t.Run("fourth instance", func(t *testing.T) { runScaleOut(t, scaleOut{before: 3, partitions: 12, keys: 24_000}) })
}

func runScaleOut(t *testing.T, s scaleOut) {
	const (
		acceptable = 1000
		probe      = 2 * time.Second
	)
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, s.partitions, in)
	changelog := changelogOf(app, countStore)
	topo := countTopology(t, in, nil)
	opts := func(name string) []kstreams.Option {
		return []kstreams.Option{kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()), clientID(name),
			kstreams.AcceptableRecoveryLag(acceptable), kstreams.MaxWarmupReplicas(2), kstreams.ProbingRebalanceInterval(probe)}
	}

	var olds []*running
	var names []string
	for i := range s.before {
		names = append(names, string(rune('A'+i)))
		olds = append(olds, runApp(t, topo, opts(names[i])...))
	}
	waitShared(t, app, in, s.partitions, names, func() (bool, string) { return isRunning(olds...) })
	ids := &idProducer{topic: in, partitions: s.partitions}
	ids.produce(t, s.keys)
	waitCaughtUp(t, app, 60*time.Second, in)
	ends := endOffsets(t, changelog)

	// Watch the group from N's start: every stable assignment, with N's
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
	n := runApp(t, topo, opts("N")...)
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
			if _, ok := asg["N"]; !ok {
				continue
			}
			s := seen{asg: asg, standby: n.app.Metrics().StandbyUpdates, at: time.Since(start)}
			mu.Lock()
			if n := len(history); n == 0 || fmt.Sprint(history[n-1].asg) != fmt.Sprint(asg) {
				history = append(history, s)
			}
			mu.Unlock()
		}
	}()
	share := int(s.partitions) / (s.before + 1)
	want := map[string]int{"N": share}
	for _, name := range names {
		want[name] = share
	}
	all := append(slices.Clone(olds), n)
	final := waitAssignment(t, app, in, want, func() (bool, string) { return isRunning(all...) })
	moved := time.Since(start)
	close(stop)
	<-watched
	<-fed

	var onN, onNNow int64
	endsNow := endOffsets(t, changelog)
	for _, p := range final["N"] {
		onN += ends[p]
		onNNow += endsNow[p]
	}
	m := n.app.Metrics()
	mu.Lock()
	defer mu.Unlock()
	var steps []string
	for _, h := range history {
		steps = append(steps, fmt.Sprintf("%v: N %v, standby updates %d", h.at.Round(time.Millisecond), h.asg["N"], h.standby))
	}
	t.Logf("N's tasks %v (changelog records %d when N started, %d after the move) all active %v after N started; N restored %d records, applied %d standby updates; assignments seen: %s",
		final["N"], onN, onNNow, moved.Round(time.Millisecond), m.Restored, m.StandbyUpdates, strings.Join(steps, "; "))

	// N was in the group with no active task first (its share warming
	// up), and got its share only at later rebalances.
	if len(history) == 0 || len(history[0].asg["N"]) != 0 {
		t.Errorf("first assignment seen with N: %+v, want N in the group with no task", history)
	}
	if moved < probe {
		t.Errorf("N's share became active %v after N started, before the %v probing rebalance", moved, probe)
	}
	// No task of N's became active before its copy was warm: restoring
	// on N when they moved took at most the acceptable lag each.
	if m.Restored > int64(len(final["N"]))*acceptable {
		t.Errorf("N restored %d records when its tasks became active, want at most %d (the acceptable lag of %d per task)",
			m.Restored, len(final["N"])*acceptable, acceptable)
	}
	if m.StandbyUpdates < onN-int64(len(final["N"]))*acceptable {
		t.Errorf("N applied %d records as warm-up replicas, want about the %d of its tasks' changelogs", m.StandbyUpdates, onN)
	}
	// A task active on N stays there.
	for _, h := range history {
		for _, p := range h.asg["N"] {
			if !slices.Contains(final["N"], p) {
				t.Errorf("partition %d was active on N (%+v) but is not N's in the end", p, h)
			}
		}
	}
	// Every key counted once, across the instances.
	waitCaughtUp(t, app, 60*time.Second, in)
	poll(t, 30*time.Second, "every key counted once across the instances", func() (bool, string) {
		total := map[string]int64{}
		for _, r := range all {
			got, err := storeContents[string, int64](r.app, countStore)
			if err != nil {
				return false, err.Error()
			}
			for k, v := range got {
				total[k] += v
			}
		}
		return allCountsOne(ids.ids)(total)
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

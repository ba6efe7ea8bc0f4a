package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// progress records, per instance, when each input partition's records
// were processed: the topology's peek sees keys "p<partition>-...".
type progress struct {
	mu sync.Mutex
	at map[int32][]time.Time
}

func newProgress() *progress { return &progress{at: map[int32][]time.Time{}} }

func (p *progress) peek(k, _ string) {
	part, _, _ := strings.Cut(strings.TrimPrefix(k, "p"), "-")
	n, err := strconv.Atoi(part)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.at[int32(n)] = append(p.at[int32(n)], time.Now())
	p.mu.Unlock()
}

// partitionsIn returns the partitions processed within [from, to).
func (p *progress) partitionsIn(from, to time.Time) map[int32]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int32]bool{}
	for part, ts := range p.at {
		if slices.ContainsFunc(ts, func(t time.Time) bool { return !t.Before(from) && t.Before(to) }) {
			out[part] = true
		}
	}
	return out
}

// maxGap returns the longest time within [from, to] without a record of
// partition part processed (the edges count as records).
func (p *progress) maxGap(part int32, from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, gap := from, time.Duration(0)
	for _, t := range p.at[part] {
		if t.Before(from) || t.After(to) {
			continue
		}
		gap = max(gap, t.Sub(last))
		last = t
	}
	return max(gap, to.Sub(last))
}

func (p *progress) count(part int32, before time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, t := range p.at[part] {
		if t.Before(before) {
			n++
		}
	}
	return n
}

// steadyInput writes one record to each of partitions of topic every
// interval until stop is called; keys are "p<partition>-<n mod 50>".
func steadyInput(t *testing.T, topic string, partitions []int32, interval time.Duration) (stop func()) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := 0; ; n++ {
			for _, p := range partitions {
				k := fmt.Sprintf("p%d-%d", p, n%50)
				cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte(k), Value: []byte(k)}, nil)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		cl.Close()
	}
}

// TestScaleOutKeepsStayingTasksProcessing adds a third instance to two that
// count a steady input: under cooperative rebalancing the tasks that stay
// on their instance keep processing through both rebalances (no gap above
// a bound in their per-partition progress), and only the tasks that move
// stop.
func TestScaleOutKeepsStayingTasksProcessing(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	const parts = 6
	createTopics(t, parts, in)
	stop := steadyInput(t, in, []int32{0, 1, 2, 3, 4, 5}, 20*time.Millisecond)
	defer stop()
	pa, pb, pc := newProgress(), newProgress(), newProgress()
	run := func(p *progress) *running {
		return runApp(t, countTopology(t, in, p.peek), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	}
	a, b := run(pa), run(pb)
	waitRunning(t, a, b)
	time.Sleep(time.Second)
	added := time.Now()
	c := run(pc)
	poll(t, 60*time.Second, "the third instance to process", func() (bool, string) {
		got := pc.partitionsIn(added, time.Now())
		ok, state := isRunning(a, b, c)
		return len(got) > 0 && ok, fmt.Sprintf("third instance processed partitions %v; %s", got, state)
	})
	balanced := time.Now()
	time.Sleep(time.Second)
	stop()

	// Under eager rebalancing every task pauses for most of the
	// rebalance; a staying task may pause for a commit or a poll, not
	// for the rebalance (half of it, at least 750ms on a loaded machine).
	bound := max(750*time.Millisecond, balanced.Sub(added)/2)
	stayed := 0
	for name, p := range map[string]*progress{"first": pa, "second": pb} {
		before := p.partitionsIn(added.Add(-time.Second), added)
		after := p.partitionsIn(balanced, balanced.Add(time.Second))
		for part := range before {
			if !after[part] {
				t.Logf("%s instance: partition %d moved", name, part)
				continue
			}
			stayed++
			gap := p.maxGap(part, added.Add(-500*time.Millisecond), balanced.Add(500*time.Millisecond))
			t.Logf("%s instance: partition %d stayed; longest pause %v over the %v of the rebalance", name, part, gap.Round(time.Millisecond), balanced.Sub(added).Round(time.Millisecond))
			if gap > bound {
				t.Errorf("%s instance: partition %d stayed but paused %v (bound %v)", name, part, gap, bound)
			}
		}
	}
	if moved := pc.partitionsIn(added, time.Now()); stayed == 0 || len(moved) == 0 {
		t.Fatalf("%d partitions stayed, %v moved: the test saw no cooperative rebalance", stayed, moved)
	}
}

// TestLargeRestoreDoesNotStopOtherTasks starts a one-thread instance whose
// task 0 has 200,000 changelog records to restore while task 1 has none:
// task 1 processes its input while task 0 restores in the background, and
// queries of the store fail with the retriable ErrStoreNotAvailable until
// the restore is done.
func TestLargeRestoreDoesNotStopOtherTasks(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	changelog := changelogOf(app, countStore)
	createTopics(t, 2, in)
	createTopicsWithConfigs(t, 2, map[string]string{"cleanup.policy": "compact"}, changelog)
	const restore = 200_000
	recs := make([]*kgo.Record, restore)
	one := binary.BigEndian.AppendUint64(nil, 1)
	for i := range recs {
		recs[i] = rec(changelog, 0, []byte(fmt.Sprintf("k-%06d", i)), one, time.Now().UnixMilli())
	}
	produce(t, recs...)

	stop := steadyInput(t, in, []int32{1}, 10*time.Millisecond)
	defer stop()
	var restoring, restored atomic.Int64 // unix nanos of the first progress and of the end
	p := newProgress()
	r := runApp(t, countTopology(t, in, p.peek), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()), kstreams.Threads(1),
		kstreams.RestoreListener(func(rp kstreams.RestoreProgress) {
			if rp.Partition != 0 {
				return
			}
			restoring.CompareAndSwap(0, time.Now().UnixNano())
			if rp.Done {
				restored.Store(time.Now().UnixNano())
			}
		}))
	poll(t, 60*time.Second, "the restore to begin", func() (bool, string) {
		return restoring.Load() != 0, "no restore progress yet"
	})
	st, queryErr := kstreams.LocalStore[string, int64](r.app, countStore)
	if queryErr == nil {
		_, _, queryErr = st.Get("k-000001")
	}
	queried := time.Now()
	poll(t, 60*time.Second, "the restore to finish", func() (bool, string) {
		return restored.Load() != 0, fmt.Sprintf("processed %d records of partition 1 so far", p.count(1, time.Now()))
	})
	done := time.Unix(0, restored.Load())
	took := done.Sub(time.Unix(0, restoring.Load()))
	during := p.count(1, done) - p.count(1, time.Unix(0, restoring.Load()))
	t.Logf("restored %d records in %v; task 1 processed %d records meanwhile; longest pause of task 1 during the restore %v",
		restore, took.Round(time.Millisecond), during, p.maxGap(1, time.Unix(0, restoring.Load()), done).Round(time.Millisecond))
	if gap := p.maxGap(1, time.Unix(0, restoring.Load()), done); gap > time.Second {
		t.Errorf("task 1 paused %v while task 0 restored", gap)
	}
	// The input offers task 1 a record every 10 ms: at least half of
	// those of the restore (up to 10) must be processed meanwhile.
	if want := min(10, max(1, int(took/(20*time.Millisecond)))); during < want {
		t.Errorf("task 1 processed %d records during the %v restore of task 0, want at least %d", during, took, want)
	}
	if !queried.Before(done) {
		t.Logf("the query came after the restore (%v); not checked", queryErr)
	} else if t.Logf("query during the restore: %v", queryErr); !errors.Is(queryErr, kstreams.ErrStoreNotAvailable) {
		t.Errorf("query during the restore: %v, want ErrStoreNotAvailable", queryErr)
	}
	poll(t, 30*time.Second, "the restored store to answer", func() (bool, string) {
		st, err := kstreams.LocalStore[string, int64](r.app, countStore)
		if err != nil {
			return false, err.Error()
		}
		v, ok, err := st.Get(fmt.Sprintf("k-%06d", restore-1))
		return err == nil && ok && v == 1, fmt.Sprintf("got %d %v, %v", v, ok, err)
	})
}

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The environment of TestHelperWindowedInstance, set by
// startWindowedInstance.
const (
	winHelperEnv      = "KSTREAMS_IT_WIN_HELPER"
	winHelperStateEnv = "KSTREAMS_IT_WIN_STATE"
)

// windowedCountStore is the store of windowedCountTopology.
const windowedCountStore = "wcounts"

// windowedCountTopology counts the records of in per key in tumbling
// windows of one second (grace one hour: no record is late) and writes the
// counts to out with the windowed key serde; slow, if set, runs on each
// record first.
func windowedCountTopology(t testing.TB, in, out string, slow func(k, v string), retention time.Duration) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	if slow != nil {
		s = s.Peek(slow)
	}
	w := kstreams.TimeWindowsOfSizeAndGrace(time.Second, time.Hour)
	if retention > 0 {
		w = kstreams.TimeWindowsOfSizeWithNoGrace(time.Second)
	}
	counts := kstreams.WindowedBy(s.GroupByKey(), w).Count(kstreams.WindowedMaterialized[string, int64]{
		Materialized: kstreams.Materialized[string, int64]{Name: windowedCountStore}, Retention: retention,
	})
	counts.ToStream().To(out, kstreams.ProducedWith(serde.TimeWindowed(serde.String(), time.Second), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestHelperWindowedInstance is not a test: it is the instance that
// TestWindowedCountKilled runs in a child process and kills. It runs
// windowedCountTopology slowly, committing every 500ms.
func TestHelperWindowedInstance(t *testing.T) {
	if os.Getenv(winHelperEnv) != "1" {
		t.Skip("helper process for TestWindowedCountKilled")
	}
	topo := windowedCountTopology(t, os.Getenv(helperInEnv), os.Getenv(helperOutEnv), func(string, string) { time.Sleep(slowRecord) }, 0)
	opts := append(defaultAppOpts(),
		kstreams.ApplicationID(os.Getenv(helperAppEnv)),
		kstreams.StateDir(os.Getenv(winHelperStateEnv)),
		kstreams.CommitInterval(500*time.Millisecond),
		kstreams.MaxPollRecords(20))
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func startWindowedInstance(t *testing.T, app, in, out string) *child {
	t.Helper()
	return startChild(t, "TestHelperWindowedInstance",
		winHelperEnv+"=1",
		winHelperStateEnv+"="+t.TempDir(),
		helperAppEnv+"="+app,
		helperInEnv+"="+in,
		helperOutEnv+"="+out,
	)
}

// TestWindowedCountKilled kills (SIGKILL) an instance counting in windows
// in the middle of the stream, then runs another with the same application
// id and an empty state directory, which restores the window store from its
// changelog and goes on from the committed offsets. The final count of
// every window (its last update in the output) is the count of a clean run,
// up to the at-least-once tail: a window may count again the records past
// the killed instance's commit, no more, and a window without such records
// is exact.
func TestWindowedCountKilled(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000
	var recs []*kgo.Record
	for i := range 800 {
		key := fmt.Sprint("k", i%8)
		recs = append(recs, rec(in, int32(i%8%4), []byte(key), []byte("x"), base+int64(i)*50))
	}
	inputs := produce(t, recs...)
	window := func(key string, ts int64) string { return fmt.Sprintf("%s@%d", key, ts/1000*1000) }
	clean := map[string]int64{}
	for _, r := range inputs {
		clean[window(string(r.Key), r.Timestamp.UnixMilli())]++
	}

	c := startWindowedInstance(t, app, in, out)
	poll(t, 60*time.Second, "the helper instance to commit and produce", func() (bool, string) {
		if !c.alive() {
			return false, "the helper exited"
		}
		com := committed(t, app, in)
		return sum(com) >= 300 && len(com) >= 2, fmt.Sprintf("committed %v", com)
	})
	c.kill(t)
	com := committed(t, app, in)
	t.Logf("killed the helper with %d of %d inputs committed (%v)", sum(com), len(inputs), com)
	if sum(com) >= int64(len(inputs)) {
		t.Fatalf("the helper committed every input before it was killed; the test needs it killed mid-stream\n%s", c.out)
	}
	tail := map[string]int64{} // records past the commit, per window
	for _, r := range inputs {
		if r.Offset >= com[r.Partition] {
			tail[window(string(r.Key), r.Timestamp.UnixMilli())]++
		}
	}

	r := runApp(t, windowedCountTopology(t, in, out, nil, 0), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	waitCaughtUp(t, app, 60*time.Second, in)
	if r.app.Metrics().Restored == 0 {
		t.Errorf("the new instance restored nothing from the changelog")
	}
	outs := consumeUntil(t, out, int(sum(endOffsets(t, out))), 30*time.Second)
	wk := serde.TimeWindowed(serde.String(), time.Second)
	final := map[string]int64{}
	for _, o := range outs {
		k, err := wk.Deserialize(out, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		n, err := serde.Int64().Deserialize(out, o.Value)
		if err != nil {
			t.Fatal(err)
		}
		final[fmt.Sprintf("%s@%d", k.Key, k.Window.Start)] = n
	}
	exact := 0
	for w, want := range clean {
		got := final[w]
		switch {
		case got < want || got > want+tail[w]:
			t.Errorf("window %s: final count %d, want %d (up to %d more: records past the commit)", w, got, want, tail[w])
		case tail[w] == 0:
			exact++
		}
	}
	if len(final) != len(clean) {
		t.Errorf("%d windows in the output, want %d", len(final), len(clean))
	}
	t.Logf("%d windows, %d without records past the commit (all exact), %d with", len(clean), exact, len(clean)-exact)
}

// TestWindowedCountBoundedOnDisk runs a DSL windowed count over two hours of
// event time with windows retained 10 minutes, and looks at the store's
// directory while it runs: each task never holds more than 3 live segments
// (segments of 5 minutes) plus the one a put opens just before it drops the
// oldest, and 3 at the end; expired ones are deleted as stream time passes.
func TestWindowedCountBoundedOnDisk(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	base := time.Now().Add(-3*time.Hour).UnixMilli() / 1000 * 1000
	var recs []*kgo.Record
	for i := range 3000 {
		key := fmt.Sprint("k", i%10)
		recs = append(recs, rec(in, int32(i%10%2), []byte(key), []byte("x"), base+int64(i)*2400)) // 2 hours
	}
	produce(t, recs...)
	dir := t.TempDir()
	var mu sync.Mutex
	most := map[string]int{} // task -> most segments seen at once
	seen := map[string]bool{}
	look := func() {
		for _, task := range []string{"0_0", "0_1"} {
			segs, _ := os.ReadDir(filepath.Join(dir, app, task, windowedCountStore))
			n := 0
			for _, s := range segs {
				if s.IsDir() && strings.HasPrefix(s.Name(), windowedCountStore+".") {
					n++
					seen[task+"/"+s.Name()] = true
				}
			}
			most[task] = max(most[task], n)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				mu.Lock()
				look()
				mu.Unlock()
			}
		}
	})
	r := runApp(t, windowedCountTopology(t, in, out, nil, 10*time.Minute), kstreams.ApplicationID(app), kstreams.StateDir(dir))
	waitCaughtUp(t, app, 60*time.Second, in)
	close(stop)
	wg.Wait()
	t.Logf("most segments at once per task %v; %d segment directories made in all", most, len(seen))
	for task, n := range most {
		if n > 4 {
			t.Errorf("task %s held %d segments at once, want at most 4", task, n)
		}
	}
	clear(most)
	look()
	for task, n := range most {
		if n > 3 {
			t.Errorf("task %s holds %d segments at the end, want at most 3", task, n)
		}
	}
	if len(seen) < 10 {
		t.Errorf("%d segment directories seen over two hours of 5-minute segments: the test did not watch the store", len(seen))
	}
	r.stopOK(t)
}

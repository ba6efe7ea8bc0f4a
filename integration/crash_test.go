package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// The environment of TestHelperInstance, set by startInstance.
const (
	helperEnv    = "KSTREAMS_IT_HELPER"
	helperAppEnv = "KSTREAMS_IT_APP"
	helperInEnv  = "KSTREAMS_IT_IN"
	helperOutEnv = "KSTREAMS_IT_OUT"
)

// slowRecord is how long the helper instance spends on each record, so that
// a kill lands in the middle of the stream.
const slowRecord = 10 * time.Millisecond

// TestHelperInstance is not a test: it is the application instance that
// TestKilledInstance runs in a child process (the test binary re-executed)
// and kills. It copies $KSTREAMS_IT_IN to $KSTREAMS_IT_OUT slowly,
// committing every 500ms, until it is killed (or a minute has passed).
func TestHelperInstance(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestKilledInstance")
	}
	topo := copyTopology(t, os.Getenv(helperInEnv), os.Getenv(helperOutEnv), func(string, string) { time.Sleep(slowRecord) })
	opts := append(defaultAppOpts(),
		kstreams.ApplicationID(os.Getenv(helperAppEnv)),
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

// startInstance runs TestHelperInstance in a child process.
func startInstance(t *testing.T, app, in, out string) *child {
	t.Helper()
	return startChild(t, "TestHelperInstance",
		helperEnv+"=1",
		helperAppEnv+"="+app,
		helperInEnv+"="+in,
		helperOutEnv+"="+out,
	)
}

// TestKilledInstance kills an instance (SIGKILL: no commit, no leaving the
// group) in the middle of a slow stream and starts another with the same
// application id: it resumes from the committed offsets, so every record
// reaches the output, and only records past the last commit are repeated.
func TestKilledInstance(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	ids := &idProducer{topic: in, partitions: 4}
	inputs := ids.produce(t, 600)
	type location struct {
		p   int32
		off int64
	}
	where := map[string]location{}
	for _, r := range inputs {
		where[string(r.Value)] = location{r.Partition, r.Offset}
	}

	c := startInstance(t, app, in, out)
	// Kill it once it has committed and written a good part of the
	// output, but long before it is done (600 records take 6s).
	poll(t, 60*time.Second, "the helper instance to commit and produce", func() (bool, string) {
		if !c.alive() {
			return false, "the helper exited"
		}
		com := committed(t, app, in)
		n := sum(endOffsets(t, out))
		return sum(com) > 0 && n >= 100, fmt.Sprintf("committed %v, output %d", com, n)
	})
	c.kill(t)
	com := committed(t, app, in)
	outBefore := sum(endOffsets(t, out))
	t.Logf("killed the helper with %d of %d inputs committed (%v) and %d outputs written", sum(com), len(inputs), com, outBefore)
	if outBefore >= int64(len(inputs)) {
		t.Fatalf("the helper wrote all %d outputs before it was killed; the test needs it killed mid-stream\n%s", outBefore, c.out)
	}
	r := runApp(t, copyTopology(t, in, out, nil), kstreams.ApplicationID(app))
	counts := consumeIDs(t, out, ids.ids, 60*time.Second)
	waitCaughtUp(t, app, 30*time.Second, in)

	dups := 0
	for _, id := range ids.ids {
		n := counts[id]
		if n <= 1 {
			continue
		}
		dups += n - 1
		w := where[id]
		if w.off < com[w.p] {
			t.Errorf("%s (partition %d offset %d) is in the output %d times, but the killed instance had committed partition %d up to offset %d",
				id, w.p, w.off, n, w.p, com[w.p])
		}
	}
	t.Logf("%d duplicates of %d records", dups, len(inputs))
	if dups >= len(inputs) {
		t.Errorf("%d duplicates of %d records: the new instance started over", dups, len(inputs))
	}
	if want := int64(len(inputs)) - sum(com); r.app.Metrics().Processed != want {
		t.Errorf("the new instance processed %d records, want %d (those past the committed offsets %v)", r.app.Metrics().Processed, want, com)
	}
}

package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The environment of TestHelperEOSInstance, set by startEOSInstance.
const (
	eosHelperEnv = "KSTREAMS_IT_EOS_HELPER"
	eosAppEnv    = "KSTREAMS_IT_EOS_APP"
	eosInEnv     = "KSTREAMS_IT_EOS_IN"
	eosOutEnv    = "KSTREAMS_IT_EOS_OUT"
	eosDirEnv    = "KSTREAMS_IT_EOS_DIR"
	// eosSlowEnv is "<n>/<duration>": the helper spends the duration on
	// each input record numbered n or more (keyedInput numbers them).
	eosSlowEnv = "KSTREAMS_IT_EOS_SLOW"
	// eosTopoEnv picks the helper's topology: eosTopology, or
	// eosWindowTopology when "windowed", eosVersionedTopology when
	// "versioned".
	eosTopoEnv = "KSTREAMS_IT_EOS_TOPO"
)

// eosStore is the count store of eosTopology.
const eosStore = "eos-counts"

// eosTopology counts the records of in per key into eosStore and writes
// every count to out. each, if set, runs on every input record.
func eosTopology(t testing.TB, in, out string, each func(string, string)) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	if each != nil {
		s = s.Peek(each)
	}
	counts := s.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: eosStore, Value: serde.Int64()})
	counts.ToStream().To(out, kstreams.ProducedWith(serde.String(), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// eosOpts are the options of every instance of the exactly-once tests: no
// record cache, so that every count reaches the output and a duplicate or
// a gap shows.
func eosOpts(app, dir string) []kstreams.Option {
	return []kstreams.Option{
		kstreams.ApplicationID(app),
		kstreams.StateDir(dir),
		kstreams.ProcessingGuarantee(kstreams.ExactlyOnce),
		kstreams.CommitInterval(100 * time.Millisecond),
		kstreams.CacheMaxBytes(0),
		kstreams.MaxPollRecords(50),
	}
}

// TestHelperEOSInstance is not a test: it is the exactly-once instance the
// tests below run in a child process and kill with SIGKILL. It counts,
// slowly from the record $KSTREAMS_IT_EOS_SLOW says, until it is killed or
// a minute has passed.
func TestHelperEOSInstance(t *testing.T) {
	if os.Getenv(eosHelperEnv) != "1" {
		t.Skip("helper process for the exactly-once tests")
	}
	from, d, _ := strings.Cut(os.Getenv(eosSlowEnv), "/")
	slowFrom, err := strconv.Atoi(from)
	if err != nil {
		t.Fatalf("%s: %v", eosSlowEnv, err)
	}
	slow, err := time.ParseDuration(d)
	if err != nil {
		t.Fatalf("%s: %v", eosSlowEnv, err)
	}
	topology := eosTopology
	switch os.Getenv(eosTopoEnv) {
	case "windowed":
		topology = eosWindowTopology
	case "versioned":
		topology = eosVersionedTopology
	}
	topo := topology(t, os.Getenv(eosInEnv), os.Getenv(eosOutEnv), func(_, v string) {
		if n, _ := strconv.Atoi(v); n >= slowFrom {
			time.Sleep(slow)
		}
	})
	opts := append(defaultAppOpts(), eosOpts(os.Getenv(eosAppEnv), os.Getenv(eosDirEnv))...)
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

// startEOSInstance runs TestHelperEOSInstance in a child process, slow
// from input record slowFrom on.
func startEOSInstance(t *testing.T, app, in, out, dir string, slowFrom int, slow time.Duration) *child {
	t.Helper()
	return startChild(t, "TestHelperEOSInstance",
		eosHelperEnv+"=1", eosAppEnv+"="+app, eosInEnv+"="+in, eosOutEnv+"="+out, eosDirEnv+"="+dir,
		fmt.Sprintf("%s=%d/%v", eosSlowEnv, slowFrom, slow))
}

// killMidStream starts the helper instance over in (already holding every
// input), SIGKILLs it wait after it has committed at least minCommitted
// inputs, before it is done, and returns the input offsets committed then.
func killMidStream(t *testing.T, app, in, out, dir string, minCommitted, total int64, slowFrom int, slow, wait time.Duration) map[int32]int64 {
	t.Helper()
	c := startEOSInstance(t, app, in, out, dir, slowFrom, slow)
	poll(t, 60*time.Second, "the helper instance to commit", func() (bool, string) {
		select {
		case <-c.exited:
			t.Fatalf("the helper exited:\n%s", c.out)
		default:
		}
		com := committed(t, app, in)
		return sum(com) >= minCommitted, fmt.Sprintf("committed %v", com)
	})
	time.Sleep(wait)
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing the helper: %v", err)
	}
	<-c.exited
	com := committed(t, app, in)
	if sum(com) >= total {
		t.Fatalf("the helper committed all %d inputs before it was killed; the test needs it killed mid-stream", total)
	}
	return com
}

// readCommitted reads topic from the start as a read-committed consumer,
// up to its last stable offsets, and returns the data records.
func readCommitted(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := ctxFor(t, 60*time.Second)
	defer cancel()
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		t.Fatalf("listing the last stable offsets of %q: %v", topic, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	left := map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %q up to %v: still to read %v", topic, lso, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// checkExactCounts checks that, read committed, the counts of every key in
// topic are exactly 1, 2, ... up to its number of inputs: no duplicate, no
// gap, nothing lost. Over a compacted topic (compacted is set) only the
// order is checked: each count above the one before. It returns the number
// of duplicates.
func checkExactCounts(t testing.TB, topic string, truth map[string]int64, compacted bool) (dups int) {
	t.Helper()
	last := map[string]int64{}
	bad := 0
	for _, r := range readCommitted(t, topic) {
		k, v := string(r.Key), int64(binary.BigEndian.Uint64(r.Value))
		if v <= last[k] {
			dups++
		}
		if v != last[k]+1 && (!compacted || v <= last[k]) {
			bad++
			if bad <= 20 {
				t.Errorf("topic %q key %s: count %d (partition %d offset %d) follows %d", topic, k, v, r.Partition, r.Offset, last[k])
			}
		}
		last[k] = v
	}
	for k, want := range truth {
		if last[k] != want {
			t.Errorf("topic %q key %s: last count %d, want %d", topic, k, last[k], want)
		}
	}
	return dups
}

// TestExactlyOnceKilledInstance SIGKILLs an exactly-once instance in the
// middle of the stream and restarts it on the same state directory: read
// committed, every count of every key appears exactly once, in order, and
// the final counts are exact.
func TestExactlyOnceKilledInstance(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	input := newKeyedInput(in, 4, 50)
	const total = 2000
	input.produce(t, total)
	dir := t.TempDir()
	com := killMidStream(t, app, in, out, dir, total/4, total, 0, time.Millisecond, 0)
	t.Logf("killed the instance with %d of %d inputs committed", sum(com), total)

	r := runApp(t, eosTopology(t, in, out, nil), eosOpts(app, dir)...)
	waitCaughtUp(t, app, 60*time.Second, in)
	// The killed member leaves the group when its session expires: stop
	// once the group has settled without it (stopping inside that
	// rebalance aborts the last transaction: ErrCloseIncomplete).
	waitSettled(t, app, in, r)
	r.stopOK(t)
	dups := checkExactCounts(t, out, input.truth(), false)
	t.Logf("read committed: %d duplicates; the restarted instance processed %d records", dups, r.app.Metrics().Processed)
	if dups > 0 {
		t.Errorf("%d duplicates in the read-committed output", dups)
	}
	checkExactCounts(t, app+"-"+eosStore+"-changelog", input.truth(), true)
}

// TestExactlyOnceRestoreAfterKill SIGKILLs an exactly-once instance
// mid-stream: the restarted instance keeps its local store (uncommitted
// updates never reached it) and restores only what was committed after its
// checkpoint (written at most a second apart), far less than the store
// holds. A fresh state directory restores the store in full, for
// comparison. The instance fills the store (10,000 keys) quickly, then
// counts 5ms a record until it is killed.
func TestExactlyOnceRestoreAfterKill(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	const keys, total = 10000, 12000
	input := newKeyedInput(in, 2, keys)
	input.produce(t, total)
	dir := t.TempDir()
	// The kill comes 1.5s into the slow part: a checkpoint was written
	// since the fast part (they are at most a second apart), so the tail
	// is a second of slow records at most.
	com := killMidStream(t, app, in, out, dir, keys+200, total, keys, 5*time.Millisecond, 1500*time.Millisecond)

	r := runApp(t, eosTopology(t, in, out, nil), eosOpts(app, dir)...)
	waitCaughtUp(t, app, 60*time.Second, in)
	// The killed member leaves the group when its session expires: stop
	// once the group has settled without it (stopping inside that
	// rebalance aborts the last transaction: ErrCloseIncomplete).
	waitSettled(t, app, in, r)
	r.stopOK(t)
	afterKill := r.app.Metrics().Restored
	checkExactCounts(t, out, input.truth(), false)

	full := runApp(t, eosTopology(t, in, out, nil), eosOpts(app, t.TempDir())...)
	poll(t, 60*time.Second, "the fresh instance to restore", func() (bool, string) {
		return full.app.State() == kstreams.Running, full.app.State().String()
	})
	full.stopOK(t)
	fresh := full.app.Metrics().Restored
	storeKeys := int64(len(input.truth()))
	t.Logf("store: %d keys (%d changelog records); killed with %d of %d inputs committed; restored after SIGKILL: %d records; full restore (fresh state directory): %d records",
		storeKeys, sum(endOffsets(t, app+"-"+eosStore+"-changelog")), sum(com), total, afterKill, fresh)
	if afterKill*10 > storeKeys {
		t.Errorf("after SIGKILL the instance restored %d records, want far below the store's %d keys", afterKill, storeKeys)
	}
	if fresh < storeKeys {
		t.Errorf("a fresh state directory restored %d records, want at least the store's %d keys", fresh, storeKeys)
	}
}

// TestExactlyOnceRebalance adds a second exactly-once instance in the
// middle of the stream, then stops the first: each rebalance revokes the
// tasks, aborting the open transaction, and read committed every count
// still appears exactly once.
func TestExactlyOnceRebalance(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	input := newKeyedInput(in, 4, 50)
	const total = 3000
	input.produce(t, total)
	slow := func(string, string) { time.Sleep(time.Millisecond) }
	a := runApp(t, eosTopology(t, in, out, slow), eosOpts(app, t.TempDir())...)
	poll(t, 60*time.Second, "the first instance to commit", func() (bool, string) {
		com := committed(t, app, in)
		return sum(com) >= total/5, fmt.Sprintf("committed %v", com)
	})
	b := runApp(t, eosTopology(t, in, out, slow), eosOpts(app, t.TempDir())...)
	poll(t, 60*time.Second, "the second instance to process", func() (bool, string) {
		return b.app.Metrics().Processed > 0, fmt.Sprintf("processed %d", b.app.Metrics().Processed)
	})
	a.stopOK(t)
	waitCaughtUp(t, app, 60*time.Second, in)
	b.stopOK(t)
	if dups := checkExactCounts(t, out, input.truth(), false); dups > 0 {
		t.Errorf("%d duplicates in the read-committed output", dups)
	}
	t.Logf("processed: first instance %d, second %d, of %d inputs; transactions aborted: %d, %d", a.app.Metrics().Processed, b.app.Metrics().Processed, total,
		a.app.Metrics().AbortedTransactions, b.app.Metrics().AbortedTransactions)
}

package integration

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Exactly-once under broker faults and at shutdown (issue 13): the
// transactional producer fenced by a broker restart, and the offsets
// committed at rest.

// TestExactlyOnceBrokerKilled kills the broker (kill -9) under two
// exactly-once instances in the middle of the stream and relaunches it on
// the same data. The transactions open at the kill outlive their timeout
// while the broker is down: the restarted transaction coordinator aborts
// them and bumps the producers' epochs, so the producers are fenced
// (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED). Each thread must take that
// for a task migration (close its tasks dirty, re-initialize its producer,
// rejoin) and go on: no instance exits, and read committed every count of
// every key appears exactly once.
func TestExactlyOnceBrokerKilled(t *testing.T) {
	useFaultBroker(t)
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	input := newKeyedInput(in, 4, 50)
	input.produce(t, 3000)

	logs := newLogCounter(slog.NewTextHandler(&testLog{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slow := func(string, string) { time.Sleep(time.Millisecond) }
	var rs []*running
	for range 2 {
		opts := append(eosOpts(app, t.TempDir()), kstreams.Logger(slog.New(logs)))
		rs = append(rs, runApp(t, eosTopology(t, in, out, slow), opts...))
	}
	poll(t, 60*time.Second, "both instances to process", func() (bool, string) {
		p0, p1 := rs[0].app.Metrics().Processed, rs[1].app.Metrics().Processed
		return p0 > 200 && p1 > 200 && sum(committed(t, app, in)) > 500, fmt.Sprintf("processed %d and %d", p0, p1)
	})

	signalBroker(t, syscall.SIGKILL)
	pid := faultBrokerPid(t)
	poll(t, 20*time.Second, "the broker to die", func() (bool, string) {
		return syscall.Kill(pid, 0) != nil, "still alive"
	})
	// Longer than the transaction timeout (10 s) with the broker's start.
	time.Sleep(5 * time.Second)
	if err := kafkaScript("relaunch"); err != nil {
		t.Fatal(err)
	}
	input.produce(t, 400)
	waitCaughtUp(t, app, 90*time.Second, in)
	for i, r := range rs {
		select {
		case <-r.done:
			t.Fatalf("instance %d exited: %v", i, r.err)
		default:
		}
	}
	if dups := checkExactCounts(t, out, input.truth(), false); dups > 0 {
		t.Errorf("%d duplicates in the read-committed output", dups)
	}
	var migrations, aborted int64
	for _, r := range rs {
		migrations += r.app.Metrics().TaskMigrations
		aborted += r.app.Metrics().AbortedTransactions
	}
	t.Logf("task migrations %d, aborted transactions %d", migrations, aborted)
	for _, r := range rs {
		r.stopOK(t)
	}
}

// TestExactlyOnceLagZeroAtRest runs an exactly-once instance over input
// written in transactions, as exactly-once applications write their
// repartition topics and outputs: once it has processed everything and
// idles, the group's committed offsets equal the end offsets (lag 0),
// past the last transaction's marker, as Kafka Streams commits its
// consumer's position.
func TestExactlyOnceLagZeroAtRest(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	txnProd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(uniqueName(t, "txn")),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer txnProd.Close()
	truth := map[string]int64{}
	ctx, cancel := ctxFor(t, 30*time.Second)
	defer cancel()
	for txn := range 3 {
		if err := txnProd.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			k := fmt.Sprintf("k%d", i%5)
			truth[k]++
			// Each key to one partition, as the counts are per task.
			txnProd.Produce(ctx, rec(in, int32(i%5%2), []byte(k), []byte(fmt.Sprint(txn)), time.Now().UnixMilli()), nil)
		}
		if err := txnProd.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := txnProd.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	r := runApp(t, eosTopology(t, in, out, nil), eosOpts(app, t.TempDir())...)
	// Every partition's end offset is past a commit marker; the group
	// must commit it.
	waitCaughtUp(t, app, 30*time.Second, in)
	if dups := checkExactCounts(t, out, truth, false); dups > 0 {
		t.Errorf("%d duplicates in the read-committed output", dups)
	}
	r.stopOK(t)
	waitCaughtUp(t, app, 5*time.Second, in)
}

// TestExactlyOnceCloseInRebalance stops an exactly-once instance while the
// group rebalances (a second instance joins, taking half of its tasks):
// the close commits what it can; should the rebalance make it abort the
// last transaction instead, the records are processed again by the
// tasks' next owner, which is no failure of the close. Run returns nil,
// and read committed every count appears exactly once.
func TestExactlyOnceCloseInRebalance(t *testing.T) {
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
		return sum(com) >= total/10, fmt.Sprintf("committed %v", com)
	})
	b := runApp(t, eosTopology(t, in, out, slow), eosOpts(app, t.TempDir())...)
	// The first instance rebalances for a moment only: watch closely.
	for deadline := time.Now().Add(30 * time.Second); a.app.State() != kstreams.Rebalancing; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first instance did not rebalance within 30s: %v", a.app.State())
		}
	}
	if err := a.stop(60 * time.Second); err != nil {
		t.Fatalf("closing in a rebalance: Run returned %v, want nil", err)
	}
	waitCaughtUp(t, app, 60*time.Second, in)
	b.stopOK(t)
	if dups := checkExactCounts(t, out, input.truth(), false); dups > 0 {
		t.Errorf("%d duplicates in the read-committed output", dups)
	}
	t.Logf("processed: first instance %d, second %d, of %d inputs; transactions aborted: %d, %d", a.app.Metrics().Processed, b.app.Metrics().Processed, total,
		a.app.Metrics().AbortedTransactions, b.app.Metrics().AbortedTransactions)
}

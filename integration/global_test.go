package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globalJoinTopology joins orders (key: order id, value: customer id) with
// the global table of customers (key: customer id, value: name) into out,
// as "<order>:<name>".
func globalJoinTopology(t testing.TB, orders, customers, out string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	g := kstreams.GlobalTableFrom(b, customers, ss)
	o := kstreams.StreamFrom(b, orders, ss)
	kstreams.StreamGlobalTableJoin(o, g, func(_, cust string) string { return cust },
		func(order, _, name string) string { return order + ":" + name }).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestGlobalTableRestoredBeforeFirstJoin runs a stream-global table join,
// stops it, changes and deletes customers and produces orders while it is
// down, then restarts it: every order produced while it was down must be
// joined with the customer as of the restart (the global store, persistent
// by default, is read from its checkpoint to the end of its topic, all partitions, before the first
// stream record), and the deleted customer's order with nothing.
func TestGlobalTableRestoredBeforeFirstJoin(t *testing.T) {
	app := newAppID(t)
	orders, customers, out := uniqueName(t, "orders"), uniqueName(t, "customers"), uniqueName(t, "out")
	createTopics(t, 2, orders, out)
	createTopics(t, 3, customers)
	const n = 30
	produceRound := func(round, version int, deleted int, txn bool) {
		var recs []*kgo.Record
		for i := range n {
			cust := fmt.Sprintf("cust-%d", i)
			v := []byte(fmt.Sprintf("name%d-v%d", i, version))
			if i == deleted {
				v = nil
			}
			recs = append(recs, rec(customers, int32(i%3), []byte(cust), v, int64(1000*round+i)))
		}
		if txn {
			produceTxn(t, recs)
		} else {
			produce(t, recs...)
		}
		for i := range n {
			produce(t, rec(orders, int32(i%2), []byte(fmt.Sprintf("o%d-%d", round, i)), []byte(fmt.Sprintf("cust-%d", i)), int64(1000*round+500+i)))
		}
	}
	check := func(round, version, deleted, total int) {
		t.Helper()
		got := consumeUntil(t, out, total, 60*time.Second)
		if len(got) != total {
			t.Fatalf("round %d: %d records in %q, want %d:\n%s", round, len(got), out, total, describeRecords(got))
		}
		seen := 0
		prefix := fmt.Sprintf("o%d-", round)
		for _, r := range got {
			k := string(r.Key)
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			seen++
			var i int
			fmt.Sscanf(strings.TrimPrefix(k, prefix), "%d", &i)
			want := fmt.Sprintf("%s:name%d-v%d", k, i, version)
			if i == deleted || string(r.Value) != want {
				t.Errorf("round %d: %s = %q, want %q (deleted customer: %d)", round, k, r.Value, want, deleted)
			}
		}
		if want := n - btoi(deleted >= 0); seen != want {
			t.Errorf("round %d: %d joined orders, want %d", round, seen, want)
		}
	}
	dir := t.TempDir()

	produceRound(1, 1, -1, false)
	r := runApp(t, globalJoinTopology(t, orders, customers, out), kstreams.ApplicationID(app), kstreams.StateDir(dir))
	check(1, 1, -1, n)
	r.stopOK(t)

	// While the instance is down: every customer renamed, one deleted,
	// in a transaction (each partition of the global topic then ends with
	// a commit marker, which the restore must count as read), and a new
	// order for each.
	produceRound(2, 2, 7, true)
	r = runApp(t, globalJoinTopology(t, orders, customers, out), kstreams.ApplicationID(app), kstreams.StateDir(dir))
	check(2, 2, 7, 2*n-1)
	r.stopOK(t)
}

// produceTxn writes recs, each to the partition it names, in one
// committed transaction.
func produceTxn(t testing.TB, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(uniqueName(t, "txn")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := ctxFor(t, 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

package integration

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

const (
	fkHelperEnv = "KSTREAMS_IT_FK_HELPER"
	fkAppEnv    = "KSTREAMS_IT_FK_APP"
	fkTopicsEnv = "KSTREAMS_IT_FK_TOPICS" // orders,customers,out
	fkDirEnv    = "KSTREAMS_IT_FK_DIR"
	fkJoinName  = "order-customer"
)

// fkTopology joins orders ("customer|amount", keyed by order id) to
// customers (name, keyed by customer id) by the customer in the order and
// writes "amount@name" per order to out.
func fkTopology(t testing.TB, orders, customers, out string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	o := kstreams.TableFrom(b, orders, ss)
	c := kstreams.TableFrom(b, customers, ss)
	j := kstreams.ForeignKeyJoin(o, c,
		func(v string) string { cust, _, _ := strings.Cut(v, "|"); return cust },
		func(v, name string) string { _, amount, _ := strings.Cut(v, "|"); return amount + "@" + name },
		kstreams.TableJoined[string, string]{Name: fkJoinName})
	j.ToStream().To(out, kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestHelperFKInstance runs the foreign-key join application in a child
// process, for TestForeignKeyJoinKilled to kill.
func TestHelperFKInstance(t *testing.T) {
	if os.Getenv(fkHelperEnv) != "1" {
		t.Skip("helper process for TestForeignKeyJoinKilled")
	}
	ts := strings.Split(os.Getenv(fkTopicsEnv), ",")
	opts := append(defaultAppOpts(),
		kstreams.ApplicationID(os.Getenv(fkAppEnv)),
		kstreams.StateDir(os.Getenv(fkDirEnv)),
		kstreams.CommitInterval(300*time.Millisecond),
		kstreams.MaxPollRecords(10),
		clientID(childID))
	app, err := kstreams.New(fkTopology(t, ts[0], ts[1], ts[2]), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestForeignKeyJoinKilled runs a foreign-key join whose tables have
// different partition counts (orders 3, customers 2) on the real broker.
// The orders are placed by their number, not by the hash of their key (as
// a custom partitioner would), so each response must come back to the
// partition of the order that subscribed, not the one its key hashes to:
// the subscription topic gets the customers' count and the response topic
// the orders', with Kafka Streams' names. The instance is killed (SIGKILL)
// in the middle of the input; a new instance with an empty state directory
// restores the stores from their changelogs and, after further updates of
// both tables (customers renamed, orders moved to other customers, orders
// deleted), the latest result of every order is its amount with its
// current customer's current name, and deleted orders have none.
func TestForeignKeyJoinKilled(t *testing.T) {
	app := newAppID(t)
	orders, customers, out := uniqueName(t, "orders"), uniqueName(t, "customers"), uniqueName(t, "out")
	createTopics(t, 3, orders, out)
	createTopics(t, 2, customers)

	const nCust, nOrders = 10, 300
	now := time.Now().UnixMilli()
	cust := map[string]string{}
	var recs []*kgo.Record
	for i := range nCust {
		id, name := fmt.Sprintf("c%02d", i), fmt.Sprintf("name%02d", i)
		cust[id] = name
		recs = append(recs, keyed(customers, 2, id, []byte(name), now))
	}
	order := map[string]string{}
	for i := range nOrders {
		id, v := fmt.Sprintf("o%03d", i), fmt.Sprintf("c%02d|%d", i%nCust, i)
		order[id] = v
		recs = append(recs, rec(orders, int32(i%3), []byte(id), []byte(v), now))
	}
	produce(t, recs...)

	c := startChild(t, "TestHelperFKInstance", fkHelperEnv+"=1",
		fkAppEnv+"="+app, fkTopicsEnv+"="+orders+","+customers+","+out, fkDirEnv+"="+t.TempDir())
	// Kill the child once part of the results are out.
	poll(t, 90*time.Second, "the helper to write some results", func() (bool, string) {
		if !c.alive() {
			t.Fatalf("the helper exited early:\n%s", c.out)
		}
		n := sum(endOffsets(t, out))
		return n >= nOrders/5, fmt.Sprintf("%d results", n)
	})
	c.kill(t)

	sub := app + "-" + fkJoinName + "-subscription-registration-topic"
	resp := app + "-" + fkJoinName + "-subscription-response-topic"
	if n := len(endOffsets(t, sub)); n != 2 {
		t.Errorf("%s has %d partitions, want 2 (the customers')", sub, n)
	}
	if n := len(endOffsets(t, resp)); n != 3 {
		t.Errorf("%s has %d partitions, want 3 (the orders')", resp, n)
	}

	// Updates while nobody runs: renames, moves, deletes.
	recs = nil
	for i := 0; i < nCust; i += 3 {
		id := fmt.Sprintf("c%02d", i)
		cust[id] = "renamed" + id
		recs = append(recs, keyed(customers, 2, id, []byte(cust[id]), now+1))
	}
	for i := 0; i < nOrders; i += 7 {
		id := fmt.Sprintf("o%03d", i)
		order[id] = fmt.Sprintf("c%02d|%d", (i+1)%nCust, i)
		recs = append(recs, rec(orders, int32(i%3), []byte(id), []byte(order[id]), now+1))
	}
	for i := 5; i < nOrders; i += 50 {
		id := fmt.Sprintf("o%03d", i)
		delete(order, id)
		recs = append(recs, rec(orders, int32(i%3), []byte(id), nil, now+1))
	}
	produce(t, recs...)

	want := map[string]string{}
	for id, v := range order {
		c, amount, _ := strings.Cut(v, "|")
		want[id] = amount + "@" + cust[c]
	}
	runApp(t, fkTopology(t, orders, customers, out), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	var got map[string]string
	poll(t, 90*time.Second, "every order's latest result to be its current join", func() (bool, string) {
		got = map[string]string{}
		for _, r := range readAll(t, out) {
			// A deleted result reaches the stream as the zero string.
			if len(r.Value) == 0 {
				delete(got, string(r.Key))
			} else {
				got[string(r.Key)] = string(r.Value)
			}
		}
		if maps.Equal(got, want) {
			return true, ""
		}
		var diff []string
		for k, v := range want {
			if got[k] != v {
				diff = append(diff, fmt.Sprintf("%s: %q, want %q", k, got[k], v))
			}
		}
		return false, fmt.Sprintf("%d of %d orders differ (%s), %d results", len(diff), len(want), strings.Join(first(diff, 5), "; "), len(got))
	})
}

// keyed returns a record for the partition of topic (of n) that Kafka's
// default partitioner gives key, as the Java producer would.
func keyed(topic string, n int, key string, value []byte, ts int64) *kgo.Record {
	p := kgo.StickyKeyPartitioner(nil).ForTopic(topic).Partition(&kgo.Record{Key: []byte(key)}, n)
	return rec(topic, int32(p), []byte(key), value, ts)
}

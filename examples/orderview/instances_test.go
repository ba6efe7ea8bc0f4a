package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
)

// TestOrderViewEveryInstance runs three instances of the application, each
// with its query address, on six partitions: GET /orders/{id} on every
// instance answers every order's final view, though each instance holds
// only some of them.
func TestOrderViewEveryInstance(t *testing.T) {
	id := fmt.Sprintf("%08x", rand.Uint32())
	cfg := config{
		Topics: Topics{Orders: "orders-" + id, Payments: "payments-" + id, Deliveries: "deliveries-" + id,
			Customers: "customers-" + id, Views: "order-views-" + id},
		Partitions: 6, AppID: "orderview-" + id, Out: io.Discard,
	}
	brokers := strings.Split(os.Getenv("KSTREAMS_TEST_BROKERS"), ",")
	if brokers[0] == "" {
		b, err := embedded.Start(embedded.Options{Partitions: int(cfg.Partitions)})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		brokers = b.Addrs()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tp := cfg.Topics
	if err := createTopic(ctx, adm, cfg.Partitions, nil, tp.Orders, tp.Payments, tp.Deliveries, tp.Views); err != nil {
		t.Fatal(err)
	}
	compact := "compact"
	if err := createTopic(ctx, adm, 1, map[string]*string{"cleanup.policy": &compact}, tp.Customers); err != nil {
		t.Fatal(err)
	}
	var insts []*instance
	for range 3 {
		c := cfg
		c.Query = freeAddr(t)
		in, err := startInstance(ctx, c, brokers, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer in.close()
		insts = append(insts, in)
	}

	const orders, customers = 40, 4
	g := &generator{cl: cl, t: tp, rng: rand.New(rand.NewPCG(11, 1)), out: io.Discard}
	rep := &report{NeverPaid: map[string]bool{}, Late: map[string]bool{}, After: map[string]bool{}, Customer: map[string]string{}}
	names := map[string]string{}
	for i := range customers {
		cid := fmt.Sprintf("c%02d", i)
		names[cid] = fmt.Sprintf("Customer %02d", i)
		g.send(ctx, tp.Customers, cid, &Customer{Name: names[cid]})
	}
	g.settle(ctx, g.placeOrders(ctx, 0, orders, customers, rep), rep)
	if g.err != nil {
		t.Fatal(g.err)
	}
	for _, in := range insts {
		if err := waitViews(ctx, in.addr, 0, orders, rep, names); err != nil {
			t.Fatalf("through %s: %v", in.addr, err)
		}
		for i := range orders {
			oid := fmt.Sprintf("o%04d", i)
			v, found, err := getView(ctx, in.addr, oid)
			pay, del, name := rep.want(oid, names)
			if err != nil || !found || v.Payment != pay || v.Delivery != del || v.CustomerName != name {
				t.Errorf("order %s through %s: %+v (found %v, %v), want %s, %s, %q", oid, in.addr, v, found, err, pay, del, name)
			}
		}
	}
	for _, in := range insts {
		n, err := localViews(in.app)
		if err != nil {
			t.Fatal(err)
		}
		if n == orders {
			t.Errorf("instance %s holds all %d views: the routing is not exercised", in.addr, n)
		}
	}
}

// localViews counts the views held by the instance a.
func localViews(a *kstreams.App) (int, error) {
	st, err := kstreams.LocalStore[string, *OrderView](a, StoreOrderViews)
	if err != nil {
		return 0, err
	}
	it, err := st.All()
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for it.Next() {
		n++
	}
	return n, it.Err()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

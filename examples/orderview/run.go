package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
)

// config is everything run needs; main fills it from the flags.
type config struct {
	Brokers    []string // a real cluster; empty starts the embedded broker
	Topics     Topics
	Partitions int32  // of the event topics, when created
	Orders     int    // orders to place, half before and half after the rename
	Customers  int    // customers the orders are spread over
	AppID      string // the application id
	StateDir   string // empty: a temporary directory
	HTTP       string // address of GET /orders/{id}; empty: a free port
	Query      string // this instance's query address (kstreams.ApplicationServer); empty: none
	Timeout    time.Duration
	Seed       uint64 // of the generators' delays
	Out        io.Writer
}

// report is what a run observed: the views served by GET /orders/{id}
// once every order's events were applied, and what the generators decided.
type report struct {
	Views     map[string]OrderView
	NeverPaid map[string]bool   // orders the payments service never paid
	Late      map[string]bool   // orders paid after later orders were placed and shipped
	Renamed   string            // the customer renamed halfway
	NewName   string            // their new name
	After     map[string]bool   // orders placed after the rename was visible
	Customer  map[string]string // order -> customer id
}

// run starts the services' generators and the order-view application,
// waits until every order's view is final, and reads the views back over
// HTTP.
func run(ctx context.Context, cfg config) (*report, error) {
	out := cfg.Out
	brokers := cfg.Brokers
	if len(brokers) == 0 {
		b, err := embedded.Start(embedded.Options{Partitions: int(cfg.Partitions)})
		if err != nil {
			return nil, err
		}
		defer b.Close()
		brokers = b.Addrs()
		fmt.Fprintf(out, "embedded broker at %v\n", brokers)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	t := cfg.Topics
	if err := createTopic(ctx, adm, cfg.Partitions, nil, t.Orders, t.Payments, t.Deliveries, t.Views); err != nil {
		return nil, err
	}
	compact := "compact"
	if err := createTopic(ctx, adm, 1, map[string]*string{"cleanup.policy": &compact}, t.Customers); err != nil {
		return nil, err
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "kstreams-orderview-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(stateDir)
	}
	inst, err := startInstance(ctx, cfg, brokers, stateDir)
	if err != nil {
		return nil, err
	}
	defer inst.close()
	addr := inst.addr
	fmt.Fprintf(out, "GET http://%s/orders/{id}\n", addr)

	g := &generator{cl: cl, t: t, rng: rand.New(rand.NewPCG(cfg.Seed, 1)), out: out}
	rep := &report{NeverPaid: map[string]bool{}, Late: map[string]bool{}, After: map[string]bool{}, Customer: map[string]string{}}
	names := map[string]string{}
	for i := range cfg.Customers {
		id := fmt.Sprintf("c%02d", i)
		names[id] = fmt.Sprintf("Customer %02d", i)
		g.send(ctx, t.Customers, id, &Customer{Name: names[id]})
	}
	half := cfg.Orders / 2
	late := g.placeOrders(ctx, 0, half, cfg.Customers, rep)
	g.settle(ctx, late, rep)
	if err := g.err; err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := waitViews(waitCtx, addr, 0, half, rep, names); err != nil {
		return nil, fmt.Errorf("first half: %w", err)
	}
	// Rename a customer, and wait until a probe order of theirs shows the
	// new name: the global thread has applied it.
	rep.Renamed, rep.NewName = "c00", "Customer 00 (renamed)"
	names[rep.Renamed] = rep.NewName
	g.send(ctx, t.Customers, rep.Renamed, &Customer{Name: rep.NewName})
	fmt.Fprintf(out, "customer %s renamed to %q\n", rep.Renamed, rep.NewName)
	probe := &Order{ID: "probe", Customer: rep.Renamed, Items: []string{"probe"}}
	g.send(ctx, t.Orders, probe.ID, probe)
	if err := waitOne(waitCtx, addr, probe.ID, func(v OrderView) bool { return v.CustomerName == rep.NewName }); err != nil {
		return nil, fmt.Errorf("the rename never reached a view: %w", err)
	}
	late = g.placeOrders(ctx, half, cfg.Orders, cfg.Customers, rep)
	for i := half; i < cfg.Orders; i++ {
		rep.After[fmt.Sprintf("o%04d", i)] = true
	}
	g.settle(ctx, late, rep)
	if err := g.err; err != nil {
		return nil, err
	}
	if err := waitViews(waitCtx, addr, 0, cfg.Orders, rep, names); err != nil {
		return nil, fmt.Errorf("all orders: %w", err)
	}
	rep.Views = map[string]OrderView{}
	for i := range cfg.Orders {
		id := fmt.Sprintf("o%04d", i)
		v, _, err := getView(waitCtx, addr, id)
		if err != nil {
			return nil, err
		}
		rep.Views[id] = v
	}
	fmt.Fprintf(out, "%d order views final: %d never paid, %d paid late\n", len(rep.Views), len(rep.NeverPaid), len(rep.Late))
	if err := inst.close(); err != nil {
		return nil, fmt.Errorf("order-view application: %w", err)
	}
	return rep, nil
}

// serve runs an instance of the application alone until ctx ends: no
// services, no embedded broker.
func serve(ctx context.Context, cfg config) error {
	if len(cfg.Brokers) == 0 {
		return errors.New("-serve needs -brokers")
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		var err error
		if stateDir, err = os.MkdirTemp("", "kstreams-orderview-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	}
	inst, err := startInstance(ctx, cfg, cfg.Brokers, stateDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "GET http://%s/orders/{id}\n", inst.addr)
	<-ctx.Done()
	return inst.close()
}

// generator plays the orders, payments and shipping services.
type generator struct {
	cl  *kgo.Client
	t   Topics
	rng *rand.Rand
	out io.Writer
	err error
}

func (g *generator) send(ctx context.Context, topic, key string, v any) {
	if g.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		g.err = err
		return
	}
	if err := g.cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: b}).FirstErr(); err != nil {
		g.err = fmt.Errorf("producing to %s: %w", topic, err)
	}
}

// placeOrders places orders from..to: each is authorized and paid and
// then packed, shipped and delivered, interleaved with the next orders
// (the services' delays), except every seventh, never paid, and every
// fifth, whose payment comes late: after all the others. It returns the
// late ones.
func (g *generator) placeOrders(ctx context.Context, from, to, customers int, rep *report) []string {
	var late []string
	type step struct {
		topic, key string
		v          any
	}
	var pending []step
	for i := from; i < to; i++ {
		id := fmt.Sprintf("o%04d", i)
		o := &Order{ID: id, Customer: fmt.Sprintf("c%02d", g.rng.IntN(customers)), Items: []string{"item-" + id}, Amount: int64(100 + g.rng.IntN(10000))}
		rep.Customer[id] = o.Customer
		g.send(ctx, g.t.Orders, id, o)
		switch {
		case i%7 == 3:
			rep.NeverPaid[id] = true
		case i%5 == 1:
			rep.Late[id] = true
			late = append(late, id)
		default:
			pending = append(pending,
				step{g.t.Payments, id, &Payment{Status: "authorized"}}, step{g.t.Payments, id, &Payment{Status: "paid"}},
				step{g.t.Deliveries, id, &Delivery{Status: "packed"}}, step{g.t.Deliveries, id, &Delivery{Status: "shipped"}},
				step{g.t.Deliveries, id, &Delivery{Status: "delivered"}})
		}
		// The services lag behind: send a random part of what is due,
		// each order's own events in order.
		n := g.rng.IntN(len(pending) + 1)
		for _, s := range pending[:n] {
			g.send(ctx, s.topic, s.key, s.v)
		}
		pending = pending[n:]
	}
	for _, s := range pending {
		g.send(ctx, s.topic, s.key, s.v)
	}
	return late
}

// settle sends the late payments and their deliveries.
func (g *generator) settle(ctx context.Context, late []string, rep *report) {
	for _, id := range late {
		g.send(ctx, g.t.Payments, id, &Payment{Status: "paid"})
		g.send(ctx, g.t.Deliveries, id, &Delivery{Status: "delivered"})
	}
	fmt.Fprintf(g.out, "late payments sent for %d orders\n", len(late))
}

// want returns the final view of order id.
func (rep *report) want(id string, names map[string]string) (payment, delivery, name string) {
	if rep.NeverPaid[id] {
		return "pending", "none", names[rep.Customer[id]]
	}
	return "paid", "delivered", names[rep.Customer[id]]
}

// waitViews waits until GET /orders/{id} of orders from..to shows their
// final payment and delivery status and a customer name.
func waitViews(ctx context.Context, addr string, from, to int, rep *report, names map[string]string) error {
	for i := from; i < to; i++ {
		id := fmt.Sprintf("o%04d", i)
		pay, del, _ := rep.want(id, names)
		if err := waitOne(ctx, addr, id, func(v OrderView) bool {
			return v.Payment == pay && v.Delivery == del && v.CustomerName != ""
		}); err != nil {
			return err
		}
	}
	return nil
}

func waitOne(ctx context.Context, addr, id string, ok func(OrderView) bool) error {
	var last OrderView
	for {
		v, found, err := getView(ctx, addr, id)
		if err == nil && found && ok(v) {
			return nil
		}
		last = v
		select {
		case <-ctx.Done():
			return fmt.Errorf("order %s: last view %+v: %w", id, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// getView calls GET /orders/{id}.
func getView(ctx context.Context, addr, id string) (OrderView, bool, error) {
	var v OrderView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/orders/"+id, nil)
	if err != nil {
		return v, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return v, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return v, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return v, false, fmt.Errorf("GET /orders/%s: %s: %s", id, resp.Status, b)
	}
	return v, true, json.NewDecoder(resp.Body).Decode(&v)
}

// instance is a running instance of the order-view application with its
// HTTP servers.
type instance struct {
	app *kstreams.App
	// addr is the address of GET /orders/{id}.
	addr string
	// close stops the servers and the application, and returns the
	// application's error.
	close func() error
}

// startInstance runs an instance of the order-view application on brokers
// with cfg's application id, topics and query address, and serves
// GET /orders/{id} on cfg.HTTP. With cfg.Query set, the instance
// advertises it as its query endpoint and serves the query package's
// server there, so GET /orders/{id} on any instance answers every order,
// routed to the instance that holds it.
func startInstance(ctx context.Context, cfg config, brokers []string, stateDir string) (*instance, error) {
	topo, err := Topology(cfg.Topics)
	if err != nil {
		return nil, err
	}
	opts := []kstreams.Option{kstreams.Brokers(brokers...), kstreams.ApplicationID(cfg.AppID),
		kstreams.StateDir(stateDir), kstreams.CommitInterval(200 * time.Millisecond)}
	if cfg.Query != "" {
		opts = append(opts, kstreams.ApplicationServer(cfg.Query))
	}
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		return nil, err
	}
	q, err := query.New(app)
	if err != nil {
		return nil, err
	}
	kv, err := query.KeyValueStore[string, *OrderView](q, StoreOrderViews, serde.String())
	if err != nil {
		return nil, err
	}
	qs := query.NewServer(q)
	query.Serve(qs, kv, nil)
	runCtx, stop := context.WithCancel(ctx)
	appDone := make(chan error, 1)
	go func() { appDone <- app.Run(runCtx) }()
	queryDone := make(chan error, 1)
	if cfg.Query != "" {
		go func() { queryDone <- qs.ListenAndServe(runCtx) }()
	} else {
		queryDone <- nil
	}
	srv, addr, err := serveHTTP(qs, cfg.HTTP)
	if err != nil {
		stop()
		return nil, errors.Join(err, <-appDone, <-queryDone)
	}
	var once sync.Once
	var closeErr error
	return &instance{app: app, addr: addr, close: func() error {
		once.Do(func() {
			_ = srv.Close()
			stop()
			closeErr = errors.Join(<-appDone, <-queryDone)
		})
		return closeErr
	}}, nil
}

// serveHTTP serves GET /orders/{id} through the query server qs: from
// this instance's store, or forwarded to the instance holding the order
// when instances have query addresses.
func serveHTTP(qs *query.Server, addr string) (*http.Server, string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, err := qs.Get(r.Context(), StoreOrderViews, r.PathValue("id"))
		var apiErr *query.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Code == query.CodeKeyNotFound, err == nil && string(v) == "null":
			http.NotFound(w, r)
		case errors.As(err, &apiErr) && apiErr.Retriable:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(v)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

func createTopic(ctx context.Context, adm *kadm.Client, partitions int32, configs map[string]*string, names ...string) error {
	res, err := adm.CreateTopics(ctx, partitions, 1, configs, names...)
	if err != nil {
		return err
	}
	for _, r := range res.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

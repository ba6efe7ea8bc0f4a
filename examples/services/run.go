package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/serde/registry"
	"github.com/kstreams-go/kstreams/serde/registry/registrytest"
)

// config is everything run needs; main fills it from the flags.
type config struct {
	Brokers     []string      // a real cluster; empty starts the embedded broker
	Registry    string        // a Confluent-compatible registry; empty starts the in-process demo one
	OrdersTopic string        // OrderPlaced events, keyed by user id
	NotifyTopic string        // OrderNotification events
	Partitions  int32         // of both topics, when created
	Orders      int           // orders to publish
	Users       int           // users they are spread over
	Rate        float64       // orders per second
	Linger      time.Duration // the order service's batching interval
	SlowPer     time.Duration // the slow consumer's time per record
	HTTP        string        // address of the read side's HTTP API; empty: a free port
	StateDir    string        // the applications' state; empty: a temporary directory
	AppPrefix   string        // prefix of application ids and consumer groups
	Timeout     time.Duration // for the services to catch up after the last order
	Out         io.Writer
}

// report is what a run observed.
type report struct {
	Published          int            // order events written, duplicates included
	DuplicatesSent     int            // events written twice on purpose
	Emails             map[string]int // event id -> emails sent
	EmailsByInstance   map[string]int
	DuplicatesSkipped  int64
	V3Refused          error // why the registry refused v3
	ReadSide, Replayed map[string]UserTotals
	QueriedOverHTTP    UserTotals // GET /users/u1
	MaxLag             int64      // the slow consumer's largest lag seen
}

// run runs the scenario once and returns what it saw.
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
	url := cfg.Registry
	if url == "" {
		srv := registrytest.New()
		defer srv.Close()
		url = srv.URL()
		fmt.Fprintf(out, "DEMO ONLY: in-process schema registry at %s (schemas in memory; use -registry for a real one)\n", url)
	}
	reg, err := registry.New(url)
	if err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if err := createTopics(ctx, adm, cfg.Partitions, cfg.OrdersTopic, cfg.NotifyTopic); err != nil {
		return nil, err
	}
	// Consumers rely on the registry refusing what they could not read.
	if err := reg.SetCompatibility(ctx, cfg.OrdersTopic+"-value", sr.CompatBackward); err != nil {
		return nil, err
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "kstreams-services-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(stateDir)
	}

	svcCtx, stopServices := context.WithCancel(ctx)
	defer stopServices()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(svcCtx); err != nil && svcCtx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	// The email service: two instances of one application (a consumer
	// group of two splitting the partitions).
	box := newMailbox()
	for i := range 2 {
		instance := fmt.Sprintf("email-%d", i+1)
		topo, err := emailTopology(&cfg, reg, box, instance)
		if err != nil {
			return nil, err
		}
		app, err := newApp(topo, brokers, cfg.AppPrefix+"-email", fmt.Sprintf("%s/%s", stateDir, instance))
		if err != nil {
			return nil, err
		}
		start(instance, app.Run)
	}
	// The read side, and its HTTP API.
	topo, err := readSideTopology(&cfg, reg)
	if err != nil {
		return nil, err
	}
	readApp, err := newApp(topo, brokers, cfg.AppPrefix+"-read", stateDir+"/read")
	if err != nil {
		return nil, err
	}
	start("read side", readApp.Run)
	ln, err := net.Listen("tcp", cmp.Or(cfg.HTTP, "127.0.0.1:0"))
	if err != nil {
		return nil, err
	}
	httpSrv := &http.Server{Handler: readSideHandler(readApp), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	defer httpSrv.Close()
	fmt.Fprintf(out, "read side: GET http://%s/users/{id}\n", ln.Addr())
	// The slow consumer and the lag monitor.
	var slowConsumed atomic.Int64
	slowGroup := cfg.AppPrefix + "-audit"
	start("slow consumer", func(ctx context.Context) error {
		return slowConsumer(ctx, brokers, slowGroup, cfg.NotifyTopic, cfg.SlowPer, &slowConsumed)
	})
	var maxLag atomic.Int64
	start("lag monitor", func(ctx context.Context) error {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		var last int64 = -1
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			lag, err := groupLag(ctx, adm, slowGroup)
			if err != nil {
				continue // the group may not exist yet
			}
			if lag > maxLag.Load() {
				maxLag.Store(lag)
			}
			if lag != last {
				fmt.Fprintf(out, "metrics: consumer group %s lag %d (consumed %d)\n", slowGroup, lag, slowConsumed.Load())
				last = lag
			}
		}
	})

	rep, err := publishOrders(ctx, &cfg, brokers, reg, out)
	if err != nil {
		return nil, err
	}
	// Wait for the services to see every order.
	want := wantTotals(&cfg)
	deadline := time.Now().Add(cfg.Timeout)
	for {
		select {
		case err := <-errs:
			return nil, err
		default:
		}
		box.mu.Lock()
		emailed := len(box.sent)
		box.mu.Unlock()
		readSide, _ := readAll(readApp, cfg.Users)
		if emailed == cfg.Orders && equalTotals(readSide, want) {
			rep.ReadSide = readSide
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("after %v: %d of %d orders emailed; read side %v", cfg.Timeout, emailed, cfg.Orders, readSide)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/users/u1")
	if err != nil {
		return nil, err
	}
	err = json.NewDecoder(resp.Body).Decode(&rep.QueriedOverHTTP)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("GET /users/u1: %w", err)
	}
	if rep.Replayed, err = replay(ctx, brokers, reg, cfg.OrdersTopic); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	stopServices()
	wg.Wait()
	box.mu.Lock()
	rep.Emails, rep.EmailsByInstance = maps.Clone(box.sent), maps.Clone(box.byInstance)
	box.mu.Unlock()
	rep.DuplicatesSkipped = box.duplicates.Load()
	rep.MaxLag = maxLag.Load()
	fmt.Fprintf(out, "emails: %d sent for %d orders (by instance %v), %d duplicates skipped\n",
		sum(rep.Emails), cfg.Orders, rep.EmailsByInstance, rep.DuplicatesSkipped)
	fmt.Fprintf(out, "event sourcing: state rebuilt by replaying %s matches the read side: %v\n",
		cfg.OrdersTopic, equalTotals(rep.Replayed, rep.ReadSide))
	fmt.Fprintf(out, "slow consumer: largest lag seen %d\n", rep.MaxLag)
	return rep, nil
}

// publishOrders runs the order service: the first half of the orders as v1,
// then the v3 attempt (refused), then the rest as v2; every fifth event is
// sent twice, as a producer retry would.
func publishOrders(ctx context.Context, cfg *config, brokers []string, reg *registry.Registry, out io.Writer) (*report, error) {
	svc, err := newOrderService(brokers, reg, cfg)
	if err != nil {
		return nil, err
	}
	rep := &report{}
	tick := time.Duration(float64(time.Second) / cfg.Rate)
	for i := range cfg.Orders {
		version := 1
		if i == cfg.Orders/2 {
			rep.V3Refused = tryV3(reg, cfg.OrdersTopic)
			fmt.Fprintf(out, "schema evolution: v3 of OrderPlaced refused: %v\n", rep.V3Refused)
			fmt.Fprintln(out, "schema evolution: the order service moves to v2 (adds currency, default EUR)")
		}
		if i >= cfg.Orders/2 {
			version = 2
		}
		o := order(cfg, i)
		n := 1
		if i%5 == 4 {
			n = 2
			rep.DuplicatesSent++
		}
		for range n {
			if err := svc.publish(ctx, o, version); err != nil {
				_ = svc.close(ctx)
				return nil, err
			}
			rep.Published++
		}
		time.Sleep(tick)
	}
	if err := svc.close(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "order service: %d events published (%d duplicates), flushed\n", rep.Published, rep.DuplicatesSent)
	return rep, nil
}

// order returns the i-th order of the run.
func order(cfg *config, i int) OrderPlacedV2 {
	return OrderPlacedV2{
		EventID: fmt.Sprintf("evt-%04d", i), OrderID: fmt.Sprintf("ord-%04d", i),
		UserID: fmt.Sprintf("u%d", i%cfg.Users+1), AmountCents: int64(100 + 37*i),
		Items: []string{fmt.Sprintf("sku-%d", i%7)}, Currency: "USD",
	}
}

// wantTotals is what the read side must hold after the run.
func wantTotals(cfg *config) map[string]UserTotals {
	want := map[string]UserTotals{}
	for i := range cfg.Orders {
		o := order(cfg, i)
		want[o.UserID] = addOrder(o.UserID, o, want[o.UserID])
	}
	return want
}

func equalTotals(a, b map[string]UserTotals) bool {
	return maps.EqualFunc(a, b, func(x, y UserTotals) bool { return maps.Equal(x.Orders, y.Orders) })
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// readAll reads users u1..uN from the read side's store.
func readAll(app *kstreams.App, users int) (map[string]UserTotals, error) {
	st, err := kstreams.LocalStore[string, UserTotals](app, "user-totals")
	if err != nil {
		return nil, err
	}
	got := map[string]UserTotals{}
	for i := range users {
		id := fmt.Sprintf("u%d", i+1)
		if t, ok, err := st.Get(id); err != nil {
			return nil, err
		} else if ok {
			got[id] = t
		}
	}
	return got, nil
}

// readSideHandler serves GET /users/{id}: the user's orders and total.
func readSideHandler(app *kstreams.App) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, err := kstreams.LocalStore[string, UserTotals](app, "user-totals")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		t, ok, err := st.Get(r.PathValue("id"))
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !ok:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(t)
		}
	})
	return mux
}

func newApp(topo *kstreams.Topology, brokers []string, appID, stateDir string) (*kstreams.App, error) {
	return kstreams.New(topo, kstreams.Brokers(brokers...), kstreams.ApplicationID(appID),
		kstreams.StateDir(stateDir), kstreams.CommitInterval(200*time.Millisecond),
		kstreams.Logger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		kstreams.ClientOptions(kgo.FetchMaxWait(200*time.Millisecond)))
}

func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	res, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return err
	}
	for _, t := range slices.Sorted(maps.Keys(res)) {
		if e := res[t].Err; e != nil && !errors.Is(e, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t, e)
		}
	}
	return nil
}

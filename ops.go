package kstreams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams/console"
	"github.com/kstreams-go/kstreams/internal/ops"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// OpsServer makes Run serve the operations endpoints over HTTP at addr
// (host:port; port 0 picks a free one, see [App.OpsAddr]) until Run
// returns:
//
//	GET /kstreams/topology  the running topology as JSON (what `kstreams describe` reads)
//	GET /kstreams/lag       committed offset, end offset and lag per task and input partition, as JSON
//	GET /kstreams/metrics.json  [App.Metrics] as JSON
//	GET /kstreams/health    200 with the state while it is RUNNING or REBALANCING, else 503 (a liveness probe)
//	GET /kstreams/errors    the last warnings and errors logged ([App.RecentErrors])
//	GET /kstreams/deadletters  the last records written to a dead-letter topic ([App.DeadLetters])
//	GET /kstreams/appmetrics  the metrics registered with [App.RegisterMetrics] as JSON ([App.AppMetrics])
//	GET /kstreams/store     a key-value store of this instance: ?store=name&key=k, or a scan with from, to, limit
//	GET /kstreams/query/... the application's query server (query.NewServer), if it made one: GET
//	                        /kstreams/query/v1/stores/... is its GET /v1/stores/..., routed to the
//	                        instance that owns the key (the console's store browser reads through it)
//	GET /metrics            the metrics in the Prometheus text format, with the stream threads' franz-go client metrics (kprom, "kgo_...")
//	GET /console/           the web console (package console)
//
// Default: no server. [App.OpsHandler] returns the same handler, to mount on
// a server of your own.
func OpsServer(addr string) Option { return optFn(func(c *config) { c.opsAddr = addr }) }

// opsState is what an App keeps for its operations endpoints.
type opsState struct {
	mu      sync.Mutex
	addr    string
	adm     *kadm.Client
	admCl   *kgo.Client
	handler http.Handler
	reg     *prometheus.Registry
	// clients are the stream threads' client-metric registerers, by
	// client id (metrics.go).
	clients map[string]*clientRegisterer
	appReg  *prometheus.Registry // RegisterMetrics' collectors alone (appmetrics.go)
	// queries is the query server's handler (ops_query.go), nil without.
	queries http.Handler
}

// OpsAddr returns the address the operations server listens on, once Run
// has started it ("" before, or without [OpsServer]).
func (a *App) OpsAddr() string {
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	return a.ops.addr
}

// Topology returns the description of the topology as the instance runs
// it: internal topics with their application id, stores with their
// changelog topics.
func (a *App) topologyDescription() *ops.Topology {
	plan, _ := a.topo.plan()
	return ops.DescribePlan(a.cfg.appID, plan)
}

// Lag returns the lag of the application's consumer group, per task and
// input partition: the committed offset, the end offset and their
// difference. It asks the brokers (it is not a counter of this instance).
func (a *App) Lag(ctx context.Context) (*GroupLag, error) {
	adm, err := a.admin()
	if err != nil {
		return nil, err
	}
	return ops.Lag(ctx, adm, a.cfg.appID, a.topologyDescription().SubtopologyOf())
}

// GroupLag is the lag of the application's group: what [App.Lag] returns.
type GroupLag = ops.GroupLag

// PartitionLag is the lag of one input partition.
type PartitionLag = ops.PartitionLag

// admin returns the App's admin client, made on first use with the App's
// brokers and client options, and closed when Run returns.
func (a *App) admin() (*kadm.Client, error) {
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	if a.ops.adm != nil {
		return a.ops.adm, nil
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(a.cfg.brokers...)}, a.cfg.clientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kstreams: admin client: %w", err)
	}
	a.ops.admCl, a.ops.adm = cl, kadm.NewClient(cl)
	return a.ops.adm, nil
}

func (a *App) closeAdmin() {
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	if a.ops.admCl != nil {
		a.ops.admCl.Close()
		a.ops.admCl, a.ops.adm = nil, nil
	}
}

// OpsHandler returns the handler of the operations endpoints (see
// [OpsServer]).
func (a *App) OpsHandler() http.Handler {
	metrics := a.metricsHandler() // takes a.ops.mu itself
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	if a.ops.handler == nil {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /kstreams/topology", a.serveTopology)
		mux.HandleFunc("GET /kstreams/lag", a.serveLag)
		mux.HandleFunc("GET /kstreams/metrics.json", a.serveMetricsJSON)
		mux.HandleFunc("GET /kstreams/store", a.serveStore)
		mux.HandleFunc("GET /kstreams/errors", a.serveErrors)
		mux.HandleFunc("GET /kstreams/deadletters", a.serveDeadLetters)
		mux.HandleFunc("GET /kstreams/health", a.serveHealth)
		mux.HandleFunc("GET /kstreams/appmetrics", a.serveAppMetrics)
		mux.HandleFunc("GET /kstreams/query/", a.serveQuery)
		mux.Handle("GET /metrics", metrics)
		mux.Handle("GET /console/", http.StripPrefix("/console", console.Handler()))
		a.ops.handler = mux
	}
	return a.ops.handler
}

func (a *App) serveTopology(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, a.topologyDescription())
}

func (a *App) serveLag(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	l, err := a.Lag(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, l)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// run runs the engine, with the operations server around it when asked.
func (a *App) run(ctx context.Context) error {
	defer a.closeAdmin()
	if a.cfg.opsAddr == "" {
		return a.runEngine(ctx)
	}
	ln, err := net.Listen("tcp", a.cfg.opsAddr)
	if err != nil {
		return fmt.Errorf("kstreams: OpsServer(%q): %w", a.cfg.opsAddr, err)
	}
	a.ops.mu.Lock()
	a.ops.addr = ln.Addr().String()
	a.ops.mu.Unlock()
	srv := &http.Server{Handler: a.OpsHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	runErr := a.runEngine(ctx)
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return errors.Join(runErr, fmt.Errorf("kstreams: operations server: %w", err))
	}
	return runErr
}

// runEngine runs the engine and logs the error it stops with, so that the
// console lists it among the recent errors.
func (a *App) runEngine(ctx context.Context) error {
	err := a.engine.Run(ctx)
	if err != nil {
		a.cfg.logger.Error("kstreams: run failed", "error", err)
	}
	return err
}

func (a *App) serveHealth(w http.ResponseWriter, _ *http.Request) {
	s := a.State()
	if s != Running && s != Rebalancing {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(s.String() + "\n"))
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// drainTimeout bounds how long a stopping run waits for the application to
// process and commit what the generator sent.
const drainTimeout = 15 * time.Second

// setupTimeout bounds the creation of the topics (and so the wait for an
// unreachable cluster).
const setupTimeout = 30 * time.Second

// run is the whole program: broker, topics, generator and application. It
// returns nil when ctx ends, or cfg.RunFor after the topics are ready, and
// everything stopped cleanly; and an error if any part failed.
func run(ctx context.Context, cfg config) error {
	p := newPrinter(cfg.Out)
	brokers, closeBroker, err := connect(cfg, p)
	if err != nil {
		return err
	}
	defer closeBroker()
	// A short MetadataMinAge keeps kadm from answering the readiness poll
	// from a cached "unknown topic" for the default 5s after creation.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return fmt.Errorf("client for %s: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := ensureTopics(ctx, adm, cfg, p); err != nil {
		return err
	}
	s := &session{cfg: cfg, p: p, cl: cl, adm: adm}
	if err := s.newApp(brokers); err != nil {
		return err
	}
	return s.run(ctx)
}

// connect returns the brokers to use and a function that releases them:
// cfg.Brokers, or a started embedded broker.
func connect(cfg config, p *printer) ([]string, func(), error) {
	if len(cfg.Brokers) > 0 {
		p.printf("using the cluster at %s", strings.Join(cfg.Brokers, ","))
		return cfg.Brokers, func() {}, nil
	}
	dir := brokerDir(cfg.DataDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("embedded broker data directory: %w", err)
	}
	b, err := embedded.Start(embedded.Options{DataDir: dir, Partitions: int(cfg.Partitions)})
	if err != nil {
		return nil, nil, err
	}
	p.printf("embedded broker on %s, data in %s (use -brokers host:port for a real cluster)", strings.Join(b.Addrs(), ","), dir)
	return b.Addrs(), func() {
		b.Close()
		p.printf("embedded broker stopped; its data stays in %s", dir)
	}, nil
}

// brokerDir is where the embedded broker keeps its data.
func brokerDir(dataDir string) string { return filepath.Join(dataDir, "broker") }

// ensureTopics creates the input topic (compacted) if it is missing, and
// waits until every partition has a leader. The application creates its
// internal topics (repartition, changelogs) itself.
func ensureTopics(ctx context.Context, adm *kadm.Client, cfg config, p *printer) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	if err := createTopic(ctx, adm, cfg.Input, cfg.Partitions, compact, p); err != nil {
		return err
	}
	return waitTopicsReady(ctx, adm, cfg.Input)
}

func createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, configs map[string]*string, p *printer) error {
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, topic)
	switch {
	case err == nil && resp.Err == nil:
		p.printf("created topic %s (%d partitions, %s)", topic, partitions, policy(configs))
	case errors.Is(err, kerr.TopicAlreadyExists) || errors.Is(resp.Err, kerr.TopicAlreadyExists):
		p.printf("topic %s already exists", topic)
	case err != nil:
		return fmt.Errorf("creating topic %q: %w", topic, err)
	default:
		return fmt.Errorf("creating topic %q: %w", topic, resp.Err)
	}
	return nil
}

func policy(configs map[string]*string) string {
	if v, ok := configs["cleanup.policy"]; ok {
		return *v
	}
	return "delete"
}

// waitTopicsReady polls the metadata until every partition of topics has a
// leader: a real broker takes a moment after creating a topic.
func waitTopicsReady(ctx context.Context, adm *kadm.Client, topics ...string) error {
	for {
		why := topicsNotReady(ctx, adm, topics)
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for topics %q: %s: %w", topics, why, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// topicsNotReady returns why topics are not ready, or "" if they are.
func topicsNotReady(ctx context.Context, adm *kadm.Client, topics []string) string {
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	for _, t := range topics {
		d, ok := details[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return fmt.Sprintf("topic %q: %v", t, d.Err)
		}
		for _, part := range d.Partitions {
			if part.Err != nil || part.Leader < 0 {
				return fmt.Sprintf("topic %q partition %d has no leader", t, part.Partition)
			}
		}
	}
	return ""
}

// session is one run of the generator and the application.
type session struct {
	cfg     config
	p       *printer
	cl      *kgo.Client
	adm     *kadm.Client
	app     *kstreams.App
	running chan struct{}
	// appStopped is closed when App.Run has returned appErr.
	appStopped chan struct{}
	appErr     error
	counts     genCounts
	// updates counts the updates of the store of US shareholders, removed
	// those that removed a client.
	updates, removed atomic.Int64
	emails           EmailStats
}

// fromAddress is the sender of the emails.
const fromAddress = "shareholders@" + DefaultDomain

func (s *session) newApp(brokers []string) error {
	logger := slog.New(slog.NewTextHandler(s.p, &slog.HandlerOptions{Level: slog.LevelWarn}))
	emails := Emails{Mailer: s.mailer(), Period: s.cfg.Period, Instance: s.cfg.Instance, Logger: logger, Stats: &s.emails}
	topo, err := Topology(s.cfg.Input, emails, s.watch)
	if err != nil {
		return fmt.Errorf("building the topology: %w", err)
	}
	if !s.cfg.Quiet {
		if d, err := topo.Describe(); err == nil {
			s.p.printf("topology:\n%s", strings.TrimRight(d.String(), "\n"))
		}
	}
	s.running = make(chan struct{})
	var once sync.Once
	if s.cfg.queryListener != nil {
		s.cfg.Query = s.cfg.queryListener.Addr().String()
	}
	s.app, err = kstreams.New(topo,
		kstreams.ApplicationServer(s.cfg.Query),
		kstreams.ApplicationID(s.cfg.AppID),
		kstreams.Brokers(brokers...),
		kstreams.CommitInterval(s.cfg.CommitInterval),
		kstreams.StateDir(s.cfg.stateDir()),
		kstreams.Logger(logger),
		kstreams.StateListener(func(old, new kstreams.State) {
			s.p.printf("app state %v -> %v", old, new)
			if new == kstreams.Running {
				once.Do(func() { close(s.running) })
			}
		}),
	)
	if err != nil {
		return fmt.Errorf("creating the app: %w", err)
	}
	return nil
}

// mailer returns the SMTP mailer if a server is set, else one that prints
// the emails.
func (s *session) mailer() Mailer {
	if s.cfg.SMTP != "" {
		s.p.printf("emails go to the SMTP server at %s", s.cfg.SMTP)
		return &SMTPMailer{Addr: s.cfg.SMTP, From: fromAddress}
	}
	s.p.printf("emails are printed, not sent (use -smtp host:port to send them)")
	return &LogMailer{W: s.p}
}

// watch prints an update of the store of US shareholders.
func (s *session) watch(client string, ids []string) {
	s.updates.Add(1)
	if ids == nil {
		s.removed.Add(1)
	}
	if s.cfg.Quiet {
		return
	}
	if ids == nil {
		s.p.printf("%s: no NASDAQ position left -> removed from %s", client, StoreUSShareHolders)
		return
	}
	s.p.printf("%s: NASDAQ positions %s", client, strings.Join(ids, " "))
}

// run serves HTTP and runs the application, then the generator once the
// application is running, until ctx ends or one of them fails; then it
// lets the application catch up with what the generator sent, and stops
// everything.
func (s *session) run(ctx context.Context) error {
	if s.cfg.RunFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RunFor)
		defer cancel()
	}
	stopHTTP, err := s.serveHTTP()
	if err != nil {
		return err
	}
	defer stopHTTP()
	appCtx, stopApp := context.WithCancel(context.WithoutCancel(ctx))
	defer stopApp()
	s.appStopped = make(chan struct{})
	go func() {
		s.appErr = s.app.Run(appCtx)
		close(s.appStopped)
	}()
	s.p.printf("app %q (instance %s): reading %s into the store %s, emailing every %v",
		s.cfg.AppID, s.cfg.Instance, s.cfg.Input, StoreUSShareHolders, s.cfg.Period)
	select {
	case <-s.running:
	case <-s.appStopped:
		return appFailed(s.appErr)
	case <-ctx.Done():
		stopApp()
		<-s.appStopped
		return appFailed(s.appErr)
	}
	stopReports := s.report()
	defer stopReports()
	genErr := s.generate(ctx)
	if genErr == nil && s.cfg.Generate && !s.appHasStopped() {
		s.drain()
	}
	stopApp()
	<-s.appStopped
	stopReports()
	stopHTTP()
	s.p.printf("stopped: %s", s.counters())
	return errors.Join(genErr, appFailed(s.appErr))
}

// serveHTTP serves the query server on the query address and
// GET /shareholders on the HTTP address, those that are set, and returns
// the function that stops them.
func (s *session) serveHTTP() (func(), error) {
	qs, err := newQueryServer(s.app)
	if err != nil {
		return nil, fmt.Errorf("query server: %w", err)
	}
	var stops []func()
	stop := func() {
		for _, f := range stops {
			f()
		}
	}
	qln := s.cfg.queryListener
	if qln == nil && s.cfg.Query != "" {
		if qln, err = net.Listen("tcp", s.cfg.Query); err != nil {
			return nil, fmt.Errorf("query server: %w", err)
		}
	}
	if qln != nil {
		stops = append(stops, s.serve(qln, qs.Handler(), "query server"))
		s.p.printf("answering the other instances' queries on %s", qln.Addr())
	}
	ln := s.cfg.httpListener
	if ln == nil && s.cfg.HTTP != "" {
		if ln, err = net.Listen("tcp", s.cfg.HTTP); err != nil {
			stop()
			return nil, fmt.Errorf("http: %w", err)
		}
	}
	if ln != nil {
		stops = append(stops, s.serve(ln, newMux(s.app, qs), "http"))
		s.p.printf("serving GET http://%s/shareholders", ln.Addr())
	}
	var once sync.Once
	return func() { once.Do(stop) }, nil
}

// serve serves h on ln until the returned function is called.
func (s *session) serve(ln net.Listener, h http.Handler, what string) func() {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.p.printf("%s: %v", what, err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}

// generate publishes position events until ctx ends, the generator is
// done (cfg.Count) or fails, or the application stops; a generator that is
// done leaves the application running until ctx ends.
func (s *session) generate(ctx context.Context) error {
	if s.cfg.Generate {
		genCtx, stopGen := context.WithCancel(ctx)
		defer stopGen()
		s.p.printf("generator: %v records/s, seed %d, to %s", s.cfg.Rate, s.cfg.Seed, s.cfg.Input)
		genDone := make(chan error, 1)
		go func() {
			genDone <- publish(genCtx, s.cl, NewGenerator(s.cfg.Seed), s.cfg.Input, s.cfg.Rate, s.cfg.Count, &s.counts)
		}()
		select {
		case err := <-genDone:
			if err != nil || ctx.Err() != nil {
				return err
			}
			s.p.printf("generator done: %s", s.counts.String())
		case <-s.appStopped:
			stopGen()
			return <-genDone
		}
	}
	select {
	case <-ctx.Done():
	case <-s.appStopped:
	}
	return nil
}

func (s *session) appHasStopped() bool {
	select {
	case <-s.appStopped:
		return true
	default:
		return false
	}
}

// drain waits until the application has committed the end of every
// input partition: it processed everything the generator sent.
func (s *session) drain() {
	s.p.printf("generator stopped; waiting for the app to process the last records")
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for {
		why := s.lag(ctx)
		if why == "" {
			return
		}
		select {
		case <-ctx.Done():
			s.p.printf("the app did not catch up within %v: %s", drainTimeout, why)
			return
		case <-s.appStopped:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lag returns how the group's committed offsets trail the input's end
// offsets, or "" if they do not.
func (s *session) lag(ctx context.Context) string {
	ends, err := s.adm.ListEndOffsets(ctx, s.cfg.Input)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return err.Error()
	}
	committed, err := s.adm.FetchOffsets(ctx, s.cfg.AppID)
	if err != nil {
		return err.Error()
	}
	var behind []string
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if o.Offset > 0 && (!ok || c.At != o.Offset) {
			behind = append(behind, fmt.Sprintf("partition %d: end %d, committed %d", o.Partition, o.Offset, c.At))
		}
	})
	return strings.Join(behind, "; ")
}

// report prints the counters every cfg.ReportEvery until the returned
// function is called.
func (s *session) report() func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(s.cfg.ReportEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.p.printf("%s", s.counters())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-stopped
	}
}

// counters renders the generator's and the application's totals.
func (s *session) counters() string {
	m := s.app.Metrics()
	app := fmt.Sprintf("app %v: processed %d, shareholder updates %d (%d removals), emails sent %d, failed %d, commits %d, rebalances %d",
		s.app.State(), m.Processed, s.updates.Load(), s.removed.Load(), s.emails.Sent.Load(), s.emails.Failed.Load(), m.Commits, m.Rebalances)
	if !s.cfg.Generate {
		return app
	}
	return "generator: " + s.counts.String() + " | " + app
}

func appFailed(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("streams app: %w", err)
}

// printer writes timestamped lines to a writer, one at a time.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func newPrinter(w io.Writer) *printer { return &printer{w: w, start: time.Now()} }

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// Write lets the application's logger print through p.
func (p *printer) Write(b []byte) (int, error) {
	p.printf("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

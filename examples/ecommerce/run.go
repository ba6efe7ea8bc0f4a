package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
)

// config is everything run needs; main fills it from the flags, the tests
// from their scenario.
type config struct {
	Brokers    []string // a real cluster; empty starts the embedded broker
	Partitions int32    // of every topic the pipeline creates
	Prefix     string   // of every topic name
	AppID      string   // the kstreams application id; the sink's group is AppID+"-pg-sink"
	StateDir   string   // empty: a temporary directory

	Generate bool // publish a generated stream (the tests publish their own)
	Pace     bool // publish at the generator's event-time rate (else as fast as possible)
	Gen      GenConfig

	Keys        string        // the key ring, "id:hex[,id:hex]": the first encrypts
	DedupWindow time.Duration // deduplication window
	Timeout     time.Duration // payment timeout
	Grace       time.Duration // stream time past a deadline before it is enforced

	DSN     string  // PostgreSQL; empty: no database sink
	Table   string  // the profiles table
	DBBatch int     // rows per upsert batch
	DBRate  float64 // rows per second at most (0: no limit)
	OnWrite func(time.Time, int)

	Guarantee      kstreams.Guarantee
	CommitInterval time.Duration
	SessionTimeout time.Duration // of the app's group; 0: the default
	// InstanceID is the instance's stable identity (kstreams.InstanceID):
	// a restarted instance with the same id fences the transactions its
	// predecessor left open at once (with a new state directory too),
	// instead of read-committed consumers waiting out their timeout.
	InstanceID   string
	OpsAddr      string        // the App's ops server (GET /metrics, /console/); empty: none
	SummaryEvery time.Duration // live summary period; 0: none
	ExitWhenDone bool          // stop once the generated stream is through (needs Generate)
	Out          io.Writer
}

// summary is what a run saw, at its end.
type summary struct {
	Orders, Invalid, DedupHits, Routed, Timeouts, Rows int64
	Elapsed                                            time.Duration // first to last record through
	CPU                                                time.Duration // user+system time of the process
}

// run runs the pipeline until ctx is done (or, with ExitWhenDone, the
// generated stream is through).
func run(ctx context.Context, cfg config) (*summary, error) {
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
	keys, err := ParseKeyRing(cfg.Keys)
	if err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	t := Topics{Prefix: cfg.Prefix}
	var fixed []string
	for _, n := range []string{topicOrders, topicPayments, topicEncrypted, topicValid, topicErrors, topicUnique, topicTimeouts, topicProfiles} {
		fixed = append(fixed, t.name(n))
	}
	if err := createTopics(ctx, adm, cfg.Partitions, fixed...); err != nil {
		return nil, err
	}
	for _, topic := range fixed {
		if err := waitVisible(ctx, adm, topic, cfg.Partitions); err != nil {
			return nil, err
		}
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "kstreams-ecommerce-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(stateDir)
	}

	stats := NewStats()
	topo, err := Topology(Steps{
		Topics: t, Keys: keys, DedupWindow: cfg.DedupWindow, Timeout: cfg.Timeout, Grace: cfg.Grace, Stats: stats,
		EnsureTopic: topicEnsurer(ctx, adm, cfg.Partitions),
	})
	if err != nil {
		return nil, err
	}
	opts := []kstreams.Option{
		kstreams.Brokers(brokers...), kstreams.ApplicationID(cfg.AppID), kstreams.StateDir(stateDir),
		kstreams.ProcessingGuarantee(cfg.Guarantee), kstreams.CommitInterval(cfg.CommitInterval),
		kstreams.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		kstreams.ClientOptions(kgo.FetchMaxWait(100 * time.Millisecond)),
	}
	if cfg.OpsAddr != "" {
		opts = append(opts, kstreams.OpsServer(cfg.OpsAddr))
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kstreams.InstanceID(cfg.InstanceID))
	}
	if cfg.SessionTimeout > 0 {
		opts = append(opts, kstreams.ClientOptions(kgo.SessionTimeout(cfg.SessionTimeout)))
	}
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		return nil, err
	}
	if err := app.RegisterMetrics(stats.Collectors()...); err != nil {
		return nil, err
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(runCtx); err != nil && runCtx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	start("streams app", app.Run)
	if cfg.DSN != "" {
		sink, err := NewSink(ctx, SinkConfig{
			DSN: cfg.DSN, Table: cfg.Table, Brokers: brokers, Topic: t.name(topicProfiles), Group: cfg.AppID + "-pg-sink",
			Batch: cfg.DBBatch, Rate: cfg.DBRate, Stats: stats, OnWrite: cfg.OnWrite,
			InstanceID: cfg.InstanceID, SessionTimeout: cfg.SessionTimeout,
		})
		if err != nil {
			return nil, err
		}
		start("PostgreSQL sink", sink.Run)
		fmt.Fprintf(out, "syncing user profiles to PostgreSQL table %s (batches of %d, at most %g rows/s)\n", cfg.Table, cfg.DBBatch, cfg.DBRate)
	} else {
		fmt.Fprintln(out, "no PostgreSQL (-db or KSTREAMS_TEST_POSTGRES): profiles stay in the user-profiles topic")
	}
	generated := make(chan struct{})
	if cfg.Generate {
		gen := Generate(cfg.Gen)
		fmt.Fprintf(out, "generator: %d orders, %d records (duplicates, invalid orders, unpaid orders, bursts)\n", cfg.Gen.Orders, len(gen.Records))
		start("generator", func(ctx context.Context) error {
			err := Produce(ctx, brokers, t, gen.Records, cfg.Gen.Partitions, cfg.Pace)
			close(generated)
			return err
		})
	}

	began := time.Now()
	var tick <-chan time.Time
	if cfg.SummaryEvery > 0 {
		tk := time.NewTicker(cfg.SummaryEvery)
		defer tk.Stop()
		tick = tk.C
	}
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	// Done is quiet: the generator finished and nothing moved for five
	// seconds (creating the products topics on a loaded broker stalled a
	// run for more than two).
	idle, lastDone, last := 0, time.Now(), [3]int64{-1}
	var runErr error
	printedOps := false
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errs:
			runErr = err
			break loop
		case <-tick:
			if !printedOps && cfg.OpsAddr != "" && app.OpsAddr() != "" {
				fmt.Fprintf(out, "metrics: http://%s/metrics, console: http://%s/console/\n", app.OpsAddr(), app.OpsAddr())
				printedOps = true
			}
			printSummary(out, stats, appLag(ctx, app))
		case <-poll.C:
			if !cfg.ExitWhenDone || !closed(generated) {
				continue
			}
			now := [3]int64{app.Metrics().Processed, stats.Rows.Load(), stats.Timeouts.Load()}
			if now != last {
				idle, last, lastDone = 0, now, time.Now()
				continue
			}
			if idle++; idle >= 20 {
				break loop
			}
		}
	}
	elapsed := time.Since(began)
	if idle > 0 {
		elapsed = lastDone.Sub(began)
	}
	stop()
	wg.Wait()
	printSummary(out, stats, -1)
	s := &summary{
		Orders: stats.Orders.Load(), Invalid: stats.Invalid.Load(), DedupHits: stats.DedupHits.Load(),
		Routed: stats.Routed.Load(), Timeouts: stats.Timeouts.Load(), Rows: stats.Rows.Load(),
		Elapsed: elapsed, CPU: cpuTime(),
	}
	if s.Orders > 0 {
		fmt.Fprintf(out, "throughput: %d orders in %v: %.0f orders/s, %v CPU per order\n",
			s.Orders, elapsed.Round(time.Millisecond), float64(s.Orders)/elapsed.Seconds(), s.CPU/time.Duration(s.Orders))
	}
	return s, runErr
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func printSummary(out io.Writer, s *Stats, lag int64) {
	lagText := "-"
	if lag >= 0 {
		lagText = fmt.Sprint(lag)
	}
	fmt.Fprintf(out, "orders %d | invalid %d (%.1f%%) | dedup hits %d | routed %d | timeouts %d | db rows %d in %d batches, write avg %v | e2e avg %v | lag app %s sink %d\n",
		s.Orders.Load(), s.Invalid.Load(), 100*s.ErrorRate(), s.DedupHits.Load(), s.Routed.Load(), s.Timeouts.Load(),
		s.Rows.Load(), s.Batches.Load(), s.AvgWrite().Round(10*time.Microsecond), s.AvgLatency(), lagText, s.SinkLag.Load())
}

// appLag is the application group's total lag (-1 if unknown).
func appLag(ctx context.Context, app *kstreams.App) int64 {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	l, err := app.Lag(ctx)
	if err != nil || len(l.Partitions) == 0 {
		return -1
	}
	var n int64
	for _, p := range l.Partitions {
		if p.Lag < 0 {
			return -1
		}
		n += p.Lag
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Produce writes the generated records: orders and payments by key (the
// same order id lands on the same partition of both topics), heartbeats to
// their partition. With pace, each record waits for its event time to come
// (from the first record on); heartbeats go at once after the last order.
func Produce(ctx context.Context, brokers []string, t Topics, recs []GenRecord, partitions int32, pace bool) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	keyed := kgo.StickyKeyPartitioner(nil).ForTopic("")
	wall := time.Now()
	first := recs[0].Timestamp
	var mu sync.Mutex
	var firstErr error
	for _, r := range recs {
		if pace && r.Partition < 0 {
			if d := time.Duration(r.Timestamp-first)*time.Millisecond - time.Since(wall); d > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(d):
				}
			}
		}
		rec := &kgo.Record{Topic: t.name(r.Topic), Key: []byte(r.Key), Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp), Partition: r.Partition}
		if r.Partition < 0 {
			rec.Partition = int32(keyed.Partition(rec, int(partitions)))
		}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// topicEnsurer returns the split step's EnsureTopic: it creates a topic the
// first time it is asked for it (an existing one is fine).
func topicEnsurer(ctx context.Context, adm *kadm.Client, partitions int32) func(string) error {
	var mu sync.Mutex
	known := map[string]bool{}
	return func(topic string) error {
		mu.Lock()
		defer mu.Unlock()
		if known[topic] {
			return nil
		}
		if err := createTopics(ctx, adm, partitions, topic); err != nil {
			return err
		}
		if err := waitVisible(ctx, adm, topic, partitions); err != nil {
			return err
		}
		known[topic] = true
		return nil
	}
}

// waitVisible waits until the brokers' metadata lists every partition of a
// topic just created with a leader: a producer that asked for it before
// would see it unknown, and retry only after its metadata's minimum age,
// by when the transaction writing to it may have timed out.
func waitVisible(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := td[topic]; ok && d.Err == nil && int32(len(d.Partitions)) == partitions {
				ready := true
				for _, p := range d.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s created but not visible after 30s (last error: %v)", topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	res, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
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

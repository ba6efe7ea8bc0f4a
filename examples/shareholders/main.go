// Command shareholders runs scenario 1 of shared/SCENARIOS.md: the weekly
// email to every client holding US positions.
//
// Positions are published to the compacted topic share-holders, keyed by
// position id (a tombstone closes a position). The application reads the
// topic as a table, keeps the positions held on NASDAQ, groups them by
// client and reduces each group to the set of its position ids (set union
// to add, set difference to subtract; an empty set removes the client) in
// the queryable store us-share-holders. A wall-clock punctuator in every
// task emails the clients of its own partition once per period (-period, a
// week by default): with several instances, the partition assignment shards
// the emails, and each client gets one email per period. GET /shareholders
// on -http lists the US shareholders; with -query-addr set on every
// instance, any instance lists them all, gathered through the query
// package's server (?scope=local lists this instance's only).
//
// With no flags it starts an embedded broker (data kept under -data-dir),
// creates the topic, runs a generator that publishes position events, runs
// the application, and prints the emails instead of sending them:
//
//	go run ./examples/shareholders -run-for 15s -period 5s
//
// With -brokers it runs on a real cluster; with -smtp host:port it sends the
// emails to that SMTP server (plain SMTP, no authentication).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is everything run needs; main fills it from the flags.
type config struct {
	// Brokers of a real cluster; empty starts the embedded broker.
	Brokers []string
	// DataDir keeps the embedded broker's data ("<DataDir>/broker") and,
	// unless StateDir is set, the application's state ("<DataDir>/state").
	DataDir string
	// AppID is the application id (consumer group).
	AppID string
	// StateDir is the application's state directory; empty means
	// "<DataDir>/state". Two instances on one machine need two.
	StateDir string
	// Input is the positions topic; Partitions is the partition count it
	// is created with when missing.
	Input      string
	Partitions int32
	// Generate runs the generator at Rate records/s with Seed; it stops
	// after Count records (0: when the run ends).
	Generate bool
	Rate     float64
	Seed     uint64
	Count    int
	// Period between two emails to a client.
	Period time.Duration
	// SMTP is the host:port of the SMTP server; empty prints the emails.
	SMTP string
	// HTTP is the address GET /shareholders is served on; empty: none.
	HTTP string
	// Query is this instance's query address (kstreams.ApplicationServer),
	// where the query package's server answers the other instances;
	// with it, GET /shareholders on any instance lists every instance's
	// shareholders. Empty: only this instance's.
	Query string
	// Instance names this instance in the emails.
	Instance string
	// RunFor stops the run this long after the topics are ready; 0 runs
	// until ctx ends.
	RunFor time.Duration
	// CommitInterval of the application.
	CommitInterval time.Duration
	// ReportEvery is the period of the counter lines.
	ReportEvery time.Duration
	// Quiet leaves out the per-record lines and the topology description.
	Quiet bool
	// Out receives the human-readable lines.
	Out io.Writer

	// httpListener, if set, serves HTTP instead of listening on HTTP (for
	// tests, which listen on a free port first).
	httpListener net.Listener
	// queryListener, if set, serves the query server instead of
	// listening on Query, and sets Query to its address (for tests).
	queryListener net.Listener
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "shareholders:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process
	}()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "shareholders:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	cfg := config{Out: os.Stdout, CommitInterval: time.Second, ReportEvery: 2 * time.Second}
	fs := flag.NewFlagSet("shareholders", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "comma-separated host:port of a real cluster (default: an embedded broker)")
	fs.StringVar(&cfg.DataDir, "data-dir", filepath.Join(os.TempDir(), "kstreams-shareholders"), "directory of the embedded broker's data and the app's state")
	fs.StringVar(&cfg.AppID, "app-id", "shareholders", "application id (consumer group)")
	fs.StringVar(&cfg.StateDir, "state-dir", "", "the app's state directory (default: <data-dir>/state); one per instance")
	fs.StringVar(&cfg.Input, "input", defaultInput, "input topic: positions keyed by position id")
	partitions := fs.Int("partitions", 3, "partitions of the input topic when it is created")
	fs.BoolVar(&cfg.Generate, "generate", true, "publish simulated position events to the input topic")
	fs.Float64Var(&cfg.Rate, "rate", 5, "generator rate, records per second")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "generator seed: the same seed publishes the same events")
	fs.IntVar(&cfg.Count, "count", 0, "stop the generator after this many records (default: run until the end)")
	fs.DurationVar(&cfg.Period, "period", DefaultPeriod, "period between two emails to a client")
	fs.StringVar(&cfg.SMTP, "smtp", "", "host:port of an SMTP server to send the emails to (default: print them)")
	fs.StringVar(&cfg.HTTP, "http", "", "address to serve GET /shareholders on, e.g. :8080 (default: none)")
	fs.StringVar(&cfg.Query, "query-addr", "", "host:port where this instance answers the other instances' queries, advertised to the group; with it GET /shareholders on any instance lists them all (default: none, this instance's only)")
	fs.DurationVar(&cfg.RunFor, "run-for", 0, "stop after this long (default: until Ctrl-C)")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "print only state changes, emails and counters, not every update")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *brokers != "" {
		cfg.Brokers = strings.Split(*brokers, ",")
	}
	cfg.Partitions = int32(*partitions)
	cfg.Instance = instanceName()
	return cfg, cfg.validate()
}

func (c config) validate() error {
	var errs []error
	if c.Rate <= 0 {
		errs = append(errs, fmt.Errorf("-rate %v: must be positive", c.Rate))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("-partitions %d: need at least 1", c.Partitions))
	}
	if c.RunFor < 0 {
		errs = append(errs, fmt.Errorf("-run-for %v: must not be negative", c.RunFor))
	}
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("-count %d: must not be negative", c.Count))
	}
	if c.Period < time.Millisecond {
		errs = append(errs, fmt.Errorf("-period %v: need at least 1ms", c.Period))
	}
	if c.Input == "" {
		errs = append(errs, errors.New("-input: empty topic name"))
	}
	return errors.Join(errs...)
}

// stateDir returns the application's state directory.
func (c config) stateDir() string {
	if c.StateDir != "" {
		return c.StateDir
	}
	return filepath.Join(c.DataDir, "state")
}

// instanceName names this process: host and pid.
func instanceName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

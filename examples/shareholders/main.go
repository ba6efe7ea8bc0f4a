// Command shareholders runs the stateless part of scenario 1 (see
// shared/SCENARIOS.md): positions published to the compacted topic
// share-holders, keyed by position id, are filtered to the open positions
// held on NASDAQ and re-keyed by client into us-share-holders-by-client.
//
// With no flags it starts an embedded broker (data kept under the -data-dir
// directory), creates the topics, runs a generator that publishes position
// events, and runs the streams application, printing what it does:
//
//	go run ./examples/shareholders -run-for 20s
//
// With -brokers it runs on a real cluster instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	// DataDir keeps the embedded broker's data ("<DataDir>/broker") and the
	// application's state directory ("<DataDir>/state").
	DataDir string
	// AppID is the application id (consumer group).
	AppID string
	// Input and Output are the topic names; Partitions is the partition
	// count they are created with when missing.
	Input, Output string
	Partitions    int32
	// Generate runs the generator at Rate records/s with Seed.
	Generate bool
	Rate     float64
	Seed     uint64
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
	fs.StringVar(&cfg.Input, "input", defaultInput, "input topic: positions keyed by position id")
	fs.StringVar(&cfg.Output, "output", defaultOutput, "output topic: NASDAQ positions keyed by client")
	partitions := fs.Int("partitions", 3, "partitions of the topics when they are created")
	fs.BoolVar(&cfg.Generate, "generate", true, "publish simulated position events to the input topic")
	fs.Float64Var(&cfg.Rate, "rate", 5, "generator rate, records per second")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "generator seed: the same seed publishes the same events")
	fs.DurationVar(&cfg.RunFor, "run-for", 0, "stop after this long (default: until Ctrl-C)")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "print only state changes and counters, not every record")
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
	if c.Input == "" || c.Output == "" || c.Input == c.Output {
		errs = append(errs, fmt.Errorf("-input %q, -output %q: need two different topics", c.Input, c.Output))
	}
	return errors.Join(errs...)
}

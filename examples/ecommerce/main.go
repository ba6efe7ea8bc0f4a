// Command ecommerce runs scenario 3 of shared/SCENARIOS.md: an online
// shop's order events through a chain of small stream steps, each reading
// one topic and writing the next.
//
//  1. encrypt: the sensitive fields (payment method, address, phone) are
//     encrypted with AES-GCM; the key id goes in the ecommerce-key-id
//     header so keys can rotate ([KeyRing.Decrypt] is the helper of the
//     services allowed to read them). orders -> orders-encrypted.
//  2. validate: invalid orders (missing fields, counts that are not
//     positive, a total that does not match the products, a bad phone
//     number, malformed JSON) go to order-errors with their reasons in a
//     field and in the ecommerce-errors header. -> orders-valid.
//  3. deduplicate by order id within -dedup-window (a window store: bounded,
//     restored from its changelog). -> orders-unique.
//  4. split each order into one record per product and route them to
//     products-<category>, created as needed.
//  5. aggregate a profile per user (orders, spend, last order, favourite
//     category) -> user-profiles, synced into PostgreSQL by batched,
//     idempotent upserts behind a rate limit that slows consumption.
//  6. timeout rule: an order with no payment within -timeout of its event
//     time gives one order-timeouts record. It runs on stream time, so a
//     replay or a catch-up after downtime gives the same timeouts.
//  7. monitoring: the live summary, GET /metrics of -ops (end-to-end
//     latency, error rate, dedup hits, lag, database write latency) and
//     the web console at /console/ of -ops, whose "Application metrics"
//     panel shows the pipeline's own metrics.
//
// With no flags it starts an embedded broker, generates 2,000 orders over
// about ten seconds and prints a summary each second, syncing to PostgreSQL
// if KSTREAMS_TEST_POSTGRES (or -db) names one:
//
//	go run ./examples/ecommerce
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/kstreams-go/kstreams"
)

// demoKey is the demo's AES-256 key, used when neither -keys nor
// ECOMMERCE_KEYS gives one. Never use it for real data.
const demoKey = "demo:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func main() {
	cfg := config{Out: os.Stdout, Generate: true, Pace: true, ExitWhenDone: true}
	brokers := flag.String("brokers", "", "comma-separated brokers of a real cluster (default: an embedded broker)")
	partitions := flag.Int("partitions", 4, "partitions of the topics, when created")
	flag.StringVar(&cfg.Prefix, "topic-prefix", "", "prefix of every topic name")
	flag.StringVar(&cfg.AppID, "app-id", "ecommerce", "application id (the sink's consumer group is <app-id>-pg-sink)")
	flag.StringVar(&cfg.InstanceID, "instance-id", "", "stable instance id (static membership; a restart fences the previous run's open transactions)")
	flag.StringVar(&cfg.StateDir, "state-dir", "", "state directory (default: a temporary one)")
	flag.IntVar(&cfg.Gen.Orders, "orders", 2000, "orders to generate (0: generate none, run until interrupted)")
	flag.IntVar(&cfg.Gen.Users, "users", 50, "users the orders are spread over")
	flag.Float64Var(&cfg.Gen.Rate, "rate", 200, "orders per second")
	flag.Uint64Var(&cfg.Gen.Seed, "seed", 1, "generator seed")
	nopace := flag.Bool("no-pace", false, "publish as fast as possible (event time still advances at -rate): a throughput run")
	flag.StringVar(&cfg.Keys, "keys", "", "encryption keys, id:hex64[,id:hex64...]; the first encrypts (default: $ECOMMERCE_KEYS, then a demo key)")
	flag.DurationVar(&cfg.DedupWindow, "dedup-window", 10*time.Minute, "deduplication window")
	flag.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "payment timeout")
	flag.DurationVar(&cfg.Grace, "grace", 5*time.Second, "stream time past a payment deadline before the timeout is given")
	flag.StringVar(&cfg.DSN, "db", "", "PostgreSQL connection string (default: $KSTREAMS_TEST_POSTGRES; none: no sink)")
	flag.StringVar(&cfg.Table, "table", "user_profiles", "the profiles table")
	flag.IntVar(&cfg.DBBatch, "db-batch", 100, "rows per upsert batch")
	flag.Float64Var(&cfg.DBRate, "db-rate", 500, "rows per second at most (0: no limit)")
	eos := flag.Bool("exactly-once", true, "exactly-once processing (else at-least-once)")
	flag.DurationVar(&cfg.CommitInterval, "commit-interval", 200*time.Millisecond, "commit interval")
	flag.StringVar(&cfg.OpsAddr, "ops", "127.0.0.1:0", "address of the ops server (GET /metrics, /console/); empty: none")
	flag.DurationVar(&cfg.SummaryEvery, "summary", time.Second, "live summary period")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (bench/README.md reads it per step)")
	flag.Parse()
	if *brokers != "" {
		cfg.Brokers = strings.Split(*brokers, ",")
	}
	cfg.Partitions = int32(*partitions)
	cfg.Pace = !*nopace
	if cfg.Keys == "" {
		cfg.Keys = os.Getenv("ECOMMERCE_KEYS")
	}
	if cfg.Keys == "" {
		fmt.Fprintln(os.Stderr, "ecommerce: DEMO key in use (set -keys or ECOMMERCE_KEYS)")
		cfg.Keys = demoKey
	}
	if cfg.DSN == "" {
		cfg.DSN = os.Getenv("KSTREAMS_TEST_POSTGRES")
	}
	cfg.Guarantee = kstreams.AtLeastOnce
	if *eos {
		cfg.Guarantee = kstreams.ExactlyOnce
	}
	cfg.Generate = cfg.Gen.Orders > 0
	cfg.ExitWhenDone = cfg.Generate
	cfg.Gen.Partitions, cfg.Gen.Timeout, cfg.Gen.Grace = cfg.Partitions, cfg.Timeout, cfg.Grace
	cfg.Gen.StartMs = time.Now().UnixMilli()
	if cfg.Gen.Users < 1 || cfg.Gen.Rate <= 0 || cfg.Partitions < 1 || cfg.DBBatch < 1 {
		fmt.Fprintln(os.Stderr, "ecommerce: -users, -partitions and -db-batch must be at least 1, -rate positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ecommerce: -cpuprofile:", err)
			os.Exit(2)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if _, err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ecommerce:", err)
		stop()
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

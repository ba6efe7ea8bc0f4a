// Command services runs scenario 4 of shared/SCENARIOS.md: services talking
// through events, with Avro payloads whose schemas live in a schema registry.
//
//   - The order service publishes OrderPlaced events keyed by user id (one
//     user's events stay in order on one partition) through an asynchronous
//     producer that batches for -linger and flushes on shutdown. Every fifth
//     event is sent twice, as a producer retry would.
//   - The email service, a kstreams application run as two instances (a
//     consumer group of two), emails each order once: it remembers the event
//     ids it has emailed in the store sent-emails and skips duplicates.
//   - An audit consumer reads the notifications slowly (-slow per record);
//     its consumer group's lag is printed as it grows and shrinks.
//   - The four event styles side by side: event notification (the thin
//     OrderNotification the audit consumer reads), event-carried state
//     transfer (OrderPlaced carries the whole order, so the email service
//     needs nothing else), event sourcing (each user's state rebuilt by
//     replaying the orders log from the start), and CQRS (the read side, a
//     kstreams table of each user's orders, served on GET /users/{id}).
//   - Schema evolution during the run: halfway, the order service tries an
//     incompatible v3 of OrderPlaced (amount as a string), which the registry
//     refuses at registration, then moves to v2 (adds currency with a
//     default); the email service keeps reading with v1, the read side with
//     v2, and both read every event.
//
// With no flags it starts an embedded broker and an in-process schema
// registry (demo only: franz-go's in-memory registry with Avro compatibility
// checks):
//
//	go run ./examples/services
//
// -brokers and -registry (a Confluent-compatible API's base URL) point it at
// real ones.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg := config{Out: os.Stdout}
	brokers := flag.String("brokers", "", "comma-separated brokers of a real cluster (default: an embedded broker)")
	flag.StringVar(&cfg.Registry, "registry", "", "base URL of a Confluent-compatible schema registry (default: an in-process demo registry)")
	flag.StringVar(&cfg.OrdersTopic, "orders-topic", "orders", "topic of the OrderPlaced events")
	flag.StringVar(&cfg.NotifyTopic, "notifications-topic", "order-notifications", "topic of the OrderNotification events")
	partitions := flag.Int("partitions", 4, "partitions of the topics, when created")
	flag.IntVar(&cfg.Orders, "orders", 60, "orders to publish")
	flag.IntVar(&cfg.Users, "users", 6, "users the orders are spread over")
	flag.Float64Var(&cfg.Rate, "rate", 40, "orders per second")
	flag.DurationVar(&cfg.Linger, "linger", 50*time.Millisecond, "the order service's batching interval")
	flag.DurationVar(&cfg.SlowPer, "slow", 30*time.Millisecond, "the slow consumer's time per record")
	flag.StringVar(&cfg.HTTP, "http", "127.0.0.1:0", "address of the read side's HTTP API")
	flag.StringVar(&cfg.StateDir, "state-dir", "", "the applications' state directory (default: a temporary one)")
	flag.StringVar(&cfg.AppPrefix, "app-prefix", "services", "prefix of the application ids and consumer groups")
	flag.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "how long the services may take to catch up")
	flag.Parse()
	if *brokers != "" {
		cfg.Brokers = strings.Split(*brokers, ",")
	}
	cfg.Partitions = int32(*partitions)
	if cfg.Orders < 2 || cfg.Users < 1 || cfg.Rate <= 0 || cfg.Partitions < 1 {
		fmt.Fprintln(os.Stderr, "services: -orders must be at least 2, -users and -partitions at least 1, -rate positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "services:", err)
		os.Exit(1)
	}
}

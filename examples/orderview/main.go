// Command orderview runs scenario 2 of shared/SCENARIOS.md: a real-time
// view of orders owned by three services.
//
//   - The orders, payments and shipping services publish events keyed by
//     order id to orders, payments and deliveries, with realistic delays:
//     each order's payment and delivery events trail the next orders, every
//     fifth order is paid late (after all others), every seventh is never
//     paid. Customers live in the compacted topic customers.
//   - The order-view application joins the three by order id (table-table
//     left joins: an order without a payment is "pending", without a
//     delivery "none"), enriches each update with the customer's name from
//     a global table of customers, looked up by the customer id inside the
//     order (no repartition), writes the OrderView to order-views and keeps
//     it in the queryable store order-views.
//   - GET /orders/{id} answers from the instance's store.
//   - Halfway, a customer is renamed: views updated after the rename carry
//     the new name.
//
// With no flags it starts an embedded broker:
//
//	go run ./examples/orderview
//
// -brokers points it at a real cluster. Several instances share the work:
// give each a query address, and start the others with -serve (the
// application alone, no services), one application id, and their own
// addresses and state directories; GET /orders/{id} on any instance
// answers every order, routed to the instance that holds it:
//
//	go run ./examples/orderview -brokers B -query-addr 127.0.0.1:7001 -http 127.0.0.1:8001 -timeout 5m
//	go run ./examples/orderview -brokers B -serve -query-addr 127.0.0.1:7002 -http 127.0.0.1:8002 -state-dir /tmp/ov2
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
	cfg := config{Out: os.Stdout, Topics: Topics{Orders: "orders", Payments: "payments", Deliveries: "deliveries", Customers: "customers", Views: "order-views"}}
	brokers := flag.String("brokers", "", "comma-separated brokers of a real cluster (default: an embedded broker)")
	partitions := flag.Int("partitions", 3, "partitions of the event topics, when created")
	flag.IntVar(&cfg.Orders, "orders", 60, "orders to place")
	flag.IntVar(&cfg.Customers, "customers", 5, "customers the orders are spread over")
	flag.StringVar(&cfg.AppID, "app-id", "orderview", "application id")
	flag.StringVar(&cfg.HTTP, "http", "127.0.0.1:0", "address of GET /orders/{id}")
	flag.StringVar(&cfg.StateDir, "state-dir", "", "state directory (default: a temporary one)")
	flag.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "how long the views may take to become final")
	flag.StringVar(&cfg.Query, "query-addr", "", "this instance's query address (host:port), advertised to the other instances: with it set on every instance, GET /orders/{id} on any instance answers every order")
	serveOnly := flag.Bool("serve", false, "only run an instance of the application, until interrupted (needs -brokers; no services)")
	flag.Parse()
	if *brokers != "" {
		cfg.Brokers = strings.Split(*brokers, ",")
	}
	if *serveOnly {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "orderview:", err)
			os.Exit(1)
		}
		return
	}
	cfg.Partitions = int32(*partitions)
	if cfg.Orders < 2 || cfg.Customers < 1 || cfg.Partitions < 1 {
		fmt.Fprintln(os.Stderr, "orderview: -orders must be at least 2, -customers and -partitions at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "orderview:", err)
		os.Exit(1)
	}
	for _, id := range []string{"o0000", "o0001", "o0003", fmt.Sprintf("o%04d", cfg.Orders-1)} {
		if v, ok := rep.Views[id]; ok {
			fmt.Printf("%s: customer %q, payment %s, delivery %s\n", id, v.CustomerName, v.Payment, v.Delivery)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// TestOrderViewEndToEnd runs the whole scenario, on the real broker of
// KSTREAMS_TEST_BROKERS when set, else on the embedded broker: every order
// ends with the right payment status (late payments included, never-paid
// orders pending), delivery status and customer name, and the renamed
// customer's later orders carry the new name.
func TestOrderViewEndToEnd(t *testing.T) {
	var out strings.Builder
	id := fmt.Sprintf("%08x", rand.Uint32())
	cfg := config{
		Topics: Topics{Orders: "orders-" + id, Payments: "payments-" + id, Deliveries: "deliveries-" + id,
			Customers: "customers-" + id, Views: "order-views-" + id},
		Partitions: 3, Orders: 60, Customers: 4, AppID: "orderview-" + id, StateDir: t.TempDir(),
		Timeout: 90 * time.Second, Seed: 7, Out: &out,
	}
	if b := os.Getenv("KSTREAMS_TEST_BROKERS"); b != "" {
		cfg.Brokers = strings.Split(b, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.NeverPaid) == 0 || len(rep.Late) == 0 {
		t.Fatalf("the generator made %d never-paid and %d late orders, want some of each", len(rep.NeverPaid), len(rep.Late))
	}
	renamedLater := 0
	for i := range cfg.Orders {
		id := fmt.Sprintf("o%04d", i)
		v, ok := rep.Views[id]
		if !ok {
			t.Errorf("order %s: no view", id)
			continue
		}
		wantPay, wantDel := "paid", "delivered"
		if rep.NeverPaid[id] {
			wantPay, wantDel = "pending", "none"
		}
		cust := rep.Customer[id]
		wantName := "Customer " + strings.TrimPrefix(cust, "c")
		if cust == rep.Renamed && rep.After[id] {
			wantName = rep.NewName
			renamedLater++
		}
		if v.Payment != wantPay || v.Delivery != wantDel || v.CustomerName != wantName || v.Order.ID != id || v.Order.Customer != cust {
			t.Errorf("order %s: view %+v, want payment %s, delivery %s, customer %s %q", id, v, wantPay, wantDel, cust, wantName)
		}
	}
	if renamedLater == 0 {
		t.Errorf("no order of the renamed customer %s after the rename", rep.Renamed)
	}
}

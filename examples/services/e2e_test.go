package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde/registry"
)

// TestServicesEndToEnd runs the whole scenario: on the real broker of
// KSTREAMS_TEST_BROKERS and the registry of KSTREAMS_TEST_REGISTRY when
// set, else on the embedded broker and the in-process registry.
func TestServicesEndToEnd(t *testing.T) {
	var out strings.Builder
	id := fmt.Sprintf("%08x", rand.Uint32())
	cfg := config{
		Registry:    os.Getenv("KSTREAMS_TEST_REGISTRY"),
		OrdersTopic: "orders-" + id, NotifyTopic: "notifications-" + id, Partitions: 4,
		Orders: 40, Users: 6, Rate: 80, Linger: 20 * time.Millisecond, SlowPer: 40 * time.Millisecond,
		HTTP: "127.0.0.1:0", StateDir: t.TempDir(), AppPrefix: "services-" + id, Timeout: 90 * time.Second, Out: &out,
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
	if len(rep.Emails) != cfg.Orders {
		t.Errorf("%d orders emailed, want %d", len(rep.Emails), cfg.Orders)
	}
	for id, n := range rep.Emails {
		if n != 1 {
			t.Errorf("event %s emailed %d times, want once", id, n)
		}
	}
	if rep.DuplicatesSent == 0 || rep.DuplicatesSkipped < int64(rep.DuplicatesSent) {
		t.Errorf("%d duplicates skipped, want at least the %d sent", rep.DuplicatesSkipped, rep.DuplicatesSent)
	}
	t.Logf("emails by instance: %v", rep.EmailsByInstance)
	if !errors.Is(rep.V3Refused, registry.ErrIncompatible) {
		t.Errorf("v3 registration: %v, want ErrIncompatible", rep.V3Refused)
	}
	want := wantTotals(&cfg)
	if !equalTotals(rep.ReadSide, want) || !equalTotals(rep.Replayed, want) {
		t.Errorf("read side %v, replayed %v, want %v", rep.ReadSide, rep.Replayed, want)
	}
	if !maps.Equal(rep.QueriedOverHTTP.Orders, want["u1"].Orders) {
		t.Errorf("GET /users/u1 = %v, want %v", rep.QueriedOverHTTP, want["u1"])
	}
	if rep.MaxLag <= 0 {
		t.Errorf("the slow consumer never lagged (largest lag %d)", rep.MaxLag)
	}
}

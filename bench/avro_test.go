package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde/registry/registrytest"
)

// TestAvroSmoke runs filter-map-avro once, on a few records, with the
// registry of KSTREAMS_TEST_REGISTRY or else the in-process stand-in: every
// record's value is decoded and encoded through the registry, and the run
// counts every output.
func TestAvroSmoke(t *testing.T) {
	url, done := registrytest.URL()
	defer done()
	registerAvro()
	t.Cleanup(func() { registry = slices.DeleteFunc(registry, func(w *Workload) bool { return w == avroWorkload }) })
	args := []string{"-embedded"}
	if env := os.Getenv("KSTREAMS_TEST_BROKERS"); env != "" {
		args = []string{"-brokers", env}
	}
	f, err := parseFlags(append(args, "-registry", url, "-workloads", "filter-map-avro",
		"-records", "2000", "-settle", "0", "-warmup", "0", "-timeout", "1m"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, f, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "\nfilter-map-avro ") {
		t.Errorf("no row for filter-map-avro in:\n%s", out.String())
	}
}

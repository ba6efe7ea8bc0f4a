package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestQueriesSmoke runs the query benchmark briefly, on the real broker of
// KSTREAMS_TEST_BROKERS or else the embedded one: both modes look keys up
// without errors.
func TestQueriesSmoke(t *testing.T) {
	args := []string{"-embedded"}
	if env := os.Getenv("KSTREAMS_TEST_BROKERS"); env != "" {
		args = []string{"-brokers", env}
	}
	f, err := parseFlags(append(args, "-queries", "-partitions", "6", "-query-keys", "500", "-query-duration", "500ms", "-query-clients", "2", "-query-rate", "200"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, f, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, mode := range []string{"local", "forwarded"} {
		row := regexp.MustCompile(`(?m)^` + mode + `\s+\d+\s+[\d,]+\s+\S+\s+\S+\s+0 `)
		if !row.MatchString(out.String()) {
			t.Errorf("no error-free %s row in:\n%s", mode, out.String())
		}
	}
}

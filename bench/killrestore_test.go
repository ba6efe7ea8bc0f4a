package main

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKillRestoreSmoke runs the kill-restore benchmark (Go side) on a few
// keys against the real broker of KSTREAMS_TEST_BROKERS: the restart after
// SIGKILL restores far fewer records than a fresh state directory. It
// waits out the killed member's session timeout (45 s), so it runs only
// with KSTREAMS_TEST_LONG=1.
func TestKillRestoreSmoke(t *testing.T) {
	brokers := os.Getenv("KSTREAMS_TEST_BROKERS")
	if brokers == "" || os.Getenv("KSTREAMS_TEST_LONG") != "1" {
		t.Skip("needs KSTREAMS_TEST_BROKERS and KSTREAMS_TEST_LONG=1 (waits out a 45 s session timeout)")
	}
	f, err := parseFlags([]string{"-brokers", brokers, "-kill-restore", "-kill-keys", "20000", "-settle", "0", "-timeout", "2m"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, f, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	row := regexp.MustCompile(`(?m)^kstreams\s+([\d,]+)\s+([\d,]+)\s+\S+\s+\S+\s+([\d,]+)\s`).FindStringSubmatch(out.String())
	if row == nil {
		t.Fatalf("no kstreams row in:\n%s", out.String())
	}
	n := func(s string) int64 {
		v, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	committed, afterKill, fresh := n(row[1]), n(row[2]), n(row[3])
	t.Logf("committed at kill %d, restored after SIGKILL %d, fresh directory %d", committed, afterKill, fresh)
	if fresh < committed || afterKill*4 > fresh {
		t.Errorf("restored %d records after SIGKILL and %d from a fresh directory (%d committed): want far fewer after the kill\n%s",
			afterKill, fresh, committed, out.String())
	}
}

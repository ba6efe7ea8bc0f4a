// Command kstreams-harness is kstreams' smoke and exactly-once test harness:
// it generates input with closed-form aggregates, runs the test application,
// kills application processes and brokers, and verifies every output. See
// package harness and harness/README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kstreams-go/kstreams/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	if err := harness.Command(ctx, os.Args[1:], []string{self}, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

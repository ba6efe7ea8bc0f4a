// Command kstreams operates kstreams applications, as Kafka's tools do for
// Kafka Streams:
//
//	kstreams describe -url http://host:port [-format text|json|dot|mermaid]
//	kstreams lag      -brokers host:port -application-id ID [-url http://host:port] [-format text|json]
//	kstreams reset    -brokers host:port -application-id ID -input-topics a,b [-intermediate-topics c]
//	                  [-to-earliest | -to-latest | -to-datetime 2026-01-02T15:04:05Z | -shift-by N]
//	                  [-state-dir DIR] [-dry-run]
//	kstreams cleanup  -application-id ID -state-dir DIR
//
// describe reads the topology from a running instance's operations server
// (the app runs with kstreams.OpsServer): the topology is code, so only a
// running instance knows it. lag reads the application's consumer group
// (committed offsets, tasks from the kstreams assignment) and the end
// offsets; -url also maps topics to sub-topologies to name tasks exactly.
// reset follows Kafka Streams' application-reset tool: it refuses while the
// group has members, moves the input topics' committed offsets (to the
// earliest by default), moves intermediate topics to their end, and deletes
// the internal topics (repartition and changelog) with their commits; with
// -state-dir it also deletes the local state, as cleanup does.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const usage = `usage: kstreams <command> [flags]

commands:
  describe  print a running application's topology (text, json, dot, mermaid)
  lag       print committed offset, end offset and lag per task and partition
  reset     reset an application to reprocess its inputs (as kafka-streams-application-reset)
  cleanup   delete an application's local state

"kstreams <command> -h" lists the command's flags.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("kstreams: no command")
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"describe": describeCmd, "lag": lagCmd, "reset": resetCmd, "cleanup": cleanupCmd,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("kstreams: unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

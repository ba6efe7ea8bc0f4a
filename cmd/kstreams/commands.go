package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kstreams-go/kstreams/internal/ops"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kstreams "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// fetchTopology reads GET <url>/kstreams/topology.
func fetchTopology(ctx context.Context, url string) (*ops.Topology, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+"/kstreams/topology", nil)
	if err != nil {
		return nil, fmt.Errorf("kstreams: -url %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kstreams: reading the topology: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kstreams: reading the topology from %s: %s", url, resp.Status)
	}
	var t ops.Topology
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, fmt.Errorf("kstreams: decoding the topology from %s: %w", url, err)
	}
	return &t, nil
}

func describeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("describe", stderr)
	url := fs.String("url", "", "base URL of a running instance's operations server (kstreams.OpsServer)")
	format := fs.String("format", "text", "text (Kafka Streams' layout), json, dot (Graphviz) or mermaid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("kstreams describe: -url is required")
	}
	t, err := fetchTopology(ctx, *url)
	if err != nil {
		return err
	}
	switch *format {
	case "text":
		_, err = io.WriteString(stdout, t.Text)
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(t)
	case "dot":
		_, err = io.WriteString(stdout, t.Dot())
	case "mermaid":
		_, err = io.WriteString(stdout, t.Mermaid())
	default:
		return fmt.Errorf("kstreams describe: -format %q: use text, json, dot or mermaid", *format)
	}
	return err
}

func adminClient(brokers string) (*kadm.Client, func(), error) {
	if brokers == "" {
		return nil, nil, errors.New("kstreams: -brokers is required")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return nil, nil, fmt.Errorf("kstreams: client: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

func lagCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lag", stderr)
	brokers := fs.String("brokers", "", "seed brokers, comma-separated")
	appID := fs.String("application-id", "", "the application id (its consumer group)")
	url := fs.String("url", "", "optional: a running instance's operations server, to name tasks exactly")
	format := fs.String("format", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *appID == "" {
		return errors.New("kstreams lag: -application-id is required")
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("kstreams lag: -format %q: use text or json", *format)
	}
	var subOf map[string]int
	if *url != "" {
		t, err := fetchTopology(ctx, *url)
		if err != nil {
			return err
		}
		subOf = t.SubtopologyOf()
	}
	adm, closeFn, err := adminClient(*brokers)
	if err != nil {
		return err
	}
	defer closeFn()
	l, err := ops.Lag(ctx, adm, *appID, subOf)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	fmt.Fprintf(stdout, "group %s: state %s, %d members\n", l.Group, l.State, l.Members)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
	for _, p := range l.Partitions {
		task, member := p.Task, p.Member
		if task == "" {
			task = "-"
		}
		if member == "" {
			member = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", task, p.Topic, p.Partition, p.Committed, p.End, p.Lag, member)
	}
	return tw.Flush()
}

func resetCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reset", stderr)
	brokers := fs.String("brokers", "", "seed brokers, comma-separated")
	appID := fs.String("application-id", "", "the application id")
	inputs := fs.String("input-topics", "", "input topics, comma-separated: their offsets are reset")
	inter := fs.String("intermediate-topics", "", "intermediate user topics, comma-separated: moved to their end")
	earliest := fs.Bool("to-earliest", false, "reset inputs to their earliest offsets (the default)")
	latest := fs.Bool("to-latest", false, "reset inputs to their latest offsets")
	dateTime := fs.String("to-datetime", "", "reset inputs to the first offset at or after this RFC 3339 time")
	shift := fs.Int64("shift-by", 0, "shift the inputs' committed offsets by this many (negative: back)")
	stateDir := fs.String("state-dir", "", "also delete the application's local state under this directory (kstreams.StateDir)")
	dry := fs.Bool("dry-run", false, "print what would be done and change nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec := ops.ResetSpec{AppID: *appID, InputTopics: splitList(*inputs), IntermediateTopics: splitList(*inter), DryRun: *dry}
	if *appID == "" {
		return errors.New("kstreams reset: -application-id is required")
	}
	modes := 0
	for _, on := range []bool{*earliest, *latest, *dateTime != "", *shift != 0} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return errors.New("kstreams reset: use one of -to-earliest, -to-latest, -to-datetime and -shift-by")
	}
	switch {
	case *latest:
		spec.Mode = ops.ToLatest
	case *dateTime != "":
		at, err := time.Parse(time.RFC3339Nano, *dateTime)
		if err != nil {
			return fmt.Errorf("kstreams reset: -to-datetime: %w", err)
		}
		spec.Mode, spec.Millis = ops.ToDateTime, at.UnixMilli()
	case *shift != 0:
		spec.Mode, spec.Shift = ops.ShiftBy, *shift
	}
	adm, closeFn, err := adminClient(*brokers)
	if err != nil {
		return err
	}
	defer closeFn()
	plan, err := ops.Reset(ctx, adm, spec)
	if err != nil {
		return err
	}
	printPlan(stdout, plan, *dry)
	if *stateDir == "" {
		return nil
	}
	if *dry {
		fmt.Fprintf(stdout, "would delete the local state of %s under %s\n", *appID, *stateDir)
		return nil
	}
	return cleanLocal(stdout, *stateDir, *appID)
}

func printPlan(w io.Writer, plan *ops.ResetPlan, dry bool) {
	verb := "reset"
	if dry {
		verb = "would reset"
	}
	for _, o := range plan.Offsets {
		fmt.Fprintf(w, "%s %s-%d: %d -> %d\n", verb, o.Topic, o.Partition, o.From, o.To)
	}
	verb = "deleted"
	if dry {
		verb = "would delete"
	}
	for _, t := range plan.DeleteTopics {
		fmt.Fprintf(w, "%s internal topic %s\n", verb, t)
	}
	if dry {
		fmt.Fprintln(w, "dry run: nothing changed")
	}
}

func cleanupCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cleanup", stderr)
	appID := fs.String("application-id", "", "the application id")
	stateDir := fs.String("state-dir", "", "the state directory the application runs with (kstreams.StateDir)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *appID == "" || *stateDir == "" {
		return errors.New("kstreams cleanup: -application-id and -state-dir are required")
	}
	return cleanLocal(stdout, *stateDir, *appID)
}

func cleanLocal(w io.Writer, stateDir, appID string) error {
	dir, err := ops.CleanLocalState(stateDir, appID)
	if err != nil {
		return err
	}
	if dir == "" {
		fmt.Fprintf(w, "no local state of %s under %s\n", appID, stateDir)
	} else {
		fmt.Fprintf(w, "deleted local state %s\n", dir)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

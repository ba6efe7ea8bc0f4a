package harness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Usage is the command's usage text.
const Usage = `usage: kstreams-harness <mode> [flags]

modes:
  generate  create the topics and produce the input (acks=all, idempotent),
            write its summary (-summary)
  app       run one instance of the test application until SIGTERM/SIGINT
  verify    read the outputs (read_committed) and verify them against the
            closed form of the input described by -summary
  run       drive a whole run: topics, -instances application processes of
            this same binary, the input, -kills SIGKILLs of instances and
            -broker-kills of brokers (through -cluster-script), verification

Run "kstreams-harness <mode> -h" for the flags of a mode.`

// ErrFailed is returned by [Command] when a verification fails; use
// errors.Is.
var ErrFailed = errors.New("kstreams: harness: verification failed")

// Command runs the command-line tool: args are the arguments after the
// program name, self the command that starts this tool again (for run's
// application processes).
func Command(ctx context.Context, args []string, self []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, Usage)
		return errors.New("kstreams: harness: no mode")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "comma-separated seed brokers")
	prefix := fs.String("prefix", "harness", "topic name prefix")
	appID := fs.String("app-id", "", "application id (default <prefix>-app)")
	guarantee := fs.String("guarantee", "alos", "processing guarantee: alos or eos")
	summary := fs.String("summary", "harness-summary.json", "the input's summary file (generate writes it, verify reads it)")
	def := DefaultSpec()
	spec := &def
	fs.IntVar(&spec.Keys, "keys", spec.Keys, "number of keys")
	fs.IntVar(&spec.Values, "values", spec.Values, "values per key: every integer of [0, values)")
	fs.IntVar(&spec.Shuffle, "shuffle", spec.Shuffle, "shuffle block size")
	fs.DurationVar(&spec.Window, "window", spec.Window, "windowed sum: window size")
	fs.DurationVar(&spec.Grace, "grace", spec.Grace, "windowed sum: grace period")
	partitions := fs.Int("partitions", 4, "partitions of the input and output topics")
	replication := fs.Int("replication", -1, "replication factor of the topics (-1: the broker's default)")
	rate := fs.Int("rate", 2000, "input records per second (0: unlimited)")
	stateDir := fs.String("state-dir", "", "app: state directory; run: root of the instances' state directories")
	instances := fs.Int("instances", 3, "run: application processes")
	kills := fs.Int("kills", 2, "run: instance SIGKILLs")
	brokerKills := fs.Int("broker-kills", 0, "run: broker SIGKILLs (needs -cluster-script)")
	clusterScript := fs.String("cluster-script", "", "run: scripts/kafka.sh, called as <script> cluster kill|restart N")
	clusterSize := fs.Int("cluster-size", 3, "run: brokers in the cluster")
	interval := fs.Duration("fault-interval", 3*time.Second, "run: mean time between faults")
	tolerate := fs.String("tolerate", "", "verify, run: comma-separated outputs whose problems are reported but do not fail (a known limitation)")
	timeout := fs.Duration("timeout", 2*time.Minute, "run: how long to wait for the outputs to verify")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	g, err := ParseGuarantee(*guarantee)
	if err != nil {
		return err
	}
	tol, err := tolerated(*tolerate)
	if err != nil {
		return err
	}
	if *appID == "" {
		*appID = *prefix + "-app"
	}
	topics := Topics{Prefix: *prefix}
	bs := strings.Split(*brokers, ",")
	switch args[0] {
	case "generate":
		adm, err := NewAdmin(bs)
		if err != nil {
			return err
		}
		defer adm.Close()
		if err := CreateTopics(ctx, adm, topics, int32(*partitions), int16(*replication)); err != nil {
			return err
		}
		sum, err := Generate(ctx, bs, topics.Input(), *spec, *rate)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "harness: generated %d records to %s\n", sum.Records, sum.Topic)
		return WriteSummary(*summary, sum)
	case "app":
		if *stateDir == "" {
			*stateDir = os.TempDir() + "/kstreams-harness-" + *appID
		}
		app, err := NewApp(AppConfig{Brokers: bs, Topics: topics, AppID: *appID, Guarantee: g, Spec: *spec, StateDir: *stateDir})
		if err != nil {
			return err
		}
		return app.Run(ctx)
	case "verify":
		sum, err := ReadSummary(*summary)
		if err != nil {
			return err
		}
		ds, err := Read(ctx, bs, topics, *appID, sum.Spec)
		if err != nil {
			return err
		}
		r := Verify(ds, g)
		for o, why := range tol {
			r.Tolerate(o, why)
		}
		return report(stdout, r)
	case "run":
		if *stateDir == "" {
			*stateDir, err = os.MkdirTemp("", "kstreams-harness-")
			if err != nil {
				return err
			}
		}
		r, err := Run(ctx, RunConfig{
			Brokers: bs, Topics: topics, AppID: *appID, Guarantee: g, Spec: *spec,
			Partitions: int32(*partitions), Replication: int16(*replication), Rate: *rate,
			Instances: *instances, AppCommand: self, StateRoot: *stateDir,
			InstanceKills: *kills, BrokerKills: *brokerKills, ClusterScript: *clusterScript, ClusterSize: *clusterSize,
			FaultInterval: *interval, Timeout: *timeout, Log: stderr, Tolerate: tol,
		})
		if err != nil {
			return err
		}
		return report(stdout, r)
	}
	fmt.Fprintln(stderr, Usage)
	return fmt.Errorf("kstreams: harness: unknown mode %q", args[0])
}

func tolerated(list string) (map[Output]string, error) {
	out := map[Output]string{}
	for _, o := range strings.Split(list, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !slices.Contains(Outputs, Output(o)) {
			return nil, fmt.Errorf("kstreams: harness: -tolerate: unknown output %q", o)
		}
		out[Output(o)] = "-tolerate"
	}
	return out, nil
}

func report(w io.Writer, r *Report) error {
	fmt.Fprint(w, r)
	if !r.OK() {
		return ErrFailed
	}
	return nil
}

package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// AppConfig configures one instance of the test application.
type AppConfig struct {
	Brokers   []string
	Topics    Topics
	AppID     string
	Guarantee Guarantee
	Spec      Spec // only the windows are used
	StateDir  string
	// CommitInterval; 0 means 100ms under exactly-once and 500ms under
	// at-least-once.
	CommitInterval time.Duration
}

// NewApp builds the test application as a kstreams App. Under exactly-once
// a build without exactly-once returns New's error.
func NewApp(c AppConfig) (*kstreams.App, error) {
	topo, err := Topology(c.Topics, c.Spec)
	if err != nil {
		return nil, err
	}
	g, commit := kstreams.AtLeastOnce, 500*time.Millisecond
	if c.Guarantee == ExactlyOnce {
		g, commit = kstreams.ExactlyOnce, 100*time.Millisecond
	}
	if c.CommitInterval > 0 {
		commit = c.CommitInterval
	}
	// KSTREAMS_HARNESS_CLIENT_LOG=info (or debug, warn) adds franz-go's
	// own lines at that level to the instances' logs, for debugging
	// (the default, 1<<20, is kstreams' "off").
	logLevel, clientLevel := slog.LevelWarn, slog.Level(1<<20)
	if l := os.Getenv("KSTREAMS_HARNESS_CLIENT_LOG"); l != "" {
		if err := clientLevel.UnmarshalText([]byte(l)); err != nil {
			return nil, fmt.Errorf("kstreams: harness: KSTREAMS_HARNESS_CLIENT_LOG: %w", err)
		}
		logLevel = min(logLevel, clientLevel)
	}
	return kstreams.New(topo,
		kstreams.ApplicationID(c.AppID),
		kstreams.Brokers(c.Brokers...),
		kstreams.ProcessingGuarantee(g),
		kstreams.CommitInterval(commit),
		kstreams.StateDir(c.StateDir),
		// Warnings to stderr: the driver keeps each instance's in its
		// state root (instance-N.log).
		kstreams.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))),
		kstreams.ClientLogLevel(clientLevel),
		kstreams.ClientOptions(
			kgo.SessionTimeout(6*time.Second),
			kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.RebalanceTimeout(10*time.Second),
			kgo.FetchMaxWait(200*time.Millisecond),
		))
}

// RunConfig configures a driven run: [Run].
type RunConfig struct {
	Brokers   []string
	Topics    Topics
	AppID     string
	Guarantee Guarantee
	Spec      Spec
	// Partitions and Replication of the input and output topics
	// (Replication -1: the broker's default).
	Partitions  int32
	Replication int16
	// Rate is the input's production rate, records per second.
	Rate int
	// Instances is how many application processes run (started in turn).
	Instances int
	// AppCommand starts one application process: the driver appends the
	// app mode's flags (see [AppArgs]).
	AppCommand []string
	// StateRoot holds each instance's state directory.
	StateRoot string
	// InstanceKills is how many times an instance is SIGKILLed (and
	// restarted); BrokerKills how many times a broker is (through
	// ClusterScript: "<script> cluster kill|restart N", brokers 1..Brokers).
	InstanceKills int
	BrokerKills   int
	ClusterScript string
	ClusterSize   int
	// FaultInterval is the mean time between two faults.
	FaultInterval time.Duration
	// Tolerate lists outputs whose problems are reported but do not fail
	// the run, each with its reason (a known limitation under repair).
	Tolerate map[Output]string
	// Timeout bounds the wait for the application to catch up and the
	// outputs to verify.
	Timeout time.Duration
	// Log receives progress lines.
	Log io.Writer
}

// AppArgs are the command-line arguments of the app mode for instance i.
func (c *RunConfig) AppArgs(i int) []string {
	return []string{"app",
		"-brokers", strings.Join(c.Brokers, ","),
		"-prefix", c.Topics.Prefix,
		"-app-id", c.AppID,
		"-guarantee", string(c.Guarantee),
		"-window", c.Spec.Window.String(),
		"-grace", c.Spec.Grace.String(),
		"-state-dir", filepath.Join(c.StateRoot, "instance-"+strconv.Itoa(i)),
	}
}

// instance is one application process.
type instance struct {
	i    int
	cmd  *exec.Cmd
	done chan struct{}
	out  *os.File
}

type driver struct {
	c         *RunConfig
	mu        sync.Mutex
	instances []*instance
	report    Report
}

func (d *driver) logf(format string, args ...any) {
	if d.c.Log != nil {
		fmt.Fprintf(d.c.Log, "harness: %s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
}

func (d *driver) start(i int) error {
	args := append(append([]string(nil), d.c.AppCommand[1:]...), d.c.AppArgs(i)...)
	cmd := exec.Command(d.c.AppCommand[0], args...)
	if err := os.MkdirAll(d.c.StateRoot, 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(d.c.StateRoot, fmt.Sprintf("instance-%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("kstreams: harness: starting instance %d: %w", i, err)
	}
	in := &instance{i: i, cmd: cmd, done: make(chan struct{}), out: out}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(in.done)
	}()
	d.mu.Lock()
	d.instances[i] = in
	d.mu.Unlock()
	d.logf("instance %d started (pid %d)", i, cmd.Process.Pid)
	return nil
}

// kill SIGKILLs instance i and waits for it to exit.
func (d *driver) kill(i int) {
	d.mu.Lock()
	in := d.instances[i]
	d.mu.Unlock()
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
	d.logf("instance %d killed (pid %d)", i, in.cmd.Process.Pid)
}

// stop TERMs every instance and waits for it (KILL after 30s).
func (d *driver) stop() {
	d.mu.Lock()
	ins := append([]*instance(nil), d.instances...)
	d.mu.Unlock()
	for _, in := range ins {
		if in != nil {
			_ = in.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, in := range ins {
		if in == nil {
			continue
		}
		select {
		case <-in.done:
		case <-time.After(30 * time.Second):
			_ = in.cmd.Process.Kill()
			<-in.done
		}
	}
}

// exited reports instances that exited on their own (a crash).
func (d *driver) exited() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []int
	for _, in := range d.instances {
		select {
		case <-in.done:
			out = append(out, in.i)
		default:
		}
	}
	return out
}

// Run drives a whole run: topics, application processes started in turn,
// the input produced at the configured rate while instances (and brokers)
// are killed and restarted at random, then a wait until the application has
// committed the whole input and its outputs verify (or the timeout), a
// clean stop of every instance and the final verification.
func Run(ctx context.Context, c RunConfig) (*Report, error) {
	if err := c.Spec.Validate(); err != nil {
		return nil, err
	}
	if c.Instances < 1 || len(c.AppCommand) == 0 {
		return nil, errors.New("kstreams: harness: Run needs Instances and an AppCommand")
	}
	d := &driver{c: &c, instances: make([]*instance, c.Instances)}
	adm, err := NewAdmin(c.Brokers)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	if err := CreateTopics(ctx, adm, c.Topics, c.Partitions, c.Replication); err != nil {
		return nil, err
	}
	defer d.stop()
	for i := range c.Instances {
		if err := d.start(i); err != nil {
			return nil, err
		}
		time.Sleep(time.Second)
	}
	genDone := make(chan error, 1)
	go func() {
		sum, err := Generate(ctx, c.Brokers, c.Topics.Input(), c.Spec, c.Rate)
		if err == nil {
			d.logf("generated %d records", sum.Records)
			if c.StateRoot != "" {
				err = WriteSummary(filepath.Join(c.StateRoot, "summary.json"), sum)
			}
		}
		genDone <- err
	}()
	if err := d.faults(ctx, adm, genDone); err != nil {
		return nil, err
	}
	if crashed := d.exited(); len(crashed) > 0 {
		return nil, fmt.Errorf("kstreams: harness: instances %v exited on their own (see their logs in %s)", crashed, c.StateRoot)
	}
	d.logf("waiting for the application to commit the input and for the outputs to verify")
	deadline := time.Now().Add(c.Timeout)
	d.waitCommitted(ctx, adm, deadline)
	for {
		ds, err := Read(ctx, c.Brokers, c.Topics, c.AppID, c.Spec)
		if err == nil && c.verify(ds).OK() {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.logf("the outputs do not verify after %v; stopping anyway", c.Timeout)
			break
		}
		time.Sleep(5 * time.Second)
	}
	d.stop()
	d.logf("instances stopped; verifying")
	ds, err := Read(ctx, c.Brokers, c.Topics, c.AppID, c.Spec)
	if err != nil {
		return nil, err
	}
	r := c.verify(ds)
	r.InstanceKills, r.BrokerKills, r.LeaderMoves = d.report.InstanceKills, d.report.BrokerKills, d.report.LeaderMoves
	return r, nil
}

func (c *RunConfig) verify(ds *Dataset) *Report {
	r := Verify(ds, c.Guarantee)
	for o, why := range c.Tolerate {
		r.Tolerate(o, why)
	}
	return r
}

// waitCommitted waits (until deadline) for the application's committed
// offsets to reach the end of the input: reading every output back is far
// dearer than asking for offsets.
func (d *driver) waitCommitted(ctx context.Context, adm *kadm.Client, deadline time.Time) {
	var behind []string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		ends, err := adm.ListEndOffsets(ctx, d.c.Topics.Input())
		offs, err2 := adm.FetchOffsets(ctx, d.c.AppID)
		if err = errors.Join(err, err2); err != nil {
			behind = []string{err.Error()}
		} else {
			behind = behind[:0]
			ends.Each(func(e kadm.ListedOffset) {
				if o, ok := offs.Lookup(e.Topic, e.Partition); e.Offset > 0 && (!ok || o.At < e.Offset) {
					behind = append(behind, fmt.Sprintf("%d: committed %d of %d", e.Partition, o.At, e.Offset))
				}
			})
			if len(behind) == 0 {
				return
			}
		}
		time.Sleep(time.Second)
	}
	d.logf("the input is not committed in full: %v", behind)
}

// waitStable waits (at most 30s) until the application's group is stable
// with every instance in it, so that a fault hits instances that own
// tasks rather than a rebalance.
func (d *driver) waitStable(ctx context.Context, adm *kadm.Client) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		gs, err := adm.DescribeGroups(ctx, d.c.AppID)
		if err == nil {
			if g, ok := gs[d.c.AppID]; ok && g.State == "Stable" && len(g.Members) == d.c.Instances {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.logf("the group is not stable with %d members after 30s; injecting the fault anyway", d.c.Instances)
}

// faults kills instances and brokers at random until the input is
// produced and both targets are reached.
func (d *driver) faults(ctx context.Context, adm *kadm.Client, genDone <-chan error) error {
	generating := true
	for generating || d.report.InstanceKills < d.c.InstanceKills || d.report.BrokerKills < d.c.BrokerKills {
		wait := time.Duration(float64(d.c.FaultInterval) * (0.5 + rand.Float64()))
		select {
		case err := <-genDone:
			if err != nil {
				return err
			}
			generating = false
			continue
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if crashed := d.exited(); len(crashed) > 0 {
			return fmt.Errorf("kstreams: harness: instances %v exited on their own (see their logs in %s)", crashed, d.c.StateRoot)
		}
		d.waitStable(ctx, adm)
		instancesLeft := d.c.InstanceKills - d.report.InstanceKills
		brokersLeft := d.c.BrokerKills - d.report.BrokerKills
		switch {
		case brokersLeft > 0 && (instancesLeft <= 0 || rand.IntN(instancesLeft+brokersLeft) < brokersLeft):
			if err := d.bounceBroker(ctx, adm); err != nil {
				return err
			}
		case instancesLeft > 0:
			i := rand.IntN(d.c.Instances)
			d.kill(i)
			d.report.InstanceKills++
			time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
			if err := d.start(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// bounceBroker SIGKILLs a broker (every other time the leader of the
// input's partition 0, so that its leadership moves), restarts it, and
// moves the leaders back to the preferred replicas.
func (d *driver) bounceBroker(ctx context.Context, adm *kadm.Client) error {
	n := 1 + rand.IntN(d.c.ClusterSize)
	if d.report.BrokerKills%2 == 0 {
		if md, err := adm.Metadata(ctx, d.c.Topics.Input()); err == nil {
			if p, ok := md.Topics[d.c.Topics.Input()].Partitions[0]; ok && p.Leader >= 1 && int(p.Leader) <= d.c.ClusterSize {
				n = int(p.Leader)
			}
		}
	}
	if err := d.cluster(ctx, "kill", n); err != nil {
		return err
	}
	d.report.BrokerKills++
	time.Sleep(time.Duration(2000+rand.IntN(3000)) * time.Millisecond)
	if err := d.cluster(ctx, "restart", n); err != nil {
		return err
	}
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil {
		d.logf("preferred leader election: %v", err)
		return nil
	}
	moved := 0
	for _, ps := range res {
		for _, r := range ps {
			if r.Err == nil {
				moved++
			}
		}
	}
	d.report.LeaderMoves += moved
	d.logf("preferred leader election moved %d partition leaders", moved)
	return nil
}

func (d *driver) cluster(ctx context.Context, verb string, n int) error {
	if d.c.ClusterScript == "" {
		return errors.New("kstreams: harness: broker faults need a cluster script")
	}
	d.logf("broker %d: %s", n, verb)
	out, err := exec.CommandContext(ctx, d.c.ClusterScript, "cluster", verb, strconv.Itoa(n)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kstreams: harness: %s cluster %s %d: %w\n%s", d.c.ClusterScript, verb, n, err, out)
	}
	return nil
}

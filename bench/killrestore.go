package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The kill-restore benchmark (-kill-restore; issue 13): restore after
// SIGKILL under exactly-once, kstreams against Kafka Streams. For each
// implementation it runs the count topology (bench/stateful.go's, with
// its output) exactly-once, on an input topic of its own: -kill-keys keys
// written once before the start, then, once the application has committed
// them all (every key is in the store), each key again at -kill-rate
// records/s, as a live stream.
//
//  1. The application starts on a fresh state directory; once its group
//     has committed 1.5 x keys inputs (half of the second pass) it is
//     SIGKILLed, mid-stream (a transaction open, the store ahead of its
//     last checkpoint).
//  2. The runner waits until the broker has expired the killed member (its
//     session timeout, 45 s on both sides), so that the restart joins an
//     empty group, then restarts it on the same state directory. The
//     figures: records restored and the time from starting the process to
//     the application being RUNNING (its tasks restored), and the CPU the
//     process spent until then.
//  3. For comparison, the same application starts on a fresh state
//     directory: a full restore of the changelog.
//
// Kafka Streams runs twice: with its defaults (kafka-streams;
// enable.transactional.statestores false: under exactly-once a store
// without a checkpoint, which a crash leaves, is wiped and restored from
// the changelog's start) and with transactional state stores
// (kafka-streams-txn; KIP-892, Kafka Streams 4.4). -kill-impls picks some.
//
// The worker writes a ready file (RunSpec.ReadyFile) when the application
// is RUNNING: killReady, as JSON. The runner polls for it.

// killRestoreWorkload is the worker key of the Go side.
const killRestoreWorkload = "kill-restore/" + implGo

func init() { workers[killRestoreWorkload] = runKillRestoreWorker }

// killReady is what a worker writes to its ready file once RUNNING.
type killReady struct {
	// ToRunningMS is from the worker's start (for Java: main, after the
	// JVM's start) to RUNNING.
	ToRunningMS int64 `json:"to_running_ms"`
	// Restored is the number of changelog records restored by then.
	Restored int64 `json:"restored"`
	// CPUMS is the process's CPU time by then.
	CPUMS int64 `json:"cpu_ms"`
}

// killImpl is an implementation the benchmark runs.
type killImpl struct {
	name string
	// start starts the application process.
	start func(ctx context.Context, spec RunSpec) (*process, error)
	// txnStores turns on Kafka Streams' transactional state stores.
	txnStores bool
}

// killResult is what one implementation measured.
type killResult struct {
	impl             string
	committedAtKill  int64
	afterKill, fresh restartFigures
}

// restartFigures are one start's figures.
type restartFigures struct {
	ready     killReady
	wall      time.Duration // from starting the process to seeing the ready file
	restored  int64         // by the time it stopped
	processCP float64       // CPU seconds of the whole process, to its clean stop
	// notes are the first lines of the process's log (stderr) saying how
	// it was configured or that state was found corrupted and wiped: why
	// a store was restored in full.
	notes []string
}

// runKillRestore runs the benchmark and prints its table.
func runKillRestore(ctx context.Context, f *flags, brokers []string, out io.Writer) error {
	env, closeEnv, err := newEnv(brokers)
	if err != nil {
		return err
	}
	defer closeEnv()
	env.Partitions, env.Client, env.Timeout, env.Keep, env.Settle = f.partitions, f.clientFor(guaranteeEOS), f.timeout, f.keep, f.settle
	impls := []killImpl{{name: implGo, start: func(ctx context.Context, spec RunSpec) (*process, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		return startProcess(exec.CommandContext(ctx, exe, "-worker"), spec)
	}}}
	if f.java && javaNote == "" {
		dir, err := javaDir()
		if err != nil {
			return err
		}
		cp, err := javaClasspath(dir)
		if err != nil {
			return err
		}
		start := func(ctx context.Context, spec RunSpec) (*process, error) {
			r, err := startJava(ctx, cp, spec)
			if err != nil {
				return nil, err
			}
			return r.(*process), nil
		}
		impls = append(impls, killImpl{name: implJava, start: start}, killImpl{name: implJava + "-txn", start: start, txnStores: true})
	}
	if f.killImpls != "" {
		var picked []killImpl
		for _, impl := range impls {
			if slices.Contains(strings.Split(f.killImpls, ","), impl.name) {
				picked = append(picked, impl)
			}
		}
		impls = picked
	}
	keys := f.killKeys
	fmt.Fprintf(out, "kill-restore: %d keys, each written once before the start, then again at %d records/s; %d partitions, %s, commit interval %v; killed once %d inputs are committed\n",
		keys, f.killRate, f.partitions, guaranteeEOS, env.Client.CommitInterval, killAt(keys))
	fmt.Fprintf(out, "machine: %s, load average %s\n", cpuModel(), loadAverage())
	var results []killResult
	for i, impl := range impls {
		r, err := env.killRestore(ctx, impl, fmt.Sprintf("%d", i), keys, f.killRate, f.verbose, out)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	printKillRestore(out, results)
	return nil
}

// killAt is the number of committed inputs at which the first run is
// killed: three quarters of the input.
func killAt(keys int64) int64 { return keys * 3 / 2 }

// killRestore runs the three starts of one implementation, on an input of
// its own: keys records (each key once) before the start, then each key
// again at rate records/s once they are all committed.
func (env *Env) killRestore(ctx context.Context, impl killImpl, tag string, keys, rate int64, verbose bool, out io.Writer) (killResult, error) {
	name := fmt.Sprintf("bench-%s-kill-%s", env.RunID, tag)
	spec := RunSpec{
		Workload: "kill-restore/" + implJava, Brokers: env.Brokers, Input: name + "-input", Output: name + "-output",
		AppID: name, Records: 2 * keys, Partitions: env.Partitions, StateDir: filepath.Join(env.TmpDir, name),
		Client: env.Client, TransactionalStores: impl.txnStores,
	}
	if impl.name == implGo {
		spec.Workload = killRestoreWorkload
	}
	defer env.cleanup(spec)
	res := killResult{impl: impl.name}
	for _, topic := range []string{spec.Input, spec.Output} {
		if err := env.createTopic(ctx, topic, nil); err != nil {
			return res, err
		}
	}
	record := func(i int64) *kgo.Record {
		return &kgo.Record{Topic: spec.Input, Key: fmt.Appendf(nil, "key-%07d", i%keys), Value: binary.BigEndian.AppendUint64(nil, uint64(i))}
	}
	if err := env.produceAll(ctx, spec.Input, keys, record); err != nil {
		return res, fmt.Errorf("kill-restore: writing the input: %w", err)
	}
	var err error
	if res.committedAtKill, err = env.startAndKill(ctx, impl, spec, keys, func(ctx context.Context) error {
		return env.produceAt(ctx, rate, keys, 2*keys, record)
	}); err != nil {
		return res, err
	}
	if err := env.waitGroupEmpty(ctx, spec.AppID); err != nil {
		return res, err
	}
	if res.afterKill, err = env.startUntilRunning(ctx, impl, spec, "restart"); err != nil {
		return res, err
	}
	if err := env.waitGroupEmpty(ctx, spec.AppID); err != nil {
		return res, err
	}
	fresh := spec
	fresh.StateDir += "-fresh"
	defer os.RemoveAll(fresh.StateDir)
	if res.fresh, err = env.startUntilRunning(ctx, impl, fresh, "fresh"); err != nil {
		return res, err
	}
	if verbose {
		fmt.Fprintf(out, "%s: committed at kill %d; after kill: %+v; fresh: %+v\n", impl.name, res.committedAtKill, res.afterKill.ready, res.fresh.ready)
		for _, l := range res.afterKill.notes {
			fmt.Fprintf(out, "  restart log: %s\n", l)
		}
	}
	return res, nil
}

// startAndKill starts the application, runs feed once its group has
// committed keys inputs, and SIGKILLs it once the group has committed
// killAt(keys); it returns the inputs committed then.
func (env *Env) startAndKill(ctx context.Context, impl killImpl, spec RunSpec, keys int64, feed func(context.Context) error) (int64, error) {
	p, err := impl.start(ctx, spec)
	if err != nil {
		return 0, err
	}
	at := killAt(keys)
	fctx, stopFeed := context.WithCancel(ctx)
	fed := make(chan error, 1)
	feeding := false
	defer func() {
		stopFeed()
		if feeding {
			<-fed
		}
	}()
	deadline := time.Now().Add(env.Timeout)
	for {
		select {
		case <-p.Done():
			_, err := p.result()
			return 0, fmt.Errorf("kill-restore: %s exited before it was killed: %v", impl.name, err)
		case <-ctx.Done():
			_ = p.cmd.Process.Kill()
			<-p.Done()
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		n, err := env.committedInputs(ctx, spec)
		if err != nil {
			return 0, err
		}
		if n >= keys && !feeding {
			feeding = true
			go func() { fed <- feed(fctx) }()
		}
		if n >= at || time.Now().After(deadline) {
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				return 0, err
			}
			<-p.Done()
			if n < at {
				return n, fmt.Errorf("kill-restore: %s committed %d of %d inputs in %v", impl.name, n, at, env.Timeout)
			}
			return env.committedInputs(ctx, spec)
		}
	}
}

// produceAt writes the records from to to (record(i)) at rate records/s,
// until done or ctx is cancelled.
func (env *Env) produceAt(ctx context.Context, rate, from, to int64, record func(int64) *kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.Brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	for i := from; i < to; {
		due := from + int64(time.Since(start).Seconds()*float64(rate))
		for ; i < min(due, to); i++ {
			cl.Produce(ctx, record(i), nil)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	return cl.Flush(ctx)
}

// committedInputs returns the input offsets the run's group committed, summed.
func (env *Env) committedInputs(ctx context.Context, spec RunSpec) (int64, error) {
	com, err := env.Admin.FetchOffsets(ctx, spec.AppID)
	if err != nil {
		return 0, fmt.Errorf("kill-restore: committed offsets of %s: %w", spec.AppID, err)
	}
	var n int64
	for p := range int32(spec.Partitions) {
		if o, ok := com.Lookup(spec.Input, p); ok && o.Err == nil {
			n += o.At
		}
	}
	return n, nil
}

// waitGroupEmpty waits until the group has no member: the broker expired
// the killed one (session timeout) or the stopped one left.
func (env *Env) waitGroupEmpty(ctx context.Context, group string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		gs, err := env.Admin.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		g, ok := gs[group]
		if !ok || g.Err == nil && len(g.Members) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("kill-restore: group %s still has members after 2 minutes", group)
}

// startUntilRunning starts the application with a ready file, waits for
// it, then stops the application cleanly.
func (env *Env) startUntilRunning(ctx context.Context, impl killImpl, spec RunSpec, what string) (restartFigures, error) {
	var fig restartFigures
	spec.ReadyFile = filepath.Join(env.TmpDir, spec.AppID+"-"+what+".ready")
	start := time.Now()
	p, err := impl.start(ctx, spec)
	if err != nil {
		return fig, err
	}
	deadline := start.Add(env.Timeout)
	for {
		b, err := os.ReadFile(spec.ReadyFile)
		if err == nil && json.Unmarshal(b, &fig.ready) == nil {
			fig.wall = time.Since(start)
			break
		}
		select {
		case <-p.Done():
			_, err := p.result()
			return fig, fmt.Errorf("kill-restore: %s (%s) exited before RUNNING: %v", impl.name, what, err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			<-p.Done()
			return fig, fmt.Errorf("kill-restore: %s (%s) not RUNNING in %v", impl.name, what, env.Timeout)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := p.Stop(sctx)
	if err != nil {
		return fig, err
	}
	fig.restored, fig.processCP = res.Stats["restored"], res.CPUSeconds
	for line := range strings.SplitSeq(p.stderr.String(), "\n") {
		l := strings.ToLower(line)
		if len(fig.notes) < 4 && (strings.HasPrefix(l, "kill-restore:") || strings.Contains(l, "did not find checkpoint") || strings.Contains(l, "wiping") || strings.Contains(l, "detected the states")) {
			fig.notes = append(fig.notes, line[:min(len(line), 400)])
		}
	}
	return fig, nil
}

func printKillRestore(w io.Writer, rs []killResult) {
	rows := [][]string{{"impl", "committed at kill", "restored after kill", "to RUNNING", "CPU to RUNNING",
		"fresh dir: restored", "to RUNNING", "CPU to RUNNING", "restored / fresh"}}
	for _, r := range rs {
		ratio := "-"
		if r.fresh.ready.Restored > 0 {
			ratio = fmt.Sprintf("%.4f", float64(r.afterKill.ready.Restored)/float64(r.fresh.ready.Restored))
		}
		rows = append(rows, []string{r.impl, thousands(float64(r.committedAtKill)),
			thousands(float64(r.afterKill.ready.Restored)), seconds(r.afterKill.wall), cpuSeconds(r.afterKill.ready.CPUMS),
			thousands(float64(r.fresh.ready.Restored)), seconds(r.fresh.wall), cpuSeconds(r.fresh.ready.CPUMS), ratio})
	}
	fmt.Fprintln(w)
	writeColumns(w, rows, 1)
	fmt.Fprintln(w, "to RUNNING: from starting the process (the JVM's too) to the application RUNNING, its stores restored;")
	fmt.Fprintln(w, "CPU to RUNNING: the process's CPU time by then; restored: changelog records restored by then.")
}

func cpuSeconds(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', 2, 64) + "s" }

// runKillRestoreWorker is the Go application: the count topology
// exactly-once; with a ready file, it writes killReady there once RUNNING.
func runKillRestoreWorker(ctx context.Context, spec RunSpec) (map[string]int64, error) {
	start := time.Now()
	topo, err := countTopology(spec.Input, spec.Output)
	if err != nil {
		return nil, err
	}
	opts, err := appOptions(spec, kstreams.CacheMaxBytes(0))
	if err != nil {
		return nil, err
	}
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		return nil, err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	var readyErr error
	if spec.ReadyFile != "" {
		readyErr = waitRunning(ctx, app, runErr, start, spec.ReadyFile)
	}
	err = <-runErr
	stats := appStats(app.Metrics())
	if errors.Is(err, kstreams.ErrCloseIncomplete) {
		// Stopped right after RUNNING, mid-stream: the last transaction
		// may not commit (its records are processed again by the next
		// owner). The figures are taken before.
		stats["close_incomplete"], err = 1, nil
	}
	return stats, errors.Join(readyErr, err)
}

// waitRunning writes the ready file once app is RUNNING.
func waitRunning(ctx context.Context, app *kstreams.App, runErr chan error, start time.Time, path string) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for app.State() != kstreams.Running {
		select {
		case err := <-runErr:
			runErr <- err
			return errors.New("kill-restore: stopped before RUNNING")
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	ready := killReady{ToRunningMS: time.Since(start).Milliseconds(), Restored: app.Metrics().Restored, CPUMS: selfCPU().Milliseconds()}
	b, err := json.Marshal(ready)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

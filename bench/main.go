// Command bench measures kstreams applications against the ceiling of the
// broker they run on, side by side in one run.
//
//	go run ./bench -brokers 127.0.0.1:19092 -records 1000000
//
// It preloads -records records (1 KiB values, 10,000 distinct keys) into a
// fresh input topic, then runs each workload -repeat times, every run with a
// fresh application id and a fresh output topic, in a process of its own,
// and prints one table: records/s from start to the last output, time to
// the first output, CPU time and peak RSS of the application, and the ratio
// to the ceiling. See README.md for the workloads and results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kstreams-go/kstreams/embedded"
)

type flags struct {
	brokers    string
	records    int64
	restore    int64
	partitions int
	workloads  string
	repeat     int
	warmup     int
	embedded   bool
	client     ClientConfig
	timeout    time.Duration
	settle     time.Duration
	memtable   uint64
	cpuProfile string
	keep       bool
	list       bool
	verbose    bool
	worker     bool
	java       bool
	registry   string
	guarantee  string
	queries    bool
	query      queryFlags
	// killRestore runs the kill-restore benchmark over killKeys keys.
	killRestore bool
	killKeys    int64
	killRate    int64
	killImpls   string
	// commitSet is true when -commit-interval was given.
	commitSet bool
}

func parseFlags(args []string) (*flags, error) {
	f := &flags{client: defaultClientConfig()}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&f.brokers, "brokers", "127.0.0.1:19092", "seed brokers, comma-separated")
	fs.Int64Var(&f.records, "records", 10_000_000, "input records to preload (1 KiB values, 10,000 distinct keys); -records 1000000 for a quick run")
	fs.Int64Var(&f.restore, "restore-records", restoreRecords, "changelog records the restore workload restores")
	fs.IntVar(&f.partitions, "partitions", 4, "partitions of the input and output topics")
	fs.StringVar(&f.workloads, "workloads", "all", "workloads to run, comma-separated: name or name/impl (see -list); their ceilings are added")
	fs.IntVar(&f.repeat, "repeat", 1, "runs per workload, interleaved; the table reports the median run")
	fs.IntVar(&f.warmup, "warmup", 1, "unreported rounds of every workload before the measured ones (a fresh broker's JIT and page cache)")
	fs.BoolVar(&f.embedded, "embedded", false, "run on an in-process embedded broker (kfake) instead of -brokers: a quick smoke run, not a measurement")
	fs.DurationVar(&f.client.Linger, "linger", f.client.Linger, "producer linger of every application")
	fs.StringVar(&f.client.Compression, "compression", f.client.Compression, "producer compression of every application: none, gzip, snappy, lz4, zstd")
	fs.DurationVar(&f.client.CommitInterval, "commit-interval", f.client.CommitInterval, "commit interval of every application")
	fs.IntVar(&f.client.MaxPollRecords, "max-poll-records", f.client.MaxPollRecords, "max records per poll of every application")
	fs.StringVar(&f.client.Metrics, "metrics", "off", "kstreams apps' metrics: off, info or debug (recording level, with /metrics scraped every second)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "bound on one run")
	fs.DurationVar(&f.settle, "settle", 2*time.Second, "pause after each run's topics are deleted, so the broker removes their files between runs")
	fs.Uint64Var(&f.memtable, "memtable", 0, "Pebble memtable size in bytes of the Go workers' stores (0: kstreams' default)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of every Go application run to `file` with the run's name inserted before the extension")
	fs.BoolVar(&f.keep, "keep", false, "keep the topics and groups on the broker")
	fs.BoolVar(&f.list, "list", false, "list the workloads and exit")
	fs.BoolVar(&f.verbose, "v", false, "print each run and the applications' counters")
	fs.BoolVar(&f.java, "java", false, "also run the Java Kafka Streams implementations (kafka-streams rows; builds bench/java with mvn once)")
	fs.StringVar(&f.registry, "registry", "", "base `URL` of a Confluent-compatible schema registry: adds the filter-map-avro workload (scripts/registry.sh starts one)")
	fs.StringVar(&f.guarantee, "guarantee", guaranteeALOS, "processing guarantee of the streams apps: at_least_once, exactly_once_v2, or both (each workload under each, with their ratio); exactly-once commits every 100ms unless -commit-interval is given")
	fs.BoolVar(&f.queries, "queries", false, "run the interactive-query benchmark (key lookups through the query HTTP server, local and forwarded) instead of the workloads")
	fs.IntVar(&f.query.keys, "query-keys", 10000, "keys of the query benchmark")
	fs.DurationVar(&f.query.duration, "query-duration", 10*time.Second, "how long each mode of the query benchmark looks keys up")
	fs.IntVar(&f.query.clients, "query-clients", 8, "concurrent HTTP clients of the query benchmark")
	fs.IntVar(&f.query.instances, "query-instances", 2, "application instances of the query benchmark")
	fs.IntVar(&f.query.rate, "query-rate", 2000, "input records/s produced while the query benchmark looks keys up")
	fs.BoolVar(&f.killRestore, "kill-restore", false, "run the restore-after-SIGKILL benchmark under exactly-once (killrestore.go) instead of the workloads; with -java, Kafka Streams too")
	fs.Int64Var(&f.killKeys, "kill-keys", 100_000, "keys of the kill-restore benchmark: each written once before the start, then again at -kill-rate")
	fs.StringVar(&f.killImpls, "kill-impls", "", "implementations of the kill-restore benchmark, comma-separated: kstreams, kafka-streams, kafka-streams-txn (transactional state stores); all by default")
	fs.Int64Var(&f.killRate, "kill-rate", 5000, "records/s of the kill-restore benchmark's second pass over the keys, during which the application is killed")
	fs.BoolVar(&f.worker, "worker", false, "internal: run one application, its spec read from stdin")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "commit-interval" {
			f.commitSet = true
		}
	})
	var errs []error
	if f.records < 1 {
		errs = append(errs, fmt.Errorf("-records %d: need at least 1", f.records))
	}
	if f.restore < 1 {
		errs = append(errs, fmt.Errorf("-restore-records %d: need at least 1", f.restore))
	}
	if f.partitions < 1 {
		errs = append(errs, fmt.Errorf("-partitions %d: need at least 1", f.partitions))
	}
	if f.repeat < 1 {
		errs = append(errs, fmt.Errorf("-repeat %d: need at least 1", f.repeat))
	}
	if f.warmup < 0 {
		errs = append(errs, fmt.Errorf("-warmup %d: must not be negative", f.warmup))
	}
	if m := f.client.Metrics; m != "off" && m != "info" && m != "debug" {
		errs = append(errs, fmt.Errorf("-metrics %q: use off, info or debug", m))
	}
	if f.client.CommitInterval <= 0 {
		errs = append(errs, fmt.Errorf("-commit-interval %v: must be positive", f.client.CommitInterval))
	}
	if g := f.guarantee; g != guaranteeALOS && g != guaranteeEOS && g != "both" {
		errs = append(errs, fmt.Errorf("-guarantee %q: use at_least_once, exactly_once_v2 or both", g))
	}
	if f.query.keys < 1 || f.query.clients < 1 || f.query.instances < 2 || f.query.duration <= 0 {
		errs = append(errs, fmt.Errorf("-query-keys, -query-clients and -query-duration must be positive, -query-instances at least 2"))
	}
	if f.killKeys < 1 || f.killRate < 1 {
		errs = append(errs, fmt.Errorf("-kill-keys %d, -kill-rate %d: need at least 1", f.killKeys, f.killRate))
	}
	if f.client.MaxPollRecords < 1 {
		errs = append(errs, fmt.Errorf("-max-poll-records %d: need at least 1", f.client.MaxPollRecords))
	}
	if _, err := f.client.codec(); err != nil {
		errs = append(errs, err)
	}
	return f, errors.Join(errs...)
}

func main() {
	f, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if f.worker {
		os.Exit(workerMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.registry != "" {
		registerAvro()
	}
	if f.java {
		if err := setupJava(ctx, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bench: kafka-streams (Java) workloads skipped:", err)
		}
	}
	if f.list {
		for _, w := range registry {
			fmt.Printf("%-24s %s\n", w.Key(), w.About)
		}
		if javaNote != "" {
			fmt.Println(javaNote)
		}
		return
	}
	if err := run(ctx, f, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f *flags, out io.Writer) error {
	ws, err := selectWorkloads(f.workloads)
	if err != nil {
		return err
	}

	for _, w := range ws {
		if w.Name == restoreWorkload.Name {
			w.Records = f.restore
		}
	}
	brokers := strings.Split(f.brokers, ",")
	if f.embedded {
		b, err := embedded.Start(embedded.Options{Partitions: f.partitions})
		if err != nil {
			return err
		}
		defer b.Close()
		brokers = b.Addrs()
	}
	if f.queries {
		return runQueries(ctx, f, brokers, out)
	}
	if f.killRestore {
		return runKillRestore(ctx, f, brokers, out)
	}
	env, closeEnv, err := newEnv(brokers)
	if err != nil {
		return err
	}
	defer closeEnv()
	env.Records, env.Partitions, env.Client = f.records, f.partitions, f.client
	env.Timeout, env.CPUProfile, env.Keep = f.timeout, f.cpuProfile, f.keep
	env.Settle, env.MemTable, env.Registry = f.settle, f.memtable, f.registry

	printSetup(out, f, brokers)
	if f.verbose && javaNote != "" {
		fmt.Fprintln(out, javaNote)
	}
	took, err := env.preload(ctx)
	if err != nil {
		return err
	}
	if !f.keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = env.Admin.DeleteTopics(dctx, env.Input, avroInputTopic(env.Input))
		}()
	}
	fmt.Fprintf(out, "preloaded %d records into %s in %.2fs (%s records/s)\n\n",
		f.records, env.Input, took.Seconds(), thousands(float64(f.records)/took.Seconds()))

	byGuarantee := map[string][]Summary{}
	for _, g := range f.guarantees() {
		env.Client = f.clientFor(g)
		if len(f.guarantees()) > 1 {
			fmt.Fprintf(out, "== %s (commit interval %v)\n", g, env.Client.CommitInterval)
		}
		var ms []Measurement
		for round := range f.warmup + f.repeat {
			name := strconv.Itoa(round - f.warmup + 1)
			if round < f.warmup {
				name = "warmup" + strconv.Itoa(round+1)
			}
			if g == guaranteeEOS {
				name = "eos" + name
			}
			for _, w := range ws {
				m, err := env.measure(ctx, w, name)
				if err != nil {
					return err
				}
				if f.verbose {
					fmt.Fprintf(out, "run %-8s %-22s %10s records/s  first out %s  CPU %.1fs  %v\n", name, w.Key(),
						thousands(m.Rate()), seconds(m.FirstOutput), m.App.CPUSeconds, m.App.Stats)
				}
				if round >= f.warmup {
					ms = append(ms, m)
				}
			}
		}
		if f.verbose {
			fmt.Fprintln(out)
		}
		byGuarantee[g] = summarize(ws, ms)
		printTable(out, byGuarantee[g], f.repeat)
		fmt.Fprintln(out)
	}
	if alos, eos := byGuarantee[guaranteeALOS], byGuarantee[guaranteeEOS]; alos != nil && eos != nil {
		printGuaranteeRatios(out, alos, eos)
	}
	return nil
}

// guarantees returns the processing guarantees to measure, in order.
func (f *flags) guarantees() []string {
	if f.guarantee == "both" {
		return []string{guaranteeALOS, guaranteeEOS}
	}
	return []string{f.guarantee}
}

// clientFor returns the client settings of the runs under guarantee g:
// exactly-once commits every 100ms unless -commit-interval says otherwise.
func (f *flags) clientFor(g string) ClientConfig {
	c := f.client
	c.Guarantee = g
	if g == guaranteeEOS && !f.commitSet {
		c.CommitInterval = eosCommitInterval
	}
	return c
}

func printSetup(out io.Writer, f *flags, brokers []string) {
	broker := strings.Join(brokers, ",")
	if f.embedded {
		broker += " (embedded kfake: a smoke run, not a measurement)"
	}
	c := f.clientFor(f.guarantees()[0])
	fmt.Fprintf(out, "processing guarantee %s\n", f.guarantee)
	fmt.Fprintf(out, "broker %s; %d records of %d B values, %d keys, %d partitions; %d warm-up + %d measured runs per workload (median reported)\n",
		broker, f.records, valueSize, distinctKeys, f.partitions, f.warmup, f.repeat)
	fmt.Fprintf(out, "clients: linger %v, batch max %d B, compression %s, fetch max %d B (%d B/partition, wait %v), max poll %d, commit interval %v, kstreams metrics %s\n",
		c.Linger, c.BatchMaxBytes, c.Compression, c.FetchMaxBytes, c.FetchMaxPartitionBytes, c.FetchMaxWait, c.MaxPollRecords, c.CommitInterval, c.Metrics)
	fmt.Fprintf(out, "machine: %s, %d CPUs, %s %s/%s, load average %s\n", cpuModel(), goruntime.NumCPU(),
		goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, loadAverage())
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAverage returns the 1, 5 and 15 minute load averages: on a shared
// machine, what else was running.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

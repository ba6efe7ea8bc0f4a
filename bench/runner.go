package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The preloaded input: 1 KiB values, keys "key-00000" to "key-09999".
const (
	valueSize    = 1024
	distinctKeys = 10000
	keyPrefix    = "key-"
	// distinctValues is how many different value payloads the input uses;
	// they are random, so they do not compress.
	distinctValues = 64
	// pollEvery is how often the runner reads the output topic's end
	// offsets: the resolution of the timings.
	pollEvery = 10 * time.Millisecond
)

// Env is what the runs of one bench invocation share.
type Env struct {
	Brokers    []string
	Admin      *kadm.Client
	Records    int64
	Partitions int
	Client     ClientConfig
	// RunID makes this invocation's topic and group names unique on a
	// shared broker.
	RunID string
	// Input is the preloaded topic.
	Input string
	// Timeout bounds one run.
	Timeout time.Duration
	// CPUProfile is the path prefix of worker CPU profiles; "" for none.
	CPUProfile string
	// Keep leaves topics and groups on the broker.
	Keep bool
	// TmpDir holds the runs' state directories.
	TmpDir string
	// Settle is the pause after deleting a run's topics, so the broker
	// deletes their files (file.delete.delay.ms) before the next run
	// starts instead of during its first seconds.
	Settle time.Duration
	// MemTable, if not 0, is the Pebble memtable size of the Go workers.
	MemTable uint64
	// Registry is the schema registry of filter-map-avro; "" for none.
	Registry string
}

func newEnv(brokers []string) (*Env, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: admin client: %w", err)
	}
	tmp, err := os.MkdirTemp("", "kstreams-bench-")
	if err != nil {
		cl.Close()
		return nil, nil, fmt.Errorf("bench: temp dir: %w", err)
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	env := &Env{Brokers: brokers, Admin: kadm.NewClient(cl), RunID: hex.EncodeToString(b[:]), TmpDir: tmp}
	env.Input = "bench-" + env.RunID + "-input"
	return env, func() { cl.Close(); os.RemoveAll(tmp) }, nil
}

// createTopic creates topic with the run's partition count and configs and
// waits until the broker's metadata lists all its partitions.
func (env *Env) createTopic(ctx context.Context, topic string, configs map[string]*string) error {
	resp, err := env.Admin.CreateTopic(ctx, int32(env.Partitions), 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("bench: creating topic %s: %w", topic, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := env.Admin.Metadata(ctx, topic)
		if err == nil {
			if td, ok := md.Topics[topic]; ok && td.Err == nil && len(td.Partitions) == env.Partitions {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: topic %s did not appear in the metadata within 30s", topic)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// endOffsets returns the sum of topic's end offsets: with no transactions,
// the number of records written to it.
func (env *Env) endOffsets(ctx context.Context, topic string) (int64, error) {
	offs, err := env.Admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("bench: end offsets of %s: %w", topic, err)
	}
	var sum int64
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			sum += o.Offset
		}
	})
	return sum, nil
}

// preload writes Records input records with an idempotent producer (the
// franz-go default) that batches as much as it can. It returns the time
// taken.
//
// The input is compacted, as the source of a table should be (table-reduce
// reads it as one), but nothing is compacted away during a bench:
// min.compaction.lag.ms keeps every record for a day, so every workload
// reads all Records records.
func (env *Env) preload(ctx context.Context) (time.Duration, error) {
	compact, day := "compact", strconv.Itoa(24*3600*1000)
	configs := map[string]*string{"cleanup.policy": &compact, "min.compaction.lag.ms": &day}
	if err := env.createTopic(ctx, env.Input, configs); err != nil {
		return 0, err
	}
	keys, values := inputData()
	start := time.Now()
	err := env.produceAll(ctx, env.Input, env.Records, func(i int64) *kgo.Record {
		return &kgo.Record{Key: keys[i%distinctKeys], Value: values[i%distinctValues]}
	})
	if err != nil {
		return 0, fmt.Errorf("bench: preload: %w", err)
	}
	return time.Since(start), nil
}

// produceAll writes n records, record(i) for i from 0, to topic with an
// idempotent producer that batches as much as it can and partitions by key
// (murmur2, as Kafka's default), then checks that topic holds n records.
func (env *Env) produceAll(ctx context.Context, topic string, n int64, record func(i int64) *kgo.Record) error {
	opts, err := env.Client.producerOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.SeedBrokers(env.Brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(20*time.Millisecond),
		kgo.MaxBufferedRecords(100000),
	)...)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer cl.Close()
	var failed atomic.Pointer[error]
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	for i := range n {
		if failed.Load() != nil || ctx.Err() != nil {
			break
		}
		cl.Produce(ctx, record(i), promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if p := failed.Load(); p != nil {
		return *p
	}
	got, err := env.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%s holds %d records, want %d", topic, got, n)
	}
	return nil
}

// inputData returns the keys, in the order they are written (each of the
// distinctKeys keys once per distinctKeys records, scattered), and the
// value payloads.
func inputData() (keys, values [][]byte) {
	keys = make([][]byte, distinctKeys)
	for i := range keys {
		// 7919 is prime and does not divide 10000: a permutation.
		keys[i] = fmt.Appendf(nil, "%s%05d", keyPrefix, (i*7919)%distinctKeys)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	values = make([][]byte, distinctValues)
	for i := range values {
		values[i] = make([]byte, valueSize)
		for j := range values[i] {
			values[i][j] = byte(rng.Uint32())
		}
	}
	return keys, values
}

// Measurement is one run of one workload.
type Measurement struct {
	Workload *Workload
	// Records is the number of records the run processed.
	Records int64
	// Outputs is the number of output records waited for.
	Outputs int64
	// Elapsed is from starting the application to seeing the last output.
	Elapsed time.Duration
	// FirstOutput is from starting the application to seeing an output.
	FirstOutput time.Duration
	App         AppResult
}

// Rate is processed records per second.
func (m Measurement) Rate() float64 { return float64(m.Records) / m.Elapsed.Seconds() }

// spec returns the run spec of the run of w named run, with fresh names.
func (env *Env) spec(w *Workload, run string) RunSpec {
	name := fmt.Sprintf("bench-%s-%s-%s-%s", env.RunID, w.Name, w.Impl, run)
	spec := RunSpec{
		Workload: w.Key(), Brokers: env.Brokers, Input: env.Input, Output: name + "-output",
		AppID: name, Records: w.records(env.Records), Partitions: env.Partitions,
		StateDir: filepath.Join(env.TmpDir, name), Client: env.Client, MemTable: env.MemTable,
	}
	if env.CPUProfile != "" {
		spec.CPUProfile = profilePath(env.CPUProfile, fmt.Sprintf("%s-%s-%s", w.Name, w.Impl, run))
	}
	return spec
}

// profilePath inserts what before the extension of prefix: cpu.pprof ->
// cpu-filter-map-kstreams-1.pprof.
func profilePath(prefix, what string) string {
	ext := filepath.Ext(prefix)
	if ext == "" {
		ext = ".pprof"
	}
	return strings.TrimSuffix(prefix, filepath.Ext(prefix)) + "-" + what + ext
}

// measure runs w once; run names the run ("1", "warmup1").
func (env *Env) measure(ctx context.Context, w *Workload, run string) (Measurement, error) {
	spec := env.spec(w, run)
	m := Measurement{Workload: w, Records: spec.Records, Outputs: w.outputs(spec.Records)}
	if err := env.createTopic(ctx, spec.Output, nil); err != nil {
		return m, err
	}
	defer env.cleanup(spec)
	if w.Setup != nil {
		if err := w.Setup(ctx, env, &spec); err != nil {
			return m, fmt.Errorf("bench: %s: setup: %w", w.Key(), err)
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	start := time.Now()
	app, err := w.Start(runCtx, spec)
	if err != nil {
		return m, err
	}
	err = env.waitOutputs(runCtx, app, spec, start, &m)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Minute)
	defer stopCancel()
	res, stopErr := app.Stop(stopCtx)
	m.App = res
	if err != nil {
		return m, errors.Join(err, stopErr)
	}
	return m, stopErr
}

// waitOutputs polls the output topic's end offsets until m.Outputs records
// are there (under exactly-once, until the application has committed
// everything: eosCaughtUp), and sets the timings.
func (env *Env) waitOutputs(ctx context.Context, app Running, spec RunSpec, start time.Time, m *Measurement) error {
	output := spec.Output
	eos := spec.Client.exactlyOnce() && !m.Workload.Marker
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-app.Done():
			return fmt.Errorf("bench: %s exited before writing %d records", m.Workload.Key(), m.Outputs)
		case <-ctx.Done():
			n, _ := env.endOffsets(context.Background(), output)
			return fmt.Errorf("bench: %s: %d of %d records after %v: %w", m.Workload.Key(), n, m.Outputs, time.Since(start).Round(time.Millisecond), ctx.Err())
		case <-tick.C:
		}
		n, err := env.endOffsets(ctx, output)
		if err != nil {
			continue // transient; the deadline bounds it
		}
		now := time.Since(start)
		if n > 0 && m.FirstOutput == 0 {
			m.FirstOutput = now
		}
		done := n >= m.Outputs
		if eos && n > 0 {
			if done, err = env.eosCaughtUp(ctx, spec); err != nil {
				continue
			}
		}
		if done {
			m.Elapsed = now
			return nil
		}
	}
}

// cleanup deletes a run's output and internal topics and its group, unless
// -keep.
func (env *Env) cleanup(spec RunSpec) {
	if env.Keep {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := []string{spec.Output}
	if listed, err := env.Admin.ListTopics(ctx); err == nil {
		for _, name := range listed.Names() {
			if strings.HasPrefix(name, spec.AppID+"-") && name != spec.Output {
				topics = append(topics, name)
			}
		}
	}
	_, _ = env.Admin.DeleteTopics(ctx, topics...)
	_, _ = env.Admin.DeleteGroups(ctx, spec.AppID)
	_ = os.RemoveAll(spec.StateDir)
	time.Sleep(env.Settle)
}

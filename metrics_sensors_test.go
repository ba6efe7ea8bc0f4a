package kstreams_test

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
)

// logCapture keeps every log record, whatever its level.
type logCapture struct {
	mu   sync.Mutex
	recs []capturedLog
	with []slog.Attr
}

type capturedLog struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	e := capturedLog{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range c.with {
		e.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { e.attrs[a.Key] = a.Value.String(); return true })
	root := c.root()
	root.mu.Lock()
	root.recs = append(root.recs, e)
	root.mu.Unlock()
	return nil
}

// parent links a derived handler to the one that keeps the records.
var logParents sync.Map

func (c *logCapture) root() *logCapture {
	if p, ok := logParents.Load(c); ok {
		return p.(*logCapture)
	}
	return c
}

func (c *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	d := &logCapture{with: append(slices.Clone(c.with), as...)}
	logParents.Store(d, c.root())
	return d
}

func (c *logCapture) WithGroup(string) slog.Handler { return c }

// find returns the records with msg.
func (c *logCapture) find(msg string) []capturedLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []capturedLog
	for _, r := range c.recs {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// latTicker forwards every record and runs a wall-clock punctuator every
// 20ms.
type latTicker struct {
	ctx processor.Context[int64, []byte]
}

func (p *latTicker) Init(ctx processor.Context[int64, []byte]) error {
	p.ctx = ctx
	ctx.Schedule(20*time.Millisecond, processor.WallClockTime, func(int64) error { return nil })
	return nil
}
func (p *latTicker) Process(r processor.Record[int64, []byte]) error { p.ctx.Forward(r); return nil }
func (p *latTicker) Close() error                                    { return nil }

func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// series returns the value of each series of family name, keyed by its
// labels ("k=v,k=v" in the exposition's order), and checks that every series
// has exactly the label names wantLabels. Labels are sorted by name.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, wantLabels ...string) map[string]float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Errorf("metric %s missing", name)
		return nil
	}
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var names, kv []string
		for _, l := range m.GetLabel() {
			names = append(names, l.GetName())
			kv = append(kv, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(names)
		slices.Sort(kv)
		want := slices.Sorted(slices.Values(wantLabels))
		if !slices.Equal(names, want) {
			t.Errorf("%s labels %v, want %v", name, names, want)
		}
		v := m.GetGauge().GetValue()
		if m.Counter != nil {
			v = m.GetCounter().GetValue()
		}
		out[strings.Join(kv, ",")] = v
	}
	return out
}

func total(s map[string]float64) float64 {
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return sum
}

// TestLatencyMetricsOnEmbeddedBroker runs a count (with a record cache), a
// wall-clock punctuator, a null value and an unreadable key at the debug
// recording level, then scrapes /metrics: the thread latencies, rates and
// blocked time, the rebalance metrics, the task's dropped records, the
// node and task process rates, and the store latencies and cache hit
// ratio are there with Kafka Streams' names and the labels kstreams uses;
// the structured logs have the assignment and the commits. A second run at
// the info level, on an empty state directory, restores the store: the
// restore metrics and logs are there, the debug-level ones are not.
func TestLatencyMetricsOnEmbeddedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	br, err := embedded.Start(embedded.Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const in, n = "lat-in", 200
	if err := br.CreateTopics(ctx, 1, in); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range n {
		k, _ := serde.Int64().Serialize(in, int64(i%10))
		recs = append(recs, &kgo.Record{Topic: in, Key: k, Value: []byte("v")})
	}
	k, _ := serde.Int64().Serialize(in, 1)
	recs = append(recs, &kgo.Record{Topic: in, Key: k}, &kgo.Record{Topic: in, Key: []byte("bad"), Value: []byte("v")})
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.Int64(), serde.Bytes()))
	kstreams.Process(s, func() processor.Processor[int64, []byte, int64, []byte] { return &latTicker{} }).
		GroupByKey().Count(kstreams.Materialized[int64, int64]{Name: "counts"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	run := func(level kstreams.MetricsLevel, stateDir string, logs *logCapture, check func(app *kstreams.App)) {
		t.Helper()
		app, err := kstreams.New(topo, kstreams.ApplicationID("lat"), kstreams.Brokers(br.Addrs()...),
			kstreams.StateDir(stateDir), kstreams.CommitInterval(100*time.Millisecond), kstreams.OpsServer("127.0.0.1:0"),
			kstreams.MetricsRecordingLevel(level), kstreams.OnDeserializationError(kstreams.SkipRecord),
			kstreams.Logger(slog.New(logs)))
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- app.Run(rctx) }()
		defer func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		check(app)
	}
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	dir := t.TempDir()
	logs := &logCapture{}
	run(kstreams.MetricsDebug, dir, logs, func(app *kstreams.App) {
		waitUntil("every record processed and committed", func() bool {
			m := app.Metrics()
			return m.Processed >= 2*n+1 && m.Commits >= 1 && len(m.Threads) == 1 && m.Threads[0].CommitLatencyMax > 0 && m.Threads[0].PunctuateRate > 0
		})
		fams := scrapeMetrics(t, app.OpsAddr())
		thread := []string{"client_id", "thread_id"}
		for _, name := range []string{"process_latency_avg", "process_latency_max", "process_rate", "poll_latency_avg", "poll_latency_max",
			"poll_rate", "poll_total", "poll_records_max", "commit_latency_avg", "commit_latency_max", "commit_rate",
			"punctuate_latency_max", "punctuate_rate", "blocked_time_ns_total", "thread_start_time"} {
			if v := total(series(t, fams, "kafka_streams_stream_thread_metrics_"+name, thread...)); v <= 0 {
				t.Errorf("kafka_streams_stream_thread_metrics_%s = %v, want > 0", name, v)
			}
		}
		for _, name := range []string{"rebalance_latency_max", "rebalance_latency_total", "rebalance_total", "rebalance_rate_per_hour"} {
			if v := total(series(t, fams, "kafka_consumer_consumer_coordinator_metrics_"+name, thread...)); v <= 0 {
				t.Errorf("kafka_consumer_consumer_coordinator_metrics_%s = %v, want > 0", name, v)
			}
		}
		if v := total(series(t, fams, "kafka_consumer_consumer_coordinator_metrics_last_rebalance_seconds_ago", thread...)); v < 0 {
			t.Errorf("last_rebalance_seconds_ago = %v, want >= 0", v)
		}
		dropped := series(t, fams, "kafka_streams_stream_task_metrics_dropped_records_total", "client_id", "task_id")
		// The unreadable key in the source task, the null value in the
		// aggregation's (after the repartition Process asks for).
		if dropped["client_id=lat,task_id=0_0"] != 1 || dropped["client_id=lat,task_id=1_0"] != 1 {
			t.Errorf("dropped_records_total: %v, want 1 in task 0_0 and 1 in task 1_0", dropped)
		}
		if v := total(series(t, fams, "kafka_streams_stream_task_metrics_process_rate", "client_id", "task_id")); v <= 0 {
			t.Errorf("task process_rate = %v", v)
		}
		nodes := series(t, fams, "kafka_streams_stream_processor_node_metrics_process_rate", "client_id", "task_id", "processor_node_id")
		if len(nodes) < 3 || total(nodes) <= 0 {
			t.Errorf("node process_rate: %v", nodes)
		}
		store := []string{"client_id", "task_id", "store"}
		for _, name := range []string{"put_latency_max", "put_rate", "get_latency_max", "get_rate", "flush_latency_max", "flush_rate"} {
			s := series(t, fams, "kafka_streams_stream_state_metrics_"+name, store...)
			if v := s["client_id=lat,store=counts,task_id=1_0"]; v <= 0 {
				t.Errorf("kafka_streams_stream_state_metrics_%s of counts = %v (%v), want > 0", name, v, s)
			}
		}
		series(t, fams, "kafka_streams_stream_state_metrics_range_latency_avg", store...)
		hits := series(t, fams, "kafka_streams_stream_record_cache_metrics_hit_ratio_max", "client_id", "task_id", "record_cache_id")
		if v := hits["client_id=lat,record_cache_id=counts,task_id=1_0"]; v <= 0 || v > 1 {
			t.Errorf("hit_ratio_max of counts = %v (%v), want in (0, 1]: 10 keys written %d times", v, hits, n)
		}
	})
	assigned := logs.find("kstreams: tasks assigned")
	if len(assigned) == 0 || assigned[0].attrs["application_id"] != "lat" || assigned[0].attrs["instance"] == "" || assigned[0].attrs["tasks"] != "[0_0 1_0]" {
		t.Errorf("assignment logs: %+v", assigned)
	}
	commits := logs.find("kstreams: committed")
	if len(commits) == 0 || commits[0].level != slog.LevelDebug || !strings.Contains(commits[0].attrs["thread"], "-StreamThread-1") || commits[0].attrs["tasks"] != "[0_0 1_0]" {
		t.Errorf("commit logs: %+v", commits)
	}

	// Second run, info level, empty state directory: the store is
	// restored from its changelog (10 keys, compacted or not).
	logs2 := &logCapture{}
	run(kstreams.MetricsInfo, t.TempDir(), logs2, func(app *kstreams.App) {
		waitUntil("the store restored", func() bool {
			m := app.Metrics()
			return len(m.Restorations) == 1 && m.Restorations[0].Done && len(m.Threads) == 1
		})
		m := app.Metrics()
		r := m.Restorations[0]
		if r.Store != "counts" || r.Task != "1_0" || r.Restored < 10 || r.Remaining != 0 || r.Rate <= 0 {
			t.Errorf("restoration: %+v", r)
		}
		fams := scrapeMetrics(t, app.OpsAddr())
		store := []string{"client_id", "task_id", "store"}
		if v := series(t, fams, "kafka_streams_stream_state_metrics_restore_total", store...)["client_id=lat,store=counts,task_id=1_0"]; v < 10 {
			t.Errorf("restore_total = %v, want at least 10", v)
		}
		if v := series(t, fams, "kafka_streams_stream_state_metrics_restore_remaining_records_total", store...); len(v) != 1 || total(v) != 0 {
			t.Errorf("restore_remaining_records_total = %v, want one series at 0", v)
		}
		series(t, fams, "kafka_streams_stream_state_metrics_restore_rate", store...)
		for _, name := range []string{"kafka_streams_stream_state_metrics_put_latency_avg", "kafka_streams_stream_record_cache_metrics_hit_ratio_avg",
			"kafka_streams_stream_processor_node_metrics_process_rate", "kafka_streams_stream_task_metrics_process_rate"} {
			if _, ok := fams[name]; ok {
				t.Errorf("%s at the info level", name)
			}
		}
	})
	for _, msg := range []string{"kstreams: restoring store", "kstreams: store restored"} {
		got := logs2.find(msg)
		if len(got) != 1 || got[0].attrs["store"] != "counts" || got[0].attrs["task"] != "1_0" || !strings.Contains(got[0].attrs["thread"], "StreamThread-1") {
			t.Errorf("%q logs: %+v", msg, got)
		}
	}
}

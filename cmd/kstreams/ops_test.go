package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/ops"
	"github.com/kstreams-go/kstreams/serde"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testBrokers returns the real broker of KSTREAMS_TEST_BROKERS; the tool's
// tests need one (scripts/test.sh starts it).
func testBrokers(t *testing.T) []string {
	t.Helper()
	env := os.Getenv("KSTREAMS_TEST_BROKERS")
	if env == "" {
		t.Skip("KSTREAMS_TEST_BROKERS is not set: the kstreams tool is tested on a real broker")
	}
	return strings.Split(env, ",")
}

func uniqueName(what string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "ops-" + what + "-" + hex.EncodeToString(b[:])
}

// countTopology counts the input values per value: a grouping on a new key
// (so a repartition topic) and a count (so a changelog topic).
func countTopology(t *testing.T, in, out string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	g := kstreams.GroupBy(s, func(_, v string) string { return v },
		kstreams.Grouped[string, string]{Name: kstreams.Named("by-value")})
	counts := g.Count(kstreams.Materialized[string, int64]{Name: "counts"})
	counts.ToStream().To(out, kstreams.Produced[string, int64]{Key: serde.String(), Value: serde.Int64()})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

type runningApp struct {
	app  *kstreams.App
	stop context.CancelFunc
	done chan error
}

func startApp(t *testing.T, topo *kstreams.Topology, brokers []string, appID, stateDir string) *runningApp {
	t.Helper()
	app, err := kstreams.New(topo, kstreams.ApplicationID(appID), kstreams.Brokers(brokers...),
		kstreams.CommitInterval(100*time.Millisecond), kstreams.CacheMaxBytes(0), kstreams.StateDir(stateDir),
		kstreams.OpsServer("127.0.0.1:0"), kstreams.MetricsRecordingLevel(kstreams.MetricsDebug),
		kstreams.ClientOptions(kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningApp{app: app, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- app.Run(ctx) }()
	t.Cleanup(func() { r.close(t) })
	waitFor(t, 60*time.Second, "the app running", func() bool { return app.State() == kstreams.Running && app.OpsAddr() != "" })
	return r
}

func (r *runningApp) close(t *testing.T) {
	t.Helper()
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("Run did not return")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readAll reads every record of topic (all partitions) as "key=value",
// ordered by partition then offset.
func readAll(t *testing.T, brokers []string, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s, want %d", len(recs), topic, want)
		}
		recs = append(recs, fs.Records()...)
	}
	slices.SortStableFunc(recs, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	out := make([]string, len(recs))
	for i, r := range recs {
		v, _ := serde.Int64().Deserialize(topic, r.Value)
		out[i] = fmt.Sprintf("p%d:%s=%d", r.Partition, r.Key, v)
	}
	return out
}

func runTool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// TestToolOnRealBroker runs an aggregation, checks describe, lag, the
// metrics and that reset refuses while it runs; then stops it, resets it
// (dry run first) and checks that a re-run reprocesses everything into
// the same outputs.
func TestToolOnRealBroker(t *testing.T) {
	brokers := testBrokers(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	appID, in, out := uniqueName("app"), uniqueName("in"), uniqueName("out")
	ctx := context.Background()
	if _, err := adm.CreateTopics(ctx, 2, 1, nil, in, out); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), in, out) })
	const n = 40
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: in, Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i%5))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	topo := countTopology(t, in, out)
	r := startApp(t, topo, brokers, appID, stateDir)
	first := readAll(t, brokers, out, n)
	url := "http://" + r.app.OpsAddr()

	t.Run("describe", func(t *testing.T) {
		for _, f := range []struct{ format, want string }{
			{"text", "Sub-topology: 1"},
			{"json", `"application_id": "` + appID + `"`},
			{"dot", "digraph"},
			{"mermaid", "flowchart LR"},
		} {
			got, err := runTool(t, "describe", "-url", url, "-format", f.format)
			if err != nil {
				t.Fatalf("%s: %v", f.format, err)
			}
			if !strings.Contains(got, f.want) || !strings.Contains(got, "KSTREAM-SOURCE-") || !strings.Contains(got, appID+"-by-value-repartition") && f.format != "text" {
				t.Errorf("describe -format %s:\n%s", f.format, got)
			}
		}
	})
	t.Run("lag", func(t *testing.T) {
		waitFor(t, 30*time.Second, "lag 0 on every input partition", func() bool {
			got, err := runTool(t, "lag", "-brokers", strings.Join(brokers, ","), "-application-id", appID, "-url", url, "-format", "json")
			return err == nil && strings.Contains(got, `"task": "0_1"`) && strings.Contains(got, `"task": "1_0"`) && !strings.Contains(got, `"lag": 1`) && !strings.Contains(got, `"lag": 2`)
		})
		got, err := runTool(t, "lag", "-brokers", strings.Join(brokers, ","), "-application-id", appID)
		if err != nil || !strings.Contains(got, "TASK") || !strings.Contains(got, in) {
			t.Errorf("lag: %v\n%s", err, got)
		}
	})
	t.Run("metrics", func(t *testing.T) { checkMetrics(t, r.app.OpsAddr(), n) })
	t.Run("health", func(t *testing.T) {
		resp, err := http.Get(url + "/kstreams/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("health of a running app: %s", resp.Status)
		}
	})
	t.Run("reset refuses while running", func(t *testing.T) {
		_, err := runTool(t, "reset", "-brokers", strings.Join(brokers, ","), "-application-id", appID, "-input-topics", in)
		if !errors.Is(err, ops.ErrGroupActive) {
			t.Fatalf("reset of a running app: %v, want ErrGroupActive", err)
		}
	})
	r.close(t)

	internal := []string{appID + "-by-value-repartition", appID + "-counts-changelog"}
	got, err := runTool(t, "reset", "-brokers", strings.Join(brokers, ","), "-application-id", appID, "-input-topics", in, "-dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"would reset " + in + "-0: 20 -> 0", "would reset " + in + "-1: 20 -> 0", "would delete internal topic " + internal[0], "would delete internal topic " + internal[1]} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run: missing %q in\n%s", want, got)
		}
	}
	if topics, _ := adm.ListTopics(ctx, internal...); len(topics.Names()) != 2 {
		t.Fatalf("the dry run deleted topics: %v", topics.Names())
	}
	got, err = runTool(t, "reset", "-brokers", strings.Join(brokers, ","), "-application-id", appID, "-input-topics", in, "-state-dir", stateDir)
	if err != nil {
		t.Fatalf("reset: %v\n%s", err, got)
	}
	if _, err := os.Stat(stateDir + "/" + appID); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local state still there after reset: %v", err)
	}
	waitFor(t, 30*time.Second, "the internal topics deleted", func() bool {
		topics, err := adm.ListTopics(ctx)
		return err == nil && !topics.Has(internal[0]) && !topics.Has(internal[1])
	})
	offs, err := adm.FetchOffsets(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if o, ok := offs.Lookup(in, p); !ok || o.At != 0 {
			t.Errorf("committed offset of %s-%d after reset: %+v", in, p, o)
		}
	}

	// The other modes, as dry runs from the committed offsets (0).
	for _, m := range []struct {
		args []string
		want string
	}{
		{[]string{"-to-latest"}, ": 0 -> 20"},
		{[]string{"-shift-by", "5"}, ": 0 -> 5"},
		{[]string{"-shift-by", "-5"}, ": 0 -> 0"},
		{[]string{"-to-datetime", time.Now().Add(time.Hour).Format(time.RFC3339)}, ": 0 -> 20"},
		{[]string{"-to-datetime", "2001-01-01T00:00:00Z"}, ": 0 -> 0"},
	} {
		args := append([]string{"reset", "-brokers", strings.Join(brokers, ","), "-application-id", appID, "-input-topics", in, "-dry-run"}, m.args...)
		got, err := runTool(t, args...)
		if err != nil || strings.Count(got, m.want) != 2 {
			t.Errorf("reset %v: %v, want %q twice in\n%s", m.args, err, m.want, got)
		}
	}

	startApp(t, topo, brokers, appID, stateDir)
	all := readAll(t, brokers, out, 2*n)
	second := outputsAfter(all, first)
	slices.Sort(first)
	slices.Sort(second)
	if !slices.Equal(first, second) {
		t.Errorf("outputs after reset differ:\nfirst  %v\nsecond %v", first, second)
	}
}

// outputsAfter returns the records of all that are not among the first
// run's (per partition, the tail after as many records as first had).
func outputsAfter(all, first []string) []string {
	seen := map[string]int{}
	for _, r := range first {
		seen[r[:strings.Index(r, ":")]]++
	}
	var out []string
	count := map[string]int{}
	for _, r := range all {
		p := r[:strings.Index(r, ":")]
		count[p]++
		if count[p] > seen[p] {
			out = append(out, r)
		}
	}
	return out
}

func checkMetrics(t *testing.T, addr string, n int) {
	t.Helper()
	fams := scrape(t, addr)
	sum := func(name string, label, value string) float64 {
		f, ok := fams[name]
		if !ok {
			t.Errorf("metric %s missing", name)
			return 0
		}
		total := 0.0
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if m.Counter != nil {
				total += m.GetCounter().GetValue()
			} else {
				total += m.GetGauge().GetValue()
			}
		}
		return total
	}
	for _, c := range []struct {
		name, label, value string
		min                float64
	}{
		{"kafka_streams_stream_metrics_state", "state", "RUNNING", 1},
		{"kafka_streams_stream_metrics_alive_stream_threads", "", "", 1},
		{"kafka_streams_stream_thread_metrics_process_total", "", "", float64(2 * n)}, // input and repartition
		{"kafka_streams_stream_thread_metrics_commit_total", "", "", 1},
		{"kafka_streams_stream_thread_metrics_produced_records_total", "", "", float64(n)},
		{"kafka_streams_stream_task_metrics_process_total", "task_id", "0_0", float64(n / 2)},
		{"kafka_streams_stream_processor_node_metrics_process_total", "processor_node_id", "KSTREAM-AGGREGATE-0000000002", 1},
		{"kafka_streams_consumer_records_lag_max", "", "", 0},
		{"kafka_streams_stream_state_metrics_estimate_num_keys", "store", "counts", 1},
	} {
		if got := sum(c.name, c.label, c.value); got < c.min {
			t.Errorf("%s{%s=%q} = %v, want at least %v", c.name, c.label, c.value, got, c.min)
		}
	}
	if f := fams["kafka_streams_stream_thread_metrics_process_total"]; f != nil {
		for _, l := range f.GetMetric()[0].GetLabel() {
			if l.GetName() == "thread_id" && !strings.Contains(l.GetValue(), "-StreamThread-1") {
				t.Errorf("thread_id %q", l.GetValue())
			}
		}
	}
	for _, name := range []string{"kafka_streams_consumer_records_lag", "kgo_connects_total", "kgo_read_bytes_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if got := sum("kgo_connects_total", "", ""); got < 1 {
		t.Errorf("kgo_connects_total = %v, want at least 1", got)
	}
}

package kstreams_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDebugMetricsOnEmbeddedBroker runs a suppressed windowed count, a
// session count and a global table at the debug recording level, with one
// record 1000 ms late, then scrapes /metrics: the task's record-lateness
// (avg and max), the suppression buffer's size and count (avg and max),
// the window and session stores' fetch latency and rate, and the global
// store's restoration (records restored, rate, remaining) are there with
// Kafka Streams' names and kstreams' labels; the global store's
// restoration is logged.
func TestDebugMetricsOnEmbeddedBroker(t *testing.T) {
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
	const in, glob = "dbg-in", "dbg-global"
	if err := br.CreateTopics(ctx, 1, in, glob); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000
	var recs []*kgo.Record
	// Stream time reaches base+3000; the record at base+2000 is 1000 ms
	// late; the last one closes the earlier windows.
	for i, off := range []int64{0, 500, 3000, 2000, 9000} {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte{byte('a' + i)}, Timestamp: time.UnixMilli(base + off)})
	}
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: glob, Key: []byte{byte('a' + i)}, Value: []byte("g")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.WindowedBy(s.GroupByKey(), kstreams.TimeWindowsOfSizeAndGrace(time.Second, 0)).
		Count(kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: "win"}}).
		Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer()), "final").
		ToStream().Foreach(func(kstreams.Windowed[string], int64) {})
	kstreams.WindowedBySession(s.GroupByKey(), kstreams.SessionWindowsOfInactivityGapWithNoGrace(time.Second)).
		Count(kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: "sessions"}})
	kstreams.GlobalTableFrom(b, glob, kstreams.ConsumedWith(serde.String(), serde.String()), kstreams.Materialized[string, string]{Name: "glob"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	logs := &logCapture{}
	app, err := kstreams.New(topo, kstreams.ApplicationID("dbg"), kstreams.Brokers(br.Addrs()...),
		kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(100*time.Millisecond), kstreams.OpsServer("127.0.0.1:0"),
		kstreams.MetricsRecordingLevel(kstreams.MetricsDebug), kstreams.Logger(slog.New(logs)))
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
	for m := app.Metrics(); m.Processed < 5 || len(m.Lateness) == 0; m = app.Metrics() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for the records: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}

	fams := scrapeMetrics(t, app.OpsAddr())
	task := []string{"client_id", "task_id"}
	late := "client_id=dbg,task_id=0_0"
	if v := series(t, fams, "kafka_streams_stream_task_metrics_record_lateness_max", task...)[late]; v != 1000 {
		t.Errorf("record_lateness_max = %v, want 1000", v)
	}
	if v := series(t, fams, "kafka_streams_stream_task_metrics_record_lateness_avg", task...)[late]; v != 200 {
		t.Errorf("record_lateness_avg = %v, want 200 (1000 over 5 records)", v)
	}
	store := []string{"client_id", "task_id", "store"}
	final := "client_id=dbg,store=final-store,task_id=0_0"
	for _, name := range []string{"suppression_buffer_size_avg", "suppression_buffer_size_max", "suppression_buffer_count_avg", "suppression_buffer_count_max"} {
		if v := series(t, fams, "kafka_streams_stream_state_metrics_"+name, store...)[final]; v <= 0 {
			t.Errorf("%s of final-store = %v, want > 0", name, v)
		}
	}
	for _, st := range []string{"win", "sessions"} {
		for _, name := range []string{"fetch_latency_avg", "fetch_latency_max", "fetch_rate"} {
			if v := series(t, fams, "kafka_streams_stream_state_metrics_"+name, store...)["client_id=dbg,store="+st+",task_id=0_0"]; v <= 0 {
				t.Errorf("%s of %s = %v, want > 0", name, st, v)
			}
		}
	}
	restore := "client_id=dbg,store=glob,task_id=-1_0"
	if v := series(t, fams, "kafka_streams_stream_state_metrics_restore_total", store...)[restore]; v != 5 {
		t.Errorf("restore_total of glob = %v, want 5", v)
	}
	if v := series(t, fams, "kafka_streams_stream_state_metrics_restore_rate", store...)[restore]; v <= 0 {
		t.Errorf("restore_rate of glob = %v, want > 0", v)
	}
	if v, ok := series(t, fams, "kafka_streams_stream_state_metrics_restore_remaining_records_total", store...)[restore]; !ok || v != 0 {
		t.Errorf("restore_remaining_records_total of glob = %v (%v), want 0", v, ok)
	}
	for _, msg := range []string{"kstreams: restoring store", "kstreams: store restored"} {
		got := logs.find(msg)
		if len(got) != 1 || got[0].attrs["store"] != "glob" || got[0].attrs["task"] != "-1_0" ||
			!strings.HasSuffix(got[0].attrs["thread"], "-GlobalStreamThread") || got[0].attrs["restored"] != "5" {
			t.Errorf("%q logs: %+v", msg, got)
		}
	}
}

// TestTasksRevokedLog starts a second instance beside a first that runs
// both tasks of a count: the first logs the revocation of the task that
// moves ("tasks revoked", info, with the application id, instance, thread
// and the revoked task), then closes it ("revoked tasks closing", with the
// task it keeps).
func TestTasksRevokedLog(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	br, err := embedded.Start(embedded.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last in, first out: the instances stop before the
	// broker closes.
	t.Cleanup(func() { br.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	const in = "rev-in"
	if err := br.CreateTopics(ctx, 2, in); err != nil {
		t.Fatal(err)
	}
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String())).GroupByKey().Count()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	start := func(logs *logCapture) *kstreams.App {
		t.Helper()
		app, err := kstreams.New(topo, kstreams.ApplicationID("rev"), kstreams.Brokers(br.Addrs()...),
			kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(100*time.Millisecond), kstreams.Logger(slog.New(logs)))
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- app.Run(rctx) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
		return app
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
	logs := &logCapture{}
	first := start(logs)
	waitUntil("the first instance running both tasks", func() bool {
		a := logs.find("kstreams: tasks assigned")
		return first.State() == kstreams.Running && len(a) > 0 && a[len(a)-1].attrs["tasks"] == "[0_0 0_1]"
	})
	start(&logCapture{})
	waitUntil("a task revoked", func() bool { return len(logs.find("kstreams: revoked tasks closing")) > 0 })
	revoked := logs.find("kstreams: tasks revoked")
	if len(revoked) != 1 {
		t.Fatalf("tasks revoked logs: %+v, want one", revoked)
	}
	r := revoked[0]
	if r.level != slog.LevelInfo || r.attrs["application_id"] != "rev" || r.attrs["instance"] == "" ||
		!strings.HasPrefix(r.attrs["thread"], "rev-") || !strings.HasSuffix(r.attrs["thread"], "-StreamThread-1") ||
		(r.attrs["tasks"] != "[0_0]" && r.attrs["tasks"] != "[0_1]") {
		t.Errorf("tasks revoked log: %+v", r)
	}
	closing := logs.find("kstreams: revoked tasks closing")[0]
	kept := map[string]string{"[0_0]": "[0_1]", "[0_1]": "[0_0]"}[r.attrs["tasks"]]
	if closing.attrs["thread"] != r.attrs["thread"] || closing.attrs["tasks"] != r.attrs["tasks"] || closing.attrs["kept"] != kept {
		t.Errorf("revoked tasks closing log: %+v, want thread %s, tasks %s, kept %s", closing, r.attrs["thread"], r.attrs["tasks"], kept)
	}
}

package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The emit-on-close restart tests count per key in tumbling windows of one
// second, or in sessions with a gap of 500ms, both without grace, emitting
// each window once when it closes; the store is eocStore, the key of the
// close time Kafka Streams commits in the offsets' metadata. Results are
// keyed "key@start", start relative to the test's base time.
const eocStore = "eoc"

// The environment of TestHelperEmitCloseInstance.
const (
	eocHelperEnv  = "KSTREAMS_IT_EOC_HELPER"
	eocAppEnv     = "KSTREAMS_IT_EOC_APP"
	eocInEnv      = "KSTREAMS_IT_EOC_IN"
	eocOutEnv     = "KSTREAMS_IT_EOC_OUT"
	eocDirEnv     = "KSTREAMS_IT_EOC_DIR"
	eocSessionEnv = "KSTREAMS_IT_EOC_SESSION"
	eocBaseEnv    = "KSTREAMS_IT_EOC_BASE"
)

// emitCloseTopology is the windowed (or, with session, session) count of
// in emitting on window close, written to out.
func emitCloseTopology(t testing.TB, in, out string, session bool, base int64) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	g := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String())).GroupByKey()
	// A long retention keeps every window in the store, so that a
	// restarted instance that forgot what it emitted would find them all
	// to emit again.
	m := kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: eocStore}, Retention: time.Hour}
	var counts kstreams.Table[kstreams.Windowed[string], int64]
	if session {
		counts = kstreams.WindowedBySession(g, kstreams.SessionWindowsOfInactivityGapWithNoGrace(500*time.Millisecond)).
			Emit(kstreams.EmitOnWindowClose).Count(m)
	} else {
		counts = kstreams.WindowedBy(g, kstreams.TimeWindowsOfSizeWithNoGrace(time.Second)).
			Emit(kstreams.EmitOnWindowClose).Count(m)
	}
	kstreams.Map(counts.ToStream(), func(k kstreams.Windowed[string], n int64) (string, int64) {
		return fmt.Sprintf("%s@%d", k.Key, k.Window.Start-base), n
	}).To(out, kstreams.ProducedWith(serde.String(), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestHelperEmitCloseInstance is not a test: it is the instance that
// TestEmitOnCloseRestart runs in a child process and kills.
func TestHelperEmitCloseInstance(t *testing.T) {
	if os.Getenv(eocHelperEnv) != "1" {
		t.Skip("helper process for TestEmitOnCloseRestart")
	}
	base, _ := strconv.ParseInt(os.Getenv(eocBaseEnv), 10, 64)
	topo := emitCloseTopology(t, os.Getenv(eocInEnv), os.Getenv(eocOutEnv), os.Getenv(eocSessionEnv) == "1", base)
	opts := append(defaultAppOpts(), kstreams.ApplicationID(os.Getenv(eocAppEnv)), kstreams.StateDir(os.Getenv(eocDirEnv)))
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func startEmitCloseInstance(t *testing.T, app, in, out, dir string, session bool, base int64) *child {
	t.Helper()
	sess := "0"
	if session {
		sess = "1"
	}
	return startChild(t, "TestHelperEmitCloseInstance",
		eocHelperEnv+"=1", eocAppEnv+"="+app, eocInEnv+"="+in, eocOutEnv+"="+out,
		eocDirEnv+"="+dir, eocSessionEnv+"="+sess, eocBaseEnv+"="+strconv.FormatInt(base, 10),
	)
}

// committedMetadata returns the offset metadata the group committed for
// partition 0 of topic, decoded, once the offset is at least at.
func committedMetadata(t testing.TB, group, topic string, at int64) (int64, map[string]int64) {
	t.Helper()
	var pt int64
	var meta map[string]int64
	poll(t, 30*time.Second, "the commit of offset "+strconv.FormatInt(at, 10), func() (bool, string) {
		ctx, cancel := ctxFor(t, 10*time.Second)
		defer cancel()
		resps, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		o, ok := resps.Lookup(topic, 0)
		if !ok || o.At < at {
			return false, fmt.Sprintf("committed %+v", o)
		}
		pt, meta, err = runtime.DecodeOffsetMetadata(o.Metadata)
		if err != nil {
			t.Fatalf("committed metadata %q: %v", o.Metadata, err)
		}
		return true, ""
	})
	return pt, meta
}

// resultsUntil reads out until it has a result for every window of want,
// and returns every result of every window.
func resultsUntil(t testing.TB, out string, want []string) map[string][]int64 {
	t.Helper()
	got := map[string][]int64{}
	consume(t, out, 30*time.Second, fmt.Sprintf("results for %v", want), func(rs []*kgo.Record) (bool, string) {
		clear(got)
		for _, r := range rs {
			got[string(r.Key)] = append(got[string(r.Key)], int64(binary.BigEndian.Uint64(r.Value)))
		}
		for _, w := range want {
			if len(got[w]) == 0 {
				return false, fmt.Sprintf("no result for %s; got %v", w, got)
			}
		}
		return true, ""
	})
	return got
}

// TestEmitOnCloseRestart stops or kills an instance of a windowed and of a
// session count emitting on window close after it emitted closed windows,
// and starts another on the same or an empty state directory: the close
// time of the last emission is committed with the offsets (Kafka Streams'
// processor metadata, key "eoc"), so the new instance does not emit those
// windows again although its store still holds them. The first record the
// new instance processes closes nothing new; one more second later a
// record closes the rest.
func TestEmitOnCloseRestart(t *testing.T) {
	for _, tc := range []struct {
		name          string
		session, kill bool
		sameDir       bool
	}{
		{"windows/stopped, empty state dir", false, false, false},
		{"windows/killed, same state dir", false, true, true},
		{"sessions/stopped, same state dir", true, false, true},
		{"sessions/killed, empty state dir", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testEmitOnCloseRestart(t, tc.session, tc.kill, tc.sameDir)
		})
	}
}

func testEmitOnCloseRestart(t *testing.T, session, kill, sameDir bool) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, in, out)
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000
	// Windows (and sessions) at 0, 1000 and 2000 of keys k0 and k1, three
	// records each, 100ms apart.
	var first []*kgo.Record
	var want []string
	for w := range int64(3) {
		for _, k := range []string{"k0", "k1"} {
			for j := range int64(3) {
				first = append(first, rec(in, 0, []byte(k), []byte("x"), base+w*1000+j*100))
			}
			want = append(want, fmt.Sprintf("%s@%d", k, w*1000))
		}
	}
	produce(t, first...)
	dir := t.TempDir()
	stop := func() {}
	if kill {
		c := startEmitCloseInstance(t, app, in, out, dir, session, base)
		stop = func() { c.kill(t) }
	} else {
		r := runApp(t, emitCloseTopology(t, in, out, session, base), kstreams.ApplicationID(app), kstreams.StateDir(dir))
		stop = func() { r.stopOK(t) }
	}
	waitCaughtUp(t, app, 60*time.Second, in)
	// Closed windows are looked for at most once a second: the record
	// closing the three windows comes a second after the others.
	time.Sleep(1100 * time.Millisecond)
	closer := produce(t, rec(in, 0, []byte("end"), []byte("x"), base+3000))[0]
	got := resultsUntil(t, out, want)
	_, meta := committedMetadata(t, app, in, closer.Offset+1)
	if _, ok := meta[eocStore]; !ok {
		t.Fatalf("committed processor metadata %v has no %q", meta, eocStore)
	}
	stop()

	if !sameDir {
		dir = t.TempDir()
	}
	// Same stream time as the closer: closes nothing new.
	produce(t, rec(in, 0, []byte("k0"), []byte("x"), base+3000))
	r := runApp(t, emitCloseTopology(t, in, out, session, base), kstreams.ApplicationID(app), kstreams.StateDir(dir))
	waitCaughtUp(t, app, 60*time.Second, in)
	time.Sleep(1100 * time.Millisecond)
	produce(t, rec(in, 0, []byte("end"), []byte("x"), base+6000))
	last := append(want, "end@3000", "k0@3000")
	got = resultsUntil(t, out, last)
	r.stopOK(t)
	for _, w := range last {
		n := int64(3)
		if strings.HasSuffix(w, "@3000") {
			n = 1
		}
		if len(got[w]) != 1 || got[w][0] != n {
			t.Errorf("window %s: results %v, want one, %d", w, got[w], n)
		}
	}
	if len(got) != len(last) {
		t.Errorf("results for %d windows, want %d: %v", len(got), len(last), got)
	}
}

// lateAfter is the lateness past which streamTimeTopology drops a record.
const lateAfter = 2000

// streamTimeTopology forwards each record of in to out with the task's
// stream time as its value, and drops (as DropRecord) those more than
// lateAfter ms older than the stream time: what a processor deciding on
// lateness sees.
func streamTimeTopology(t testing.TB, in, out string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.Process(s, func() processor.Processor[string, string, string, int64] { return &lateDropper{} }).
		To(out, kstreams.ProducedWith(serde.String(), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

type lateDropper struct {
	ctx processor.Context[string, int64]
}

func (p *lateDropper) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	return nil
}

func (p *lateDropper) Process(r processor.Record[string, string]) error {
	st := p.ctx.StreamTime()
	if r.Timestamp < st-lateAfter {
		return nil
	}
	p.ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: st, Timestamp: r.Timestamp})
	return nil
}

func (p *lateDropper) Close() error { return nil }

// TestPartitionTimeRestored checks that the partition time is committed
// with the offsets in Kafka Streams' format and read back by the next
// instance: its stream time starts there, so a record late relative to the
// stream time before the restart is late after it too (dropped by the
// processor, and measured by record-lateness). Under exactly-once the
// metadata goes with the transaction's offsets.
func TestPartitionTimeRestored(t *testing.T) {
	for _, g := range []kstreams.Guarantee{kstreams.AtLeastOnce, kstreams.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) { testPartitionTimeRestored(t, g) })
	}
}

func testPartitionTimeRestored(t *testing.T, g kstreams.Guarantee) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, in, out)
	base := time.Now().Add(-time.Hour).UnixMilli()
	produce(t, rec(in, 0, []byte("a"), []byte("x"), base), rec(in, 0, []byte("b"), []byte("x"), base+5000))
	r := runApp(t, streamTimeTopology(t, in, out), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()), kstreams.ProcessingGuarantee(g))
	waitCaughtUp(t, app, 60*time.Second, in)
	r.stopOK(t)
	if pt, _ := committedMetadata(t, app, in, 2); pt != base+5000 {
		t.Fatalf("committed partition time %d, want %d", pt, base+5000)
	}

	// Late by 4s relative to the stream time before the restart: dropped;
	// the next one, on time, sees the restored stream time.
	produce(t, rec(in, 0, []byte("late"), []byte("x"), base+1000), rec(in, 0, []byte("c"), []byte("x"), base+4000))
	r = runApp(t, streamTimeTopology(t, in, out), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()),
		kstreams.MetricsRecordingLevel(kstreams.MetricsDebug), kstreams.ProcessingGuarantee(g))
	waitCaughtUp(t, app, 60*time.Second, in)
	m := r.app.Metrics()
	r.stopOK(t)
	rs := consumeUntil(t, out, 3, 30*time.Second)
	got := map[string]int64{}
	for _, rec := range rs {
		got[string(rec.Key)] = int64(binary.BigEndian.Uint64(rec.Value))
	}
	if _, ok := got["late"]; ok {
		t.Errorf("the late record was forwarded: stream time restarted at %d", got["late"])
	}
	if got["c"] != base+5000 {
		t.Errorf("stream time at record c %d, want %d (the time before the restart)", got["c"], base+5000)
	}
	if pt, _ := committedMetadata(t, app, in, 4); pt != base+5000 {
		t.Errorf("committed partition time after the restart %d, want %d", pt, base+5000)
	}
	if len(m.Lateness) != 1 || m.Lateness[0].RecordLatenessMax != 4000 || m.Lateness[0].RecordLatenessAvg != 2500 {
		t.Errorf("lateness metrics %+v, want record-lateness max 4000, avg 2500", m.Lateness)
	}
}

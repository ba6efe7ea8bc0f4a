package kstreamstest_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// probe is a processor whose behaviour tests set with hooks; it logs what
// happens to it.
type probe struct {
	ctx  processor.Context[string, string]
	log  *[]string
	init func(p *probe) error
	proc func(p *probe, r processor.Record[string, string]) error
}

func (p *probe) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	if p.init != nil {
		return p.init(p)
	}
	return nil
}

func (p *probe) Process(r processor.Record[string, string]) error {
	p.logf("process %s@%d", r.Key, r.Timestamp)
	if p.proc != nil {
		return p.proc(p, r)
	}
	p.ctx.Forward(r)
	return nil
}

func (p *probe) Close() error { return nil }

func (p *probe) logf(format string, args ...any) {
	*p.log = append(*p.log, fmt.Sprintf(format, args...))
}

// probeDriver runs in -> probe ("proc") -> out with the given hooks.
func probeDriver(t *testing.T, log *[]string, init func(*probe) error, proc func(*probe, processor.Record[string, string]) error, opts ...kstreamstest.Option) *kstreamstest.Driver {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.Process(s, func() processor.Processor[string, string, string, string] {
		return &probe{log: log, init: init, proc: proc}
	}, "proc").To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func strIn(d *kstreamstest.Driver, topic string) *kstreamstest.InputTopic[string, string] {
	return kstreamstest.NewInputTopic(d, topic, serde.String(), serde.String())
}

func strOut(d *kstreamstest.Driver, topic string) *kstreamstest.OutputTopic[string, string] {
	return kstreamstest.NewOutputTopic(d, topic, serde.String(), serde.String())
}

// recordError checks that err is a *kstreams.RecordError and returns it.
func recordError(t *testing.T, err error) *kstreams.RecordError {
	t.Helper()
	var re *kstreams.RecordError
	if !errors.As(err, &re) {
		t.Fatalf("got %v (%T), want a *kstreams.RecordError", err, err)
	}
	return re
}

func TestStreamTimePunctuation(t *testing.T) {
	var log []string
	init := func(p *probe) error {
		p.logf("init (stream time %d)", p.ctx.StreamTime())
		p.ctx.Schedule(10*time.Millisecond, processor.StreamTime, func(ts int64) error {
			_, ok := p.ctx.RecordMetadata()
			p.logf("punctuate %d (stream time %d, metadata %v)", ts, p.ctx.StreamTime(), ok)
			return nil
		})
		return nil
	}
	d := probeDriver(t, &log, init, nil)
	if err := d.AdvanceWallClock(time.Hour); err != nil {
		t.Fatal(err)
	}
	if want := []string{"init (stream time -1)"}; !slices.Equal(log, want) {
		t.Fatalf("without records: got %q, want %q", log, want)
	}
	log = nil
	in := strIn(d, "in")
	for _, ts := range []int64{25, 29, 30, 31, 75, 50, 79, 80} {
		if err := in.PipeAt("k", "v", ts); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		// The first record fires it; later fires are on multiples of 10.
		"process k@25", "punctuate 25 (stream time 25, metadata false)",
		"process k@29",
		"process k@30", "punctuate 30 (stream time 30, metadata false)",
		"process k@31",
		// 40..70 were missed: one fire, then back on the grid.
		"process k@75", "punctuate 75 (stream time 75, metadata false)",
		// Out of order: stream time does not go back.
		"process k@50",
		"process k@79",
		"process k@80", "punctuate 80 (stream time 80, metadata false)",
	}
	if !slices.Equal(log, want) {
		t.Errorf("log:\n got  %q\n want %q", log, want)
	}
	if got := d.Metrics().Punctuations; got != 4 {
		t.Errorf("Metrics().Punctuations = %d, want 4", got)
	}
}

func TestWallClockPunctuation(t *testing.T) {
	var log []string
	var handle processor.Cancellable
	init := func(p *probe) error {
		handle = p.ctx.Schedule(100*time.Millisecond, processor.WallClockTime, func(ts int64) error {
			_, ok := p.ctx.RecordMetadata()
			p.logf("punctuate %d (wall clock %d, metadata %v)", ts, p.ctx.WallClockTime(), ok)
			p.ctx.Forward(processor.Record[string, string]{Key: "tick", Value: fmt.Sprint(ts), Timestamp: ts})
			return nil
		})
		return nil
	}
	d := probeDriver(t, &log, init, nil, kstreamstest.WallClock(time.UnixMilli(1000)))
	step := func(dur time.Duration) {
		t.Helper()
		if err := d.AdvanceWallClock(dur); err != nil {
			t.Fatal(err)
		}
	}
	step(99 * time.Millisecond) // 1099
	if len(log) != 0 {
		t.Fatalf("fired before one interval: %q", log)
	}
	// Records do not fire wall-clock punctuators.
	if err := strIn(d, "in").PipeAt("k", "v", 5000); err != nil {
		t.Fatal(err)
	}
	step(1 * time.Millisecond)   // 1100: first fire, one interval after scheduling
	step(250 * time.Millisecond) // 1350: 1200 and 1300 missed, one fire
	step(49 * time.Millisecond)  // 1399
	step(1 * time.Millisecond)   // 1400
	handle.Cancel()
	step(time.Second)
	want := []string{
		"process k@5000",
		"punctuate 1100 (wall clock 1100, metadata false)",
		"punctuate 1350 (wall clock 1350, metadata false)",
		"punctuate 1400 (wall clock 1400, metadata false)",
	}
	if !slices.Equal(log, want) {
		t.Errorf("log:\n got  %q\n want %q", log, want)
	}
	if got := d.WallClockTime(); !got.Equal(time.UnixMilli(2400)) {
		t.Errorf("WallClockTime = %v, want 2400ms", got.UnixMilli())
	}
	got, err := strOut(d, "out").ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	wantOut := []processor.Record[string, string]{
		{Key: "k", Value: "v", Timestamp: 5000},
		{Key: "tick", Value: "1100", Timestamp: 1100},
		{Key: "tick", Value: "1350", Timestamp: 1350},
		{Key: "tick", Value: "1400", Timestamp: 1400},
	}
	if !reflect.DeepEqual(got, wantOut) {
		t.Errorf("out:\n got  %+v\n want %+v", got, wantOut)
	}
}

func TestScheduleBelowOneMillisecond(t *testing.T) {
	var log []string
	init := func(p *probe) error {
		p.ctx.Schedule(time.Microsecond, processor.WallClockTime, func(int64) error { return nil })
		return nil
	}
	d := probeDriver(t, &log, init, nil)
	err := strIn(d, "in").PipeAt("k", "v", 1)
	re := recordError(t, err)
	if re.Node != "proc" || !strings.Contains(err.Error(), "punctuation interval 1µs is below 1ms") {
		t.Errorf("got %v", err)
	}
}

func TestRecordMetadata(t *testing.T) {
	var log []string
	var metas []processor.RecordMetadata
	proc := func(p *probe, r processor.Record[string, string]) error {
		m, ok := p.ctx.RecordMetadata()
		if !ok {
			return errors.New("no metadata")
		}
		metas = append(metas, m)
		if p.ctx.TaskID() != (processor.TaskID{Subtopology: 0, Partition: 0}) {
			return fmt.Errorf("task id %v", p.ctx.TaskID())
		}
		if p.ctx.ApplicationID() != "meta-app" {
			return fmt.Errorf("application id %q", p.ctx.ApplicationID())
		}
		return nil
	}
	d := probeDriver(t, &log, nil, proc, kstreamstest.ApplicationID("meta-app"))
	in := strIn(d, "in")
	h := []processor.Header{{Key: "trace", Value: []byte("t1")}, {Key: "empty", Value: nil}}
	if err := in.PipeRecord(processor.Record[string, string]{Key: "a", Value: "1", Timestamp: 300, Headers: h}); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeAt("b", "2", 100); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeAt("c", "3", 200); err != nil {
		t.Fatal(err)
	}
	want := []processor.RecordMetadata{
		{Topic: "in", Partition: 0, Offset: 0, Timestamp: 300, Headers: h},
		{Topic: "in", Partition: 0, Offset: 1, Timestamp: 100},
		{Topic: "in", Partition: 0, Offset: 2, Timestamp: 200},
	}
	if !reflect.DeepEqual(metas, want) {
		t.Errorf("metadata:\n got  %+v\n want %+v", metas, want)
	}
}

func TestProcessErrorStopsTheTask(t *testing.T) {
	var log []string
	boom := errors.New("boom")
	proc := func(p *probe, r processor.Record[string, string]) error {
		if r.Value == "bad" {
			return boom
		}
		p.ctx.Forward(r)
		return nil
	}
	d := probeDriver(t, &log, nil, proc)
	in := strIn(d, "in")
	if err := in.PipeAt("a", "good", 1); err != nil {
		t.Fatal(err)
	}
	err := in.PipeAt("b", "bad", 2)
	re := recordError(t, err)
	if !errors.Is(err, boom) {
		t.Errorf("errors.Is(err, boom) = false for %v", err)
	}
	if re.Node != "proc" || re.Stage != "processing" || re.Topic != "in" || re.Partition != 0 || re.Offset != 1 {
		t.Errorf("fields: %+v", re)
	}
	const want = `kstreams: processing failed at topic "in" partition 0 offset 1 (task 0_0) in node "proc": boom`
	if err.Error() != want {
		t.Errorf("message:\n got  %s\n want %s", err, want)
	}
	if err := in.PipeAt("c", "good", 3); !errors.Is(err, boom) {
		t.Errorf("pipe after failure: got %v, want the task's error", err)
	}
	if err := d.AdvanceWallClock(time.Second); !errors.Is(err, boom) {
		t.Errorf("AdvanceWallClock after failure: got %v, want the task's error", err)
	}
	got, _ := strOut(d, "out").ReadKeyValues()
	if want := []kstreams.KeyValue[string, string]{kstreams.KV("a", "good")}; !slices.Equal(got, want) {
		t.Errorf("out: got %v, want %v", got, want)
	}
}

func TestPunctuatorErrorStopsTheTask(t *testing.T) {
	tests := []struct {
		name    string
		typ     processor.PunctuationType
		advance func(d *kstreamstest.Driver) error
	}{{
		name: "stream time",
		typ:  processor.StreamTime,
		advance: func(d *kstreamstest.Driver) error {
			return strIn(d, "in").PipeAt("k", "v", 10)
		},
	}, {
		name: "wall clock",
		typ:  processor.WallClockTime,
		advance: func(d *kstreamstest.Driver) error {
			return d.AdvanceWallClock(10 * time.Millisecond)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			tick := errors.New("tick failed")
			init := func(p *probe) error {
				p.ctx.Schedule(10*time.Millisecond, tt.typ, func(int64) error { return tick })
				return nil
			}
			d := probeDriver(t, &log, init, nil)
			err := tt.advance(d)
			re := recordError(t, err)
			if !errors.Is(err, tick) {
				t.Errorf("errors.Is(err, tick) = false for %v", err)
			}
			if re.Node != "proc" || re.Stage != "punctuation" || re.Offset != -1 {
				t.Errorf("fields: %+v", re)
			}
			const want = `kstreams: punctuation failed at task 0_0 in node "proc": tick failed`
			if err.Error() != want {
				t.Errorf("message:\n got  %s\n want %s", err, want)
			}
			if err := strIn(d, "in").PipeAt("k", "v", 20); !errors.Is(err, tick) {
				t.Errorf("pipe after failure: got %v, want the task's error", err)
			}
		})
	}
}

func TestInitError(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.Process(s, func() processor.Processor[string, string, string, string] {
		return &probe{log: new([]string), init: func(*probe) error { return errors.New("no database") }}
	}, "proc")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = kstreamstest.New(topo)
	if err == nil || !strings.Contains(err.Error(), `processor "proc": init: no database`) {
		t.Errorf("New: got %v, want the init error naming the processor", err)
	}
}

// int64Driver runs in (string, int64) -> out, with the given options.
func int64Driver(t *testing.T, opts ...kstreamstest.Option) *kstreamstest.Driver {
	t.Helper()
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.Int64())).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestBadRecordFailsByDefault(t *testing.T) {
	d := int64Driver(t)
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
	if err := in.PipeAt("a", 1, 1); err != nil {
		t.Fatal(err)
	}
	err := d.PipeBytes("in", []byte("b"), []byte{1, 2, 3}, 2)
	re := recordError(t, err)
	if !errors.Is(err, serde.ErrSize) {
		t.Errorf("errors.Is(err, serde.ErrSize) = false for %v", err)
	}
	if re.Stage != "deserializing value" || re.Topic != "in" || re.Partition != 0 || re.Offset != 1 || re.Node != "" {
		t.Errorf("fields: %+v", re)
	}
	const want = `kstreams: deserializing value failed at topic "in" partition 0 offset 1 (task 0_0): serde: int64: topic "in": wrong size: got 3 bytes, want 8`
	if err.Error() != want {
		t.Errorf("message:\n got  %s\n want %s", err, want)
	}
	if err := in.PipeAt("c", 3, 3); !errors.Is(err, serde.ErrSize) {
		t.Errorf("pipe after failure: got %v", err)
	}
}

func TestBadKey(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.Int32(), serde.String())).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.PipeBytes("in", []byte{1}, []byte("v"), 0)
	if re := recordError(t, err); re.Stage != "deserializing key" {
		t.Errorf("Stage = %q, want deserializing key", re.Stage)
	}
}

func TestSkipBadRecords(t *testing.T) {
	d := int64Driver(t, kstreamstest.SkipBadRecords())
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
	if err := in.PipeAt("a", 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := d.PipeBytes("in", []byte("b"), []byte{1, 2, 3}, 2); err != nil {
		t.Fatalf("bad record with SkipBadRecords: %v", err)
	}
	if err := in.PipeAt("c", 3, 3); err != nil {
		t.Fatal(err)
	}
	m := d.Metrics()
	if m.Skipped != 1 || m.Processed != 3 || m.DeadLettered != 0 || m.Produced != 2 {
		t.Errorf("metrics: %+v, want Skipped 1, Processed 3, Produced 2", m)
	}
	got, err := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if want := []kstreams.KeyValue[string, int64]{kstreams.KV("a", int64(1)), kstreams.KV("c", int64(3))}; !slices.Equal(got, want) {
		t.Errorf("out: got %v, want %v", got, want)
	}
}

func TestDeadLetterBadRecords(t *testing.T) {
	d := int64Driver(t, kstreamstest.DeadLetterBadRecords("dlq"))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
	if err := in.PipeAt("a", 1, 1); err != nil {
		t.Fatal(err)
	}
	orig := processor.Header{Key: "trace", Value: []byte("t-9")}
	if err := d.PipeBytes("in", []byte("b"), []byte{1, 2, 3}, 2, orig); err != nil {
		t.Fatalf("bad record with DeadLetterBadRecords: %v", err)
	}
	if err := in.PipeAt("c", 3, 3); err != nil {
		t.Fatal(err)
	}
	dlq := kstreamstest.NewOutputTopic(d, "dlq", serde.Bytes(), serde.Bytes())
	got, err := dlq.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	want := []processor.Record[[]byte, []byte]{{
		Key: []byte("b"), Value: []byte{1, 2, 3}, Timestamp: 2,
		Headers: []processor.Header{
			orig,
			{Key: kstreams.HeaderErrorStage, Value: []byte("deserializing value")},
			{Key: kstreams.HeaderErrorMessage, Value: []byte(`serde: int64: topic "in": wrong size: got 3 bytes, want 8`)},
			{Key: kstreams.HeaderErrorTopic, Value: []byte("in")},
			{Key: kstreams.HeaderErrorPartition, Value: []byte("0")},
			{Key: kstreams.HeaderErrorOffset, Value: []byte("1")},
		},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dead letters:\n got  %+v\n want %+v", got, want)
	}
	headerNames := []string{"kstreams.error.stage", "kstreams.error.message", "kstreams.error.topic", "kstreams.error.partition", "kstreams.error.offset"}
	consts := []string{kstreams.HeaderErrorStage, kstreams.HeaderErrorMessage, kstreams.HeaderErrorTopic, kstreams.HeaderErrorPartition, kstreams.HeaderErrorOffset}
	if !slices.Equal(consts, headerNames) {
		t.Errorf("header names: got %q, want %q", consts, headerNames)
	}
	m := d.Metrics()
	if m.DeadLettered != 1 || m.Skipped != 0 || m.Produced != 3 {
		t.Errorf("metrics: %+v, want DeadLettered 1, Produced 3 (2 outputs and 1 dead letter)", m)
	}
	out, _ := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadKeyValues()
	if want := []kstreams.KeyValue[string, int64]{kstreams.KV("a", int64(1)), kstreams.KV("c", int64(3))}; !slices.Equal(out, want) {
		t.Errorf("out: got %v, want %v", out, want)
	}
}

func TestOutputTopic(t *testing.T) {
	var log []string
	d := probeDriver(t, &log, nil, nil)
	out := strOut(d, "out")
	if !out.IsEmpty() || out.QueueSize() != 0 {
		t.Fatalf("new output topic not empty")
	}
	if _, err := out.ReadRecord(); !errors.Is(err, kstreamstest.ErrNoRecord) {
		t.Errorf("ReadRecord on empty topic: got %v, want ErrNoRecord", err)
	}
	in := strIn(d, "in")
	for _, k := range []string{"a", "b", "c"} {
		if err := in.Pipe(k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if out.QueueSize() != 3 || out.IsEmpty() {
		t.Errorf("QueueSize = %d, want 3", out.QueueSize())
	}
	r, err := out.ReadRecord()
	if err != nil || r.Key != "a" || r.Timestamp != 0 {
		t.Errorf("ReadRecord = %+v, %v; want a@0 (Pipe stamps the wall-clock time)", r, err)
	}
	// Each output topic reads at its own position.
	if other := strOut(d, "out"); other.QueueSize() != 3 {
		t.Errorf("second reader QueueSize = %d, want 3", other.QueueSize())
	}
	kvs, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if want := []kstreams.KeyValue[string, string]{kstreams.KV("b", "v"), kstreams.KV("c", "v")}; !slices.Equal(kvs, want) {
		t.Errorf("ReadKeyValues = %v, want %v", kvs, want)
	}
	if !out.IsEmpty() {
		t.Errorf("not empty after reading everything")
	}
	// A serde that cannot read the topic's bytes reports the offset.
	_, err = kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadRecord()
	if err == nil || !strings.Contains(err.Error(), `"out" offset 0`) || !errors.Is(err, serde.ErrSize) {
		t.Errorf("typed read of wrong bytes: got %v", err)
	}
}

func TestPipeToUnknownTopic(t *testing.T) {
	var log []string
	d := probeDriver(t, &log, nil, nil)
	err := strIn(d, "nobody-reads-this").Pipe("k", "v")
	if err == nil || !strings.Contains(err.Error(), `no source reads topic "nobody-reads-this"`) {
		t.Errorf("got %v", err)
	}
}

func TestPipeSerializationError(t *testing.T) {
	var log []string
	d := probeDriver(t, &log, nil, nil)
	failing := serde.Func(func(string, string) ([]byte, error) { return nil, errors.New("cannot encode") }, nil)
	err := kstreamstest.NewInputTopic(d, "in", serde.String(), failing).Pipe("k", "v")
	if err == nil || !strings.Contains(err.Error(), `serializing value for "in": cannot encode`) {
		t.Errorf("got %v", err)
	}
	if len(log) != 0 {
		t.Errorf("processed a record that could not be serialized: %q", log)
	}
}

func TestSinkSerializationError(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	failing := serde.Func(func(string, string) ([]byte, error) { return nil, errors.New("cannot encode") },
		func(string, []byte) (string, error) { return "", nil })
	s.To("out", kstreams.Produced[string, string]{Value: failing, Name: "sink"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = strIn(d, "in").PipeAt("k", "v", 1)
	re := recordError(t, err)
	if re.Node != "sink" || re.Offset != 0 || !strings.Contains(err.Error(), `serializing value for topic "out": cannot encode`) {
		t.Errorf("got %v", err)
	}
}

func TestErrorAfterRepartition(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	r := s.Repartition(kstreams.Repartitioned[string, string]{Name: "rk"})
	kstreams.Process(r, func() processor.Processor[string, string, string, string] {
		return &probe{log: new([]string), proc: func(_ *probe, r processor.Record[string, string]) error {
			return fmt.Errorf("cannot handle %s", r.Key)
		}}
	}, "late")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo, kstreamstest.ApplicationID("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = strIn(d, "in").PipeAt("k", "v", 1)
	re := recordError(t, err)
	const want = `kstreams: processing failed at topic "app-rk-repartition" partition 0 offset 0 (task 1_0) in node "late": cannot handle k`
	if err.Error() != want || re.Task != (processor.TaskID{Subtopology: 1}) {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

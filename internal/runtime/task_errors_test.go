package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// funcProc is a processor running fn on each record and forwarding it.
type funcProc struct {
	init func(ctx processor.Context[string, string])
	fn   func(r processor.Record[string, string]) error
	ctx  processor.Context[string, string]
}

func (p *funcProc) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	if p.init != nil {
		p.init(ctx)
	}
	return nil
}

func (p *funcProc) Process(r processor.Record[string, string]) error {
	if p.fn != nil {
		if err := p.fn(r); err != nil {
			return err
		}
	}
	p.ctx.Forward(r)
	return nil
}

func (p *funcProc) Close() error { return nil }

// panicSerde panics on the value "boom".
type panicSerde struct{}

func (panicSerde) Serialize(_ string, v string) ([]byte, error) {
	if v == "boom" {
		panic("serializer: " + v)
	}
	return []byte(v), nil
}

func (panicSerde) Deserialize(_ string, b []byte) (string, error) {
	if string(b) == "boom" {
		panic("deserializer: boom")
	}
	return string(b), nil
}

// pipeline is the task of in -> p -> c -> sink(out), with the given
// processors and serdes.
type pipeline struct {
	p, c        *funcProc
	source      serde.Serde[string]
	sink        serde.Serde[string]
	extractor   Extractor
	panicInInit bool
}

func (pl pipeline) task(t *testing.T, clock Clock) (*Task, error) {
	t.Helper()
	if pl.p == nil {
		pl.p = &funcProc{}
	}
	if pl.c == nil {
		pl.c = &funcProc{}
	}
	if pl.source == nil {
		pl.source = serde.String()
	}
	if pl.sink == nil {
		pl.sink = serde.String()
	}
	g := NewGraph()
	g.Add(&NodeSpec{Name: "src", Kind: SourceKind, Topics: []Topic{{Name: "in"}}, Out: strRec,
		New: NewSource("src", serde.String(), pl.source)})
	p := pl.p
	g.Add(&NodeSpec{Name: "p", Kind: ProcessorKind, Parents: []string{"src"}, In: strRec, Out: strRec,
		New: NewProcessor("p", func() processor.Processor[string, string, string, string] {
			if pl.panicInInit {
				panic("supplier failed")
			}
			return p
		})})
	c := pl.c
	g.Add(&NodeSpec{Name: "c", Kind: ProcessorKind, Parents: []string{"p"}, In: strRec, Out: strRec,
		New: NewProcessor("c", func() processor.Processor[string, string, string, string] { return c })})
	g.Add(&NodeSpec{Name: "sink", Kind: SinkKind, Parents: []string{"c"}, Topics: []Topic{{Name: "out"}}, In: strRec,
		New: NewSink("sink", Topic{Name: "out"}, serde.String(), pl.sink)})
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	task, err := NewTask(plan.Subtopologies[0], 0, TaskConfig{AppID: "app", Collector: discard{}, Clock: clock,
		StateDir: t.TempDir(), Extractor: pl.extractor})
	if task != nil {
		t.Cleanup(func() { _ = task.Close() })
	}
	return task, err
}

func boomOn(what string) func(processor.Record[string, string]) error {
	return func(r processor.Record[string, string]) error {
		if r.Value == "boom" {
			panic(what + " failed")
		}
		return nil
	}
}

// A panic in user code stops the task with a RecordError naming the node
// whose code panicked and the record, wrapping the panic value and stack.
func TestPanicsStopTheTask(t *testing.T) {
	tests := []struct {
		name       string
		pl         pipeline
		punctuate  bool
		node       string
		stage      string
		offset     int64
		value      string
		initFailed bool
	}{
		{name: "processor", pl: pipeline{p: &funcProc{fn: boomOn("p")}}, node: "p", stage: "processing", offset: 1, value: "p failed"},
		{name: "child of a processor", pl: pipeline{c: &funcProc{fn: boomOn("c")}}, node: "c", stage: "processing", offset: 1, value: "c failed"},
		{name: "sink serializer", pl: pipeline{sink: panicSerde{}}, node: "sink", stage: "processing", offset: 1, value: "serializer: boom"},
		{name: "source deserializer", pl: pipeline{source: panicSerde{}}, stage: "deserializing", offset: 1, value: "deserializer: boom"},
		{name: "timestamp extractor", pl: pipeline{extractor: func(r *kgo.Record, _ int64) (int64, error) {
			if string(r.Value) == "boom" {
				panic("extractor failed")
			}
			return 1, nil
		}}, stage: "extracting timestamp", offset: 1, value: "extractor failed"},
		{name: "punctuator", pl: pipeline{p: &funcProc{init: func(ctx processor.Context[string, string]) {
			ctx.Schedule(time.Second, processor.WallClockTime, func(int64) error { panic("punctuator failed") })
		}}}, punctuate: true, node: "p", stage: "punctuation", offset: -1, value: "punctuator failed"},
		{name: "supplier", pl: pipeline{panicInInit: true}, initFailed: true, value: "supplier failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{}
			task, err := tt.pl.task(t, clock)
			if tt.initFailed {
				var pe *PanicError
				if !errors.As(err, &pe) || pe.Value != tt.value || !strings.Contains(err.Error(), `processor "p": init`) {
					t.Fatalf("NewTask: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			task.Add(&kgo.Record{Topic: "in", Offset: 0, Value: []byte("fine"), Timestamp: time.UnixMilli(1)})
			task.Add(&kgo.Record{Topic: "in", Offset: 1, Value: []byte("boom"), Timestamp: time.UnixMilli(2)})
			if tt.punctuate {
				if _, err := task.Process(10); err != nil {
					t.Fatal(err)
				}
				clock.now = 5000
				err = task.PunctuateWallClock()
			} else {
				var n int
				n, err = task.Process(10)
				if n != 1 {
					t.Errorf("Process = %d, want 1", n)
				}
			}
			var re *RecordError
			var pe *PanicError
			if !errors.As(err, &re) || !errors.As(err, &pe) {
				t.Fatalf("error is not a RecordError wrapping a PanicError: %v", err)
			}
			if re.Node != tt.node || re.Stage != tt.stage || re.Offset != tt.offset {
				t.Errorf("RecordError node %q stage %q offset %d, want %q %q %d", re.Node, re.Stage, re.Offset, tt.node, tt.stage, tt.offset)
			}
			if pe.Value != tt.value || !strings.Contains(string(pe.Stack), "task_errors_test.go") {
				t.Errorf("panic value %v, stack:\n%s", pe.Value, pe.Stack)
			}
			if task.Err() == nil {
				t.Errorf("the task is not stopped")
			}
		})
	}
}

// Records processed before the one that fails are counted.
func TestProcessedCountsRecordsBeforeAFailure(t *testing.T) {
	failOn := func(r processor.Record[string, string]) error {
		if r.Value == "bad" {
			return errors.New("bad value")
		}
		return nil
	}
	task, err := pipeline{p: &funcProc{fn: failOn}}.task(t, &fakeClock{})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{"a", "b", "bad", "c"} {
		task.Add(&kgo.Record{Topic: "in", Offset: int64(i), Value: []byte(v), Timestamp: time.UnixMilli(1)})
	}
	n, err := task.Process(10)
	if n != 2 || err == nil {
		t.Fatalf("Process = %d, %v; want 2 and an error", n, err)
	}
	if got := task.cfg.Counters.Processed.Load(); got != 2 {
		t.Errorf("Processed = %d, want 2", got)
	}
}

// copartitionPlan is a plan where node "join" reads sources over topics a
// and b (through a repartition of b when viaRepartition), with a store.
func copartitionPlan(t *testing.T, viaRepartition bool) *Plan {
	t.Helper()
	g := NewGraph()
	g.Add(srcSpec("sa", extTopic("a")))
	g.Add(srcSpec("sb", extTopic("b")))
	right := "sb"
	if viaRepartition {
		g.AddInternalTopic(InternalTopic{Name: "rb-repartition"})
		g.Add(sinkSpec("rb-sink", intTopic("rb-repartition"), "sb"))
		g.Add(srcSpec("rb-src", intTopic("rb-repartition")))
		right = "rb-src"
	}
	g.Add(procSpec("join", "sa", right))
	g.AddStore(&StoreSpec{Name: "st"})
	g.Connect("st", "join")
	g.Copartition("sa", right)
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func TestCopartitionCheck(t *testing.T) {
	tests := []struct {
		name           string
		viaRepartition bool
		counts         map[string]int32
		wantErr        string
		wantInternal   int32
	}{
		{name: "same counts", counts: map[string]int32{"a": 3, "b": 3}},
		{name: "different counts", counts: map[string]int32{"a": 3, "b": 2}, wantErr: `"a" (3), "b" (2) must have the same partition count`},
		{name: "repartition takes the other side's count", viaRepartition: true,
			counts: map[string]int32{"a": 3, "b": 5}, wantInternal: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(copartitionPlan(t, tt.viaRepartition), Config{AppID: "app", Logger: slog.New(slog.DiscardHandler)})
			want, err := e.internalPartitions(tt.counts)
			if err != nil {
				t.Fatal(err)
			}
			err = e.checkCopartitioned(tt.counts, want)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, ErrNotCopartitioned) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want ErrNotCopartitioned mentioning %s", err, tt.wantErr)
			}
			if tt.wantInternal != 0 {
				if got := want["app-rb-repartition"]; got != tt.wantInternal {
					t.Errorf("repartition topic: %d partitions, want %d", got, tt.wantInternal)
				}
			}
		})
	}
}

// A sub-topology with a store that reads topics with different partition
// counts is legal but splits the state of a key: warned about once.
func TestWarnSplitState(t *testing.T) {
	g := NewGraph()
	g.Add(srcSpec("sa", extTopic("a")))
	g.Add(srcSpec("sb", extTopic("b")))
	g.Add(procSpec("merge", "sa", "sb"))
	g.AddStore(&StoreSpec{Name: "counts"})
	g.Connect("counts", "merge")
	g.Add(srcSpec("sc", extTopic("c")))
	g.Add(srcSpec("sd", extTopic("d")))
	g.Add(procSpec("stateless", "sc", "sd"))
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	e := NewEngine(plan, Config{AppID: "app", Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	e.warnSplitState(map[string]int32{"a": 3, "b": 2, "c": 3, "d": 2}, nil)
	out := logged.String()
	if strings.Count(out, "level=WARN") != 1 {
		t.Fatalf("want one warning (the stateless sub-topology is fine):\n%s", out)
	}
	for _, w := range []string{`\"a\" (3), \"b\" (2)`, "repartition", "subtopology=0"} {
		if !strings.Contains(out, w) {
			t.Errorf("warning does not mention %s:\n%s", w, out)
		}
	}
}

// Run fails at start, before joining the group, when co-partitioned
// topics have different partition counts.
func TestRunFailsOnTopicsNotCopartitioned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.CreateTopics(ctx, 3, "a"); err != nil {
		t.Fatal(err)
	}
	if err := br.CreateTopics(ctx, 2, "b"); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(copartitionPlan(t, false), Config{
		AppID: "app", Brokers: br.Addrs(), Threads: 1, CommitInterval: time.Second, MaxPollRecords: 100,
		Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir(),
	})
	err = e.Run(ctx)
	if !errors.Is(err, ErrNotCopartitioned) || !strings.Contains(err.Error(), `"a" (3), "b" (2)`) {
		t.Fatalf("Run: %v, want ErrNotCopartitioned naming a (3) and b (2)", err)
	}
}

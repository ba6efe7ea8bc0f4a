package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sentRecs is a Collector that keeps what it is sent.
type sentRecs struct{ recs []*kgo.Record }

func (c *sentRecs) Send(rec *kgo.Record, _ SendKind) { c.recs = append(c.recs, rec) }

func (c *sentRecs) values(topic string) []string {
	var out []string
	for _, r := range c.recs {
		if r.Topic == topic {
			out = append(out, string(r.Value))
		}
	}
	return out
}

// siblingTask is the task of src -> {bad -> sink(out-bad), good ->
// sink(out-good)}: bad runs fn; a punctuator of bad runs punct.
func siblingTask(t *testing.T, p ProcessingPolicy, fn func(processor.Record[string, string]) error, punct processor.Punctuator) (*Task, *sentRecs, *fakeClock) {
	t.Helper()
	g := NewGraph()
	g.Add(&NodeSpec{Name: "src", Kind: SourceKind, Topics: []Topic{{Name: "in"}}, Out: strRec,
		New: NewSource("src", serde.String(), serde.String())})
	bad := &funcProc{fn: fn, init: func(ctx processor.Context[string, string]) {
		if punct != nil {
			ctx.Schedule(time.Second, processor.WallClockTime, punct)
		}
	}}
	g.Add(&NodeSpec{Name: "bad", Kind: ProcessorKind, Parents: []string{"src"}, In: strRec, Out: strRec,
		New: NewProcessor("bad", func() processor.Processor[string, string, string, string] { return bad })})
	g.Add(&NodeSpec{Name: "good", Kind: ProcessorKind, Parents: []string{"src"}, In: strRec, Out: strRec,
		New: NewProcessor("good", func() processor.Processor[string, string, string, string] { return &funcProc{} })})
	for _, n := range []string{"bad", "good"} {
		g.Add(&NodeSpec{Name: "sink-" + n, Kind: SinkKind, Parents: []string{n}, Topics: []Topic{{Name: "out-" + n}}, In: strRec,
			New: NewSink("sink-"+n, Topic{Name: "out-" + n}, serde.String(), serde.String())})
	}
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	col, clock := &sentRecs{}, &fakeClock{}
	task, err := NewTask(plan.Subtopologies[0], 0, TaskConfig{AppID: "app", Collector: col, Clock: clock,
		StateDir: t.TempDir(), OnProcessing: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Close() })
	return task, col, clock
}

// A processing error drops the record at the failing node only: its
// siblings still get it, and the records after it are processed.
func TestProcessingErrorPolicies(t *testing.T) {
	failOnBoom := func(r processor.Record[string, string]) error {
		if r.Value == "boom" {
			return errors.New("bad value")
		}
		return nil
	}
	tests := []struct {
		name    string
		p       ProcessingPolicy
		fail    bool
		bad     string // values out of bad
		good    string // values out of good
		dlq     int
		dropped int64
	}{
		{name: "fail", fail: true, bad: "a", good: "a"},
		{name: "skip", p: ProcessingPolicy{Policy: Policy{Kind: PolicySkip}}, bad: "a,b", good: "a,boom,b", dropped: 1},
		{name: "dead letter", p: ProcessingPolicy{Policy: Policy{Kind: PolicyDeadLetter, Topic: "dlq"}}, bad: "a,b", good: "a,boom,b", dlq: 1, dropped: 1},
		{name: "handler", p: ProcessingPolicy{Handler: func(ec *ErrorContext) Policy {
			if ec.Node == "bad" && ec.Offset == 1 && string(ec.Value) == "boom" {
				return Policy{Kind: PolicyDeadLetter, Topic: "dlq"}
			}
			return Policy{}
		}}, bad: "a,b", good: "a,boom,b", dlq: 1, dropped: 1},
		{name: "handler panics", p: ProcessingPolicy{Handler: func(*ErrorContext) Policy { panic("handler broke") }},
			fail: true, bad: "a", good: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, col, _ := siblingTask(t, tt.p, failOnBoom, nil)
			for i, v := range []string{"a", "boom", "b"} {
				task.Add(&kgo.Record{Topic: "in", Offset: int64(i), Key: []byte("k"), Value: []byte(v), Timestamp: time.UnixMilli(int64(10 + i))})
			}
			_, err := task.Process(10)
			var re *RecordError
			if tt.fail != (err != nil) || tt.fail && (!errors.As(err, &re) || re.Node != "bad" || re.Offset != 1) {
				t.Fatalf("Process: %v, want failure %v at node bad offset 1", err, tt.fail)
			}
			if got := strings.Join(col.values("out-bad"), ","); got != tt.bad {
				t.Errorf("out-bad %q, want %q", got, tt.bad)
			}
			if got := strings.Join(col.values("out-good"), ","); got != tt.good {
				t.Errorf("out-good %q, want %q", got, tt.good)
			}
			if got := col.values("dlq"); len(got) != tt.dlq || tt.dlq == 1 && got[0] != "boom" {
				t.Errorf("dead letters %q, want %d of boom", got, tt.dlq)
			}
			if got := task.cfg.Counters.Dropped.Load(); got != tt.dropped {
				t.Errorf("Dropped %d, want %d", got, tt.dropped)
			}
		})
	}
}

// A punctuator's error goes to the policy too; its dead letter has no key
// or value, and partition and offset -1.
func TestPunctuatorErrorDeadLetter(t *testing.T) {
	p := ProcessingPolicy{Policy: Policy{Kind: PolicyDeadLetter, Topic: "dlq"}}
	task, col, clock := siblingTask(t, p, nil, func(int64) error { panic("punctuator broke") })
	clock.now = 5000
	if err := task.PunctuateWallClock(); err != nil {
		t.Fatal(err)
	}
	if len(col.recs) != 1 {
		t.Fatalf("sent %d records, want one dead letter", len(col.recs))
	}
	dl := col.recs[0]
	hs := map[string]string{}
	for _, h := range dl.Headers {
		hs[h.Key] = string(h.Value)
	}
	if dl.Key != nil || dl.Value != nil || hs[HeaderStreamsErrorPartition] != "-1" || hs[HeaderStreamsErrorOffset] != "-1" ||
		hs[HeaderStreamsErrorTopic] != "" || hs[HeaderStreamsErrorMessage] != "punctuator broke" || dl.Timestamp.UnixMilli() != 5000 {
		t.Errorf("dead letter key %q value %q at %d, headers %v", dl.Key, dl.Value, dl.Timestamp.UnixMilli(), hs)
	}
	if task.Err() != nil || task.cfg.Counters.Dropped.Load() != 1 {
		t.Errorf("task error %v, dropped %d; want nil and 1", task.Err(), task.cfg.Counters.Dropped.Load())
	}
}

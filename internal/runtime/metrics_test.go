package runtime

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

type nopProc struct {
	ctx processor.Context[string, string]
}

func (p *nopProc) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *nopProc) Process(r processor.Record[string, string]) error {
	if r.Value != "drop" {
		p.ctx.Forward(r)
	}
	return nil
}
func (p *nopProc) Close() error { return nil }

// chainTask returns a task of src("in") -> a -> b, where a drops the
// records whose value is "drop".
func chainTask(t *testing.T, cfg TaskConfig) *Task {
	t.Helper()
	g := NewGraph()
	g.Add(&NodeSpec{Name: "src", Kind: SourceKind, Topics: []Topic{{Name: "in"}}, Out: strRec,
		New: NewSource("src", serde.String(), serde.String())})
	for _, n := range [][2]string{{"a", "src"}, {"b", "a"}} {
		g.Add(&NodeSpec{Name: n[0], Kind: ProcessorKind, Parents: []string{n[1]}, In: strRec, Out: strRec,
			New: NewProcessor(n[0], func() processor.Processor[string, string, string, string] { return &nopProc{} })})
	}
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	cfg.AppID, cfg.Collector, cfg.StateDir = "app", discard{}, t.TempDir()
	task, err := NewTask(plan.Subtopologies[0], 3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Close() })
	return task
}

func TestDebugMetricsCountPerTaskAndNode(t *testing.T) {
	tests := []struct {
		name  string
		debug bool
		want  []DebugCount
	}{
		{name: "info records nothing per node", debug: false},
		{name: "debug", debug: true, want: []DebugCount{
			{Task: processor.TaskID{Partition: 3}, Node: "", Processed: 3},
			{Task: processor.TaskID{Partition: 3}, Node: "a", Processed: 3},
			{Task: processor.TaskID{Partition: 3}, Node: "b", Processed: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dm *DebugMetrics
			if tt.debug {
				dm = NewDebugMetrics()
			}
			task := chainTask(t, TaskConfig{Debug: dm})
			for i, v := range []string{"x", "drop", "y"} {
				task.Add(&kgo.Record{Topic: "in", Partition: 3, Offset: int64(i), Value: []byte(v), Timestamp: time.UnixMilli(int64(i))})
			}
			if _, err := task.Process(10); err != nil {
				t.Fatal(err)
			}
			got := dm.Snapshot()
			if len(got) != len(tt.want) {
				t.Fatalf("snapshot %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("counter %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// Logs carry the application id and instance (engine), and the task
// (task), as attributes.
func TestLogAttributes(t *testing.T) {
	var logged strings.Builder
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	e := NewEngine(&Plan{}, Config{AppID: "app", Threads: 1, Logger: logger})
	e.setState(Running)
	task := chainTask(t, TaskConfig{Logger: e.cfg.Logger, OnBadRecord: Policy{Kind: PolicySkip}, Extractor: func(*kgo.Record, int64) (int64, error) {
		return 0, errTest
	}})
	task.Add(&kgo.Record{Topic: "in", Partition: 3, Value: []byte("x")})
	if _, err := task.Process(10); err != nil {
		t.Fatal(err)
	}
	out := logged.String()
	for _, want := range []string{"application_id=app instance=" + e.process, "msg=\"kstreams: state change\"", "task=0_3", "skipping bad record"} {
		if !strings.Contains(out, want) {
			t.Errorf("log misses %q:\n%s", want, out)
		}
	}
}

var errTest = testError("bad timestamp")

type testError string

func (e testError) Error() string { return string(e) }

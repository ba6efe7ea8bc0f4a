package runtime

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestNextPunctuation(t *testing.T) {
	tests := []struct {
		name                string
		last, interval, now int64
		want                int64
	}{
		{name: "stream time: first record at 0", last: 0, interval: 10, now: 0, want: 10},
		{name: "stream time: first record off the grid", last: 0, interval: 10, now: 25, want: 30},
		{name: "stream time: first record on the grid", last: 0, interval: 10, now: 30, want: 40},
		{name: "on time", last: 30, interval: 10, now: 30, want: 40},
		{name: "a little late", last: 30, interval: 10, now: 31, want: 40},
		{name: "just before the next", last: 30, interval: 10, now: 39, want: 40},
		{name: "exactly one interval late", last: 30, interval: 10, now: 40, want: 50},
		{name: "missed intervals are skipped", last: 40, interval: 10, now: 75, want: 80},
		{name: "missed intervals, on the grid", last: 40, interval: 10, now: 80, want: 90},
		{name: "wall clock grid from its start", last: 1100, interval: 100, now: 1350, want: 1400},
		{name: "interval 1", last: 5, interval: 1, now: 9, want: 10},
		{name: "large interval", last: 0, interval: 7 * 24 * 3600 * 1000, now: 1, want: 7 * 24 * 3600 * 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextPunctuation(tt.last, tt.interval, tt.now)
			if got != tt.want {
				t.Errorf("nextPunctuation(%d, %d, %d) = %d, want %d", tt.last, tt.interval, tt.now, got, tt.want)
			}
			if got <= tt.now || (got-tt.last)%tt.interval != 0 {
				t.Errorf("%d is not after now on the grid", got)
			}
		})
	}
}

type fakeClock struct{ now int64 }

func (c *fakeClock) NowMs() int64 { return c.now }

type discard struct{}

func (discard) Send(*kgo.Record, SendKind) {}

// scheduler is a processor whose Init runs init with its context.
type scheduler struct {
	init func(ctx processor.Context[string, string])
}

func (s *scheduler) Init(ctx processor.Context[string, string]) error { s.init(ctx); return nil }
func (s *scheduler) Process(processor.Record[string, string]) error   { return nil }
func (s *scheduler) Close() error                                     { return nil }

// schedulingTask returns a task of src("in") -> p, where p's Init calls
// init, on clock.
func schedulingTask(t *testing.T, clock Clock, init func(ctx processor.Context[string, string])) *Task {
	t.Helper()
	g := NewGraph()
	g.Add(&NodeSpec{Name: "src", Kind: SourceKind, Topics: []Topic{{Name: "in"}}, Out: strRec,
		New: NewSource("src", serde.String(), serde.String())})
	g.Add(&NodeSpec{Name: "p", Kind: ProcessorKind, Parents: []string{"src"}, In: strRec, Out: strRec,
		New: NewProcessor("p", func() processor.Processor[string, string, string, string] { return &scheduler{init: init} })})
	plan, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	task, err := NewTask(plan.Subtopologies[0], 0, TaskConfig{AppID: "app", Collector: discard{}, Clock: clock, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Close() })
	return task
}

func TestWallClockSchedules(t *testing.T) {
	clock := &fakeClock{now: 1000}
	var log []string
	var slow processor.Cancellable
	task := schedulingTask(t, clock, func(ctx processor.Context[string, string]) {
		ctx.Schedule(100*time.Millisecond, processor.WallClockTime, func(ts int64) error {
			log = append(log, fmt.Sprintf("fast %d", ts))
			return nil
		})
		slow = ctx.Schedule(250*time.Millisecond, processor.WallClockTime, func(ts int64) error {
			log = append(log, fmt.Sprintf("slow %d", ts))
			return nil
		})
		var once processor.Cancellable
		once = ctx.Schedule(50*time.Millisecond, processor.WallClockTime, func(ts int64) error {
			log = append(log, fmt.Sprintf("once %d", ts))
			once.Cancel() // cancelling itself while it runs
			return nil
		})
		// Stream-time schedules do not follow the wall clock.
		ctx.Schedule(time.Millisecond, processor.StreamTime, func(ts int64) error {
			log = append(log, fmt.Sprintf("stream %d", ts))
			return nil
		})
	})
	for _, now := range []int64{1049, 1050, 1100, 1250, 1260, 1500, 1501} {
		clock.now = now
		if now == 1260 {
			slow.Cancel()
		}
		if err := task.PunctuateWallClock(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"once 1050",
		"fast 1100",
		"fast 1250", "slow 1250",
		"fast 1500",
	}
	if !slices.Equal(log, want) {
		t.Errorf("got  %q\nwant %q", log, want)
	}
	// A cancelled schedule leaves its queue when it comes due.
	if got := len(task.punct.stream) + len(task.punct.wall); got != 2 {
		t.Errorf("%d schedules kept, want the 2 not cancelled", got)
	}
}

func TestStreamTimeScheduleFromProcess(t *testing.T) {
	// A schedule made while processing a record fires on that record.
	var log []string
	task := schedulingTask(t, &fakeClock{}, func(ctx processor.Context[string, string]) {
		ctx.Schedule(10*time.Millisecond, processor.StreamTime, func(ts int64) error {
			_, ok := ctx.RecordMetadata()
			log = append(log, fmt.Sprintf("%d %v", ts, ok))
			return nil
		})
	})
	for i, ts := range []int64{5, 9, 10, 35} {
		task.Add(&kgo.Record{Topic: "in", Offset: int64(i), Timestamp: time.UnixMilli(ts)})
	}
	task.Add(&kgo.Record{Topic: "other", Timestamp: time.UnixMilli(1000)}) // not the task's: ignored
	if n, err := task.Process(10); err != nil || n != 4 {
		t.Fatalf("Process = %d, %v; want 4, nil", n, err)
	}
	if want := []string{"5 false", "10 false", "35 false"}; !slices.Equal(log, want) {
		t.Errorf("got %q, want %q", log, want)
	}
	if task.Buffered() {
		t.Errorf("records left after processing everything")
	}
}

func TestPunctQueueOrder(t *testing.T) {
	// Schedules due at the same time come out as they do from Kafka
	// Streams' punctuation queue (a java.util.PriorityQueue): a, b, c all
	// due at 0 give a, c, b; due times otherwise order them.
	tests := []struct {
		name string
		due  []int64 // due time of schedules named a, b, c, ... in push order
		want string
	}{
		{"ties", []int64{0, 0, 0}, "acb"},
		{"by due time", []int64{10, 4, 6}, "bca"},
		{"four ties", []int64{5, 5, 5, 5}, "adcb"},
		{"mixed", []int64{3, 1, 3, 1}, "bdca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q punctQueue
			for i, due := range tt.due {
				q.push(&schedule{node: string(rune('a' + i)), next: due})
			}
			var got string
			for len(q) > 0 {
				got += q.pop().node
			}
			if got != tt.want {
				t.Errorf("order %q, want %q", got, tt.want)
			}
		})
	}
}

package kstreamstest

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNoRecord is returned when reading an output topic that has no unread
// record (use errors.Is).
var ErrNoRecord = errors.New("kstreamstest: no record in output topic")

// ErrClosed is returned by a closed driver (use errors.Is).
var ErrClosed = errors.New("kstreamstest: driver closed")

// Driver runs a topology in-process, one task per sub-topology on
// partition 0, through the same task code the runtime uses.
type Driver struct {
	appID    string
	plan     *runtime.Plan
	tasks    []*runtime.Task
	taskOf   map[string]*runtime.Task
	internal map[string]bool
	outputs  map[string][]*kgo.Record
	offsets  map[string]int64
	pending  []*kgo.Record
	clock    clock
	counters runtime.Counters
	stateDir string
	closed   bool
	// globals are the global stores, by the topic each copies.
	globals map[string]*runtime.GlobalStore
}

type clock struct{ now int64 }

func (c *clock) NowMs() int64 { return c.now }

// Option configures a Driver.
type Option func(*settings)

type settings struct {
	appID      string
	start      time.Time
	onBad      runtime.Policy
	extrac     runtime.Extractor
	cacheBytes int64
	logger     *slog.Logger
	onProc     runtime.ProcessingPolicy
}

// ApplicationID sets the application id the topology sees and that prefixes
// internal topics. Default "kstreamstest".
func ApplicationID(id string) Option { return func(s *settings) { s.appID = id } }

// WallClock sets the driver's initial wall-clock time. Default: the Unix
// epoch, so tests are deterministic.
func WallClock(t time.Time) Option { return func(s *settings) { s.start = t } }

// SkipBadRecords makes records that fail to deserialize be skipped and
// counted instead of failing, like kstreams.OnDeserializationError(kstreams.SkipRecord).
func SkipBadRecords() Option {
	return func(s *settings) { s.onBad = runtime.Policy{Kind: runtime.PolicySkip} }
}

// DeadLetterBadRecords sends records that fail to deserialize to topic, like
// kstreams.OnDeserializationError(kstreams.DeadLetter(topic)); read them
// with an output topic.
func DeadLetterBadRecords(topic string) Option {
	return func(s *settings) { s.onBad = runtime.Policy{Kind: runtime.PolicyDeadLetter, Topic: topic} }
}

// TimestampExtractor sets how record timestamps are taken, like
// kstreams.WithTimestampExtractor. Default: the record's timestamp
// (kstreams.FailOnInvalidTimestamp).
func TimestampExtractor(fn kstreams.TimestampExtractor) Option {
	return func(s *settings) {
		if fn != nil {
			s.extrac = link.ExtractorOf(fn)
		}
	}
}

// Logger sets the logger of the driver's tasks, like kstreams.Logger: what
// they log of dropped and bad records. Default: none.
func Logger(l *slog.Logger) Option { return func(s *settings) { s.logger = l } }

// New returns a driver running t. Close it when done.
func New(t *kstreams.Topology, opts ...Option) (*Driver, error) {
	s := settings{appID: "kstreamstest", start: time.UnixMilli(0)}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("kstreamstest: option %d of %d is nil", i+1, len(opts))
		}
		o(&s)
	}
	plan, err := link.PlanOf(t)
	if err != nil {
		return nil, err
	}
	d := &Driver{
		appID: s.appID, plan: plan, taskOf: map[string]*runtime.Task{}, internal: map[string]bool{},
		outputs: map[string][]*kgo.Record{}, offsets: map[string]int64{}, clock: clock{now: s.start.UnixMilli()},
	}
	if d.stateDir, err = os.MkdirTemp("", "kstreamstest-"); err != nil {
		return nil, fmt.Errorf("kstreamstest: state directory: %w", err)
	}
	for _, it := range plan.InternalTopics {
		d.internal[runtime.Topic{Name: it.Name, Internal: true}.Resolve(s.appID)] = true
	}
	d.globals = map[string]*runtime.GlobalStore{}
	globals, err := plan.NewGlobalStores(s.appID, filepath.Join(d.stateDir, s.appID, "global"), nil)
	if err != nil {
		d.Close()
		return nil, err
	}
	for _, st := range globals {
		d.globals[st.Spec().Topic] = st
	}
	for _, st := range plan.Subtopologies {
		task, err := runtime.NewTask(st, 0, runtime.TaskConfig{
			Globals: globals,
			AppID:   s.appID, Extractor: s.extrac, OnBadRecord: s.onBad,
			Collector: collector{d}, Clock: &d.clock, Counters: &d.counters, Logger: s.logger, OnProcessing: s.onProc,
			StateDir: filepath.Join(d.stateDir, s.appID), CacheMaxBytes: s.cacheBytes,
			EmitEveryRecord: true,
		})
		if err != nil {
			d.Close()
			return nil, err
		}
		d.tasks = append(d.tasks, task)
		for _, topic := range st.Sources {
			d.taskOf[topic.Resolve(s.appID)] = task
		}
	}
	return d, nil
}

// collector is the runtime's collector of a driver: records land in their
// output topic, and records for internal topics are fed to the task reading
// them.
type collector struct{ d *Driver }

func (c collector) Send(rec *kgo.Record, kind runtime.SendKind) {
	d := c.d
	rec.Offset = d.offsets[rec.Topic]
	d.offsets[rec.Topic]++
	d.counters.Produced.Add(1)
	if kind == runtime.SendDeadLetter {
		d.counters.DeadLettered.Add(1)
	}
	d.outputs[rec.Topic] = append(d.outputs[rec.Topic], rec)
	if d.internal[rec.Topic] {
		d.pending = append(d.pending, rec)
	}
}

// pipe processes one input record and everything it causes on internal
// topics.
func (d *Driver) pipe(rec *kgo.Record) error {
	if d.closed {
		return ErrClosed
	}
	if g := d.globals[rec.Topic]; g != nil {
		// As Kafka Streams' test driver, the record goes straight into the
		// global store, before the next stream record.
		rec.Offset = d.offsets[rec.Topic]
		d.offsets[rec.Topic]++
		applied, err := g.Update(runtime.GlobalRecord{
			Topic: rec.Topic, Offset: rec.Offset, Key: rec.Key, Value: rec.Value,
			Timestamp: rec.Timestamp.UnixMilli(), Headers: rec.Headers,
		}, false)
		if !applied && err == nil {
			d.counters.Dropped.Add(1)
		}
		return err
	}
	if d.taskOf[rec.Topic] == nil {
		return fmt.Errorf("kstreamstest: no source reads topic %q", rec.Topic)
	}
	rec.Offset = d.offsets[rec.Topic]
	d.offsets[rec.Topic]++
	d.pending = append(d.pending, rec)
	return d.drain()
}

// AdvanceWallClock moves the wall clock forward by dur and runs the
// wall-clock punctuators that are due, in task order.
func (d *Driver) AdvanceWallClock(dur time.Duration) error {
	if d.closed {
		return ErrClosed
	}
	d.clock.now += dur.Milliseconds()
	for _, t := range d.tasks {
		if err := t.PunctuateWallClock(); err != nil {
			return err
		}
	}
	return d.drain()
}

// drain flushes the store caches (as Kafka Streams' test driver commits
// after each record), then processes the pending records one at a time,
// flushing after each, until none is left.
func (d *Driver) drain() error {
	for {
		for _, t := range d.tasks {
			if err := t.FlushCaches(); err != nil {
				d.pending = nil
				return err
			}
		}
		if len(d.pending) == 0 {
			return nil
		}
		copied := *d.next()
		task := d.taskOf[copied.Topic]
		task.Add(&copied)
		if _, err := task.Process(1); err != nil {
			d.pending = nil
			return err
		}
	}
}

// next takes the pending record to process next. As a task of the runtime
// (and Kafka Streams' test driver) chooses among its partitions, it is the
// record with the smallest timestamp among the first pending record of each
// topic; a tie goes to the record sent first.
func (d *Driver) next() *kgo.Record {
	best := -1
	seen := map[string]bool{}
	for i, r := range d.pending {
		if seen[r.Topic] {
			continue
		}
		seen[r.Topic] = true
		if best < 0 || r.Timestamp.Before(d.pending[best].Timestamp) {
			best = i
		}
	}
	rec := d.pending[best]
	d.pending = append(d.pending[:best], d.pending[best+1:]...)
	return rec
}

// CacheMaxBytes sets the record cache size of cached stores. The driver
// flushes caches after each piped record, as a commit would; a size of 0
// (the default) forwards every update.
func CacheMaxBytes(n int64) Option { return func(s *settings) { s.cacheBytes = n } }

// WallClockTime returns the driver's wall-clock time.
func (d *Driver) WallClockTime() time.Time { return time.UnixMilli(d.clock.now) }

// Metrics returns the driver's running totals.
func (d *Driver) Metrics() kstreams.Metrics {
	t := runtime.Snapshot(&d.counters)
	return kstreams.Metrics{
		Processed: t.Processed, Skipped: t.Skipped, DeadLettered: t.DeadLettered, ProduceFailed: t.ProduceFailed,
		Produced: t.Produced, Commits: t.Commits, Punctuations: t.Punctuations, Rebalances: t.Rebalances,
		Restored: t.Restored, Dropped: t.Dropped, StandbyUpdates: t.StandbyUpdates,
	}
}

// Close closes every task; it returns the first error.
func (d *Driver) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var first error
	for _, t := range d.tasks {
		if err := t.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, g := range d.globals {
		if err := g.Close(); err != nil && first == nil {
			first = err
		}
	}
	if err := os.RemoveAll(d.stateDir); err != nil && first == nil {
		first = err
	}
	return first
}

// Store returns the state store name of the driver's topology as S, as
// Kafka Streams' TopologyTestDriver.getStateStore: a
// state.KeyValueStore[K, V] for a Processor API store, a
// state.TimestampedKeyValueStore[K, V] for the store of a DSL table or
// aggregation (or a Processor API store declared Timestamped). Reads see
// every update (the driver flushes after each record); writes go to the
// store as a processor's would.
func Store[S any](d *Driver, name string) (S, error) {
	var zero S
	if d.closed {
		return zero, ErrClosed
	}
	for _, t := range d.tasks {
		st, err := t.StateStore("", name)
		if err != nil {
			continue
		}
		s, ok := st.(S)
		if !ok {
			return zero, fmt.Errorf("kstreamstest: state store %q is a %T, not a %s", name, st, reflect.TypeFor[S]())
		}
		return s, nil
	}
	return zero, fmt.Errorf("kstreamstest: no state store %q in the topology", name)
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Clock tells the wall-clock time in milliseconds.
type Clock interface {
	NowMs() int64
}

// SystemClock is the real wall clock.
type SystemClock struct{}

// NowMs returns the current Unix time in milliseconds.
func (SystemClock) NowMs() int64 { return time.Now().UnixMilli() }

// Collector takes the records a task produces. Send never blocks on the
// broker: errors are handled by the collector's production policy.
type Collector interface {
	Send(rec *kgo.Record, kind SendKind)
}

// SendKind says what a produced record is.
type SendKind int

const (
	// SendOutput is a record of a sink: a failure follows the production
	// policy.
	SendOutput SendKind = iota
	// SendDeadLetter is a dead letter: a failure stops the task.
	SendDeadLetter
	// SendChangelog is a store update for rec.Partition of a changelog: a
	// failure stops the task.
	SendChangelog
	// SendOutputToPartition is a record of a sink that chose its partition
	// (rec.Partition), as the response of a foreign-key join, sent back to
	// the partition of the row that asked: a failure follows the production
	// policy.
	SendOutputToPartition
)

// Extractor returns a record's timestamp (ms); partitionTime is the largest
// timestamp extracted so far on its partition (-1 before the first). An
// error is a bad record (OnBadRecord); a negative timestamp drops the
// record (logged and counted in Dropped), as Kafka Streams' RecordQueue.
type Extractor func(rec *kgo.Record, partitionTime int64) (int64, error)

// TaskConfig is what a task needs from its thread and application.
type TaskConfig struct {
	AppID string
	// Extractor is nil for the record's own timestamp, a negative one
	// being a bad record (ErrInvalidTimestamp), as Kafka Streams'
	// FailOnInvalidTimestamp.
	Extractor Extractor
	// Idling makes a task with several input partitions wait while one of
	// them has nothing buffered and is not known to be caught up, and up to
	// MaxTaskIdle after it is (Kafka Streams' max.task.idle.ms >= 0). Off,
	// a task processes whatever is buffered (max.task.idle.ms = -1, and the
	// test driver).
	Idling      bool
	MaxTaskIdle time.Duration
	// OnBadRecord handles records that fail to deserialize or carry an
	// invalid timestamp.
	OnBadRecord Policy
	// OnProcessing handles errors raised by user code in processors and
	// punctuators.
	OnProcessing ProcessingPolicy
	Collector    Collector
	Clock        Clock
	Counters     *Counters
	Logger       *slog.Logger
	// StateDir is the application's state directory; each task keeps its
	// persistent stores and checkpoint in a directory named after it.
	StateDir string
	// CacheMaxBytes bounds each cached store's cache; 0 writes through.
	CacheMaxBytes int64
	// Pebble configures the persistent stores (nil: the defaults).
	Pebble *state.PebbleOptions
	// Registry, if set, lists the stores of active tasks for queries.
	Registry *registry
	// Debug, if set, receives the debug-level metrics.
	Debug *DebugMetrics
	// Sensors, if set, receive the task's latency and drop sensors
	// (latency.go).
	Sensors *Sensors
	// Globals are the instance's global stores, by name, shared by all
	// its tasks.
	Globals map[string]*GlobalStore
	// ExactlyOnce keeps the key-value, window, session and versioned
	// stores' updates apart until their transaction commits (see
	// txnstore.go, state.SegmentedTxn and state.VersionedTxn).
	ExactlyOnce bool
	// EmitEveryRecord makes windowed aggregations emitting on window close
	// look for closed windows after every record instead of at most once
	// per wall-clock second: the test driver sets it, as Java's
	// TopologyTestDriver sets Kafka Streams' internal
	// emit.interval.ms.kstreams.windowed.aggregation to 0.
	EmitEveryRecord bool
	// Committed, if set, returns the committed offset of an input
	// partition with the partition time and processor metadata committed
	// with it, from which a new task starts (see offsetmeta.go).
	Committed func(topic string, partition int32) (CommittedOffset, bool)
}

type queued struct {
	rec *kgo.Record
	ts  int64
	err error
}

// partQueue buffers the fetched records of one source partition.
type partQueue struct {
	topic         string
	partition     int32
	src           source
	items         []queued
	head          int
	partitionTime int64
	// processedTime is the largest timestamp processed from the
	// partition (Kafka Streams' partition time, committed with the
	// offset), -1 before the first.
	processedTime int64
	next          int64 // next offset to commit, -1 before the first record
	epoch         int32
	committed     int64
	// first is the offset of the first record fetched, -1 before it:
	// the task's partitions are fetched from their committed offsets, so
	// it stands for the committed offset until the task commits.
	first int64
	idle  idleState
	// marker is the offset after a transaction marker fetched behind
	// records still buffered, 0 if none: once they are processed the
	// position to commit moves past it (Control).
	marker      int64
	markerEpoch int32
}

func (q *partQueue) empty() bool { return q.head == len(q.items) }

// Task runs one partition of one sub-topology. It is owned by one goroutine
// at a time: the stream thread, or the test driver.
type Task struct {
	// nullDepth is above 0 while a record forwarded with ForwardNull is
	// being processed: sinks write its zero value as null.
	nullDepth  int
	id         processor.TaskID
	labels     context.Context // pprof labels of its turns (pprof.go)
	st         *Subtopology
	cfg        TaskConfig
	nodes      []Node
	queues     []*partQueue
	queueOf    map[string]*partQueue
	streamTime int64
	raw        *kgo.Record
	ts         int64
	punct      punctQueues
	stores     []*taskStore
	standby    bool
	err        error
	closed     bool
	// hidden: the task restores, its stores are not in the query
	// registry (restoring.go).
	hidden    bool
	processed *atomic.Int64 // debug metrics only
	// checkpointedAt is when the task last wrote its checkpoint.
	checkpointedAt time.Time
	procLog        throttle // records dropped after processing errors
	// meta is the processor metadata (Kafka Streams' ProcessorMetadata),
	// committed with the offsets; metaDirty says it changed since the
	// last commit.
	meta      map[string]int64
	metaDirty bool
	// lateness is the task's record-lateness (debug level only).
	lateness *AvgMax
}

// NewTask creates and initializes the task for partition of st.
func NewTask(st *Subtopology, partition int32, cfg TaskConfig) (*Task, error) {
	t := &Task{
		id:         processor.TaskID{Subtopology: st.ID, Partition: partition},
		st:         st,
		cfg:        cfg,
		queueOf:    map[string]*partQueue{},
		streamTime: -1,
	}
	t.defaults()
	t.applyCommitted()
	if err := t.init(); err != nil {
		t.Close()
		return nil, fmt.Errorf("kstreams: task %s: %w", t.id, err)
	}
	return t, nil
}

// NewStandbyTask opens the stores of partition of st, to be kept up to
// date from their changelogs; it processes nothing.
func NewStandbyTask(st *Subtopology, partition int32, cfg TaskConfig) (*Task, error) {
	t := &Task{id: processor.TaskID{Subtopology: st.ID, Partition: partition}, st: st, cfg: cfg, standby: true, streamTime: -1}
	t.defaults()
	if err := t.openStores(); err != nil {
		_ = t.closeStores()
		return nil, fmt.Errorf("kstreams: standby task %s: %w", t.id, err)
	}
	return t, nil
}

func (t *Task) defaults() {
	if t.cfg.Clock == nil {
		t.cfg.Clock = SystemClock{}
	}
	if t.cfg.Counters == nil {
		t.cfg.Counters = &Counters{}
	}
	if t.cfg.Logger == nil {
		t.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t.cfg.Logger = t.cfg.Logger.With("task", t.id.String())
	t.procLog.every = logEvery
}

func (t *Task) init() error {
	if t.cfg.Debug != nil {
		t.processed = t.cfg.Debug.counter(t.id, "")
	}
	if err := t.openStores(); err != nil {
		return err
	}
	switch {
	case t.cfg.Registry == nil:
	case len(t.Changelogs()) > 0:
		// Its stores restore before the task runs: hidden from queries
		// from the start, not shown empty until the thread hides them.
		t.hideStores()
	default:
		for _, ts := range t.stores {
			t.cfg.Registry.add(ts.spec.Name, t.id, ts.queryView())
		}
	}
	inst := make(map[string]Node, len(t.st.Nodes))
	for _, n := range t.st.Nodes {
		inst[n.Name] = n.New()
	}
	for _, n := range t.st.Nodes {
		node := inst[n.Name]
		kids := t.st.Children[n.Name]
		children := make([]Node, len(kids))
		for i, k := range kids {
			children[i] = inst[k]
		}
		t.nodes = append(t.nodes, node)
		if err := node.Init(t, children); err != nil {
			return err
		}
		if n.Kind == SourceKind {
			for _, topic := range n.Topics {
				t.addQueue(topic.Resolve(t.cfg.AppID), node.(source))
			}
		}
	}
	return nil
}

func (t *Task) addQueue(topic string, src source) {
	q := &partQueue{topic: topic, partition: t.id.Partition, src: src, partitionTime: -1, processedTime: -1, next: -1, committed: -1, first: -1, idle: newIdleState()}
	t.committedQueue(q)
	t.queues = append(t.queues, q)
	t.queueOf[topic] = q
}

// ID returns the task's id.
func (t *Task) ID() processor.TaskID { return t.id }

// Err returns the error that stopped the task, if any.
func (t *Task) Err() error { return t.err }

// Add buffers a fetched record of one of the task's partitions.
func (t *Task) Add(rec *kgo.Record) {
	q := t.queueOf[rec.Topic]
	if q == nil {
		return
	}
	it := queued{rec: rec}
	if t.cfg.Extractor == nil {
		it.ts = rec.Timestamp.UnixMilli()
		if it.ts < 0 {
			it.err = InvalidTimestamp(it.ts)
		}
	} else {
		it.ts, it.err = t.extract(rec, q.partitionTime)
	}
	q.idle.fetched = rec.Offset + 1
	if q.first < 0 {
		q.first = rec.Offset
	}
	if it.err == nil && it.ts > q.partitionTime {
		q.partitionTime = it.ts
	}
	q.items = append(q.items, it)
}

// extract runs the timestamp extractor; a panic in it is an error of the
// record.
func (t *Task) extract(rec *kgo.Record, partitionTime int64) (ts int64, err error) {
	defer func() {
		if perr := recovered(recover()); perr != nil {
			ts, err = -1, perr
		}
	}()
	return t.cfg.Extractor(rec, partitionTime)
}

// Buffered reports whether the task holds records not yet processed.
func (t *Task) Buffered() bool {
	for _, q := range t.queues {
		if !q.empty() {
			return true
		}
	}
	return false
}

// nextQueue picks the non-empty queue whose head has the smallest timestamp,
// so that records are processed in timestamp order across partitions.
func (t *Task) nextQueue() *partQueue {
	var best *partQueue
	for _, q := range t.queues {
		if q.empty() {
			continue
		}
		if best == nil || q.items[q.head].ts < best.items[best.head].ts {
			best = q
		}
	}
	return best
}

// Process processes up to max buffered records. It returns the number
// processed and the error that stopped the task, if one did.
func (t *Task) Process(max int) (int, error) { return t.ProcessUntil(max, time.Time{}) }

// ProcessUntil is Process stopping also once the clock reaches deadline
// (checked after each record; the zero time is no deadline), so that a
// stream thread commits and punctuates on time however slow the records
// are to process.
func (t *Task) ProcessUntil(max int, deadline time.Time) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n := 0
	defer t.profileLabels()()
	// Count what was processed on every return, the failing batch's
	// records before the error included.
	defer func() {
		t.cfg.Counters.Processed.Add(int64(n))
		if t.processed != nil {
			t.processed.Add(int64(n))
		}
	}()
	for n < max {
		q := t.nextQueue()
		if q == nil || !t.processable() {
			break
		}
		it := q.items[q.head]
		q.items[q.head] = queued{}
		q.head++
		if q.empty() {
			q.items, q.head = q.items[:0], 0
		}
		if err := t.processOne(q, it); err != nil {
			return n, err
		}
		n++
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			break
		}
	}
	return n, nil
}

func (t *Task) processOne(q *partQueue, it queued) error {
	t.raw, t.ts = it.rec, it.ts
	defer func() { t.raw = nil }()
	if it.err != nil {
		if err := t.badRecord(it.rec, "extracting timestamp", it.err); err != nil {
			return err
		}
		q.advance(it.rec)
		return nil
	}
	if it.ts < 0 {
		t.dropInvalidTimestamp(it)
		q.advance(it.rec)
		return nil
	}
	t.recordLateness(it.ts)
	if it.ts > t.streamTime {
		t.streamTime = it.ts
	}
	q.processedTime = max(q.processedTime, it.ts)
	if derr := q.src.deliver(it.rec, it.ts); derr != nil {
		var se *stageError
		stage := "deserializing"
		if errors.As(derr, &se) {
			stage, derr = se.stage, se.err
		}
		if err := t.badRecord(it.rec, stage, derr); err != nil {
			return err
		}
	}
	if t.err != nil {
		return t.err
	}
	q.advance(it.rec)
	// Punctuators run outside the record: no metadata, and their errors
	// are punctuation errors.
	t.raw = nil
	return t.punctuate(processor.StreamTime, t.streamTime)
}

func (q *partQueue) advance(rec *kgo.Record) {
	q.next = rec.Offset + 1
	q.epoch = rec.LeaderEpoch
	if q.marker > q.next && q.empty() {
		q.next, q.epoch = q.marker, q.markerEpoch
	}
}

// Control takes a transaction marker (a control record) fetched from one
// of the task's partitions. Every record before it was fetched already:
// once they are processed, the offset to commit is the one after the
// marker, as Kafka Streams commits its consumer's position when a
// partition's buffer is empty. Committing the offset of the next data
// record instead would leave the group's lag above zero at rest behind
// every transaction's marker (exactly-once reads its input, repartition
// topics included, as written in transactions).
func (t *Task) Control(rec *kgo.Record) {
	q := t.queueOf[rec.Topic]
	if q == nil || rec.Offset+1 <= q.next {
		return
	}
	q.idle.fetched = max(q.idle.fetched, rec.Offset+1)
	if q.empty() {
		q.next, q.epoch = rec.Offset+1, rec.LeaderEpoch
		return
	}
	q.marker, q.markerEpoch = rec.Offset+1, rec.LeaderEpoch
}

// fail stops the task with err from node. The first error wins.
func (t *Task) fail(node string, err error) {
	if t.err != nil {
		return
	}
	re := &RecordError{Task: t.id, Node: node, Stage: "processing", Offset: -1, Err: err}
	if t.raw != nil {
		re.Topic, re.Partition, re.Offset = t.raw.Topic, t.raw.Partition, t.raw.Offset
	} else {
		re.Stage = "punctuation"
	}
	t.err = re
}

// recoverIn, deferred, turns a panic in node's user code into the error
// that stops the task, so that the process goes on. The innermost node
// recovers it: the node named is the one whose code panicked.
func (t *Task) recoverIn(node string) {
	if err := recovered(recover()); err != nil {
		t.fail(node, err)
	}
}

// badRecord applies the bad-record policy to a record that could not be
// read. It returns the error that stops the task, or nil.
func (t *Task) badRecord(rec *kgo.Record, stage string, cause error) error {
	re := &RecordError{Task: t.id, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Stage: stage, Err: cause}
	switch t.cfg.OnBadRecord.Kind {
	case PolicySkip:
		t.cfg.Counters.Skipped.Add(1)
		t.countDropped()
		t.cfg.Logger.Warn("kstreams: skipping bad record", "error", re.Error())
		return nil
	case PolicyDeadLetter:
		// Counted by the collector once the dead letter is written.
		t.cfg.Collector.Send(DeadLetterRecord(rec, t.cfg.OnBadRecord.Topic, re), SendDeadLetter)
		return nil
	}
	t.err = re
	return re
}

// DeadLetterRecord copies rec, unchanged, to topic with headers that say
// what went wrong and where the record came from.
func DeadLetterRecord(rec *kgo.Record, topic string, cause *RecordError) *kgo.Record {
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+5)
	hs = append(hs, rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: HeaderErrorStage, Value: []byte(cause.Stage)},
		kgo.RecordHeader{Key: HeaderErrorMessage, Value: []byte(cause.Err.Error())},
		kgo.RecordHeader{Key: HeaderErrorTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderErrorPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: HeaderErrorOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
	)
	return &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp, Headers: hs}
}

// The headers a dead-letter record carries.
const (
	HeaderErrorStage     = "kstreams.error.stage"
	HeaderErrorMessage   = "kstreams.error.message"
	HeaderErrorTopic     = "kstreams.error.topic"
	HeaderErrorPartition = "kstreams.error.partition"
	HeaderErrorOffset    = "kstreams.error.offset"
)

func (t *Task) recordMetadata() (processor.RecordMetadata, bool) {
	if t.raw == nil {
		return processor.RecordMetadata{}, false
	}
	return processor.RecordMetadata{
		Topic:     t.raw.Topic,
		Partition: t.raw.Partition,
		Offset:    t.raw.Offset,
		Timestamp: t.ts,
		Headers:   fromKgoHeaders(t.raw.Headers),
	}, true
}

func (t *Task) childNames(node string) []string { return t.st.Children[node] }

// Offsets adds the offsets to commit for the records processed since the
// last call to into, and reports whether it added any. When the processor
// metadata changed, every partition with an offset is added, as Kafka
// Streams commits the metadata to all the task's partitions.
func (t *Task) Offsets(into map[string]map[int32]kgo.EpochOffset) bool {
	added := false
	for _, q := range t.queues {
		if q.next < 0 || q.next == q.committed && !t.metaDirty {
			continue
		}
		m := into[q.topic]
		if m == nil {
			m = map[int32]kgo.EpochOffset{}
			into[q.topic] = m
		}
		m[q.partition] = kgo.EpochOffset{Epoch: q.epoch, Offset: q.next}
		added = true
	}
	return added
}

// CommittedPositions adds, for every partition of the task that has
// fetched a record, the offset committed: the last one the task committed,
// or the one fetching started from.
func (t *Task) CommittedPositions(into map[string]map[int32]kgo.EpochOffset) {
	for _, q := range t.queues {
		switch {
		case q.committed >= 0:
			addOffset(into, q.topic, q.partition, kgo.EpochOffset{Epoch: -1, Offset: q.committed})
		case q.first >= 0:
			addOffset(into, q.topic, q.partition, kgo.EpochOffset{Epoch: -1, Offset: q.first})
		}
	}
}

func addOffset(into map[string]map[int32]kgo.EpochOffset, topic string, p int32, o kgo.EpochOffset) {
	m := into[topic]
	if m == nil {
		m = map[int32]kgo.EpochOffset{}
		into[topic] = m
	}
	m[p] = o
}

// Committed records that the offsets last returned by Offsets are committed.
func (t *Task) Committed() {
	for _, q := range t.queues {
		q.committed = q.next
	}
	t.metaDirty = false
}

// Close closes the task's nodes. It returns the first error.
func (t *Task) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	var first error
	for _, n := range t.nodes {
		if err := n.Close(); err != nil && first == nil {
			first = fmt.Errorf("kstreams: task %s: %w", t.id, err)
		}
	}
	if t.cfg.Registry != nil && !t.standby {
		for _, ts := range t.stores {
			t.cfg.Registry.remove(ts.spec.Name, t.id)
			if t.hidden {
				t.cfg.Registry.setRestoring(ts.spec.Name, t.id, false)
			}
		}
	}
	if err := t.closeStores(); err != nil && first == nil {
		first = fmt.Errorf("kstreams: task %s: %w", t.id, err)
	}
	return first
}

// PunctuateWallClock runs the wall-clock punctuators that are due.
func (t *Task) PunctuateWallClock() error {
	defer t.profileLabels()()
	return t.punctuate(processor.WallClockTime, t.cfg.Clock.NowMs())
}

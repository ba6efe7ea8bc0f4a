package runtime

import (
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Node is a node's instance inside one task.
type Node interface {
	// Init wires the node to its task and its children's instances.
	Init(t *Task, children []Node) error
	// Close releases what Init acquired.
	Close() error
}

// source is a Node that turns consumed bytes into typed records.
type source interface {
	Node
	deliver(raw *kgo.Record, ts int64) error
}

// receiver is a Node that takes typed records from its parent.
type receiver[K, V any] interface {
	receive(rec processor.Record[K, V])
}

// RecordType returns the reflect type of processor.Record[K, V], the type
// carried on an edge of the graph.
func RecordType[K, V any]() reflect.Type {
	return reflect.TypeFor[processor.Record[K, V]]()
}

func receivers[K, V any](name string, children []Node) ([]receiver[K, V], error) {
	out := make([]receiver[K, V], len(children))
	for i, c := range children {
		r, ok := c.(receiver[K, V])
		if !ok {
			return nil, fmt.Errorf("node %q: child %T does not receive %s", name, c, RecordType[K, V]())
		}
		out[i] = r
	}
	return out, nil
}

type sourceNode[K, V any] struct {
	name     string
	key      serde.Serde[K]
	value    serde.Serde[V]
	children []receiver[K, V]
}

// NewSource returns the factory of a source node deserializing with key
// and value.
func NewSource[K, V any](name string, key serde.Serde[K], value serde.Serde[V]) func() Node {
	return func() Node { return &sourceNode[K, V]{name: name, key: key, value: value} }
}

func (s *sourceNode[K, V]) Init(_ *Task, children []Node) (err error) {
	s.children, err = receivers[K, V](s.name, children)
	return err
}

func (s *sourceNode[K, V]) Close() error { return nil }

func (s *sourceNode[K, V]) deliver(raw *kgo.Record, ts int64) (err error) {
	// Children recover their own panics: one that reaches here is a
	// deserializer's.
	defer func() {
		if perr := recovered(recover()); perr != nil {
			err = &stageError{stage: "deserializing", err: perr}
		}
	}()
	k, err := s.key.Deserialize(raw.Topic, raw.Key)
	if err != nil {
		return &stageError{stage: "deserializing key", err: err}
	}
	v, err := s.value.Deserialize(raw.Topic, raw.Value)
	if err != nil {
		return &stageError{stage: "deserializing value", err: err}
	}
	rec := processor.Record[K, V]{Key: k, Value: v, Timestamp: ts, Headers: fromKgoHeaders(raw.Headers)}
	for _, c := range s.children {
		c.receive(rec)
	}
	return nil
}

type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func fromKgoHeaders(hs []kgo.RecordHeader) []processor.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]processor.Header, len(hs))
	for i, h := range hs {
		out[i] = processor.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

func toKgoHeaders(hs []processor.Header) []kgo.RecordHeader {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}

type processorNode[KIn, VIn, KOut, VOut any] struct {
	name     string
	supplier processor.Supplier[KIn, VIn, KOut, VOut]
	p        processor.Processor[KIn, VIn, KOut, VOut]
	t        *Task
	children []receiver[KOut, VOut]
	names    []string
	count    *atomic.Int64 // debug metrics only
}

// NewProcessor returns the factory of a node running the processors that
// supplier makes, one per task.
func NewProcessor[KIn, VIn, KOut, VOut any](name string, supplier processor.Supplier[KIn, VIn, KOut, VOut]) func() Node {
	return func() Node { return &processorNode[KIn, VIn, KOut, VOut]{name: name, supplier: supplier} }
}

func (n *processorNode[KIn, VIn, KOut, VOut]) Init(t *Task, children []Node) (err error) {
	defer func() {
		if perr := recovered(recover()); perr != nil {
			n.p = nil
			err = fmt.Errorf("processor %q: init: %w", n.name, perr)
		}
	}()
	n.t = t
	if t.cfg.Debug != nil {
		n.count = t.cfg.Debug.counter(t.id, n.name)
	}
	if n.children, err = receivers[KOut, VOut](n.name, children); err != nil {
		return err
	}
	n.names = t.childNames(n.name)
	if n.p = n.supplier(); n.p == nil {
		return fmt.Errorf("processor %q: supplier returned nil", n.name)
	}
	if err := n.p.Init(n); err != nil {
		n.p = nil
		return fmt.Errorf("processor %q: init: %w", n.name, err)
	}
	return nil
}

func (n *processorNode[KIn, VIn, KOut, VOut]) Close() (err error) {
	if n.p == nil {
		return nil
	}
	defer func() {
		if perr := recovered(recover()); perr != nil {
			err = fmt.Errorf("processor %q: close: %w", n.name, perr)
		}
	}()
	if err := n.p.Close(); err != nil {
		return fmt.Errorf("processor %q: close: %w", n.name, err)
	}
	return nil
}

func (n *processorNode[KIn, VIn, KOut, VOut]) receive(rec processor.Record[KIn, VIn]) {
	if n.t.err != nil {
		return
	}
	if n.count != nil {
		n.count.Add(1)
	}
	defer n.t.recoverUser(n.name)
	if err := n.p.Process(rec); err != nil {
		n.t.processingError(n.name, err)
	}
}

func (n *processorNode[KIn, VIn, KOut, VOut]) Forward(rec processor.Record[KOut, VOut]) {
	for _, c := range n.children {
		c.receive(rec)
	}
}

// ForwardNull forwards rec as a record whose value is Kafka's null (a
// table's delete turned into a stream record): a sink it reaches with the
// value unchanged (V's zero value) writes a null value, a tombstone, even
// when V has no nil.
func (n *processorNode[KIn, VIn, KOut, VOut]) ForwardNull(rec processor.Record[KOut, VOut]) {
	n.t.nullDepth++
	defer func() { n.t.nullDepth-- }()
	n.Forward(rec)
}

func (n *processorNode[KIn, VIn, KOut, VOut]) ForwardTo(child string, rec processor.Record[KOut, VOut]) {
	i := slices.Index(n.names, child)
	if i < 0 {
		n.t.fail(n.name, fmt.Errorf("ForwardTo(%q): not a child (children: %v)", child, n.names))
		return
	}
	n.children[i].receive(rec)
}

func (n *processorNode[KIn, VIn, KOut, VOut]) RecordMetadata() (processor.RecordMetadata, bool) {
	return n.t.recordMetadata()
}

func (n *processorNode[KIn, VIn, KOut, VOut]) Schedule(interval time.Duration, typ processor.PunctuationType, fn processor.Punctuator) processor.Cancellable {
	return n.t.schedule(n.name, interval, typ, fn)
}

// DropRecord counts and logs a record the DSL drops, such as a null key in
// an aggregation.
func (n *processorNode[KIn, VIn, KOut, VOut]) DropRecord(reason string) {
	n.t.cfg.Counters.Dropped.Add(1)
	n.t.countDropped()
	meta, _ := n.t.recordMetadata()
	n.t.cfg.Logger.Warn("kstreams: dropping record", "node", n.name, "reason", reason,
		"topic", meta.Topic, "partition", meta.Partition, "offset", meta.Offset)
}

// EmitInterval is the wall-clock time (ms) between two looks for closed
// windows of an aggregation emitting on window close: Kafka Streams'
// default of 1000, 0 in the test driver (TaskConfig.EmitEveryRecord).
func (n *processorNode[KIn, VIn, KOut, VOut]) EmitInterval() int64 {
	if n.t.cfg.EmitEveryRecord {
		return 0
	}
	return 1000
}

func (n *processorNode[KIn, VIn, KOut, VOut]) StateStore(name string) (any, error) {
	return n.t.StateStore(n.name, name)
}

func (n *processorNode[KIn, VIn, KOut, VOut]) StreamTime() int64        { return n.t.streamTime }
func (n *processorNode[KIn, VIn, KOut, VOut]) WallClockTime() int64     { return n.t.cfg.Clock.NowMs() }
func (n *processorNode[KIn, VIn, KOut, VOut]) TaskID() processor.TaskID { return n.t.id }
func (n *processorNode[KIn, VIn, KOut, VOut]) ApplicationID() string    { return n.t.cfg.AppID }

type sinkNode[K, V any] struct {
	name    string
	topic   Topic
	topicFn func(processor.Record[K, V]) string
	key     serde.Serde[K]
	value   serde.Serde[V]
	t       *Task
	fixed   string
	// partition, when set, picks the record's partition; a negative
	// answer leaves it to the partitioner.
	partition func(processor.Record[K, V]) int32
}

// NewSink returns the factory of a sink node writing to topic.
func NewSink[K, V any](name string, topic Topic, key serde.Serde[K], value serde.Serde[V]) func() Node {
	return func() Node { return &sinkNode[K, V]{name: name, topic: topic, key: key, value: value} }
}

// NewPartitionedSink returns the factory of a sink node writing to topic
// at the partition partition picks for each record (a negative one: the
// default partitioner's).
func NewPartitionedSink[K, V any](name string, topic Topic, key serde.Serde[K], value serde.Serde[V], partition func(processor.Record[K, V]) int32) func() Node {
	return func() Node {
		return &sinkNode[K, V]{name: name, topic: topic, key: key, value: value, partition: partition}
	}
}

// NewDynamicSink returns the factory of a sink node writing each record to
// the topic topicFn names for it.
func NewDynamicSink[K, V any](name string, topicFn func(processor.Record[K, V]) string, key serde.Serde[K], value serde.Serde[V]) func() Node {
	return func() Node { return &sinkNode[K, V]{name: name, topicFn: topicFn, key: key, value: value} }
}

func (s *sinkNode[K, V]) Init(t *Task, _ []Node) error {
	s.t = t
	s.fixed = s.topic.Resolve(t.cfg.AppID)
	return nil
}

func (s *sinkNode[K, V]) Close() error { return nil }

func (s *sinkNode[K, V]) receive(rec processor.Record[K, V]) {
	if s.t.err != nil {
		return
	}
	defer s.t.recoverIn(s.name)
	topic := s.fixed
	if s.topicFn != nil {
		if topic = s.topicFn(rec); topic == "" {
			s.t.fail(s.name, fmt.Errorf("the topic function returned an empty topic name"))
			return
		}
	}
	kb, err := s.key.Serialize(topic, rec.Key)
	if err != nil {
		s.t.fail(s.name, fmt.Errorf("serializing key for topic %q: %w", topic, err))
		return
	}
	var vb []byte
	if s.t.nullDepth == 0 || !reflect.ValueOf(&rec.Value).Elem().IsZero() {
		if vb, err = s.value.Serialize(topic, rec.Value); err != nil {
			s.t.fail(s.name, fmt.Errorf("serializing value for topic %q: %w", topic, err))
			return
		}
	}
	out := &kgo.Record{
		Topic:     topic,
		Key:       kb,
		Value:     vb,
		Timestamp: time.UnixMilli(rec.Timestamp),
		Headers:   toKgoHeaders(rec.Headers),
	}
	kind := SendOutput
	if s.partition != nil {
		if p := s.partition(rec); p >= 0 {
			out.Partition, kind = p, SendOutputToPartition
		}
	}
	s.t.cfg.Collector.Send(out, kind)
}

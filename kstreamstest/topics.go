package kstreamstest

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// InputTopic pipes typed records into a topic the topology reads.
type InputTopic[K, V any] struct {
	d     *Driver
	topic string
	key   serde.Serde[K]
	value serde.Serde[V]
}

// NewInputTopic returns an input topic writing with the given serdes.
func NewInputTopic[K, V any](d *Driver, topic string, key serde.Serde[K], value serde.Serde[V]) *InputTopic[K, V] {
	return &InputTopic[K, V]{d: d, topic: topic, key: key, value: value}
}

// Pipe sends a record stamped with the driver's wall-clock time, and
// processes it and everything it causes. It returns the error that stopped
// a task, if any.
func (in *InputTopic[K, V]) Pipe(key K, value V) error {
	return in.PipeRecord(processor.Record[K, V]{Key: key, Value: value, Timestamp: in.d.clock.now})
}

// PipeAt sends a record with timestamp ts (ms).
func (in *InputTopic[K, V]) PipeAt(key K, value V, ts int64) error {
	return in.PipeRecord(processor.Record[K, V]{Key: key, Value: value, Timestamp: ts})
}

// PipeRecord sends a record with its timestamp and headers.
func (in *InputTopic[K, V]) PipeRecord(rec processor.Record[K, V]) error {
	kb, err := in.key.Serialize(in.topic, rec.Key)
	if err != nil {
		return fmt.Errorf("kstreamstest: serializing key for %q: %w", in.topic, err)
	}
	vb, err := in.value.Serialize(in.topic, rec.Value)
	if err != nil {
		return fmt.Errorf("kstreamstest: serializing value for %q: %w", in.topic, err)
	}
	return in.d.PipeBytes(in.topic, kb, vb, rec.Timestamp, rec.Headers...)
}

// PipeBytes sends a record of raw bytes to topic: the way to test bad input.
func (d *Driver) PipeBytes(topic string, key, value []byte, ts int64, headers ...processor.Header) error {
	rec := &kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: time.UnixMilli(ts)}
	for _, h := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return d.pipe(rec)
}

// OutputTopic reads typed records the topology wrote to a topic, in order.
type OutputTopic[K, V any] struct {
	d     *Driver
	topic string
	key   serde.Serde[K]
	value serde.Serde[V]
	pos   int
}

// NewOutputTopic returns an output topic reading with the given serdes.
func NewOutputTopic[K, V any](d *Driver, topic string, key serde.Serde[K], value serde.Serde[V]) *OutputTopic[K, V] {
	return &OutputTopic[K, V]{d: d, topic: topic, key: key, value: value}
}

// QueueSize returns the number of unread records.
func (o *OutputTopic[K, V]) QueueSize() int { return len(o.d.outputs[o.topic]) - o.pos }

// IsEmpty reports whether every record has been read.
func (o *OutputTopic[K, V]) IsEmpty() bool { return o.QueueSize() == 0 }

// ReadRecord returns the next unread record, or ErrNoRecord.
func (o *OutputTopic[K, V]) ReadRecord() (processor.Record[K, V], error) {
	var rec processor.Record[K, V]
	if o.IsEmpty() {
		return rec, fmt.Errorf("%w: %q", ErrNoRecord, o.topic)
	}
	raw := o.d.outputs[o.topic][o.pos]
	o.pos++
	var err error
	if rec.Key, err = o.key.Deserialize(o.topic, raw.Key); err != nil {
		return rec, fmt.Errorf("kstreamstest: deserializing key at %q offset %d: %w", o.topic, raw.Offset, err)
	}
	if rec.Value, err = o.value.Deserialize(o.topic, raw.Value); err != nil {
		return rec, fmt.Errorf("kstreamstest: deserializing value at %q offset %d: %w", o.topic, raw.Offset, err)
	}
	rec.Timestamp = raw.Timestamp.UnixMilli()
	for _, h := range raw.Headers {
		rec.Headers = append(rec.Headers, processor.Header{Key: h.Key, Value: h.Value})
	}
	return rec, nil
}

// ReadRecords returns every unread record.
func (o *OutputTopic[K, V]) ReadRecords() ([]processor.Record[K, V], error) {
	var out []processor.Record[K, V]
	for !o.IsEmpty() {
		rec, err := o.ReadRecord()
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// ReadKeyValues returns the key and value of every unread record.
func (o *OutputTopic[K, V]) ReadKeyValues() ([]kstreams.KeyValue[K, V], error) {
	recs, err := o.ReadRecords()
	out := make([]kstreams.KeyValue[K, V], len(recs))
	for i, r := range recs {
		out[i] = kstreams.KV(r.Key, r.Value)
	}
	return out, err
}

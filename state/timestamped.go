package state

import (
	"encoding/binary"

	"github.com/kstreams-go/kstreams/serde"
)

// ValueAndTimestamp is a value with the timestamp of the record it came
// from, as Kafka Streams' ValueAndTimestamp: what a timestamped store holds
// for each key. The DSL's tables and aggregations keep their rows this way,
// so that an update can be stamped with the time of the data it reflects.
type ValueAndTimestamp[V any] struct {
	Value V
	// Timestamp is in milliseconds since the Unix epoch.
	Timestamp int64
}

// TimestampedKeyValueStore is a key-value store whose values carry a
// timestamp, as Kafka Streams' TimestampedKeyValueStore. Its changelog
// carries the plain value, with the value's timestamp as the record
// timestamp, so a restore gets both back.
type TimestampedKeyValueStore[K, V any] = KeyValueStore[K, ValueAndTimestamp[V]]

// ReadOnlyTimestampedKeyValueStore is the read side of a
// [TimestampedKeyValueStore], for queries.
type ReadOnlyTimestampedKeyValueStore[K, V any] = ReadOnlyKeyValueStore[K, ValueAndTimestamp[V]]

// NewTimestampedKeyValueStore returns a typed timestamped store over store.
// Values are laid out as [TimestampedSerde] writes them; opts as for
// [NewKeyValueStore].
func NewTimestampedKeyValueStore[K, V any](store BytesStore, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...TypedOption) TimestampedKeyValueStore[K, V] {
	return NewKeyValueStore(store, keySerde, TimestampedSerde(valueSerde), opts...)
}

// TimestampedSerde returns the serde of a value with its timestamp, in the
// layout of Kafka Streams' timestamped stores: the timestamp as 8 bytes,
// big-endian, then the bytes of the value. A value that inner serializes to
// nil (a Kafka null) serializes to nil, whatever its timestamp, so putting
// it deletes the key; nil deserializes to the zero ValueAndTimestamp.
func TimestampedSerde[V any](inner serde.Serde[V]) serde.Serde[ValueAndTimestamp[V]] {
	return timestampedSerde[V]{inner}
}

type timestampedSerde[V any] struct{ inner serde.Serde[V] }

func (s timestampedSerde[V]) Serialize(topic string, v ValueAndTimestamp[V]) ([]byte, error) {
	b, err := s.inner.Serialize(topic, v.Value)
	if err != nil || b == nil {
		return nil, err
	}
	return WithTimestamp(v.Timestamp, b), nil
}

func (s timestampedSerde[V]) Deserialize(topic string, data []byte) (ValueAndTimestamp[V], error) {
	var out ValueAndTimestamp[V]
	if data == nil {
		return out, nil
	}
	ts, raw, err := SplitTimestamp(data)
	if err != nil {
		return out, &serde.DecodeError{Serde: "timestamped", Topic: topic, Len: len(data), Want: timestampSize, Err: err}
	}
	v, err := s.inner.Deserialize(topic, raw)
	if err != nil {
		return out, err
	}
	return ValueAndTimestamp[V]{Value: v, Timestamp: ts}, nil
}

// timestampSize is the size of the timestamp in front of a timestamped
// value.
const timestampSize = 8

// WithTimestamp returns value prefixed by ts, as a timestamped store holds
// it. A nil value stays nil (a tombstone carries no timestamp).
func WithTimestamp(ts int64, value []byte) []byte {
	if value == nil {
		return nil
	}
	return AppendWithTimestamp(make([]byte, 0, timestampSize+len(value)), ts, value)
}

// AppendWithTimestamp appends ts and value to dst, as WithTimestamp lays
// them out, and returns the extended slice: with a reused dst, a writer
// that knows the store copies what it is given saves an allocation.
func AppendWithTimestamp(dst []byte, ts int64, value []byte) []byte {
	return append(binary.BigEndian.AppendUint64(dst, uint64(ts)), value...)
}

// SplitTimestamp splits a timestamped value into its timestamp and its
// value bytes (a sub-slice of raw). It fails with [serde.ErrSize] for fewer
// than 8 bytes.
func SplitTimestamp(raw []byte) (int64, []byte, error) {
	if len(raw) < timestampSize {
		return 0, nil, serde.ErrSize
	}
	return int64(binary.BigEndian.Uint64(raw)), raw[timestampSize:], nil
}

package kstreams

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/serde"
)

func init() {
	link.ExtractorOf = func(fn any) runtime.Extractor { return runtimeExtractor(fn.(TimestampExtractor)) }
}

// ErrInvalidTimestamp is the cause of a record whose timestamp is negative
// under [FailOnInvalidTimestamp] (the default) or that
// [UsePartitionTimeOnInvalidTimestamp] cannot repair. Use errors.Is.
var ErrInvalidTimestamp = runtime.ErrInvalidTimestamp

// The timestamp extractors below are Kafka Streams' own; pass one to
// [WithTimestampExtractor]. Whatever the extractor, a negative result drops
// the record: it is logged with its topic, partition, offset and timestamp
// and counted in [Metrics].Dropped (Kafka Streams' dropped-records). An
// error is a bad record, handled by [OnDeserializationError] (default
// [FailTask]: the task stops with a [RecordError] of stage "extracting
// timestamp" naming the record).

// FailOnInvalidTimestamp returns the record's own timestamp (set by the
// producer, or by the broker for a topic with
// message.timestamp.type=LogAppendTime), and [ErrInvalidTimestamp] for a
// negative one. It is the default, as in Kafka Streams.
func FailOnInvalidTimestamp(rec ConsumedRecord, _ int64) (int64, error) {
	if rec.Timestamp < 0 {
		return -1, runtime.InvalidTimestamp(rec.Timestamp)
	}
	return rec.Timestamp, nil
}

// LogAndSkipOnInvalidTimestamp returns the record's own timestamp; a record
// with a negative one is dropped, logged and counted.
func LogAndSkipOnInvalidTimestamp(rec ConsumedRecord, _ int64) (int64, error) {
	return rec.Timestamp, nil
}

// UsePartitionTimeOnInvalidTimestamp returns the record's own timestamp or,
// when it is negative, the partition time: the largest timestamp extracted
// so far from the record's partition. Before the first valid timestamp of
// the partition there is none, and the record fails with
// [ErrInvalidTimestamp], as in Kafka Streams.
func UsePartitionTimeOnInvalidTimestamp(rec ConsumedRecord, partitionTime int64) (int64, error) {
	if rec.Timestamp >= 0 {
		return rec.Timestamp, nil
	}
	if partitionTime < 0 {
		return -1, fmt.Errorf("%w: no valid partition time yet to use instead", runtime.InvalidTimestamp(rec.Timestamp))
	}
	return partitionTime, nil
}

// WallclockTimestampExtractor returns the current wall-clock time: records
// are processed in the order they arrive, and windows follow processing
// time.
func WallclockTimestampExtractor(ConsumedRecord, int64) (int64, error) {
	return time.Now().UnixMilli(), nil
}

// TimestampFromKeyValue returns an extractor that deserializes each
// record's key and value with the given serdes and asks fn for the event
// time (ms); partitionTime is as for [TimestampExtractor]. The extractor is
// the application's, so it sees the records of every source topic: use it
// when all sources have these types, or switch on the topic in a
// [TimestampExtractor] of your own. Records are deserialized once more by
// their source; a deserialization error is the record's error.
func TimestampFromKeyValue[K, V any](keySerde serde.Serde[K], valueSerde serde.Serde[V], fn func(key K, value V, partitionTime int64) (int64, error)) TimestampExtractor {
	return func(rec ConsumedRecord, partitionTime int64) (int64, error) {
		k, err := keySerde.Deserialize(rec.Topic, rec.Key)
		if err != nil {
			return -1, fmt.Errorf("deserializing key: %w", err)
		}
		v, err := valueSerde.Deserialize(rec.Topic, rec.Value)
		if err != nil {
			return -1, fmt.Errorf("deserializing value: %w", err)
		}
		return fn(k, v, partitionTime)
	}
}

// MaxTaskIdle sets how long a task with several input partitions (the
// sources of a join or merge, co-partitioned) waits, when one of them has
// nothing buffered, before it processes the others' records out of
// timestamp order. A partition whose lag on the broker is not known to be 0
// is always waited for; one known to be caught up is waited for up to d.
// Each record processed while a partition was given up on is counted in
// [Metrics].EnforcedProcessing. Negative: never wait (Java's -1). Default 0.
// This corresponds to the Java max.task.idle.ms setting.
func MaxTaskIdle(d time.Duration) Option { return optFn(func(c *config) { c.maxTaskIdle = d }) }

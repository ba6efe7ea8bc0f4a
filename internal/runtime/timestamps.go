package runtime

import (
	"errors"
	"fmt"
)

// ErrInvalidTimestamp is the cause of a bad record whose timestamp is
// negative under the default extractor (Kafka Streams'
// FailOnInvalidTimestamp).
var ErrInvalidTimestamp = errors.New("kstreams: invalid (negative) timestamp")

// InvalidTimestamp returns the error of a record whose timestamp ts is
// negative; the task's RecordError adds topic, partition and offset.
func InvalidTimestamp(ts int64) error {
	return fmt.Errorf("%w %d (a producer that sets no timestamp, or a topic older than Kafka 0.10?)", ErrInvalidTimestamp, ts)
}

// dropInvalidTimestamp drops a record to which the extractor gave a
// negative timestamp, as Kafka Streams' RecordQueue does: logged and
// counted as dropped.
func (t *Task) dropInvalidTimestamp(it queued) {
	t.cfg.Counters.Dropped.Add(1)
	t.countDropped()
	t.cfg.Logger.Warn("kstreams: dropping record with a negative extracted timestamp",
		"topic", it.rec.Topic, "partition", it.rec.Partition, "offset", it.rec.Offset, "timestamp", it.ts)
}

package runtime

import (
	"fmt"
	"sync/atomic"

	"github.com/kstreams-go/kstreams/processor"
)

// RecordError is an error tied to one record, or to a punctuator when no
// record was being processed (Offset is then -1).
type RecordError struct {
	Task      processor.TaskID
	Topic     string
	Partition int32
	Offset    int64
	// Node is the processor or sink that failed, empty when the record
	// could not be read at all.
	Node string
	// Stage is what was being done: "deserializing key", "deserializing
	// value", "extracting timestamp", "processing", "punctuation",
	// "producing".
	Stage string
	Err   error
}

func (e *RecordError) Error() string {
	where := fmt.Sprintf("task %s", e.Task)
	if e.Offset >= 0 {
		where = fmt.Sprintf("topic %q partition %d offset %d (task %s)", e.Topic, e.Partition, e.Offset, e.Task)
	}
	if e.Node != "" {
		where += fmt.Sprintf(" in node %q", e.Node)
	}
	return fmt.Sprintf("kstreams: %s failed at %s: %v", e.Stage, where, e.Err)
}

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// PolicyKind is what to do with a record that cannot be read or written.
type PolicyKind int

const (
	// PolicyFail stops the task with the error.
	PolicyFail PolicyKind = iota
	// PolicySkip logs the record, counts it and goes on.
	PolicySkip
	// PolicyDeadLetter writes the record unchanged to a dead-letter topic
	// with headers describing the failure, counts it and goes on.
	PolicyDeadLetter
)

// Policy says what to do with bad records.
type Policy struct {
	Kind  PolicyKind
	Topic string // the dead-letter topic
}

// Counters are one thread's (or one test driver's) running totals. They
// are written by their owner and read by anyone.
type Counters struct {
	Processed     atomic.Int64
	Skipped       atomic.Int64
	DeadLettered  atomic.Int64
	ProduceFailed atomic.Int64
	Produced      atomic.Int64
	Commits       atomic.Int64
	Punctuations  atomic.Int64
	Rebalances    atomic.Int64
	Restored      atomic.Int64
	Dropped       atomic.Int64
	// StandbyUpdates counts changelog records applied to standby tasks.
	StandbyUpdates atomic.Int64
}

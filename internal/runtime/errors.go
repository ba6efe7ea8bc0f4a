package runtime

import (
	"fmt"
	"runtime/debug"
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

// PanicError is a panic recovered from user code (a processor, a DSL
// function, a punctuator, a serde, a timestamp extractor): it stops the
// task as an error of the record being processed would.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the stack of the goroutine where the panic happened.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n%s", e.Value, e.Stack)
}

// Unwrap returns Value if it is an error, so that errors.Is and errors.As
// see what a panic(err) carried.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// recovered turns the value of recover() into a *PanicError, or nil.
func recovered(v any) error {
	if v == nil {
		return nil
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}

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
	// EnforcedProcessing counts records processed while an input
	// partition of their task was empty (see idle.go).
	EnforcedProcessing atomic.Int64
	// FailedThreads counts stream threads that stopped with an error
	// (Kafka Streams' failed-stream-threads).
	FailedThreads atomic.Int64
	// AbortedTransactions counts transactions aborted (exactly-once).
	AbortedTransactions atomic.Int64
	// TaskMigrations counts the times the thread closed its tasks dirty,
	// re-initialized its producer and rejoined the group because its
	// producer was fenced (exactly-once; eosfence.go).
	TaskMigrations atomic.Int64
}

package processor

import (
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is a typed record flowing through a topology.
//
// Timestamp is in milliseconds since the Unix epoch, as Kafka stores it.
// Headers flow from the input record to everything forwarded while it is
// processed, unless a processor forwards a record with other headers.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64
	Headers   []Header
}

// Processor processes records of one type and forwards records of another
// through the [Context] it is given in Init.
//
// One Processor instance serves one task: the runtime calls its methods from
// one goroutine only, so a processor needs no locks for its own fields.
// An error returned from Process or Init stops the task: the runtime does not
// commit past the record, so at-least-once processing hands the record to the
// next owner of the task again. A panic does the same, as an error of the
// record (kstreams.PanicError): it does not crash the process.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Init is called once before the first record, with the context the
	// processor keeps to forward records and schedule punctuators.
	Init(ctx Context[KOut, VOut]) error
	// Process is called once per input record.
	Process(rec Record[KIn, VIn]) error
	// Close is called once when the task is closed (revoked, or the
	// application stops). It is not called if Init failed.
	Close() error
}

// Supplier returns a new Processor. The runtime calls it once per task, so it
// must return a new instance each time.
type Supplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// Context is the processor's view of the task it runs in.
type Context[K, V any] interface {
	// Forward sends rec to every child of this processor. An error in a
	// child stops the task after the current record; Forward itself does not
	// report it.
	Forward(rec Record[K, V])
	// ForwardTo sends rec to the named child only. Naming a processor that is
	// not a child of this one stops the task with an error.
	ForwardTo(child string, rec Record[K, V])
	// RecordMetadata returns where the record being processed came from. It
	// returns false inside a punctuator, where there is no input record.
	RecordMetadata() (RecordMetadata, bool)
	// Schedule calls fn every interval, measured in stream time
	// ([StreamTime]: advanced by record timestamps) or in wall-clock time
	// ([WallClockTime]). Cancel the returned handle to stop it.
	Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) Cancellable
	// StreamTime is the largest record timestamp this task has seen (ms), or
	// -1 before the first record.
	StreamTime() int64
	// WallClockTime is the task's current wall-clock time (ms); the test
	// driver controls it.
	WallClockTime() int64
	// TaskID identifies the task this processor instance runs in.
	TaskID() TaskID
	// ApplicationID is the application id the topology runs under.
	ApplicationID() string
	// StateStore returns the state store named name, which must be
	// connected to this processor. Use [Store] for a typed result.
	StateStore(name string) (any, error)
}

// Store returns the state store named name as an S, such as a
// state.KeyValueStore[K, V]. Call it in Init and keep the result.
func Store[S any](ctx interface{ StateStore(string) (any, error) }, name string) (S, error) {
	var zero S
	st, err := ctx.StateStore(name)
	if err != nil {
		return zero, err
	}
	s, ok := st.(S)
	if !ok {
		kind := fmt.Sprintf("%T", st)
		if k, ok := st.(interface{ StoreKind() string }); ok {
			kind = k.StoreKind()
		}
		return zero, fmt.Errorf("kstreams: state store %q is a %s, not a %s", name, kind, reflect.TypeFor[S]())
	}
	return s, nil
}

// RecordMetadata locates the input record being processed.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Headers   []Header
}

// TaskID names a task: one partition of one sub-topology.
type TaskID struct {
	Subtopology int
	Partition   int32
}

// String returns the Kafka Streams form of a task id, "subtopology_partition".
func (id TaskID) String() string {
	return strconv.Itoa(id.Subtopology) + "_" + strconv.Itoa(int(id.Partition))
}

// PunctuationType selects the clock a punctuator follows.
type PunctuationType int

const (
	// StreamTime punctuators fire when the task's stream time (the largest
	// record timestamp seen) passes the next scheduled time. No records, no
	// punctuation.
	StreamTime PunctuationType = iota
	// WallClockTime punctuators fire when the wall clock passes the next
	// scheduled time, whether records arrive or not.
	WallClockTime
)

// String returns "STREAM_TIME" or "WALL_CLOCK_TIME", as Kafka Streams names them.
func (t PunctuationType) String() string {
	if t == WallClockTime {
		return "WALL_CLOCK_TIME"
	}
	return "STREAM_TIME"
}

// Punctuator is called with the time (ms) it fires at, on the clock it was
// scheduled on. An error stops the task.
type Punctuator func(timestamp int64) error

// Cancellable stops a scheduled punctuator.
type Cancellable interface {
	Cancel()
}

package runtime

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProcessingPolicy says what to do with an error raised by user code while
// a record is processed or a punctuator runs (Kafka Streams' processing
// exception handler, KIP-1033): fail the task (PolicyFail, the default),
// drop the record and go on (PolicySkip, counted as dropped), or write the
// input record to a dead-letter topic (PolicyDeadLetter, KIP-1034). Handler,
// if set, picks the policy for each error instead.
type ProcessingPolicy struct {
	Policy
	Handler func(*ErrorContext) Policy
}

// ErrorContext is what a processing-error handler is told about an error.
type ErrorContext struct {
	// Task and Node say where the error was raised.
	Task processor.TaskID
	Node string
	// Topic, Partition and Offset locate the input record being
	// processed; in a punctuator Topic is empty and Partition and Offset
	// are -1.
	Topic     string
	Partition int32
	Offset    int64
	// Timestamp is the input record's timestamp, or the punctuation time.
	Timestamp int64
	// Headers, Key and Value are the input record's, as consumed (nil in a
	// punctuator).
	Headers    []processor.Header
	Key, Value []byte
	// Err is the error, a *PanicError for a panic.
	Err error
}

// The headers of a processing-error dead letter, as Kafka Streams names
// them (KIP-1034).
const (
	HeaderStreamsErrorException = "__streams.errors.exception"
	HeaderStreamsErrorMessage   = "__streams.errors.message"
	HeaderStreamsErrorStack     = "__streams.errors.stacktrace"
	HeaderStreamsErrorTopic     = "__streams.errors.topic"
	HeaderStreamsErrorPartition = "__streams.errors.partition"
	HeaderStreamsErrorOffset    = "__streams.errors.offset"
)

// ReasonProcessingError is the reason logged with a record dropped after
// an error in user code.
const ReasonProcessingError = "processing error"

// processingError applies the processing-error policy to err, raised by
// node's user code: it stops the task, or drops (and maybe dead-letters)
// the input record at this node, so that the node's siblings still get it.
// The first error that stops the task wins.
func (t *Task) processingError(node string, err error) {
	if t.err != nil {
		return
	}
	ec := t.errorContext(node, err)
	p, herr := t.procPolicy(ec)
	if herr != nil {
		t.fail(node, fmt.Errorf("processing-error handler failed: %w (handling: %w)", herr, err))
		return
	}
	switch p.Kind {
	case PolicySkip:
		t.dropProcessing(ec, "")
	case PolicyDeadLetter:
		if p.Topic == "" {
			t.fail(node, fmt.Errorf("processing-error handler chose a dead letter with an empty topic (handling: %w)", err))
			return
		}
		// Counted as dead-lettered by the collector once written.
		t.cfg.Collector.Send(ProcessingDeadLetter(ec, p.Topic), SendDeadLetter)
		t.dropProcessing(ec, p.Topic)
	default:
		t.fail(node, err)
	}
}

// procPolicy returns the policy for ec: the handler's choice if there is a
// handler (its panic is an error), else the configured policy.
func (t *Task) procPolicy(ec *ErrorContext) (p Policy, err error) {
	h := t.cfg.OnProcessing.Handler
	if h == nil {
		return t.cfg.OnProcessing.Policy, nil
	}
	defer func() {
		if perr := recovered(recover()); perr != nil {
			err = perr
		}
	}()
	return h(ec), nil
}

func (t *Task) errorContext(node string, err error) *ErrorContext {
	ec := &ErrorContext{Task: t.id, Node: node, Partition: -1, Offset: -1, Timestamp: t.cfg.Clock.NowMs(), Err: err}
	if r := t.raw; r != nil {
		ec.Topic, ec.Partition, ec.Offset, ec.Timestamp = r.Topic, r.Partition, r.Offset, t.ts
		ec.Headers, ec.Key, ec.Value = fromKgoHeaders(r.Headers), r.Key, r.Value
	}
	return ec
}

// dropProcessing counts a record dropped after an error in user code (Kafka
// Streams' dropped-records metric) and logs it, throttled per task.
func (t *Task) dropProcessing(ec *ErrorContext, deadLetter string) {
	t.cfg.Counters.Dropped.Add(1)
	t.countDropped()
	ok, held := t.procLog.allow(time.Now())
	if !ok {
		return
	}
	msg := ec.Err.Error()
	var pe *PanicError
	if errors.As(ec.Err, &pe) && pe == ec.Err {
		msg = fmt.Sprintf("panic: %v", pe.Value) // the stack is for dead letters
	}
	attrs := []any{"node", ec.Node, "reason", ReasonProcessingError, "error", msg}
	if ec.Offset >= 0 {
		attrs = append(attrs, "topic", ec.Topic, "partition", ec.Partition, "offset", ec.Offset)
	} else {
		attrs = append(attrs, "punctuation", true)
	}
	if deadLetter != "" {
		attrs = append(attrs, "dead_letter_topic", deadLetter)
	}
	if held > 0 {
		attrs = append(attrs, "held_back", held)
	}
	t.cfg.Logger.Warn("kstreams: dropping record after a processing error", attrs...)
}

// ProcessingDeadLetter is the dead letter of a processing error: the input
// record as consumed (key, value, headers, timestamp), or a record with no
// key and value for a punctuator, with Kafka Streams' error headers added.
func ProcessingDeadLetter(ec *ErrorContext, topic string) *kgo.Record {
	class, msg, stack := describeError(ec.Err)
	hs := make([]kgo.RecordHeader, 0, len(ec.Headers)+6)
	hs = append(hs, toKgoHeaders(ec.Headers)...)
	var srcTopic []byte
	if ec.Offset >= 0 {
		srcTopic = []byte(ec.Topic)
	}
	hs = append(hs,
		kgo.RecordHeader{Key: HeaderStreamsErrorException, Value: []byte(class)},
		kgo.RecordHeader{Key: HeaderStreamsErrorMessage, Value: []byte(msg)},
		kgo.RecordHeader{Key: HeaderStreamsErrorStack, Value: stack},
		kgo.RecordHeader{Key: HeaderStreamsErrorTopic, Value: srcTopic},
		kgo.RecordHeader{Key: HeaderStreamsErrorPartition, Value: []byte(strconv.Itoa(int(ec.Partition)))},
		kgo.RecordHeader{Key: HeaderStreamsErrorOffset, Value: []byte(strconv.FormatInt(ec.Offset, 10))},
	)
	return &kgo.Record{Topic: topic, Key: ec.Key, Value: ec.Value, Timestamp: time.UnixMilli(ec.Timestamp), Headers: hs}
}

// describeError returns the Go type, message and stack of err: a panic's
// value and stack, or the error's own type and message with the stack of
// the handling goroutine (a returned error carries none).
func describeError(err error) (class, msg string, stack []byte) {
	var pe *PanicError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%T", pe.Value), fmt.Sprint(pe.Value), pe.Stack
	}
	return fmt.Sprintf("%T", err), err.Error(), debug.Stack()
}

// recoverUser, deferred around a processor's or punctuator's user code,
// turns a panic into a processing error of node.
func (t *Task) recoverUser(node string) {
	if err := recovered(recover()); err != nil {
		t.processingError(node, err)
	}
}

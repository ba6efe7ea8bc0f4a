package kstreams

import (
	"errors"

	"github.com/kstreams-go/kstreams/internal/runtime"
)

// OnProcessingError sets the policy for errors raised by user code: an
// error returned by a processor's Process or a punctuator, or a panic in a
// function given to the DSL, a processor or a punctuator.
//
//   - [FailTask] (the default) stops the task with a *[RecordError] naming
//     the topic, partition and offset of the input record, the processor
//     node, and the cause; [App.Run] returns it.
//   - [SkipRecord] drops the record at the node that failed (its siblings
//     still get it), counts it in Metrics.Dropped (Kafka Streams'
//     dropped-records metric) and logs it with its location and the
//     reason "processing error", at most every 30s per task with the
//     number held back.
//   - [DeadLetter] does the same and also writes the input record, as it
//     was consumed (raw key, value, headers and timestamp), to the topic
//     with Kafka Streams' error headers added ([HeaderStreamsErrorException]
//     and the others). A punctuator has no input record: its dead letter
//     has no key and value, and partition and offset headers of -1. The
//     dead letter is produced like any output record, so it is written in
//     the same transaction as the outputs under exactly-once.
//
// Errors of sinks (serializing, the producer) are not processing errors:
// they follow [OnProductionError] or stop the task. This corresponds to the
// Java processing.exception.handler setting (KIP-1033) with
// errors.dead.letter.queue.topic.name (KIP-1034).
func OnProcessingError(p ErrorPolicy) Option {
	return optFn(func(c *config) { c.onProcessing = runtime.ProcessingPolicy{Policy: p.p} })
}

// ProcessingErrorContext is what a [ProcessingErrorHandler] is told about
// an error raised by user code: Task and Node (where), Topic, Partition and
// Offset of the input record (empty, -1 and -1 in a punctuator),
// Timestamp, the input record's Headers, Key and Value as consumed (nil in a
// punctuator), and Err, the error (a *[PanicError] for a panic).
type ProcessingErrorContext = runtime.ErrorContext

// ProcessingErrorHandler sets a function that decides, for each error
// raised by user code, what to do: it returns [FailTask], [SkipRecord] or
// [DeadLetter] (to a topic of its choice, which must exist), with the
// meanings of [OnProcessingError]. It runs on the stream thread; a panic in
// it stops the task. It replaces any OnProcessingError policy. This
// corresponds to a Java ProcessingExceptionHandler.
func ProcessingErrorHandler(fn func(ProcessingErrorContext) ErrorPolicy) Option {
	return optFn(func(c *config) {
		if fn == nil {
			c.onProcessing = runtime.ProcessingPolicy{}
			return
		}
		c.onProcessing = runtime.ProcessingPolicy{Handler: func(ec *runtime.ErrorContext) runtime.Policy { return fn(*ec).p }}
	})
}

// The headers of a processing-error dead letter, named as in Kafka Streams
// (KIP-1034): the error's Go type (for a panic, the type of the value
// passed to panic), its message, the stack, and the input record's topic,
// partition and offset.
const (
	HeaderStreamsErrorException = runtime.HeaderStreamsErrorException
	HeaderStreamsErrorMessage   = runtime.HeaderStreamsErrorMessage
	HeaderStreamsErrorStack     = runtime.HeaderStreamsErrorStack
	HeaderStreamsErrorTopic     = runtime.HeaderStreamsErrorTopic
	HeaderStreamsErrorPartition = runtime.HeaderStreamsErrorPartition
	HeaderStreamsErrorOffset    = runtime.HeaderStreamsErrorOffset
)

// validateHandlers checks the processing-error and uncaught-error options.
func (c *config) validateHandlers() []error {
	var errs []error
	if p := c.onProcessing.Policy; p.Kind == runtime.PolicyDeadLetter && p.Topic == "" {
		errs = append(errs, errors.New("kstreams: OnProcessingError: DeadLetter: empty topic name"))
	}
	return errs
}

// UncaughtAction is what an App does when a stream thread stops with an
// error that no record policy handled (a task failed, a store or the
// producer failed): Kafka Streams' StreamsUncaughtExceptionHandler
// responses.
type UncaughtAction = runtime.UncaughtAction

const (
	// ShutdownClient stops every thread of this instance and Run returns
	// the error. The default.
	ShutdownClient = runtime.ShutdownClient
	// ReplaceThread starts a new stream thread in place of the failed one.
	// The failed thread commits what it processed before the error,
	// leaves the group, and its tasks are reassigned through a
	// rebalance, resuming from their last commit: a record that fails
	// every time makes the new thread fail again. Counted in
	// Metrics.FailedStreamThreads.
	ReplaceThread = runtime.ReplaceThread
	// ShutdownApplication shuts down every instance of the application:
	// the request travels through the consumer group (a new member of
	// this instance joins with it, and the group leader answers every
	// member with it instead of tasks). Run returns the thread's error on
	// this instance, and on every instance an error wrapping
	// [ErrApplicationShutdown] naming the instance that asked.
	ShutdownApplication = runtime.ShutdownApplication
)

// ErrApplicationShutdown is wrapped by the error Run returns when an
// instance of the application asked every instance to shut down
// ([ShutdownApplication]); the error names the instance (its process id)
// and its cause. Use errors.Is.
var ErrApplicationShutdown = runtime.ErrApplicationShutdown

// OnUncaughtError sets a function that decides what to do when a stream
// thread stops with an error: [ShutdownClient] (the default, also when fn
// panics), [ReplaceThread] or [ShutdownApplication]. It is called on the
// failed thread's goroutine after the thread has closed its tasks; errors
// of a shutdown under way are not passed to it. This corresponds to Java's
// KafkaStreams.setUncaughtExceptionHandler.
func OnUncaughtError(fn func(err error) UncaughtAction) Option {
	return optFn(func(c *config) { c.onUncaught = fn })
}

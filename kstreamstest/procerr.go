package kstreamstest

import "github.com/kstreams-go/kstreams/internal/runtime"

// SkipProcessingErrors makes records whose processing fails in user code
// (an error a processor returns, a panic) be dropped at the failing node
// and counted in Metrics().Dropped instead of failing, like
// kstreams.OnProcessingError(kstreams.SkipRecord).
func SkipProcessingErrors() Option {
	return func(s *settings) {
		s.onProc = runtime.ProcessingPolicy{Policy: runtime.Policy{Kind: runtime.PolicySkip}}
	}
}

// DeadLetterProcessingErrors sends the input record of a processing error to
// topic, with the error headers, like
// kstreams.OnProcessingError(kstreams.DeadLetter(topic)); read them with an
// output topic.
func DeadLetterProcessingErrors(topic string) Option {
	return func(s *settings) {
		s.onProc = runtime.ProcessingPolicy{Policy: runtime.Policy{Kind: runtime.PolicyDeadLetter, Topic: topic}}
	}
}

// Package processor is the Processor API of kstreams: the low-level way to
// write a step of a topology by hand, as Kafka Streams' processor API does.
//
// # Processors
//
// A [Processor] receives typed [Record] values one at a time and forwards
// records to its children through the [Context] given to Init. A processor is
// created per task by a [Supplier] and is only ever called from that task's
// goroutine.
//
// # Punctuation
//
// [Context.Schedule] calls a [Punctuator] periodically, on stream time (driven
// by record timestamps, so it stops when input stops) or on wall-clock time
// (driven by the clock, so it fires on an idle task too). The test driver in
// package kstreamstest advances the wall clock explicitly.
package processor

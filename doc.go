// Package kstreams is Kafka Streams for Go: a library for applications that
// read Kafka topics, transform and aggregate them, and write topics, with no
// infrastructure beyond Kafka. Start several instances of the same
// application and they share the work; stop one and the others take over.
//
// # Topologies
//
// An application is a [Topology]: sources that read topics, processors, and
// sinks that write topics. Build it with the DSL,
//
//	b := kstreams.NewBuilder()
//	positions := kstreams.StreamFrom(b, "share-holders",
//		kstreams.ConsumedWith(serde.String(), serde.JSON[*Position]()))
//	nasdaq := positions.Filter(func(_ string, p *Position) bool {
//		return p != nil && p.Exchange == "NASDAQ"
//	})
//	byClient := kstreams.SelectKey(nasdaq, func(_ string, p *Position) string { return p.Client })
//	byClient.To("us-positions-by-client")
//	topology, err := b.Build()
//
// or node by node with the Processor API ([AddSource], [AddProcessor],
// [AddSink], and package processor). Operations that keep the record types
// are methods of [Stream]; operations that change them are functions, since
// Go methods cannot take type parameters: [Map], [MapValues], [FlatMap],
// [FlatMapValues], [SelectKey], [Process], [ProcessValues].
//
// Problems in a topology (duplicate or unknown names, cycles, missing serdes,
// type mismatches, nil functions, a stream of another builder) are collected
// and reported together by [Builder.Build], each naming the node and, for a
// missing serde, the parameter struct to set it in. [Topology.Describe]
// prints the sub-topologies as Kafka Streams does.
//
// # Tables and aggregations
//
// [TableFrom] reads a topic as a [Table]: the latest value of each key.
// [Stream.GroupByKey] and [GroupBy] group a stream, and [GroupedStream.Count],
// [GroupedStream.Reduce] and [Aggregate] fold each group into a table;
// [GroupTableBy] regroups a table, and [AggregateTable] folds it with an adder
// and a subtractor. [Stream.ToTable] and [Table.ToStream] turn one into the
// other. Tables live in state stores, restored from changelog topics after a
// restart and readable with [LocalStore]. An operation that changes the key
// marks the stream so that a later grouping repartitions it first, through an
// internal topic, as in Kafka Streams.
//
// # Joins and windows
//
// [StreamTableJoin] and [StreamTableLeftJoin] look each stream record up in
// a table; [TableJoin], [TableLeftJoin] and [TableOuterJoin] join two tables
// by key. [WindowedBy] aggregates a grouped stream per time window and
// [WindowedBySession] per session, into a table keyed by [Windowed] keys;
// [AddWindowStore] and [AddSessionStore] give Processor API processors
// window and session stores. Package query serves the stores of all the
// instances of an application, each key from the instance that hosts it.
//
// # Time
//
// Event time is each record's timestamp ([FailOnInvalidTimestamp]) unless
// [WithTimestampExtractor] says otherwise: Kafka Streams' extractors
// ([LogAndSkipOnInvalidTimestamp], [UsePartitionTimeOnInvalidTimestamp],
// [WallclockTimestampExtractor]), [TimestampFromKeyValue], or a
// [TimestampExtractor] of your own. Stream time, the largest timestamp a
// task has processed, drives windows, suppression and stream-time
// punctuation. A task with several input partitions takes their records in
// timestamp order and waits for an empty one, up to [MaxTaskIdle].
//
// # Running
//
// [New] takes the topology and options ([ApplicationID], [Brokers],
// [Threads], [CommitInterval], ...) and [App.Run] runs it until its context
// is cancelled. Each sub-topology runs as one task per input partition; a
// task processes the records of its partitions in timestamp order. Tasks are
// spread over the stream threads of all instances that share the
// application id, through a Kafka consumer group with a task-aware assignor.
//
// # Delivery
//
// Processing is at-least-once: outputs are flushed before the input offsets
// that produced them are committed, every [CommitInterval] and before tasks
// move. After a crash the records processed since the last commit are
// processed again.
//
// # Bad records and failures
//
// A record that cannot be deserialized (or has an invalid timestamp) stops
// its task with a *[RecordError] naming topic, partition and offset, unless
// [OnDeserializationError] says to skip it ([SkipRecord], counted in
// [Metrics]) or to send it to a dead-letter topic ([DeadLetter]).
// [OnProductionError] does the same for records the producer cannot send.
// An error returned by a processor or punctuator, or a panic in any user
// code (a *[PanicError]), stops the task with a *[RecordError] naming the
// node and the record, unless [OnProcessingError] says to drop the record
// ([SkipRecord]) or to dead-letter the input record ([DeadLetter]), or a
// [ProcessingErrorHandler] decides per error.
// When a stream thread stops with an error, [App.Run] returns it, unless
// [OnUncaughtError] says to replace the thread ([ReplaceThread]) or to shut
// down every instance of the application ([ShutdownApplication]).
//
// # Testing
//
// Package kstreamstest runs a topology without a broker, and package
// embedded runs an in-process broker, with helpers to create topics and to
// produce and consume typed records, for demos and fast tests.
package kstreams

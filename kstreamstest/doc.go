// Package kstreamstest runs a kstreams topology without a broker, the Go
// counterpart of Kafka Streams' TopologyTestDriver.
//
// A [Driver] runs every sub-topology as one task (partition 0) through the
// same task and node code the runtime uses. Typed [InputTopic] values pipe
// records in; each record is processed, with everything it causes, before
// Pipe returns. Typed [OutputTopic] values read what the sinks wrote.
// Records written to internal (repartition) topics are fed back to the
// sub-topology that reads them, as on a cluster. Wall-clock time stands
// still until [Driver.AdvanceWallClock] moves it, which fires wall-clock
// punctuators; stream time follows the timestamps of piped records.
//
//	d, err := kstreamstest.New(topology)
//	in := kstreamstest.NewInputTopic(d, "orders", serde.String(), serde.JSON[Order]())
//	out := kstreamstest.NewOutputTopic(d, "big-orders", serde.String(), serde.JSON[Order]())
//	err = in.PipeAt("o1", Order{Total: 5000}, 1000)
//	got, err := out.ReadKeyValues()
package kstreamstest

// Package harness is kstreams' smoke and exactly-once test harness, modelled
// on Kafka Streams' SmokeTest and EosTest system tests: it generates input
// whose every aggregate has a closed form, runs a test application over it
// while faults are injected (application processes killed with SIGKILL and
// restarted, brokers killed and restarted, partition leaders moved), and
// verifies every output against the closed form.
//
// # Input
//
// [Spec] describes the input: Keys keys, each carrying every integer of
// [0, Values) once, in an order shuffled within consecutive blocks of Shuffle
// values; the record with value v has timestamp Base+v (ms). [Spec.Sequence]
// gives the order, [Generate] produces it (acks=all, idempotent).
//
// # The application
//
// [Topology] builds the test application: an echo of the input; per-key min,
// max, sum and count; a windowed sum (tumbling windows) with and without
// suppression until the window closes; two table-table joins (max minus min,
// sum over count); and an aggregate over a repartitioned table (the number
// of keys per current maximum). Caching is off, so every update is an output.
//
// # Verification
//
// [Verify] compares the outputs, read with read_committed, with the closed
// form over the input up to the application's committed offsets. Under
// exactly-once every per-key output sequence must equal the running
// aggregate exactly (no duplicate, no gap), and no transaction may be left
// open; under at-least-once nothing may be lost, and duplicates are counted
// and reported. [Read] gathers a [Dataset] from a broker.
//
// # Faults
//
// [Run] drives a whole run: it creates the topics, starts application
// processes in turn, produces the input, kills and restarts processes (and
// brokers, through a cluster script) at random, waits until the application
// has committed the whole input, stops it and verifies.
//
// The command is cmd/kstreams-harness; harness/README.md says how to run it.
package harness

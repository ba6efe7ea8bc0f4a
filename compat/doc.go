// Package compat is the differential suite: the same named topologies run on
// the same input records in Kafka Streams' TopologyTestDriver (Java, the
// reference) and in kstreamstest (Go), and every output record must be the
// same: topic, key, value and timestamp, in order per output topic.
//
// # Cases
//
// A case is one file under testdata/:
//
//	# What the case is about (comment lines start with #).
//	topology count
//	wallclock 1000
//	diverges: issue 8 item 1
//	java-ttd-differs: why Java's test driver differs from a cluster here
//
//	pipe in a x 10
//	pipe in a <null> 5
//	advance 100
//	----
//	out a 1 10
//
// "topology NAME" names a topology of topologies.go (Go) and Topologies.java
// (Java); each declares its input and output topics with the serde of key and
// value: S is a string, L a long (8 bytes, big-endian). "wallclock MS" sets
// the drivers' start wall-clock time (default 0, the epoch). Each "pipe
// TOPIC KEY VALUE TIMESTAMP" line pipes a record and each "advance MS" line
// moves the wall clock, in file order; "<null>" is a null key or value and
// `""` the empty string. Tokens hold no blanks.
//
// After "----" comes the Java section: the records Kafka Streams wrote, as
// "TOPIC KEY VALUE TIMESTAMP", the output topics in the order the topology
// declares them and each topic's records in the order they were written.
// It is written by Java only: compat/run-java.sh rewrite regenerates it, and
// compat/run-java.sh check (a step of scripts/test.sh) fails when a committed
// section is not what Java produces now.
//
// # Marks
//
// A case whose kstreams output is not yet Java's carries "diverges: issue N
// item M" (a known cause) or "diverges: new: DESCRIPTION": its mismatch is
// reported but does not fail, and a match fails so that the mark is removed
// once the fix lands. "java-ttd-differs: REASON" marks a case where Java's
// TopologyTestDriver itself differs from a real cluster (it runs every
// sub-topology as one task with one stream time); such a case is reported
// and skipped.
//
// # Random exploration
//
// explore_test.go generates random cases into a scratch directory and
// compares them after compat/run-java.sh rewrite fills their Java sections
// (see its comment): a way to find divergences on inputs no case covers.
// What it finds is committed as a small case here.
//
// # Topology descriptions
//
// testdata/describe/TOPOLOGY.txt holds, after "----", Kafka Streams'
// description of each topology (node names and kinds, each processor's
// stores, the topics of sources and sinks, internal ones included, and the
// edges), in the normalized form of java/src/main/java/Describe.java;
// run-java.sh check and rewrite handle these files too, from the same JVM.
// TestDescribe prints kstreams' description in the same form and compares.
// A "describe-diverges: REASON" line before "----" marks a known
// difference: reported, and failing once it no longer differs.
package compat

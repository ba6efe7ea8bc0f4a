// Package serde turns typed keys and values into the bytes stored in Kafka
// topics and state stores, and back. It does not import a Kafka client.
//
// A [Serde] has two methods, Serialize and Deserialize; both take the topic
// the bytes belong to, so a serde can look up a per-topic schema.
//
// # Built-in serdes
//
// [String], [Bytes], [Int32], [Int64] and [Float64] write the same bytes as
// Java's StringSerializer, ByteArraySerializer, IntegerSerializer,
// LongSerializer and DoubleSerializer, so a Go and a Java application can
// share topics. [JSON] uses encoding/json. [Default] picks the built-in serde
// for a type parameter and returns nil when there is none.
//
// # Nulls and tombstones
//
// A nil byte slice is Kafka's null. A record whose value is null is a
// tombstone: it deletes its key from a table and from a compacted topic. A
// null key is allowed on a stream but is dropped by operations that need a
// key, such as aggregations.
//
// Every serde here keeps the rule that nil bytes and the zero value go
// together: Deserialize(topic, nil) never fails and returns the zero value
// ("" for [String], 0 for the numbers, nil for [Bytes], the zero T for
// [JSON]). In the other direction only [Bytes] and [JSON] can produce nil:
// Bytes when given nil, and JSON for a nil pointer, map, slice or interface.
// So to write a tombstone with JSON, send a nil *T; [String] writes an empty
// string as empty, non-nil bytes, which is a value and not a tombstone.
//
// A non-nil slice of the wrong length is an error for the fixed-size serdes:
// a [*DecodeError] that wraps [ErrSize]. Test for it with errors.Is.
//
// # Writing your own serde
//
// Use [Func] with a pair of functions, or implement [Serde] on your own type.
// Follow the null rule above: map nil bytes to the zero value without error,
// and return nil bytes only for a value that should be a Kafka null. Return
// errors instead of panicking on bad input, and wrap the cause with %w so
// callers can use errors.Is and errors.As. A serde is shared by every task
// of an application, so it must be safe for concurrent use.
package serde

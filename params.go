package kstreams

import (
	"fmt"
	"reflect"

	"github.com/kstreams-go/kstreams/serde"
)

// Named names the node an operation adds, instead of an automatic
// "KSTREAM-FILTER-0000000004" style name. Names show in Describe, logs and
// errors, and name internal topics, so naming the nodes of a long-lived
// application keeps them stable when the topology changes.
type Named string

// Consumed says how to read a topic: the key and value serdes. A nil serde
// falls back to [serde.Default] for the type; a type with no default is a
// topology error.
type Consumed[K, V any] struct {
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Name names the source node.
	Name Named
}

// ConsumedWith returns a Consumed with the given serdes, inferring K and V.
func ConsumedWith[K, V any](key serde.Serde[K], value serde.Serde[V]) Consumed[K, V] {
	return Consumed[K, V]{Key: key, Value: value}
}

// Produced says how to write a topic: the key and value serdes. Nil serdes
// fall back to those of the stream, then to [serde.Default].
type Produced[K, V any] struct {
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Name names the sink node.
	Name Named
}

// ProducedWith returns a Produced with the given serdes, inferring K and V.
func ProducedWith[K, V any](key serde.Serde[K], value serde.Serde[V]) Produced[K, V] {
	return Produced[K, V]{Key: key, Value: value}
}

// Repartitioned configures [Stream.Repartition].
type Repartitioned[K, V any] struct {
	// Name names the internal topic "<application id>-<Name>-repartition"
	// and the nodes around it. Default: an automatic name.
	Name Named
	// Partitions of the internal topic. Default (0): as many as the largest
	// source topic upstream.
	Partitions int32
	// Key and Value serdes; nil falls back to those of the stream, then to
	// [serde.Default].
	Key   serde.Serde[K]
	Value serde.Serde[V]
}

// KeyValue is a key and a value, as returned by [FlatMap].
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// KV returns a KeyValue.
func KV[K, V any](k K, v V) KeyValue[K, V] { return KeyValue[K, V]{Key: k, Value: v} }

// pickSerde returns the first non-nil serde, then the default for T, and
// records a problem when there is none. where names the node or store in
// the user's terms; param is the parameter struct ("Consumed", "Grouped",
// "Materialized", ...) whose Key or Value field would supply the serde.
func pickSerde[T any](b *Builder, where, param, what string, choices ...serde.Serde[T]) serde.Serde[T] {
	for _, s := range choices {
		if s != nil {
			return s
		}
	}
	if s := serde.Default[T](); s != nil {
		return s
	}
	field := "Key"
	if what == "value" {
		field = "Value"
	}
	b.t.g.Problem(fmt.Errorf("%s: missing %s serde for type %s (set %s.%s)", where, what, reflect.TypeFor[T](), param, field))
	return nil
}

// after describes the node that follows node, for errors about nodes and
// stores with generated names: the user knows the node they named.
func after(node string) string { return "after node " + quote(node) }

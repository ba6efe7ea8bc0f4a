package kstreams

import (
	"github.com/kstreams-go/kstreams/processor"
)

// Map turns each record into a new key and value. The key changes, so a
// later grouping or join repartitions the stream.
func Map[K, V, K2, V2 any](s Stream[K, V], fn func(K, V) (K2, V2), name ...Named) Stream[K2, V2] {
	n := s.b.name(name, "KSTREAM-MAP")
	addFn(s.b, n, func(ctx processor.Context[K2, V2], r processor.Record[K, V]) error {
		k, v := fn(r.Key, r.Value)
		ctx.Forward(processor.Record[K2, V2]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}, s.node)
	return Stream[K2, V2]{b: s.b, node: n, keyChanged: true}
}

// MapValues turns each value into a new value; the key stays.
func MapValues[K, V, V2 any](s Stream[K, V], fn func(V) V2, name ...Named) Stream[K, V2] {
	n := s.b.name(name, "KSTREAM-MAPVALUES")
	addFn(s.b, n, func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		ctx.Forward(processor.Record[K, V2]{Key: r.Key, Value: fn(r.Value), Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}, s.node)
	return Stream[K, V2]{b: s.b, node: n, key: s.key, keyChanged: s.keyChanged}
}

// FlatMap turns each record into zero or more records with new keys.
func FlatMap[K, V, K2, V2 any](s Stream[K, V], fn func(K, V) []KeyValue[K2, V2], name ...Named) Stream[K2, V2] {
	n := s.b.name(name, "KSTREAM-FLATMAP")
	addFn(s.b, n, func(ctx processor.Context[K2, V2], r processor.Record[K, V]) error {
		for _, kv := range fn(r.Key, r.Value) {
			ctx.Forward(processor.Record[K2, V2]{Key: kv.Key, Value: kv.Value, Timestamp: r.Timestamp, Headers: r.Headers})
		}
		return nil
	}, s.node)
	return Stream[K2, V2]{b: s.b, node: n, keyChanged: true}
}

// FlatMapValues turns each value into zero or more values with the same key.
func FlatMapValues[K, V, V2 any](s Stream[K, V], fn func(V) []V2, name ...Named) Stream[K, V2] {
	n := s.b.name(name, "KSTREAM-FLATMAPVALUES")
	addFn(s.b, n, func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		for _, v := range fn(r.Value) {
			ctx.Forward(processor.Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
		}
		return nil
	}, s.node)
	return Stream[K, V2]{b: s.b, node: n, key: s.key, keyChanged: s.keyChanged}
}

// SelectKey gives each record a new key computed from it; the value stays.
func SelectKey[K, V, K2 any](s Stream[K, V], fn func(K, V) K2, name ...Named) Stream[K2, V] {
	n := s.b.name(name, "KSTREAM-KEY-SELECT")
	addFn(s.b, n, func(ctx processor.Context[K2, V], r processor.Record[K, V]) error {
		ctx.Forward(processor.Record[K2, V]{Key: fn(r.Key, r.Value), Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}, s.node)
	return Stream[K2, V]{b: s.b, node: n, value: s.value, keyChanged: true}
}

// Process runs a Processor API processor on the stream and returns the
// stream of what it forwards. The key may change, so a later grouping or
// join repartitions the stream.
func Process[K, V, K2, V2 any](s Stream[K, V], supplier processor.Supplier[K, V, K2, V2], name ...Named) Stream[K2, V2] {
	n := s.b.name(name, "KSTREAM-PROCESSOR")
	AddProcessor(s.b.t, n, supplier, s.node)
	return Stream[K2, V2]{b: s.b, node: n, keyChanged: true}
}

// BranchedStream splits a stream by predicates; see [Stream.Split].
type BranchedStream[K, V any] struct {
	s        Stream[K, V]
	prefix   string
	node     string
	names    []string
	preds    []func(K, V) bool
	branches map[string]Stream[K, V]
}

// Split starts splitting the stream into named branches: each record goes to
// the first branch whose predicate accepts it, else to the default branch if
// there is one, else nowhere. Branch names are prefixed with name, or with
// the split node's generated name and "-" when name is not given.
//
//	branches := orders.Split("order-").
//		Branch("big", func(_ string, o Order) bool { return o.Total > 1000 }).
//		DefaultBranch("small")
//	branches["order-big"].To("big-orders")
func (s Stream[K, V]) Split(name ...Named) *BranchedStream[K, V] {
	bs := &BranchedStream[K, V]{s: s, branches: map[string]Stream[K, V]{}}
	bs.node = s.b.name(name, "KSTREAM-BRANCH")
	bs.prefix = bs.node
	if len(name) == 0 || name[0] == "" {
		// As in Kafka Streams, unnamed splits prefix branch names with the
		// generated name of the split node.
		bs.prefix += "-"
	}
	addFn(s.b, bs.node, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		for i, p := range bs.preds {
			if p == nil || p(r.Key, r.Value) {
				ctx.ForwardTo(bs.names[i], r)
				return nil
			}
		}
		return nil
	}, s.node)
	return bs
}

// Branch adds a branch named prefix+name taking the records pred accepts
// (and no earlier branch took).
func (bs *BranchedStream[K, V]) Branch(name string, pred func(K, V) bool) *BranchedStream[K, V] {
	bs.add(name, pred)
	return bs
}

// DefaultBranch adds a branch named prefix+name for the records no other
// branch took, and returns all branches by name.
func (bs *BranchedStream[K, V]) DefaultBranch(name string) map[string]Stream[K, V] {
	bs.add(name, nil)
	return bs.branches
}

// NoDefaultBranch returns all branches by name; records no branch took are
// dropped.
func (bs *BranchedStream[K, V]) NoDefaultBranch() map[string]Stream[K, V] {
	return bs.branches
}

func (bs *BranchedStream[K, V]) add(name string, pred func(K, V) bool) {
	full := bs.prefix + name
	bs.names = append(bs.names, full)
	bs.preds = append(bs.preds, pred)
	addFn(bs.s.b, full, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		ctx.Forward(r)
		return nil
	}, bs.node)
	bs.branches[full] = bs.s.derive(full)
}

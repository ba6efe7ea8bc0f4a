package kstreams

import (
	"fmt"
	"slices"

	"github.com/kstreams-go/kstreams/processor"
)

// Map turns each record into a new key and value. The key changes, so a
// later grouping or join repartitions the stream.
func Map[K, V, K2, V2 any](s Stream[K, V], fn func(K, V) (K2, V2), name ...Named) Stream[K2, V2] {
	n := s.b.name(name, "KSTREAM-MAP")
	s.b.checkFn("Map", n, s.node, "function", fn)
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
	s.b.checkFn("MapValues", n, s.node, "function", fn)
	addFn(s.b, n, func(ctx processor.Context[K, V2], r processor.Record[K, V]) error {
		ctx.Forward(processor.Record[K, V2]{Key: r.Key, Value: fn(r.Value), Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}, s.node)
	return Stream[K, V2]{b: s.b, node: n, key: s.key, keyChanged: s.keyChanged}
}

// FlatMap turns each record into zero or more records with new keys.
func FlatMap[K, V, K2, V2 any](s Stream[K, V], fn func(K, V) []KeyValue[K2, V2], name ...Named) Stream[K2, V2] {
	n := s.b.name(name, "KSTREAM-FLATMAP")
	s.b.checkFn("FlatMap", n, s.node, "function", fn)
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
	s.b.checkFn("FlatMapValues", n, s.node, "function", fn)
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
	return selectKey(s, fn, "SelectKey", name)
}

// selectKey is SelectKey called as op, for errors.
func selectKey[K, V, K2 any](s Stream[K, V], fn func(K, V) K2, op string, name []Named) Stream[K2, V] {
	n := s.b.name(name, "KSTREAM-KEY-SELECT")
	s.b.checkFn(op, n, s.node, "function", fn)
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

// Branches are the branches of a split, by name: what
// [BranchedStream.DefaultBranch] and [BranchedStream.NoDefaultBranch]
// return.
type Branches[K, V any] struct {
	bs *BranchedStream[K, V]
}

// Get returns the branch named name (with the split's prefix). A name that
// is not a branch is a topology error, reported by [Builder.Build] with the
// names that exist.
func (br Branches[K, V]) Get(name string) Stream[K, V] {
	bs := br.bs
	if s, ok := bs.branches[name]; ok {
		return s
	}
	bs.s.b.t.g.Problem(fmt.Errorf("split %q: no branch named %q (branches: %q)", bs.node, name, bs.names))
	// The stream reads from the split node itself, so that what the user
	// builds on it raises no second error.
	return bs.s.derive(bs.node)
}

// Names returns the names of the branches, in the order they were added.
func (br Branches[K, V]) Names() []string { return slices.Clone(br.bs.names) }

// Split starts splitting the stream into named branches: each record goes to
// the first branch whose predicate accepts it, else to the default branch if
// there is one, else nowhere. Branch names are prefixed with name, or with
// the split node's generated name and "-" when name is not given.
//
//	branches := orders.Split("order-").
//		Branch("big", func(_ string, o Order) bool { return o.Total > 1000 }).
//		DefaultBranch("small")
//	branches.Get("order-big").To("big-orders")
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
	bs.s.b.checkFn("Split "+quote(bs.node)+" Branch", bs.prefix+name, bs.s.node, "predicate", pred)
	if pred == nil {
		// Reported above; a nil predicate would take every record.
		pred = func(K, V) bool { return false }
	}
	bs.add(name, pred)
	return bs
}

// DefaultBranch adds a branch named prefix+name for the records no other
// branch took, and returns all branches.
func (bs *BranchedStream[K, V]) DefaultBranch(name string) Branches[K, V] {
	bs.add(name, nil)
	return Branches[K, V]{bs}
}

// NoDefaultBranch returns all branches; records no branch took are
// dropped.
func (bs *BranchedStream[K, V]) NoDefaultBranch() Branches[K, V] {
	return Branches[K, V]{bs}
}

func (bs *BranchedStream[K, V]) add(name string, pred func(K, V) bool) {
	full := bs.prefix + name
	bs.names = append(bs.names, full)
	bs.preds = append(bs.preds, pred)
	// Kafka Streams draws a generated name for each branch (and uses
	// the branch's own): later generated names count it.
	bs.s.b.t.g.NextName(full)
	addFn(bs.s.b, full, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		ctx.Forward(r)
		return nil
	}, bs.node)
	bs.branches[full] = bs.s.derive(full)
}

// ProcessValues runs a Processor API processor that keeps the key, as
// Kafka Streams' processValues: every record it forwards while processing
// a record carries that record's key, whatever key the processor set. The
// key does not change, so a later grouping or join does not repartition.
// Records forwarded from a punctuator, where no record is being processed,
// keep the key the processor gives them: take it from records it kept.
func ProcessValues[K, V, V2 any](s Stream[K, V], supplier processor.Supplier[K, V, K, V2], name ...Named) Stream[K, V2] {
	n := s.b.name(name, "KSTREAM-PROCESSVALUES")
	var fixed processor.Supplier[K, V, K, V2]
	if supplier != nil {
		fixed = func() processor.Processor[K, V, K, V2] {
			p := supplier()
			if p == nil {
				return nil
			}
			return &fixedKey[K, V, V2]{p: p}
		}
	}
	AddProcessor(s.b.t, n, fixed, s.node)
	return Stream[K, V2]{b: s.b, node: n, key: s.key, keyChanged: s.keyChanged}
}

// ProcessValuesWithStores is [ProcessValues] with access to the named state
// stores, added with [AddStateStore].
func ProcessValuesWithStores[K, V, V2 any](s Stream[K, V], supplier processor.Supplier[K, V, K, V2], stores []string, name ...Named) Stream[K, V2] {
	out := ProcessValues(s, supplier, name...)
	for _, st := range stores {
		s.b.t.g.Connect(st, out.node)
	}
	return out
}

// fixedKey runs p with a context that gives every record forwarded during
// Process the key of the record being processed.
type fixedKey[K, V, V2 any] struct {
	p       processor.Processor[K, V, K, V2]
	key     K
	inInput bool
}

func (f *fixedKey[K, V, V2]) Init(ctx processor.Context[K, V2]) error {
	return f.p.Init(fixedKeyContext[K, V, V2]{Context: ctx, f: f})
}

func (f *fixedKey[K, V, V2]) Process(r processor.Record[K, V]) error {
	f.key, f.inInput = r.Key, true
	defer func() { f.inInput = false }()
	return f.p.Process(r)
}

func (f *fixedKey[K, V, V2]) Close() error { return f.p.Close() }

type fixedKeyContext[K, V, V2 any] struct {
	processor.Context[K, V2]
	f *fixedKey[K, V, V2]
}

func (c fixedKeyContext[K, V, V2]) Forward(r processor.Record[K, V2]) {
	if c.f.inInput {
		r.Key = c.f.key
	}
	c.Context.Forward(r)
}

func (c fixedKeyContext[K, V, V2]) ForwardTo(child string, r processor.Record[K, V2]) {
	if c.f.inInput {
		r.Key = c.f.key
	}
	c.Context.ForwardTo(child, r)
}

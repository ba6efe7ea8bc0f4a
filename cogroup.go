package kstreams

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// CogroupedStream is several grouped streams with the same key type, each
// with its own aggregator, folded into one aggregate per key, as Kafka
// Streams' CogroupedKStream. Start it with [Cogroup], add streams with
// [CogroupWith], then call [CogroupedStream.Aggregate] or window it.
//
// Go methods cannot take type parameters, so adding a stream of another
// value type is the function CogroupWith rather than a method:
//
//	clicks := kstreams.GroupBy(clickStream, userOfClick)
//	views := viewStream.GroupByKey()
//	c := kstreams.Cogroup(clicks, addClick)
//	c = kstreams.CogroupWith(c, views, addView)
//	activity := c.Aggregate(newActivity)
//
// Each input keeps its own grouping: a grouping that changed the key went
// through its repartition topic when it was grouped ([GroupBy],
// [Stream.GroupByKey] after a key change), named by its [Grouped]. All
// inputs must be co-partitioned, as for a join.
type CogroupedStream[K, A any] struct {
	b   *Builder
	key serde.Serde[K]
	// from is the first grouped node, named in errors.
	from string
	ins  []cogroupInput[K, A]
}

// cogroupInput is one grouped stream of a cogroup: its node, and add, which
// adds its aggregation processor named name over the store of c.
type cogroupInput[K, A any] struct {
	node string
	// source returns the node the input's processor reads: node, or the
	// source of the repartition the input's key change needs, named after
	// the store.
	source func(store string) string
	add    func(name, source string, c cogroupAgg[K, A])
}

// cogroupAgg says which aggregation the processors of a cogroup make, over
// which store: time, sliding or session windows when set, otherwise a
// key-value aggregation.
type cogroupAgg[K, A any] struct {
	store     string
	init      func() A
	old       *oldValues
	time      *TimeWindows
	sliding   *SlidingWindows
	session   *SessionWindows
	merge     func(K, A, A) A
	retention int64
}

// Cogroup starts a cogroup with g, whose records are folded into the
// aggregate by add, as Java's KGroupedStream.cogroup.
func Cogroup[K, V, A any](g GroupedStream[K, V], add func(K, V, A) A) CogroupedStream[K, A] {
	c := CogroupedStream[K, A]{b: g.s.b, key: g.s.key, from: g.from}
	if c.b == nil {
		return c
	}
	return CogroupWith(c, g, add)
}

// CogroupWith returns c with g added, its records folded into the
// aggregate by add, as Java's CogroupedKStream.cogroup. Adding a grouped
// stream already in c replaces its aggregator, as in Kafka Streams.
func CogroupWith[K, V, A any](c CogroupedStream[K, A], g GroupedStream[K, V], add func(K, V, A) A) CogroupedStream[K, A] {
	if c.b == nil || !c.b.checkSame("CogroupWith", c.from, g.s.b, g.s.node) {
		return c
	}
	c.b.checkFn("Cogroup", "", g.from, "aggregator", add)
	if c.key == nil {
		c.key = g.s.key
	}
	node := g.s.node
	in := cogroupInput[K, A]{node: node, source: func(store string) string { return g.input(store).node },
		add: func(name, source string, a cogroupAgg[K, A]) {
			addCogroupProcessor(c.b, name, source, a, add)
		}}
	ins := make([]cogroupInput[K, A], 0, len(c.ins)+1)
	replaced := false
	for _, i := range c.ins {
		if i.node == node {
			i, replaced = in, true
		}
		ins = append(ins, i)
	}
	if !replaced {
		ins = append(ins, in)
	}
	c.ins = ins
	return c
}

// addCogroupProcessor adds the aggregation processor of one cogroup input
// of value type V, reading node.
func addCogroupProcessor[K, V, A any](b *Builder, name, node string, a cogroupAgg[K, A], add func(K, V, A) A) {
	fold := func(k K, v V, agg A, _ bool) A { return add(k, v, agg) }
	switch {
	case a.time != nil:
		w := *a.time
		AddProcessor(b.t, name, func() processor.Processor[K, V, Windowed[K], Change[A]] {
			return &windowAggregate[K, V, A]{store: a.store, windows: w, start: a.init, fold: fold, old: a.old, observed: -1, lastEmit: -1, storeTime: -1, retention: a.retention}
		}, node)
	case a.sliding != nil:
		w := *a.sliding
		isNull := nilCheck[V]()
		AddProcessor(b.t, name, func() processor.Processor[K, V, Windowed[K], Change[A]] {
			return &slidingAggregate[K, V, A]{store: a.store, d: w.timeDifference.Milliseconds(), grace: w.grace.Milliseconds(),
				start: a.init, fold: fold, old: a.old, isNull: isNull, observed: -1, lastEmit: -1, storeTime: -1, retention: a.retention}
		}, node)
	case a.session != nil:
		w, merge := *a.session, a.merge
		AddProcessor(b.t, name, func() processor.Processor[K, V, Windowed[K], Change[A]] {
			return &sessionAggregate[K, V, A]{store: a.store, windows: w, start: a.init, fold: fold, old: a.old, observed: -1, lastEmit: -1,
				merge: func(k K, x, y A, _, _ bool) A { return merge(k, x, y) }}
		}, node)
	default:
		isNull := nilCheck[V]()
		AddProcessor(b.t, name, func() processor.Processor[K, V, K, Change[A]] {
			return &streamAggregate[K, V, A]{tableProc: tableProc[K, A]{store: a.store, old: a.old}, start: a.init, fold: fold, isNull: isNull}
		}, node)
	}
	b.t.g.Connect(a.store, name)
}

// Aggregate folds the records of every input into one aggregate per key:
// init starts a key's aggregate, each input's aggregator folds its records
// in. As Kafka Streams' cogroup, each input has its own aggregation
// processor (KStreamAggregate) over the one store, and their updates meet
// in a pass-through node, the table's. Records with a null key or value are
// dropped; each aggregate is stamped with the largest timestamp folded in.
func (c CogroupedStream[K, A]) Aggregate(init func() A, m ...Materialized[K, A]) Table[K, A] {
	c.b.checkFn("Cogroup Aggregate", "", c.from, "initializer", init)
	store, key, val := materialize(c.b, first(m), cogroupPrefix, c.from, c.key, nil)
	a := cogroupAgg[K, A]{store: store, init: init, old: alwaysOld()}
	n := c.build(a)
	return Table[K, A]{b: c.b, node: n, key: key, value: val, store: store, old: a.old}
}

// cogroupPrefix names the processors and stores of a cogroup, as Java's
// CogroupedKStreamImpl.
const cogroupPrefix = "COGROUPKSTREAM-AGGREGATE"

// build adds the processor of each input and the merge node, and returns
// the merge node's name.
func (c CogroupedStream[K, A]) build(a cogroupAgg[K, A]) string {
	// As Kafka Streams: the repartitions of all inputs, then their
	// processors.
	sources := make([]string, len(c.ins))
	for i, in := range c.ins {
		sources[i] = in.source(a.store)
	}
	parents := make([]string, len(c.ins))
	for i, in := range c.ins {
		parents[i] = c.b.t.g.NextName(cogroupPrefix)
		in.add(parents[i], sources[i], a)
	}
	n := c.b.t.g.NextName("COGROUPKSTREAM-MERGE")
	if a.time != nil || a.sliding != nil || a.session != nil {
		AddProcessor(c.b.t, n, func() processor.Processor[Windowed[K], Change[A], Windowed[K], Change[A]] {
			return &passThrough[Windowed[K], Change[A]]{}
		}, parents...)
	} else {
		AddProcessor(c.b.t, n, func() processor.Processor[K, Change[A], K, Change[A]] {
			return &passThrough[K, Change[A]]{}
		}, parents...)
	}
	return n
}

// passThrough forwards every record, Kafka Streams' KTablePassThrough.
type passThrough[K, V any] struct{ ctx processor.Context[K, V] }

func (p *passThrough[K, V]) Init(ctx processor.Context[K, V]) error {
	p.ctx = ctx
	return nil
}

func (p *passThrough[K, V]) Process(r processor.Record[K, V]) error {
	p.ctx.Forward(r)
	return nil
}

func (p *passThrough[K, V]) Close() error { return nil }

// TimeWindowedCogroupedStream is a cogroup windowed by time or sliding
// windows, as Kafka Streams' TimeWindowedCogroupedKStream.
type TimeWindowedCogroupedStream[K, A any] struct {
	c       CogroupedStream[K, A]
	w       TimeWindows
	sliding *SlidingWindows
}

// WindowedBy windows c by tumbling or hopping time windows, as Java's
// CogroupedKStream.windowedBy(TimeWindows).
func (c CogroupedStream[K, A]) WindowedBy(w TimeWindows) TimeWindowedCogroupedStream[K, A] {
	if err := w.Validate(); err != nil {
		c.b.t.g.Problem(fmt.Errorf("Cogroup WindowedBy %s: %w", after(c.from), err))
	}
	return TimeWindowedCogroupedStream[K, A]{c: c, w: w}
}

// WindowedBySliding windows c by sliding windows, as Java's
// CogroupedKStream.windowedBy(SlidingWindows); see [WindowedBySliding].
func (c CogroupedStream[K, A]) WindowedBySliding(w SlidingWindows) TimeWindowedCogroupedStream[K, A] {
	if err := w.Validate(); err != nil {
		c.b.t.g.Problem(fmt.Errorf("Cogroup WindowedBySliding %s: %w", after(c.from), err))
	}
	return TimeWindowedCogroupedStream[K, A]{c: c, sliding: &w}
}

// Aggregate folds the records of every input into one aggregate per key
// and window, as [WindowedAggregate] does for one stream (updates are
// forwarded on every window update).
func (t TimeWindowedCogroupedStream[K, A]) Aggregate(init func() A, m ...WindowedMaterialized[K, A]) Table[Windowed[K], A] {
	c := t.c
	c.b.checkFn("Cogroup Aggregate", "", c.from, "initializer", init)
	mm := first(m)
	a := cogroupAgg[K, A]{init: init, old: alwaysOld()}
	var key serde.Serde[Windowed[K]]
	var val serde.Serde[A]
	var grace time.Duration
	if t.sliding != nil {
		var k serde.Serde[K]
		var retention int64
		a.store, k, val, retention = addSlidingStore(c.b, cogroupPrefix, c.from, c.key, *t.sliding, EmitOnWindowUpdate, mm)
		a.sliding, a.retention, grace = t.sliding, retention, t.sliding.grace
		if k != nil {
			key = serde.TimeWindowed(k, t.sliding.timeDifference)
		}
	} else {
		name, k, v, retention := addWindowStore(c.b, cogroupPrefix, c.from, c.key, t.w, EmitOnWindowUpdate, mm)
		a.store, val, a.time, a.retention, grace = name, v, &t.w, retention.Milliseconds(), t.w.grace
		if k != nil {
			key = serde.TimeWindowed(k, t.w.size)
		}
	}
	n := c.build(a)
	return Table[Windowed[K], A]{b: c.b, node: n, key: key, value: val, store: a.store, old: a.old, win: windowEnds[K](grace)}
}

// SessionWindowedCogroupedStream is a cogroup windowed by session windows,
// as Kafka Streams' SessionWindowedCogroupedKStream.
type SessionWindowedCogroupedStream[K, A any] struct {
	c CogroupedStream[K, A]
	w SessionWindows
}

// WindowedBySession windows c by session windows, as Java's
// CogroupedKStream.windowedBy(SessionWindows).
func (c CogroupedStream[K, A]) WindowedBySession(w SessionWindows) SessionWindowedCogroupedStream[K, A] {
	if err := w.Validate(); err != nil {
		c.b.t.g.Problem(fmt.Errorf("Cogroup WindowedBySession %s: %w", after(c.from), err))
	}
	return SessionWindowedCogroupedStream[K, A]{c: c, w: w}
}

// Aggregate folds the records of every input into one aggregate per
// session, merging sessions a record bridges with merge, as
// [SessionAggregate] does for one stream.
func (t SessionWindowedCogroupedStream[K, A]) Aggregate(init func() A, merge func(K, A, A) A, m ...WindowedMaterialized[K, A]) Table[Windowed[K], A] {
	c := t.c
	c.b.checkFn("Cogroup Aggregate", "", c.from, "initializer", init)
	c.b.checkFn("Cogroup Aggregate", "", c.from, "merger", merge)
	name, k, v := addSessionStore(c.b, cogroupPrefix, c.from, c.key, t.w, first(m))
	a := cogroupAgg[K, A]{store: name, init: init, old: alwaysOld(), session: &t.w, merge: merge}
	n := c.build(a)
	var key serde.Serde[Windowed[K]]
	if k != nil {
		key = serde.SessionWindowed(k)
	}
	return Table[Windowed[K], A]{b: c.b, node: n, key: key, value: v, store: name, old: a.old, win: windowEnds[K](t.w.gap + t.w.grace)}
}

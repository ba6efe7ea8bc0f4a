package kstreams

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Grouped configures a grouping: the serdes of the repartition topic a
// re-keyed grouping writes, and its name.
type Grouped[K, V any] struct {
	// Name names the repartition topic "<application id>-<Name>-repartition".
	// Default: an automatic name.
	Name Named
	// Key and Value serdes of the repartition topic; nil falls back to
	// those of the stream, then to serde.Default. A grouping that needs no
	// repartition passes them on to the aggregation.
	Key   serde.Serde[K]
	Value serde.Serde[V]
}

// GroupedStream is a stream grouped by key, ready to aggregate.
type GroupedStream[K, V any] struct {
	s Stream[K, V]
	// from is the node the user grouped, named in errors.
	from string
	// rp, when set, is the repartition the key change needs. As in Kafka
	// Streams, it is made by the aggregation, after the names of its store
	// and node, and is named after the store unless the grouping is named.
	rp *groupRepartition[K, V]
}

// groupRepartition is the repartition a grouping owes and the operation
// that asked for it, for errors.
type groupRepartition[K, V any] struct {
	rp Repartitioned[K, V]
	op string
	// made is the repartition of a named grouping, made once and read by
	// every aggregation of the grouping, as in Kafka Streams.
	made *Stream[K, V]
}

// input returns the stream an aggregation over store reads: g's stream,
// repartitioned first when the key changed.
func (g GroupedStream[K, V]) input(store string) Stream[K, V] {
	if g.rp == nil {
		return g.s
	}
	rp := g.rp.rp
	if rp.Name == "" {
		rp.Name = Named(store)
		return g.s.repartition(rp, g.rp.op, "Grouped", g.from, false)
	}
	if g.rp.made != nil {
		repartitionNames(g.s.b, string(rp.Name)) // Kafka Streams draws the names again
		return *g.rp.made
	}
	s := g.s.repartition(rp, g.rp.op, "Grouped", g.from, false)
	g.rp.made = &s
	return s
}

// GroupByKey groups the stream by its key. If the key was changed upstream
// ([Map], [SelectKey], ...), the stream is repartitioned first so that all
// records of a key meet in one task.
func (s Stream[K, V]) GroupByKey(g ...Grouped[K, V]) GroupedStream[K, V] {
	return s.groupByKey(first(g), "GroupByKey", s.node)
}

// groupByKey groups s; op and from name the operation and the node the
// user called it on, for errors.
func (s Stream[K, V]) groupByKey(gr Grouped[K, V], op, from string) GroupedStream[K, V] {
	if !s.keyChanged {
		if gr.Key != nil {
			s.key = gr.Key
		}
		if gr.Value != nil {
			s.value = gr.Value
		}
		return GroupedStream[K, V]{s: s, from: from}
	}
	rp := Repartitioned[K, V]{Name: gr.Name, Key: gr.Key, Value: gr.Value}
	// The repartition's serdes are those of the grouped stream.
	if gr.Key != nil {
		s.key = gr.Key
	}
	if gr.Value != nil {
		s.value = gr.Value
	}
	return GroupedStream[K, V]{s: s, from: from, rp: &groupRepartition[K, V]{rp: rp, op: op}}
}

// GroupBy groups the stream by a new key computed from each record, through
// a repartition topic (always: the key changes). Set the serdes of a key type
// with no default in g's Key.
func GroupBy[K, V, K2 any](s Stream[K, V], key func(K, V) K2, g ...Grouped[K2, V]) GroupedStream[K2, V] {
	return selectKey(s, key, "GroupBy", nil).groupByKey(first(g), "GroupBy", s.node)
}

// Count counts the records of each key. Records with a null key or a nil
// value (a nil pointer, slice, map or interface) are dropped (counted in
// Metrics.Dropped), as Kafka Streams skips null keys and values. Each count
// is stamped with the largest timestamp of the records it counts.
func (g GroupedStream[K, V]) Count(m ...Materialized[K, int64]) Table[K, int64] {
	return Aggregate(g, func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 }, m...)
}

// Reduce combines the records of each key: the first value is the start,
// each later one is combined with reduce(aggregate, value). Records with a
// null key or a nil value are dropped, as for [GroupedStream.Count].
func (g GroupedStream[K, V]) Reduce(reduce func(agg, v V) V, m ...Materialized[K, V]) Table[K, V] {
	g.s.b.checkFn("Reduce", "", g.from, "reducer", reduce)
	mm := first(m)
	if mm.Value == nil {
		mm.Value = g.s.value
	}
	return aggregateStream(g, "KSTREAM-REDUCE", nil, nil, reduceFold[K](reduce), mm)
}

// Aggregate folds the records of each key into an aggregate: init gives the
// start, add folds a value in. An aggregate that serializes to null (such
// as a nil slice with serde.JSON) deletes the key. Records with a null key
// or a nil value are dropped, as for [GroupedStream.Count]; each aggregate
// is stamped with the largest timestamp of the records folded into it.
func Aggregate[K, V, A any](g GroupedStream[K, V], init func() A, add func(K, V, A) A, m ...Materialized[K, A]) Table[K, A] {
	g.s.b.checkFn("Aggregate", "", g.from, "initializer", init)
	g.s.b.checkFn("Aggregate", "", g.from, "adder", add)
	return aggregateStream(g, "KSTREAM-AGGREGATE", nil, init, func(k K, v V, agg A, _ bool) A {
		return add(k, v, agg)
	}, first(m))
}

// streamAggregate is Kafka Streams' KStreamAggregate and KStreamReduce:
// start, when set, starts an aggregate (and is the old value forwarded for
// a new key); fold folds a value into the aggregate.
type streamAggregate[K, V, A any] struct {
	tableProc[K, A]
	start  func() A
	fold   func(K, V, A, bool) A
	isNull func(V) bool
}

func (p *streamAggregate[K, V, A]) Init(ctx processor.Context[K, Change[A]]) error {
	return p.init(ctx)
}

func (p *streamAggregate[K, V, A]) Process(r processor.Record[K, V]) error {
	if p.isNull != nil && p.isNull(r.Value) {
		dropRecord(p.ctx, "null value")
		return nil
	}
	kb, err := p.rawKey(r.Key)
	if kb == nil {
		return err
	}
	agg, ts, found, err := p.get(kb)
	if err != nil {
		return err
	}
	c := Change[A]{Old: agg, HasOld: found}
	newTs := r.Timestamp
	if found {
		newTs = max(newTs, ts)
	} else if p.start != nil {
		agg = p.start()
		c.Old, c.HasOld = agg, true
	}
	c.New = p.fold(r.Key, r.Value, agg, found)
	if c.HasNew, err = p.put(kb, c.New, newTs); err != nil {
		return err
	}
	p.forward(r.Key, c, newTs, r.Headers)
	return nil
}

// reduceFold is the fold of a reduce: the first value starts the aggregate,
// each later one is combined with reduce(aggregate, value).
func reduceFold[K, V any](reduce func(agg, v V) V) func(K, V, V, bool) V {
	return func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return reduce(agg, v)
	}
}

func aggregateStream[K, V, A any](g GroupedStream[K, V], prefix string, value serde.Serde[A], init func() A, fold func(K, V, A, bool) A, m Materialized[K, A]) Table[K, A] {
	b := g.s.b
	store, key, val := materialize(b, m, prefix, g.from, g.s.key, value)
	n := b.t.g.NextName(prefix)
	old := alwaysOld()
	isNull := nilCheck[V]()
	AddProcessor(b.t, n, func() processor.Processor[K, V, K, Change[A]] {
		return &streamAggregate[K, V, A]{tableProc: tableProc[K, A]{store: store, old: old}, start: init, fold: fold, isNull: isNull}
	}, g.input(store).node)
	b.t.g.Connect(store, n)
	return Table[K, A]{b: b, node: n, key: key, value: val, store: store, old: old}
}

// nilCheck returns a function telling whether a V is nil, for the kinds of
// V that can be (pointers, slices, maps, interfaces, channels, functions);
// nil for the others. A nil value is how a Kafka null reaches a stream.
func nilCheck[V any]() func(V) bool {
	switch reflect.TypeFor[V]().Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func:
		return func(v V) bool { return reflect.ValueOf(&v).Elem().IsNil() }
	}
	return nil
}

// GroupedTable is a table re-grouped by a new key, ready to aggregate with
// an adder and a subtractor.
type GroupedTable[K, V any] struct {
	b     *Builder
	node  string // the re-grouping processor
	key   serde.Serde[K]
	value serde.Serde[V]
	// from is the table node the user grouped, named in errors.
	from string
	// name is the grouping's (Grouped.Name), made the repartition source
	// of a named grouping once an aggregation has made it.
	name string
	made *string
}

// GroupTableBy re-groups a table by a new key and value computed from each
// row, through a repartition topic. An update removes the old row from the
// group of its old key and adds the new row to the group of its new key, so
// aggregations need an adder and a subtractor. When the group key does not
// change, one record carries both and the group is updated once (as in Kafka
// Streams 3.5 and later), so no intermediate value is visible downstream.
func GroupTableBy[K, V, K2, V2 any](t Table[K, V], fn func(K, V) KeyValue[K2, V2], g ...Grouped[K2, V2]) GroupedTable[K2, V2] {
	gr := first(g)
	b := t.b
	// The re-grouping needs each row's old value to take it out of its
	// old group.
	t.old.enableSend(true)
	n := b.name([]Named{gr.Name}, "KTABLE-SELECT")
	b.checkFn("GroupTableBy", n, t.node, "function", fn)
	where := "GroupTableBy " + after(t.node)
	key := pickSerde(b, where, "Grouped", "key", gr.Key)
	value := pickSerde(b, where, "Grouped", "value", gr.Value)
	same := sameKey(key)
	isNull := nilCheck[K2]()
	addFn(b, n, func(ctx processor.Context[K2, Change[V2]], r processor.Record[K, Change[V]]) error {
		fwd := func(k K2, c Change[V2]) {
			if isNull != nil && isNull(k) {
				// As Kafka Streams, a row whose group key is null
				// is skipped.
				dropRecord(ctx, "null key")
				return
			}
			ctx.Forward(processor.Record[K2, Change[V2]]{Key: k, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		}
		var old, nw KeyValue[K2, V2]
		if r.Value.HasOld {
			old = fn(r.Key, r.Value.Old)
		}
		if r.Value.HasNew {
			nw = fn(r.Key, r.Value.New)
		}
		switch {
		case r.Value.HasOld && r.Value.HasNew && same(old.Key, nw.Key):
			// The row stays in its group: one record, whose aggregation
			// subtracts the old value and adds the new one in one update.
			fwd(nw.Key, Change[V2]{Old: old.Value, HasOld: true, New: nw.Value, HasNew: true})
		default:
			if r.Value.HasOld {
				fwd(old.Key, Change[V2]{Old: old.Value, HasOld: true})
			}
			if r.Value.HasNew {
				fwd(nw.Key, Change[V2]{New: nw.Value, HasNew: true})
			}
		}
		return nil
	}, t.node)
	return GroupedTable[K2, V2]{b: b, node: n, key: key, value: value, from: t.node, name: string(gr.Name), made: new(string)}
}

// input returns the node an aggregation over store reads: the source of
// the repartition topic the re-grouped rows go through,
// "<Grouped.Name>-repartition", else "<store>-repartition". As in Kafka
// Streams, its sink and source have generated names, drawn by every
// aggregation, and a named grouping's topic is made once and read by each
// of its aggregations.
func (g GroupedTable[K, V]) input(store string) string {
	sink, src := g.b.t.g.NextName("KSTREAM-SINK"), g.b.t.g.NextName("KSTREAM-SOURCE")
	if g.name != "" && *g.made != "" {
		return *g.made
	}
	prefix := g.name
	if prefix == "" {
		prefix = store
	}
	topic := runtime.Topic{Name: prefix + "-repartition", Internal: true}
	g.b.t.g.AddInternalTopic(runtime.InternalTopic{Name: topic.Name, Configs: repartitionConfigs})
	// A missing serde was reported by GroupTableBy, once.
	value := changeSerde[V]{g.value}
	g.b.t.g.Add(&runtime.NodeSpec{
		Name: sink, Kind: runtime.SinkKind, Parents: []string{g.node}, Topics: []runtime.Topic{topic},
		In:  runtime.RecordType[K, Change[V]](),
		New: runtime.NewSink(sink, topic, g.key, serde.Serde[Change[V]](value)),
	})
	g.b.t.g.Add(&runtime.NodeSpec{
		Name: src, Kind: runtime.SourceKind, Topics: []runtime.Topic{topic},
		Out: runtime.RecordType[K, Change[V]](),
		New: runtime.NewSource(src, g.key, serde.Serde[Change[V]](value)),
	})
	*g.made = src
	return src
}

// sameKey returns a function telling whether two group keys are the same
// key, as Java's equals: by == for comparable key types that hold no
// pointer at the top, else (pointers, slices, maps, interfaces) by their
// serialized bytes; keys that do not serialize are taken as different.
func sameKey[K any](key serde.Serde[K]) func(a, b K) bool {
	t := reflect.TypeFor[K]()
	if t.Comparable() && t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer {
		return func(a, b K) bool { return any(a) == any(b) }
	}
	return func(a, b K) bool {
		if key == nil {
			return false
		}
		ab, errA := key.Serialize("", a)
		bb, errB := key.Serialize("", b)
		return errA == nil && errB == nil && bytes.Equal(ab, bb)
	}
}

// Count counts the rows of each group.
func (g GroupedTable[K, V]) Count(m ...Materialized[K, int64]) Table[K, int64] {
	return AggregateTable(g, func() int64 { return 0 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, _ V, n int64) int64 { return n - 1 }, m...)
}

// Reduce keeps one value per group: add folds a new row in, subtract takes
// an old row out. A group whose value serializes to null after a subtract
// (such as a nil slice with serde.JSON) is deleted.
func (g GroupedTable[K, V]) Reduce(add, subtract func(agg, v V) V, m ...Materialized[K, V]) Table[K, V] {
	g.b.checkFn("Reduce", "", g.from, "adder", add)
	g.b.checkFn("Reduce", "", g.from, "subtractor", subtract)
	mm := first(m)
	if mm.Value == nil {
		mm.Value = g.value
	}
	return aggregateTable(g, "KTABLE-REDUCE", func(p *tableAggregate[K, V, V], _ K, c Change[V], old state.ValueAndTimestamp[V], found bool, ts int64) (V, bool, int64) {
		// As Kafka Streams' KTableReduce: an old row is taken out of an
		// existing group only; a new row starts a group that has none.
		agg, has := old.Value, found
		if c.HasOld && found {
			agg = subtract(agg, c.Old)
			has = !p.st.isNull(agg)
			ts = max(ts, old.Timestamp)
		}
		if c.HasNew {
			if !has {
				return c.New, true, ts
			}
			return add(agg, c.New), true, max(ts, old.Timestamp)
		}
		return agg, has, ts
	}, mm)
}

// AggregateTable folds the rows of each group into an aggregate: init gives
// the start, add folds a new row in, subtract takes an old row out. An
// aggregate that serializes to null deletes the group.
func AggregateTable[K, V, A any](g GroupedTable[K, V], init func() A, add, subtract func(K, V, A) A, m ...Materialized[K, A]) Table[K, A] {
	g.b.checkFn("AggregateTable", "", g.from, "initializer", init)
	g.b.checkFn("AggregateTable", "", g.from, "adder", add)
	g.b.checkFn("AggregateTable", "", g.from, "subtractor", subtract)
	return aggregateTable(g, "KTABLE-AGGREGATE", func(p *tableAggregate[K, V, A], k K, c Change[V], old state.ValueAndTimestamp[A], found bool, ts int64) (A, bool, int64) {
		// As Kafka Streams' KTableAggregate: an old row is taken out of an
		// existing aggregate only, and init starts a group only for a new
		// row.
		agg, has := old.Value, found
		if c.HasOld && found {
			agg = subtract(k, c.Old, agg)
			has = !p.st.isNull(agg)
			ts = max(ts, old.Timestamp)
		}
		if c.HasNew {
			if !has {
				agg = init()
			}
			if found {
				ts = max(ts, old.Timestamp)
			}
			return add(k, c.New, agg), true, ts
		}
		return agg, has, ts
	}, first(m))
}

type tableAggregate[K, V, A any] struct {
	tableProc[K, A]
	// fold returns the new aggregate (false: none, the group is deleted)
	// and its timestamp, given the old one and the record's timestamp.
	fold func(p *tableAggregate[K, V, A], k K, c Change[V], old state.ValueAndTimestamp[A], found bool, ts int64) (A, bool, int64)
}

func (p *tableAggregate[K, V, A]) Init(ctx processor.Context[K, Change[A]]) error { return p.init(ctx) }

func (p *tableAggregate[K, V, A]) Process(r processor.Record[K, Change[V]]) error {
	// A change with neither side (a mapped value that was null) changes
	// no group, as Kafka Streams skips null values in the group-by.
	if !r.Value.HasNew && !r.Value.HasOld {
		return nil
	}
	kb, err := p.rawKey(r.Key)
	if kb == nil {
		return err
	}
	agg, ts, found, err := p.get(kb)
	if err != nil {
		return err
	}
	c := Change[A]{Old: agg, HasOld: found}
	var newTs int64
	c.New, c.HasNew, newTs = p.fold(p, r.Key, r.Value, state.ValueAndTimestamp[A]{Value: agg, Timestamp: ts}, found, r.Timestamp)
	if !c.HasNew {
		var zero A
		c.New = zero
	}
	return p.write(r.Key, kb, c, newTs, r.Headers)
}

func aggregateTable[K, V, A any](g GroupedTable[K, V], prefix string, fold func(*tableAggregate[K, V, A], K, Change[V], state.ValueAndTimestamp[A], bool, int64) (A, bool, int64), m Materialized[K, A]) Table[K, A] {
	// Kafka Streams names the store KTABLE-AGGREGATE-STATE-STORE-<n> for
	// a reduce too.
	store, key, val := materialize(g.b, m, "KTABLE-AGGREGATE", g.from, g.key, nil)
	in := g.input(store)
	n := g.b.t.g.NextName(prefix)
	old := alwaysOld()
	AddProcessor(g.b.t, n, func() processor.Processor[K, Change[V], K, Change[A]] {
		return &tableAggregate[K, V, A]{tableProc: tableProc[K, A]{store: store, old: old}, fold: fold}
	}, in)
	g.b.t.g.Connect(store, n)
	return Table[K, A]{b: g.b, node: n, key: key, value: val, store: store, old: old}
}

// changeSerde writes a Change on a repartition topic: a flags byte (1: has
// new, 2: has old), the length of the new value (4 bytes, big-endian), the
// new value, then the old value.
type changeSerde[V any] struct{ inner serde.Serde[V] }

func (s changeSerde[V]) Serialize(topic string, c Change[V]) ([]byte, error) {
	var nb, ob []byte
	var err error
	if c.HasNew {
		if nb, err = s.inner.Serialize(topic, c.New); err != nil {
			return nil, err
		}
	}
	if c.HasOld {
		if ob, err = s.inner.Serialize(topic, c.Old); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 5, 5+len(nb)+len(ob))
	// A value that serializes to a Kafka null travels as absent, as a null
	// does in Kafka Streams: its empty bytes would not deserialize.
	if nb != nil {
		out[0] |= 1
	}
	if ob != nil {
		out[0] |= 2
	}
	binary.BigEndian.PutUint32(out[1:], uint32(len(nb)))
	return append(append(out, nb...), ob...), nil
}

func (s changeSerde[V]) Deserialize(topic string, data []byte) (Change[V], error) {
	var c Change[V]
	if len(data) < 5 {
		return c, fmt.Errorf("kstreams: change record of %d bytes, want at least 5", len(data))
	}
	n := binary.BigEndian.Uint32(data[1:])
	if uint64(n) > uint64(len(data)-5) {
		return c, fmt.Errorf("kstreams: change record: new value of %d bytes in %d", n, len(data)-5)
	}
	nb, ob := data[5:5+n], data[5+n:]
	var err error
	if c.HasNew = data[0]&1 != 0; c.HasNew {
		if c.New, err = s.inner.Deserialize(topic, nb); err != nil {
			return c, err
		}
	}
	if c.HasOld = data[0]&2 != 0; c.HasOld {
		c.Old, err = s.inner.Deserialize(topic, ob)
	}
	return c, err
}

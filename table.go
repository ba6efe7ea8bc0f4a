package kstreams

import (
	"fmt"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Change is an update of one table row, as tables forward it: the new value
// and the value it replaces. HasNew is false for a delete, HasOld for a new
// row.
type Change[V any] struct {
	New, Old       V
	HasNew, HasOld bool
}

// Table is a changelog view of a topic or of an aggregation: for each key,
// the latest value, as Kafka Streams' KTable. A record with a null value (a
// tombstone) deletes its key.
type Table[K, V any] struct {
	b     *Builder
	node  string
	key   serde.Serde[K]
	value serde.Serde[V]
	store string
}

// Materialized configures the state store behind a table or aggregation.
type Materialized[K, V any] struct {
	// Name names the store (query it by this name) and its changelog topic
	// "<application id>-<Name>-changelog". Default: an automatic name.
	Name string
	// Key and Value serdes; nil falls back to those of the input, then to
	// serde.Default.
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// InMemory keeps the store in memory instead of Pebble on disk; it is
	// restored from its changelog in full after every restart.
	InMemory bool
	// DisableLogging turns the changelog off: the store is not restored.
	DisableLogging bool
	// DisableCaching forwards every update downstream at once instead of
	// one per key per commit interval.
	DisableCaching bool
	// ChangelogConfigs are extra topic configs of the changelog.
	ChangelogConfigs map[string]string
}

// tableStore is the typed store of a DSL table: a state.KeyValueStore that
// also reports, decoded, the updates its cache writes.
type tableStore[K, V any] struct {
	state.KeyValueStore[K, V]
	cache runtime.CachedStore
	key   serde.Serde[K]
	value serde.Serde[V]
	topic string
}

// onFlush sets fn to receive each update the cache writes.
func (s *tableStore[K, V]) onFlush(fn func(k K, c Change[V], ts int64) error) {
	s.cache.SetFlushListener(func(kb, nb, ob []byte, ts int64) error {
		k, err := s.key.Deserialize(s.topic, kb)
		if err != nil {
			return fmt.Errorf("store %q: key: %w", s.Name(), err)
		}
		var c Change[V]
		if c.HasNew = nb != nil; c.HasNew {
			if c.New, err = s.value.Deserialize(s.topic, nb); err != nil {
				return fmt.Errorf("store %q: value: %w", s.Name(), err)
			}
		}
		if c.HasOld = ob != nil; c.HasOld {
			if c.Old, err = s.value.Deserialize(s.topic, ob); err != nil {
				return fmt.Errorf("store %q: old value: %w", s.Name(), err)
			}
		}
		return fn(k, c, ts)
	})
}

// isNull reports whether v is a Kafka null: whether it serializes to nil.
func (s *tableStore[K, V]) isNull(v V) bool {
	b, err := s.value.Serialize(s.topic, v)
	return err == nil && b == nil
}

// materialize declares the store of a DSL table and returns its name and
// serdes.
func materialize[K, V any](b *Builder, m Materialized[K, V], prefix, from string, key serde.Serde[K], value serde.Serde[V]) (string, serde.Serde[K], serde.Serde[V]) {
	name := m.Name
	if name == "" {
		name = b.t.g.NextName(prefix + "-STATE-STORE")
	}
	where := fmt.Sprintf("store %q %s", name, after(from))
	k := pickSerde(b, where, "Materialized", "key", m.Key, key)
	v := pickSerde(b, where, "Materialized", "value", m.Value, value)
	changelog := runtime.Topic{Name: name + "-changelog", Internal: true}
	b.t.g.AddStore(&runtime.StoreSpec{
		Name: name, Persistent: !m.InMemory, Logged: !m.DisableLogging,
		Cached: true, WriteThrough: m.DisableCaching, ChangelogConfigs: m.ChangelogConfigs,
		Typed: func(bs state.BytesStore) any {
			cache, _ := bs.(runtime.CachedStore) // absent in query views
			return &tableStore[K, V]{
				KeyValueStore: state.NewKeyValueStore(bs, k, v),
				cache:         cache, key: k, value: v, topic: changelog.Name,
			}
		},
	})
	return name, k, v
}

// tableProc is the common part of the processors that keep a table: they
// write to the store, whose cache forwards the changes downstream.
type tableProc[K, V any] struct {
	store string
	st    *tableStore[K, V]
	ctx   processor.Context[K, Change[V]]
}

func (p *tableProc[K, V]) init(ctx processor.Context[K, Change[V]]) error {
	st, err := processor.Store[*tableStore[K, V]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	st.onFlush(func(k K, c Change[V], ts int64) error {
		ctx.Forward(processor.Record[K, Change[V]]{Key: k, Value: c, Timestamp: ts})
		return nil
	})
	return nil
}

// nullKey reports whether k is a Kafka null, and if so counts and logs the
// record as dropped, as Kafka Streams does for aggregations.
func (p *tableProc[K, V]) nullKey(k K) bool {
	b, err := p.st.key.Serialize(p.st.topic, k)
	if err != nil || b != nil {
		return false
	}
	if d, ok := p.ctx.(interface{ DropRecord(reason string) }); ok {
		d.DropRecord("null key")
	}
	return true
}

func (p *tableProc[K, V]) Close() error { return nil }

// optional is a value that may be a Kafka null.
type optional[V any] struct {
	v  V
	ok bool
}

type optionalSerde[V any] struct{ inner serde.Serde[V] }

func (s optionalSerde[V]) Serialize(topic string, o optional[V]) ([]byte, error) {
	if !o.ok {
		return nil, nil
	}
	return s.inner.Serialize(topic, o.v)
}

func (s optionalSerde[V]) Deserialize(topic string, data []byte) (optional[V], error) {
	if data == nil {
		return optional[V]{}, nil
	}
	v, err := s.inner.Deserialize(topic, data)
	return optional[V]{v: v, ok: err == nil}, err
}

type sourceTable[K, V any] struct{ tableProc[K, V] }

func (p *sourceTable[K, V]) Init(ctx processor.Context[K, Change[V]]) error { return p.init(ctx) }

func (p *sourceTable[K, V]) Process(r processor.Record[K, optional[V]]) error {
	if p.nullKey(r.Key) {
		return nil
	}
	if !r.Value.ok {
		_, _, err := p.st.Delete(r.Key)
		return err
	}
	return p.st.Put(r.Key, r.Value.v)
}

// TableFrom reads topic as a table: each record sets its key's value and a
// tombstone deletes it. The table is materialized in a store (named by
// m.Name, queryable) so that updates can report the value they replace.
func TableFrom[K, V any](b *Builder, topic string, c Consumed[K, V], m ...Materialized[K, V]) Table[K, V] {
	src := b.name([]Named{c.Name}, "KTABLE-SOURCE")
	where := fmt.Sprintf("table source %q reading %q", src, topic)
	key := pickSerde(b, where, "Consumed", "key", c.Key)
	value := pickSerde(b, where, "Consumed", "value", c.Value)
	addSource[K, optional[V]](b.t, src, key, optionalSerde[V]{value}, []string{topic})
	store, key, value := materialize(b, first(m), "KTABLE-SOURCE", src, key, value)
	n := b.t.g.NextName("KTABLE-MATERIALIZE")
	AddProcessor(b.t, n, func() processor.Processor[K, optional[V], K, Change[V]] {
		return &sourceTable[K, V]{tableProc[K, V]{store: store}}
	}, src)
	b.t.g.Connect(store, n)
	return Table[K, V]{b: b, node: n, key: key, value: value, store: store}
}

type streamTable[K, V any] struct{ tableProc[K, V] }

func (p *streamTable[K, V]) Init(ctx processor.Context[K, Change[V]]) error { return p.init(ctx) }

func (p *streamTable[K, V]) Process(r processor.Record[K, V]) error {
	if p.nullKey(r.Key) {
		return nil
	}
	return p.st.Put(r.Key, r.Value)
}

// ToTable turns the stream into a table: each record sets its key's value;
// a value that serializes to null deletes the key.
func (s Stream[K, V]) ToTable(m ...Materialized[K, V]) Table[K, V] {
	in := s
	if s.keyChanged {
		in = s.Repartition()
	}
	store, key, value := materialize(s.b, first(m), "KSTREAM-TOTABLE", s.node, in.key, in.value)
	n := s.b.t.g.NextName("KSTREAM-TOTABLE")
	AddProcessor(s.b.t, n, func() processor.Processor[K, V, K, Change[V]] {
		return &streamTable[K, V]{tableProc[K, V]{store: store}}
	}, in.node)
	s.b.t.g.Connect(store, n)
	return Table[K, V]{b: s.b, node: n, key: key, value: value, store: store}
}

// StoreName returns the name of the store that materializes the table, or
// "" if it is not materialized.
func (t Table[K, V]) StoreName() string { return t.store }

func (t Table[K, V]) derive(node string) Table[K, V] {
	t.node, t.store = node, ""
	return t
}

// Filter keeps the rows for which keep returns true: an update to a row
// keep rejects reaches downstream as a delete.
func (t Table[K, V]) Filter(keep func(K, V) bool, name ...Named) Table[K, V] {
	return t.filter(keep, false, t.b.name(name, "KTABLE-FILTER"))
}

// FilterNot drops the rows for which drop returns true.
func (t Table[K, V]) FilterNot(drop func(K, V) bool, name ...Named) Table[K, V] {
	return t.filter(drop, true, t.b.name(name, "KTABLE-FILTER"))
}

func (t Table[K, V]) filter(pred func(K, V) bool, not bool, n string) Table[K, V] {
	t.b.checkFn("Filter", n, t.node, "function", pred)
	pass := func(k K, v V, has bool) bool { return has && pred(k, v) != not }
	return t.derive(addFn(t.b, n, func(ctx processor.Context[K, Change[V]], r processor.Record[K, Change[V]]) error {
		c := r.Value
		c.HasNew = pass(r.Key, c.New, c.HasNew)
		c.HasOld = pass(r.Key, c.Old, c.HasOld)
		if !c.HasNew && !c.HasOld {
			return nil
		}
		if !c.HasNew {
			var zero V
			c.New = zero
		}
		ctx.Forward(processor.Record[K, Change[V]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}, t.node))
}

// MapTableValues turns each row's value into a new value.
func MapTableValues[K, V, V2 any](t Table[K, V], fn func(V) V2, name ...Named) Table[K, V2] {
	n := t.b.name(name, "KTABLE-MAPVALUES")
	t.b.checkFn("MapTableValues", n, t.node, "function", fn)
	addFn(t.b, n, func(ctx processor.Context[K, Change[V2]], r processor.Record[K, Change[V]]) error {
		c := Change[V2]{HasNew: r.Value.HasNew, HasOld: r.Value.HasOld}
		if c.HasNew {
			c.New = fn(r.Value.New)
		}
		if c.HasOld {
			c.Old = fn(r.Value.Old)
		}
		ctx.Forward(processor.Record[K, Change[V2]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}, t.node)
	return Table[K, V2]{b: t.b, node: n, key: t.key}
}

// ToStream returns the stream of the table's updates. A delete reaches the
// stream with the zero value: use a pointer value type to have it written
// as a tombstone.
func (t Table[K, V]) ToStream(name ...Named) Stream[K, V] {
	n := t.b.name(name, "KTABLE-TOSTREAM")
	addFn(t.b, n, func(ctx processor.Context[K, V], r processor.Record[K, Change[V]]) error {
		ctx.Forward(processor.Record[K, V]{Key: r.Key, Value: r.Value.New, Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}, t.node)
	return Stream[K, V]{b: t.b, node: n, key: t.key, value: t.value}
}

package kstreams

import (
	"fmt"
	"reflect"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Change is an update of one table row, as tables forward it: the new value
// and the value it replaces. HasNew is false for a delete. HasOld is false
// for a new row, and also whenever nothing downstream needs the old value
// (as Kafka Streams sends old values only on request).
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
	old   *oldValues
	// lookup reads the rows of a table without a store of its own (an
	// unmaterialized filter or value mapper) from its parent's.
	lookup lookupSpec[K, V]
	// win is set on windowed tables, for [UntilWindowCloses].
	win *windowInfo
}

// oldValues says whether the updates a table node forwards carry the value
// they replace, Kafka Streams' "send old values". Operations added later
// (a re-grouping, a filter) turn it on through enable while the topology is
// built; node instances read send when tasks start, after the build.
type oldValues struct {
	send bool
	// enable asks the node to send old values and reports whether it
	// does; force makes a node that could only with a store of its own
	// (a source table not materialized by name) do so.
	enable func(force bool) bool
	// materialize, set on a source table, records that a later operation
	// reads its rows (a join): Kafka Streams then materializes it, and
	// it sends old values to whoever asks later, unforced.
	materialize func()
}

// enableSend calls enable on a node that has oldValues; nil (a node
// that cannot send old values) reports false.
func (o *oldValues) enableSend(force bool) bool { return o != nil && o.enable(force) }

// alwaysOld returns the oldValues of a node that can always send old
// values: an aggregation, whose store holds them.
func alwaysOld() *oldValues {
	o := &oldValues{}
	o.enable = func(bool) bool { o.send = true; return true }
	return o
}

// sourceOld returns the oldValues of a source table: it sends old values
// when materialized by name, or when forced (Kafka Streams then materializes
// it).
func sourceOld(named bool) *oldValues {
	o := &oldValues{}
	o.enable = func(force bool) bool {
		if !force && !named {
			return false
		}
		named, o.send = true, true
		return true
	}
	o.materialize = func() { named = true }
	return o
}

// derivedOld returns the oldValues of a node computed from parent (a
// filter, a value mapper): a node materialized by name reads old values from
// its own store, others compute them from their parent's.
func derivedOld(parent *oldValues, named bool) *oldValues {
	o := &oldValues{}
	o.enable = func(force bool) bool {
		if named {
			o.send = true
			return true
		}
		if parent.enableSend(force) {
			o.send = true
		}
		return o.send
	}
	return o
}

// Materialized configures the state store behind a table or aggregation.
type Materialized[K, V any] struct {
	// Name names the store (query it by this name) and its changelog topic
	// "<application id>-<Name>-changelog". Default: an automatic name.
	// For [Table.FilterMaterialized] and [MapTableValuesMaterialized],
	// only a named Materialized makes a store. A source table (TableFrom,
	// ToTable) always has a store, but sends old values downstream (see
	// [Table.Filter]) only when named or, for operations added after a
	// join that reads it, joined, as in Kafka Streams.
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
	// Versioned keeps a source table ([TableFrom]) in a versioned store;
	// see [Versioning]. Other operations refuse it.
	Versioned *Versioning
}

// tableStore is the typed store of a DSL table: a timestamped key-value
// store, with the byte store below it for the DSL's processors, which
// serialize each key once per record.
type tableStore[K, V any] struct {
	state.TimestampedKeyValueStore[K, V]
	bytes state.BytesStore
	cache runtime.CachedStore
	key   serde.Serde[K]
	value serde.Serde[V]
	// topic is the changelog topic, what the serdes are given.
	topic string
}

// StoreKind names what processors may ask for, for error messages.
func (s *tableStore[K, V]) StoreKind() string {
	return reflect.TypeFor[state.TimestampedKeyValueStore[K, V]]().String() + " (the store of a DSL table)"
}

// isNull reports whether v is a Kafka null: whether it serializes to nil.
func (s *tableStore[K, V]) isNull(v V) bool {
	b, err := s.value.Serialize(s.topic, v)
	return err == nil && b == nil
}

// materialize declares the timestamped store of a DSL table and returns its
// name and serdes; from names the user's node for errors.
func materialize[K, V any](b *Builder, m Materialized[K, V], prefix, from string, key serde.Serde[K], value serde.Serde[V]) (string, serde.Serde[K], serde.Serde[V]) {
	name := m.Name
	if name == "" {
		name = b.t.g.NextName(prefix + "-STATE-STORE")
	}
	where := fmt.Sprintf("store %q %s", name, after(from))
	if m.Versioned != nil {
		b.t.g.Problem(fmt.Errorf("%s: Materialized.Versioned is supported on TableFrom only", where))
	}
	k := pickSerde(b, where, "Materialized", "key", m.Key, key)
	v := pickSerde(b, where, "Materialized", "value", m.Value, value)
	b.t.g.AddStore(&runtime.StoreSpec{
		Name: name, Persistent: !m.InMemory, Logged: !m.DisableLogging, Timestamped: true,
		Cached: true, WriteThrough: m.DisableCaching, ChangelogConfigs: m.ChangelogConfigs,
		Typed: func(bs state.BytesStore, topic string) any {
			cache, _ := bs.(runtime.CachedStore) // absent in query views
			return &tableStore[K, V]{
				TimestampedKeyValueStore: state.NewTimestampedKeyValueStore(bs, k, v, state.SerdeTopic(topic)),
				bytes:                    bs, cache: cache, key: k, value: v, topic: topic,
			}
		},
	})
	return name, k, v
}

// tableProc is the common part of the processors that keep a table in a
// store. Without caching they forward each update themselves; with caching
// the store forwards the updates it writes at the next flush, as Kafka
// Streams' timestamped tuple forwarder and cache flush listener do.
type tableProc[K, V any] struct {
	store   string
	old     *oldValues
	st      *tableStore[K, V]
	ctx     processor.Context[K, Change[V]]
	caching bool
	// scratch holds the timestamped value being written: stores copy
	// what they are given, so it is reused from one write to the next.
	scratch []byte
}

func (p *tableProc[K, V]) init(ctx processor.Context[K, Change[V]]) error {
	st, err := processor.Store[*tableStore[K, V]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	p.caching = st.cache != nil && st.cache.Caching()
	if p.caching {
		st.cache.SetFlushListener(p.flushed)
	}
	return nil
}

// sendOld reports whether forwarded updates carry old values.
func (p *tableProc[K, V]) sendOld() bool { return p.old != nil && p.old.send }

// flushed forwards an update the cache wrote: stamped with the new value's
// timestamp, or for a delete with the timestamp of the record that deleted.
func (p *tableProc[K, V]) flushed(kb, nb, ob []byte, ts int64) error {
	k, err := p.st.key.Deserialize(p.st.topic, kb)
	if err != nil {
		return fmt.Errorf("store %q: key: %w", p.store, err)
	}
	var c Change[V]
	if nb != nil {
		if c.New, ts, err = p.decode(nb); err != nil {
			return err
		}
		c.HasNew = true
	}
	if ob != nil && p.sendOld() {
		if c.Old, _, err = p.decode(ob); err != nil {
			return err
		}
		c.HasOld = true
	}
	p.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Value: c, Timestamp: ts})
	return nil
}

// decode decodes a timestamped value of the store.
func (p *tableProc[K, V]) decode(raw []byte) (V, int64, error) {
	var zero V
	ts, vb, err := state.SplitTimestamp(raw)
	if err != nil {
		return zero, 0, fmt.Errorf("store %q: value of %d bytes: %w", p.store, len(raw), err)
	}
	v, err := p.st.value.Deserialize(p.st.topic, vb)
	if err != nil {
		return zero, 0, fmt.Errorf("store %q: value: %w", p.store, err)
	}
	return v, ts, nil
}

// forward sends an update downstream when the store does not (no
// caching). Old values are left out unless asked for.
func (p *tableProc[K, V]) forward(k K, c Change[V], ts int64, h []processor.Header) {
	if p.caching {
		return
	}
	if !p.sendOld() {
		var zero V
		c.Old, c.HasOld = zero, false
	}
	p.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Value: c, Timestamp: ts, Headers: h})
}

// rawKey serializes k. A key that serializes to null is counted and logged
// as dropped, as Kafka Streams does for tables and aggregations, and gives
// nil bytes and no error.
func (p *tableProc[K, V]) rawKey(k K) ([]byte, error) {
	b, err := p.st.key.Serialize(p.st.topic, k)
	if err != nil {
		return nil, &state.StoreError{Store: p.store, Op: "put", Err: fmt.Errorf("serialize key: %w", err)}
	}
	if b == nil {
		dropRecord(p.ctx, "null key")
	}
	return b, nil
}

// get returns the value of kb, its timestamp, and whether it is there.
func (p *tableProc[K, V]) get(kb []byte) (V, int64, bool, error) {
	var zero V
	raw, err := p.st.bytes.Get(kb)
	if err != nil || raw == nil {
		if err != nil {
			err = &state.StoreError{Store: p.store, Op: "get", Key: kb, Err: err}
		}
		return zero, 0, false, err
	}
	v, ts, err := p.decode(raw)
	return v, ts, err == nil, err
}

// put writes v with timestamp ts under kb. A v that serializes to null
// deletes kb instead; put then returns false.
func (p *tableProc[K, V]) put(kb []byte, v V, ts int64) (bool, error) {
	vb, err := p.st.value.Serialize(p.st.topic, v)
	if err != nil {
		return false, &state.StoreError{Store: p.store, Op: "put", Key: kb, Err: fmt.Errorf("serialize value: %w", err)}
	}
	var raw []byte
	if vb != nil {
		p.scratch = state.AppendWithTimestamp(p.scratch[:0], ts, vb)
		raw = p.scratch
	}
	if err := p.st.bytes.Put(kb, raw); err != nil {
		return false, &state.StoreError{Store: p.store, Op: "put", Key: kb, Err: err}
	}
	return vb != nil, nil
}

// remove deletes kb, present or not (its changelog gets a tombstone
// either way, as Kafka Streams' does).
func (p *tableProc[K, V]) remove(kb []byte) error {
	if err := p.st.bytes.Put(kb, nil); err != nil {
		return &state.StoreError{Store: p.store, Op: "delete", Key: kb, Err: err}
	}
	return nil
}

// write stores c's new value under kb, or deletes kb when c has none, and
// forwards c stamped ts. A new value that serializes to null deletes kb and
// is forwarded as a delete.
func (p *tableProc[K, V]) write(k K, kb []byte, c Change[V], ts int64, h []processor.Header) error {
	var err error
	if c.HasNew {
		c.HasNew, err = p.put(kb, c.New, ts)
	} else {
		err = p.remove(kb)
	}
	if err != nil {
		return err
	}
	p.forward(k, c, ts, h)
	return nil
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

// tableSource keeps the latest value of each key of its input, as Kafka
// Streams' KTableSource: unwrap gives a record's value, or false for a
// tombstone. A tombstone is forwarded as a delete even for a key the table
// does not hold.
type tableSource[K, VIn, V any] struct {
	tableProc[K, V]
	unwrap func(VIn) (V, bool)
}

func (p *tableSource[K, VIn, V]) Init(ctx processor.Context[K, Change[V]]) error { return p.init(ctx) }

func (p *tableSource[K, VIn, V]) Process(r processor.Record[K, VIn]) error {
	kb, err := p.rawKey(r.Key)
	if kb == nil {
		return err
	}
	var c Change[V]
	if !p.caching && p.sendOld() {
		if c.Old, _, c.HasOld, err = p.get(kb); err != nil {
			return err
		}
	}
	if v, ok := p.unwrap(r.Value); ok {
		c.New, c.HasNew = v, true
	}
	return p.write(r.Key, kb, c, r.Timestamp, r.Headers)
}

// TableFrom reads topic as a table: each record sets its key's value and a
// tombstone deletes it. The table is kept in a store (named by m.Name,
// queryable). As in Kafka Streams, its updates carry the value they replace
// only when m names the store or a later operation needs them.
func TableFrom[K, V any](b *Builder, topic string, c Consumed[K, V], m ...Materialized[K, V]) Table[K, V] {
	// Names as Kafka Streams': the store ("<topic>-STATE-STORE-<n>"
	// unless named), the source ("<Consumed.Name>-table-source" or
	// KSTREAM-SOURCE-<n>), then the table's processor (Consumed.Name or
	// KTABLE-SOURCE-<n>), which keeps the table in the store.
	mm := first(m)
	sm := mm
	if sm.Name == "" {
		sm.Name = b.t.g.NextName(topic + "-STATE-STORE")
	}
	src := b.t.g.NextName("KSTREAM-SOURCE")
	n := b.t.g.NextName("KTABLE-SOURCE")
	if c.Name != "" {
		src, n = string(c.Name)+"-table-source", string(c.Name)
	}
	where := fmt.Sprintf("table source %q reading %q", n, topic)
	key := pickSerde(b, where, "Consumed", "key", c.Key)
	value := pickSerde(b, where, "Consumed", "value", c.Value)
	addSource[K, optional[V]](b.t, src, key, optionalSerde[V]{value}, []string{topic})
	if mm.Versioned != nil {
		return versionedTableFrom(b, src, n, sm, key, value)
	}
	store, key, value := materialize(b, sm, "KTABLE-SOURCE", src, key, value)
	old := sourceOld(mm.Name != "")
	AddProcessor(b.t, n, func() processor.Processor[K, optional[V], K, Change[V]] {
		return &tableSource[K, optional[V], V]{
			tableProc: tableProc[K, V]{store: store, old: old},
			unwrap:    func(o optional[V]) (V, bool) { return o.v, o.ok },
		}
	}, src)
	b.t.g.Connect(store, n)
	return Table[K, V]{b: b, node: n, key: key, value: value, store: store, old: old}
}

// ToTable turns the stream into a table: each record sets its key's value;
// a value that serializes to null deletes the key. If the key was changed
// upstream, the stream is repartitioned first, with m's serdes when given.
func (s Stream[K, V]) ToTable(m ...Materialized[K, V]) Table[K, V] {
	mm := first(m)
	// As in Kafka Streams: the node's name, then the store's, then the
	// repartition's, named after the node.
	n := s.b.t.g.NextName("KSTREAM-TOTABLE")
	storeName := mm.Name
	if storeName == "" {
		storeName = s.b.t.g.NextName("KSTREAM-TOTABLE-STATE-STORE")
	}
	in := s
	if s.keyChanged {
		in = s.repartition(Repartitioned[K, V]{Name: Named(n), Key: mm.Key, Value: mm.Value}, "ToTable", "Materialized", s.node, false)
	}
	sm := mm
	sm.Name = storeName
	store, key, value := materialize(s.b, sm, "KSTREAM-TOTABLE", s.node, in.key, in.value)
	old := sourceOld(mm.Name != "")
	AddProcessor(s.b.t, n, func() processor.Processor[K, V, K, Change[V]] {
		return &tableSource[K, V, V]{
			tableProc: tableProc[K, V]{store: store, old: old},
			unwrap:    func(v V) (V, bool) { return v, true },
		}
	}, in.node)
	s.b.t.g.Connect(store, n)
	return Table[K, V]{b: s.b, node: n, key: key, value: value, store: store, old: old}
}

// StoreName returns the name of the store that materializes the table, or
// "" if it is not materialized.
func (t Table[K, V]) StoreName() string { return t.store }

// Filter keeps the rows for which keep returns true. As in Kafka Streams,
// an update keep rejects is forwarded as a delete (key, null), even for a
// row that was never in the result, unless the filter knows the row's
// previous value (its own store, or a parent sending old values: an
// aggregation, a table materialized by name, or any table a later
// re-grouping reads) and so can tell that nothing changed.
func (t Table[K, V]) Filter(keep func(K, V) bool, name ...Named) Table[K, V] {
	return t.filter(keep, false, nil, name)
}

// FilterNot drops the rows for which drop returns true; see [Table.Filter].
func (t Table[K, V]) FilterNot(drop func(K, V) bool, name ...Named) Table[K, V] {
	return t.filter(drop, true, nil, name)
}

// FilterMaterialized is [Table.Filter] keeping its result in the store
// m.Name names, queryable and the result's StoreName. Without a Name, m
// only sets the result's serdes.
func (t Table[K, V]) FilterMaterialized(keep func(K, V) bool, m Materialized[K, V], name ...Named) Table[K, V] {
	return t.filter(keep, false, &m, name)
}

// FilterNotMaterialized is [Table.FilterNot] with a store, as
// [Table.FilterMaterialized].
func (t Table[K, V]) FilterNotMaterialized(drop func(K, V) bool, m Materialized[K, V], name ...Named) Table[K, V] {
	return t.filter(drop, true, &m, name)
}

func (t Table[K, V]) filter(pred func(K, V) bool, not bool, m *Materialized[K, V], names []Named) Table[K, V] {
	n := t.b.name(names, "KTABLE-FILTER")
	t.b.checkFn("Filter", n, t.node, "function", pred)
	pass := func(k K, v V, has bool) bool { return has && pred(k, v) != not }
	out, st := t.derived(n, m, t.key, t.value)
	// As Kafka Streams' filter: if the parent can send old values without
	// being forced to, use them to avoid forwarding needless deletes.
	if t.old.enableSend(false) {
		out.old.send = true
	}
	fn := func(k K, v V, has bool) (V, bool) {
		var zero V
		if pass(k, v, has) {
			return v, true
		}
		return zero, false
	}
	if st == "" {
		out.lookup = mappedLookup(t.rows(), fn)
	}
	AddProcessor(t.b.t, n, func() processor.Processor[K, Change[V], K, Change[V]] {
		return &tableMapper[K, V, V]{
			tableProc:     tableProc[K, V]{store: st, old: out.old},
			fn:            fn,
			skipUnchanged: true,
		}
	}, t.node)
	return out
}

// derived returns the table of node n computed from t, and declares its
// store when m names one (Kafka Streams materializes a filter or value
// mapper only then).
func (t Table[K, V]) derived(n string, m *Materialized[K, V], key serde.Serde[K], value serde.Serde[V]) (Table[K, V], string) {
	out := Table[K, V]{b: t.b, node: n, key: key, value: value, win: t.win}
	named := m != nil && m.Name != ""
	if named {
		out.store, out.key, out.value = materialize(t.b, *m, "", t.node, key, value)
		t.b.t.g.Connect(out.store, n)
	} else if m != nil {
		out.key, out.value = pickOr(m.Key, key), pickOr(m.Value, value)
	}
	out.old = derivedOld(t.old, named)
	return out, out.store
}

// pickOr returns s, or def if s is nil.
func pickOr[T any](s, def serde.Serde[T]) serde.Serde[T] {
	if s != nil {
		return s
	}
	return def
}

// tableMapper is a table filter or value mapper, as Kafka Streams'
// KTableFilter and KTableMapValues: fn maps a row (or its absence) to the
// result's row. Materialized (a store name), it keeps its result and reads
// old values from it; otherwise it computes them from its parent's.
// skipUnchanged (filters) drops an update whose old and new rows are both
// absent, when old values are known.
type tableMapper[K, V, V2 any] struct {
	tableProc[K, V2]
	fn            func(K, V, bool) (V2, bool)
	skipUnchanged bool
	fctx          processor.Context[K, Change[V2]]
}

func (p *tableMapper[K, V, V2]) Init(ctx processor.Context[K, Change[V2]]) error {
	p.fctx = ctx
	if p.store == "" {
		return nil
	}
	return p.init(ctx)
}

func (p *tableMapper[K, V, V2]) Process(r processor.Record[K, Change[V]]) error {
	var c Change[V2]
	c.New, c.HasNew = p.fn(r.Key, r.Value.New, r.Value.HasNew)
	send := p.sendOld()
	var kb []byte
	var err error
	if p.store != "" {
		if kb, err = p.rawKey(r.Key); kb == nil {
			return err
		}
	}
	if send {
		if p.store != "" {
			c.Old, _, c.HasOld, err = p.get(kb)
		} else {
			c.Old, c.HasOld = p.fn(r.Key, r.Value.Old, r.Value.HasOld)
		}
		if err != nil {
			return err
		}
	}
	if p.skipUnchanged && send && !c.HasNew && !c.HasOld {
		return nil
	}
	if p.store == "" {
		p.fctx.Forward(processor.Record[K, Change[V2]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		return nil
	}
	return p.write(r.Key, kb, c, r.Timestamp, r.Headers)
}

// MapTableValues turns each row's value into a new value.
func MapTableValues[K, V, V2 any](t Table[K, V], fn func(V) V2, name ...Named) Table[K, V2] {
	return mapTableValues(t, fn, nil, name)
}

// MapTableValuesMaterialized is [MapTableValues] keeping its result in the
// store m.Name names, queryable and the result's StoreName. Without a Name,
// m only sets the result's serdes.
func MapTableValuesMaterialized[K, V, V2 any](t Table[K, V], fn func(V) V2, m Materialized[K, V2], name ...Named) Table[K, V2] {
	return mapTableValues(t, fn, &m, name)
}

func mapTableValues[K, V, V2 any](t Table[K, V], fn func(V) V2, m *Materialized[K, V2], names []Named) Table[K, V2] {
	n := t.b.name(names, "KTABLE-MAPVALUES")
	t.b.checkFn("MapTableValues", n, t.node, "function", fn)
	parent := Table[K, V2]{b: t.b, node: t.node, key: t.key, old: t.old, win: t.win}
	out, st := parent.derived(n, m, t.key, nil)
	mapFn := func(_ K, v V, has bool) (V2, bool) {
		var zero V2
		if !has {
			return zero, false
		}
		return fn(v), true
	}
	if st == "" {
		out.lookup = mappedLookup(t.rows(), mapFn)
	}
	AddProcessor(t.b.t, n, func() processor.Processor[K, Change[V], K, Change[V2]] {
		return &tableMapper[K, V, V2]{tableProc: tableProc[K, V2]{store: st, old: out.old}, fn: mapFn}
	}, t.node)
	return out
}

// ToStream returns the stream of the table's updates. A delete reaches the
// stream as Kafka Streams' null value: nil for a value type that can be nil
// (a pointer, slice, map or interface), else the zero value, which a sink
// then writes as a null value (a tombstone) as long as it reaches the sink
// unchanged. Operations in between see the zero value: use a pointer value
// type to tell a delete from a zero.
func (t Table[K, V]) ToStream(name ...Named) Stream[K, V] {
	n := t.b.name(name, "KTABLE-TOSTREAM")
	addFn(t.b, n, func(ctx processor.Context[K, V], r processor.Record[K, Change[V]]) error {
		rec := processor.Record[K, V]{Key: r.Key, Value: r.Value.New, Timestamp: r.Timestamp, Headers: r.Headers}
		if d, ok := ctx.(interface{ ForwardNull(processor.Record[K, V]) }); ok && !r.Value.HasNew {
			d.ForwardNull(rec)
			return nil
		}
		ctx.Forward(rec)
		return nil
	}, t.node)
	return Stream[K, V]{b: t.b, node: n, key: t.key, value: t.value}
}

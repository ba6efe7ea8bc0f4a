package kstreams

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// Joined configures a stream-table join: the serdes of the stream side,
// used for the repartition topic a stream whose key changed goes through,
// and the name of the join node (which also names that topic,
// "<application id>-<Name>-repartition").
type Joined[K, V any] struct {
	// Name names the join node. Default: an automatic name.
	Name Named
	// Key and Value serdes of the stream side; nil falls back to those of
	// the stream, then to serde.Default.
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// GracePeriod, for a join with a versioned table (Java's
	// Joined.withGracePeriod), holds stream records in a buffer (the store
	// "<join node>-Buffer") until stream time passes their timestamp plus
	// GracePeriod, then joins them in timestamp order, so that table
	// updates arriving late are seen. A record already older than that is
	// joined at once. 0: no buffer.
	GracePeriod time.Duration
}

// storeCtx is what a lookup needs of a processor context: its stores.
type storeCtx interface {
	StateStore(name string) (any, error)
}

// rowLookup reads rows of a table by key from inside a processor: the
// value, its timestamp, and whether the row exists.
type rowLookup[K, V any] func(K) (V, int64, bool, error)

// lookupSpec tells how a processor reads a table's rows: open, called when
// the processor starts, returns the lookup; stores are the stores it reads,
// to connect to the processor.
type lookupSpec[K, V any] struct {
	open   func(storeCtx) (rowLookup[K, V], error)
	stores []string
	// need, set when the stores are declared only once a reader needs
	// them (Kafka Streams' lazy materialization), declares them.
	need func()
	// asOf, set for a versioned table, returns the lookup of rows as of a
	// time.
	asOf func(storeCtx) (asOfLookup[K, V], error)
}

// asOfLookup reads the row of a key as of a time from a versioned table.
type asOfLookup[K, V any] func(K, int64) (V, int64, bool, error)

// storeLookup reads the rows of the table kept in store.
func storeLookup[K, V any](store string) lookupSpec[K, V] {
	return lookupSpec[K, V]{stores: []string{store}, open: func(ctx storeCtx) (rowLookup[K, V], error) {
		st, err := processor.Store[*tableStore[K, V]](ctx, store)
		if err != nil {
			return nil, err
		}
		p := &tableProc[K, V]{store: store, st: st}
		return func(k K) (V, int64, bool, error) {
			var zero V
			kb, err := st.key.Serialize(st.topic, k)
			if err != nil || kb == nil {
				return zero, 0, false, err
			}
			return p.get(kb)
		}, nil
	}}
}

// mappedLookup reads the rows of a table computed from parent's by fn (an
// unmaterialized filter or value mapper), as Kafka Streams' value getters
// of those nodes.
func mappedLookup[K, V, V2 any](parent lookupSpec[K, V], fn func(K, V, bool) (V2, bool)) lookupSpec[K, V2] {
	if parent.open == nil {
		return lookupSpec[K, V2]{}
	}
	return lookupSpec[K, V2]{stores: parent.stores, need: parent.need, open: func(ctx storeCtx) (rowLookup[K, V2], error) {
		get, err := parent.open(ctx)
		if err != nil {
			return nil, err
		}
		return func(k K) (V2, int64, bool, error) {
			v, ts, ok, err := get(k)
			if err != nil {
				var zero V2
				return zero, 0, false, err
			}
			v2, ok := fn(k, v, ok)
			return v2, ts, ok, nil
		}, nil
	}}
}

// lookupOf returns how to read t's rows: its store, or for a table without
// one, the lookup it was given. A table that has neither is a topology
// error, reported here with op naming the join.
func lookupOf[K, V any](t Table[K, V], op string) lookupSpec[K, V] {
	if l := t.rows(); l.open != nil {
		if l.need != nil {
			l.need()
		}
		return l
	}
	t.b.t.g.Problem(fmt.Errorf("%s %s: the table cannot be read by key: materialize it (Materialized with a Name)", op, after(t.node)))
	return lookupSpec[K, V]{}
}

// rows returns how to read t's rows: its store, or the lookup it was
// given (none: open is nil).
func (t Table[K, V]) rows() lookupSpec[K, V] {
	if t.store != "" {
		l := storeLookup[K, V](t.store)
		if t.old != nil {
			l.need = t.old.materialize
		}
		return l
	}
	return t.lookup
}

// connectLookup gives node access to the stores of l.
func connectLookup[K, V any](b *Builder, l lookupSpec[K, V], node string) {
	for _, st := range l.stores {
		b.t.g.Connect(st, node)
	}
}

// StreamTableJoin joins each stream record with the table row of its key,
// as Kafka Streams' KStream#join(KTable): the row is looked up when the
// record is processed, and a record whose key has no row yields nothing.
// The result is stamped with the stream record's timestamp. Records with a
// null key or a nil value are dropped. Updates of the table yield nothing by
// themselves. A stream whose key changed upstream is repartitioned first;
// the two inputs must be co-partitioned (same partition count), checked at
// start ([ErrNotCopartitioned]).
func StreamTableJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(K, V, VT) VR, j ...Joined[K, V]) Stream[K, VR] {
	return streamTableJoin(s, t, joiner, false, "StreamTableJoin", first(j))
}

// StreamTableLeftJoin is [StreamTableJoin] that also joins the records
// whose key has no row: the joiner then gets the zero VT (use a pointer
// type to tell). As in Kafka Streams 4, a record with a null key and a
// value is joined too, with no row; a record with a nil value is dropped.
func StreamTableLeftJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(K, V, VT) VR, j ...Joined[K, V]) Stream[K, VR] {
	return streamTableJoin(s, t, joiner, true, "StreamTableLeftJoin", first(j))
}

func streamTableJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(K, V, VT) VR, left bool, op string, j Joined[K, V]) Stream[K, VR] {
	b := s.b
	if j.Key != nil {
		s.key = j.Key
	}
	if j.Value != nil {
		s.value = j.Value
	}
	if s.keyChanged {
		// Kafka Streams keeps null keys through the repartition of a left
		// join, which joins them.
		// The topic is named after the join, else after the stream's node.
		name := j.Name
		if name == "" {
			name = Named(s.node)
		}
		s = s.repartition(Repartitioned[K, V]{Name: name, Key: j.Key, Value: j.Value}, op, "Joined", s.node, left)
	}
	prefix := "KSTREAM-JOIN"
	if left {
		prefix = "KSTREAM-LEFTJOIN"
	}
	n := b.name([]Named{j.Name}, prefix)
	b.checkFn(op, n, s.node, "joiner", joiner)
	look := lookupOf(t, op)
	key := t.key
	isNull := nilCheck[V]()
	var buf *joinBuffer[K, V]
	if j.GracePeriod != 0 {
		buf = addJoinBuffer(b, n, op, j.GracePeriod, look.asOf != nil, key, s.value)
	}
	AddProcessor(b.t, n, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoiner[K, V, VT, VR]{look: look, key: key, joiner: joiner, left: left, isNull: isNull, buf: buf.instance()}
	}, s.node)
	connectLookup(b, look, n)
	if buf != nil {
		b.t.g.Connect(buf.store, n)
	}
	b.t.g.Copartition(s.node, t.node)
	return Stream[K, VR]{b: b, node: n, key: s.key}
}

// streamTableJoiner is Kafka Streams' KStreamKTableJoinProcessor.
type streamTableJoiner[K, V, VT, VR any] struct {
	look   lookupSpec[K, VT]
	get    rowLookup[K, VT]
	key    serde.Serde[K]
	joiner func(K, V, VT) VR
	left   bool
	isNull func(V) bool
	ctx    processor.Context[K, VR]
	// ts is the timestamp of the record being joined.
	ts int64
	// buf, with a grace period, holds the records to join later.
	buf *joinBuffer[K, V]
}

func (p *streamTableJoiner[K, V, VT, VR]) Init(ctx processor.Context[K, VR]) error {
	get, err := p.look.open(ctx)
	if err != nil {
		return err
	}
	p.get, p.ctx = get, ctx
	if p.buf != nil {
		if err := p.buf.init(ctx); err != nil {
			return err
		}
	}
	if p.look.asOf != nil {
		// A versioned table: the row as of the stream record's time, as
		// Kafka Streams' join with a versioned value getter.
		asOf, err := p.look.asOf(ctx)
		if err != nil {
			return err
		}
		p.get = func(k K) (VT, int64, bool, error) { return asOf(k, p.ts) }
	}
	return nil
}

func (p *streamTableJoiner[K, V, VT, VR]) Process(r processor.Record[K, V]) error {
	if p.isNull != nil && p.isNull(r.Value) {
		dropRecord(p.ctx, "null value")
		return nil
	}
	if p.buf != nil {
		kb, err := p.key.Serialize("", r.Key)
		if err != nil {
			return fmt.Errorf("serialize join key: %w", err)
		}
		if kb == nil {
			if !p.left {
				dropRecord(p.ctx, "null key")
				return nil
			}
		} else if buffered, err := p.buf.put(kb, r); err != nil || buffered {
			if err != nil {
				return err
			}
			return p.buf.evict(p.join)
		}
	}
	return p.join(r)
}

// join joins one record with the table row of its key.
func (p *streamTableJoiner[K, V, VT, VR]) join(r processor.Record[K, V]) error {
	p.ts = r.Timestamp
	var row VT
	var found bool
	kb, err := p.key.Serialize("", r.Key)
	if err != nil {
		return fmt.Errorf("serialize join key: %w", err)
	}
	if kb == nil {
		if !p.left {
			dropRecord(p.ctx, "null key")
			return nil
		}
	} else if row, _, found, err = p.get(r.Key); err != nil {
		return err
	}
	if !found && !p.left {
		return nil
	}
	p.ctx.Forward(processor.Record[K, VR]{Key: r.Key, Value: p.joiner(r.Key, r.Value, row), Timestamp: r.Timestamp, Headers: r.Headers})
	return nil
}

func (p *streamTableJoiner[K, V, VT, VR]) Close() error { return nil }

// dropRecord counts and logs a record a processor skips.
func dropRecord(ctx any, reason string) {
	if d, ok := ctx.(interface{ DropRecord(reason string) }); ok {
		d.DropRecord(reason)
	}
}

// joinKind is the kind of a table-table join, seen from one side: which
// missing rows still yield a result.
type joinKind int

const (
	// innerJoin: both rows are needed.
	innerJoin joinKind = iota
	// leftSide: the left table's side of a left join; the right row may
	// be missing.
	leftSide
	// rightSide: the right table's side of a left join; the left row is
	// needed, this side's may be missing.
	rightSide
	// outerJoin: either row may be missing.
	outerJoin
)

// TableJoin joins two tables by key, as Kafka Streams' KTable#join: the
// result has a row for each key both tables have, joiner(key, left, right),
// updated whenever either row changes, and deleted when either row is. Each
// result is stamped with the larger of the two rows' timestamps. The updates
// carry old values when downstream needs them (a re-grouping), so that
// aggregations subtract correctly. The result is kept in a store when m
// names one (queryable); without a Name m only sets its serdes. The two
// tables must be co-partitioned.
func TableJoin[K, V1, V2, VR any](a Table[K, V1], b Table[K, V2], joiner func(K, V1, V2) VR, m ...Materialized[K, VR]) Table[K, VR] {
	return tableJoin(a, b, joiner, innerJoin, innerJoin, "TableJoin", "KTABLE-JOINTHIS", "KTABLE-JOINOTHER", "KTABLE-MERGE", m)
}

// TableLeftJoin is [TableJoin] keeping every row of the left table a: a
// key the right table lacks is joined with the zero V2 (use a pointer type
// to tell).
func TableLeftJoin[K, V1, V2, VR any](a Table[K, V1], b Table[K, V2], joiner func(K, V1, V2) VR, m ...Materialized[K, VR]) Table[K, VR] {
	return tableJoin(a, b, joiner, leftSide, rightSide, "TableLeftJoin", "KTABLE-JOINTHIS", "KTABLE-JOINOTHER", "KTABLE-MERGE", m)
}

// TableOuterJoin is [TableJoin] keeping every row of either table: a
// missing row is the zero value of its type (use pointer types to tell).
func TableOuterJoin[K, V1, V2, VR any](a Table[K, V1], b Table[K, V2], joiner func(K, V1, V2) VR, m ...Materialized[K, VR]) Table[K, VR] {
	return tableJoin(a, b, joiner, outerJoin, outerJoin, "TableOuterJoin", "KTABLE-JOINTHIS", "KTABLE-JOINOTHER", "KTABLE-MERGE", m)
}

func tableJoin[K, V1, V2, VR any](a Table[K, V1], b Table[K, V2], joiner func(K, V1, V2) VR, kindA, kindB joinKind, op, prefixA, prefixB, prefixM string, ms []Materialized[K, VR]) Table[K, VR] {
	bld := a.b
	// Kafka Streams names the merge node first, and the two join nodes
	// KTABLE-JOINTHIS and KTABLE-JOINOTHER whatever the join's kind.
	nM := bld.t.g.NextName(prefixM)
	nA := bld.t.g.NextName(prefixA)
	nB := bld.t.g.NextName(prefixB)
	bld.checkFn(op, nA, a.node, "joiner", joiner)
	lookA, lookB := lookupOf(a, op), lookupOf(b, op)
	// The join sides compute old values from their inputs', so they need
	// them whenever they send any.
	old := &oldValues{}
	old.enable = func(bool) bool {
		a.old.enableSend(true)
		b.old.enableSend(true)
		old.send = true
		return true
	}
	// As Kafka Streams, the outer sides of a join get their input's old
	// values, to tell a delete of an existing row from one of a row never
	// seen (the join's own updates carry old values only on request).
	if kindA == leftSide || kindA == outerJoin {
		a.old.enableSend(true)
	}
	if kindB == outerJoin {
		b.old.enableSend(true)
	}
	keyA, keyB := a.key, b.key
	AddProcessor(bld.t, nA, func() processor.Processor[K, Change[V1], K, Change[VR]] {
		return &tableJoinSide[K, V1, V2, VR]{look: lookB, key: keyA, kind: kindA, joiner: joiner, old: old}
	}, a.node)
	connectLookup(bld, lookB, nA)
	reversed := func(k K, v2 V2, v1 V1) VR { return joiner(k, v1, v2) }
	AddProcessor(bld.t, nB, func() processor.Processor[K, Change[V2], K, Change[VR]] {
		return &tableJoinSide[K, V2, V1, VR]{look: lookA, key: keyB, kind: kindB, joiner: reversed, old: old}
	}, b.node)
	connectLookup(bld, lookA, nB)
	bld.t.g.Copartition(a.node, b.node)

	mm := first(ms)
	out := Table[K, VR]{b: bld, node: nM, key: a.key, old: old}
	if mm.Name != "" {
		out.store, out.key, out.value = materialize(bld, mm, "", nM, a.key, nil)
		bld.t.g.Connect(out.store, nM)
		// The merger forwards the old values the sides compute.
		mergeOld := &oldValues{}
		mergeOld.enable = func(bool) bool {
			old.enable(true)
			mergeOld.send = true
			return true
		}
		out.old = mergeOld
	} else {
		out.key, out.value = pickOr(mm.Key, a.key), mm.Value
		out.lookup = joinedLookup(lookA, lookB, joiner, kindA)
	}
	st := out.store
	mergeOld := out.old
	AddProcessor(bld.t, nM, func() processor.Processor[K, Change[VR], K, Change[VR]] {
		return &tableJoinMerger[K, VR]{tableProc: tableProc[K, VR]{store: st, old: mergeOld}}
	}, nA, nB)
	return out
}

// joinedLookup reads the rows of an unmaterialized join result by joining
// the rows of both tables, as Kafka Streams' join value getters.
func joinedLookup[K, V1, V2, VR any](lookA lookupSpec[K, V1], lookB lookupSpec[K, V2], joiner func(K, V1, V2) VR, kind joinKind) lookupSpec[K, VR] {
	if lookA.open == nil || lookB.open == nil {
		return lookupSpec[K, VR]{}
	}
	return lookupSpec[K, VR]{stores: append(append([]string(nil), lookA.stores...), lookB.stores...), open: func(ctx storeCtx) (rowLookup[K, VR], error) {
		getA, err := lookA.open(ctx)
		if err != nil {
			return nil, err
		}
		getB, err := lookB.open(ctx)
		if err != nil {
			return nil, err
		}
		return func(k K) (VR, int64, bool, error) {
			var zero VR
			v1, ts1, ok1, err := getA(k)
			if err != nil {
				return zero, 0, false, err
			}
			v2, ts2, ok2, err := getB(k)
			if err != nil {
				return zero, 0, false, err
			}
			ok := ok1 && ok2
			switch kind {
			case leftSide:
				ok = ok1
			case outerJoin:
				ok = ok1 || ok2
			}
			if !ok {
				return zero, 0, false, nil
			}
			return joiner(k, v1, v2), max(ts1, ts2), true, nil
		}, nil
	}}
}

// tableJoinSide is one side of a table-table join, as Kafka Streams'
// KTableKTableInnerJoin, LeftJoin, RightJoin and OuterJoin processors: it
// joins each update of its table with the other table's row. joiner takes
// this side's value first.
type tableJoinSide[K, VA, VB, VR any] struct {
	look   lookupSpec[K, VB]
	get    rowLookup[K, VB]
	key    serde.Serde[K]
	kind   joinKind
	joiner func(K, VA, VB) VR
	old    *oldValues
	ctx    processor.Context[K, Change[VR]]
}

func (p *tableJoinSide[K, VA, VB, VR]) Init(ctx processor.Context[K, Change[VR]]) error {
	get, err := p.look.open(ctx)
	if err != nil {
		return err
	}
	p.get, p.ctx = get, ctx
	return nil
}

func (p *tableJoinSide[K, VA, VB, VR]) Process(r processor.Record[K, Change[VA]]) error {
	kb, err := p.key.Serialize("", r.Key)
	if err != nil {
		return fmt.Errorf("serialize join key: %w", err)
	}
	if kb == nil {
		dropRecord(p.ctx, "null key")
		return nil
	}
	other, otherTs, found, err := p.get(r.Key)
	if err != nil {
		return err
	}
	in, send := r.Value, p.old.send
	ts := r.Timestamp
	if found {
		ts = max(ts, otherTs)
	}
	var c Change[VR]
	switch p.kind {
	case innerJoin:
		if !found {
			return nil
		}
		if in.HasNew {
			c.New, c.HasNew = p.joiner(r.Key, in.New, other), true
		}
		if send && in.HasOld {
			c.Old, c.HasOld = p.joiner(r.Key, in.Old, other), true
		}
	case leftSide, outerJoin:
		if !found && !in.HasNew && !in.HasOld {
			return nil
		}
		if in.HasNew || found && p.kind == outerJoin {
			c.New, c.HasNew = p.joiner(r.Key, in.New, other), true
		}
		if send && (in.HasOld || found && p.kind == outerJoin) {
			c.Old, c.HasOld = p.joiner(r.Key, in.Old, other), true
		}
	case rightSide:
		if !found {
			return nil
		}
		c.New, c.HasNew = p.joiner(r.Key, in.New, other), true
		if send {
			c.Old, c.HasOld = p.joiner(r.Key, in.Old, other), true
		}
	}
	p.ctx.Forward(processor.Record[K, Change[VR]]{Key: r.Key, Value: c, Timestamp: ts, Headers: r.Headers})
	return nil
}

func (p *tableJoinSide[K, VA, VB, VR]) Close() error { return nil }

// tableJoinMerger is Kafka Streams' KTableKTableJoinMerger: it passes the
// updates of both join sides on, keeping them in the result's store when
// the result is materialized.
type tableJoinMerger[K, V any] struct {
	tableProc[K, V]
	fctx processor.Context[K, Change[V]]
}

func (p *tableJoinMerger[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	p.fctx = ctx
	if p.store == "" {
		return nil
	}
	return p.init(ctx)
}

func (p *tableJoinMerger[K, V]) Process(r processor.Record[K, Change[V]]) error {
	if p.store == "" {
		p.fctx.Forward(r)
		return nil
	}
	kb, err := p.rawKey(r.Key)
	if kb == nil {
		return err
	}
	return p.write(r.Key, kb, r.Value, r.Timestamp, r.Headers)
}

package kstreams

import (
	"fmt"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// GlobalTable is a table every instance of the application keeps whole:
// all partitions of its topic, as Kafka Streams' GlobalKTable. It is read
// into a local store before any stream task processes its first record,
// then kept up to date as the topic changes. A stream joins it by a key
// computed from each record, with no repartition ([StreamGlobalTableJoin]).
type GlobalTable[K, V any] struct {
	b     *Builder
	store string
	key   serde.Serde[K]
	value serde.Serde[V]
}

// Store returns the name of the table's store.
func (g GlobalTable[K, V]) Store() string { return g.store }

// GlobalTableFrom reads topic as a global table. The store is named by m's
// Name, by default "<topic>-STATE-STORE-<n>" as in Kafka Streams; it has no
// changelog (the topic is its source; m's DisableLogging is ignored). By
// default it is persistent (Pebble, in "<state dir>/<application id>/global")
// with a checkpoint of the offsets it has applied, so that a restart reads
// the topic only from there; with m's InMemory it is rebuilt from the start
// of the topic at each start. Processors read it, unconnected, as a
// state.ReadOnlyTimestampedKeyValueStore[K, V]. m's serdes, then c's, then
// serde.Default read the topic. A record with a null key is skipped; one
// with a null value deletes its key.
func GlobalTableFrom[K, V any](b *Builder, topic string, c Consumed[K, V], m ...Materialized[K, V]) GlobalTable[K, V] {
	mm := first(m)
	store := mm.Name
	if store == "" {
		store = b.t.g.NextName(topic + "-STATE-STORE")
	}
	// Kafka Streams names a source and a table source processor; the
	// names are kept, so that later automatic names are the same.
	src := b.name([]Named{c.Name}, "KSTREAM-SOURCE")
	b.t.g.NextName("KTABLE-SOURCE")
	where := fmt.Sprintf("global table %q reading %q", src, topic)
	key := pickSerde(b, where, "Consumed", "key", mm.Key, c.Key)
	value := pickSerde(b, where, "Consumed", "value", mm.Value, c.Value)
	b.t.g.AddGlobal(runtime.GlobalSpec{
		Name: store, Topic: topic, Persistent: !mm.InMemory,
		Typed: func(bs state.BytesStore) any {
			return readOnlyTimestamped[K, V]{state.NewTimestampedKeyValueStore(bs, key, value, state.SerdeTopic(topic))}
		},
	})
	return GlobalTable[K, V]{b: b, store: store, key: key, value: value}
}

// globalCtx is what a global lookup needs of a processor context.
type globalCtx interface {
	GlobalStore(name string) (*runtime.GlobalStore, bool)
}

// StreamGlobalTableJoin joins each stream record with the row of the
// global table g whose key keyOf computes from the record, as Kafka
// Streams' KStream#join(GlobalKTable): the row is looked up when the record
// is processed, a record whose computed key has no row yields nothing, and
// the result keeps the stream record's key and timestamp. Records with a
// nil value, or whose computed key is null, are dropped (counted in
// Metrics.Dropped). The stream is not repartitioned.
func StreamGlobalTableJoin[K, V, GK, GV, VR any](s Stream[K, V], g GlobalTable[GK, GV], keyOf func(K, V) GK, joiner func(K, V, GV) VR, name ...Named) Stream[K, VR] {
	return streamGlobalJoin(s, g, keyOf, joiner, false, "StreamGlobalTableJoin", name)
}

// StreamGlobalTableLeftJoin is [StreamGlobalTableJoin] that also joins the
// records whose computed key has no row: the joiner then gets the zero GV
// (use a pointer type to tell). As in Kafka Streams 4, a record whose
// computed key is null is joined too, with no row; a record with a nil
// value is dropped.
func StreamGlobalTableLeftJoin[K, V, GK, GV, VR any](s Stream[K, V], g GlobalTable[GK, GV], keyOf func(K, V) GK, joiner func(K, V, GV) VR, name ...Named) Stream[K, VR] {
	return streamGlobalJoin(s, g, keyOf, joiner, true, "StreamGlobalTableLeftJoin", name)
}

func streamGlobalJoin[K, V, GK, GV, VR any](s Stream[K, V], g GlobalTable[GK, GV], keyOf func(K, V) GK, joiner func(K, V, GV) VR, left bool, op string, name []Named) Stream[K, VR] {
	b := s.b
	// Kafka Streams names both joins with a global table KSTREAM-LEFTJOIN.
	n := b.name(name, "KSTREAM-LEFTJOIN")
	if !b.checkSame(op+" "+quote(n), s.node, g.b, g.store) {
		return Stream[K, VR]{b: b, node: n, key: s.key}
	}
	b.checkFn(op, n, s.node, "key selector", keyOf)
	b.checkFn(op, n, s.node, "joiner", joiner)
	store, gkey, gvalue := g.store, g.key, g.value
	nullValue := nilCheck[V]()
	AddProcessor(b.t, n, func() processor.Processor[K, V, K, VR] {
		return &globalJoiner[K, V, GK, GV, VR]{
			store: store, gkey: gkey, gvalue: gvalue, keyOf: keyOf, joiner: joiner,
			left: left, nullValue: nullValue,
		}
	}, s.node)
	return Stream[K, VR]{b: b, node: n, key: s.key, keyChanged: s.keyChanged}
}

// globalJoiner is Kafka Streams' KStreamKTableJoinProcessor with the key
// mapper of a global table join.
type globalJoiner[K, V, GK, GV, VR any] struct {
	store     string
	st        *runtime.GlobalStore
	gkey      serde.Serde[GK]
	gvalue    serde.Serde[GV]
	keyOf     func(K, V) GK
	joiner    func(K, V, GV) VR
	left      bool
	nullKey   func(K) bool
	nullValue func(V) bool
	ctx       processor.Context[K, VR]
	topic     string
}

func (p *globalJoiner[K, V, GK, GV, VR]) Init(ctx processor.Context[K, VR]) error {
	gc, ok := ctx.(globalCtx)
	if !ok {
		return fmt.Errorf("kstreams: global store %q: the context has no global stores", p.store)
	}
	st, ok := gc.GlobalStore(p.store)
	if !ok {
		return fmt.Errorf("kstreams: global store %q is not open in this instance", p.store)
	}
	p.st, p.ctx, p.topic = st, ctx, st.Spec().Topic
	return nil
}

func (p *globalJoiner[K, V, GK, GV, VR]) Process(r processor.Record[K, V]) error {
	valueNull := p.nullValue != nil && p.nullValue(r.Value)
	mapped := p.keyOf(r.Key, r.Value)
	kb, err := p.gkey.Serialize(p.topic, mapped)
	if err != nil {
		return fmt.Errorf("serialize global join key: %w", err)
	}
	if valueNull || (kb == nil && !p.left) {
		dropRecord(p.ctx, "null join key or value")
		return nil
	}
	var row GV
	found := false
	if kb != nil {
		vb, _, ok := p.st.Get(kb)
		if ok {
			if row, err = p.gvalue.Deserialize(p.topic, vb); err != nil {
				return fmt.Errorf("global store %q: deserialize value: %w", p.store, err)
			}
			found = true
		}
	}
	if !found && !p.left {
		return nil
	}
	p.ctx.Forward(processor.Record[K, VR]{Key: r.Key, Value: p.joiner(r.Key, r.Value, row), Timestamp: r.Timestamp, Headers: r.Headers})
	return nil
}

func (p *globalJoiner[K, V, GK, GV, VR]) Close() error { return nil }

package kstreams

import (
	"fmt"

	"github.com/kstreams-go/kstreams/internal/fkwire"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// TableJoined configures a foreign-key join ([ForeignKeyJoin]), as Kafka
// Streams' TableJoined: the name its internal topics, store and nodes are
// derived from. K is the primary table's key type, KO the foreign key's.
type TableJoined[K, KO any] struct {
	// Name names the join: the topics
	// "<application id>-<Name>-subscription-registration-topic" and
	// "<application id>-<Name>-subscription-response-topic", the
	// subscription store "<Name>-subscription-store" and the nodes
	// "<Name>-subscription-registration-processor" and so on, as Kafka
	// Streams names them. Default: automatic names,
	// "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000005-topic" and so on.
	Name Named
}

// ForeignKeyJoin joins each row of table t with the row of table other
// whose key fk extracts from t's value, as Kafka Streams'
// KTable#join(other, foreignKeyExtractor, joiner): the result is keyed by
// t's key, has joiner(value, foreign value) for each row of t whose
// foreign row exists, and follows updates of either table (a changed
// foreign row updates every row of t that refers to it). A row whose
// foreign key serializes to null is left out.
//
// The two tables need not be co-partitioned: each row of t sends a
// subscription to the partition of its foreign key through the
// subscription topic (co-partitioned with other), and the foreign side
// answers through the response topic (co-partitioned with t) at the
// partition the row came from. Answers that no longer match the row (its
// value changed meanwhile) are dropped, by comparing the 128-bit murmur3
// hash of the row's serialized value, as Kafka Streams does; the topics,
// the subscription store and its changelog use Kafka Streams' byte
// formats. The result is kept in the store m names (queryable). Without
// a Name, m sets the result's serdes and, as in Kafka Streams, the result
// is kept in a store of a generated name only if a later join on the
// result or a re-grouping of it needs one; else each result is forwarded
// at once.
// DESIGN.md "Foreign-key joins" tells the protocol.
func ForeignKeyJoin[K, V, KO, VO, VR any](t Table[K, V], other Table[KO, VO], fk func(V) KO, joiner func(V, VO) VR, tj TableJoined[K, KO], m ...Materialized[K, VR]) Table[K, VR] {
	return foreignKeyJoin(t, other, fk, joiner, false, tj, first(m))
}

// ForeignKeyLeftJoin is [ForeignKeyJoin] keeping every row of t: a row
// whose foreign row is missing, or whose foreign key is null, is joined
// with the zero VO (use a pointer type to tell), as Kafka Streams'
// KTable#leftJoin with a foreign-key extractor.
func ForeignKeyLeftJoin[K, V, KO, VO, VR any](t Table[K, V], other Table[KO, VO], fk func(V) KO, joiner func(V, VO) VR, tj TableJoined[K, KO], m ...Materialized[K, VR]) Table[K, VR] {
	return foreignKeyJoin(t, other, fk, joiner, true, tj, first(m))
}

// fkNames gives the names of a foreign-key join's parts: from the
// join's name, or automatic ones, in Kafka Streams' order.
type fkNames struct {
	g    *runtime.Graph
	name string
}

func (n fkNames) get(suffix, prefix string) string {
	gen := n.g.NextName(prefix) // drawn for a named join too, as in Kafka Streams
	if n.name != "" {
		return n.name + suffix
	}
	return gen
}

func foreignKeyJoin[K, V, KO, VO, VR any](t Table[K, V], other Table[KO, VO], fk func(V) KO, joiner func(V, VO) VR, left bool, tj TableJoined[K, KO], m Materialized[K, VR]) Table[K, VR] {
	b := t.b
	g := b.t.g
	op := "ForeignKeyJoin"
	if left {
		op = "ForeignKeyLeftJoin"
	}
	names := fkNames{g: g, name: string(tj.Name)}
	// The rows' old values tell which foreign key a row leaves.
	t.old.enableSend(true)

	subTopic := runtime.Topic{Name: names.get("-subscription-registration", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION") + "-topic", Internal: true}
	g.AddInternalTopic(runtime.InternalTopic{Name: subTopic.Name, Configs: repartitionConfigs})
	where := fmt.Sprintf("%s %s", op, after(t.node))
	pk := pickSerde(b, where+" (primary table)", "Materialized of the primary table", "key", t.key)
	pv := pickSerde(b, where+" (primary table)", "Materialized of the primary table", "value", t.value)
	fkSerde := pickSerde(b, where+" (foreign table)", "Materialized of the foreign table", "key", other.key)
	fv := pickSerde(b, where+" (foreign table)", "Materialized of the foreign table", "value", other.value)
	sendName := names.get("-subscription-registration-processor", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION")
	b.checkFn(op, sendName, t.node, "foreign-key extractor", fk)
	b.checkFn(op, sendName, t.node, "joiner", joiner)
	AddProcessor(b.t, sendName, func() processor.Processor[K, Change[V], []byte, []byte] {
		return &fkSend[K, V, KO]{fk: fk, fkSerde: fkSerde, pk: pk, pv: pv, left: left, topic: subTopic}
	}, t.node)
	subSink := names.get("-subscription-registration-sink", "KTABLE-SINK")
	g.Add(&runtime.NodeSpec{
		Name: subSink, Kind: runtime.SinkKind, Parents: []string{sendName}, Topics: []runtime.Topic{subTopic},
		In: runtime.RecordType[[]byte, []byte](), New: runtime.NewSink(subSink, subTopic, serde.Bytes(), serde.Bytes()),
	})
	subSrc := names.get("-subscription-registration-source", "KTABLE-SOURCE")
	g.Add(&runtime.NodeSpec{
		Name: subSrc, Kind: runtime.SourceKind, Topics: []runtime.Topic{subTopic},
		Out: runtime.RecordType[[]byte, []byte](), New: runtime.NewSource(subSrc, serde.Bytes(), serde.Bytes()),
	})
	// The subscriptions meet the foreign table's rows.
	g.Copartition(subSrc, other.node)

	store := names.get("-subscription-store", "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE")
	g.AddStore(&runtime.StoreSpec{Name: store, Persistent: true, Logged: true, Timestamped: true})
	receive := names.get("-subscription-receive", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR")
	AddProcessor(b.t, receive, func() processor.Processor[[]byte, []byte, []byte, fkSubscribed] {
		return &fkReceive{store: store}
	}, subSrc)
	g.Connect(store, receive)

	lookF := lookupOf(other, op)
	joinForeign := names.get("-subscription-join-foreign", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR")
	AddProcessor(b.t, joinForeign, func() processor.Processor[[]byte, fkSubscribed, []byte, fkResponse] {
		return &fkJoinForeign[KO, VO]{look: lookF, fkSerde: fkSerde, fv: fv, topic: subTopic}
	}, receive)
	connectLookup(b, lookF, joinForeign)

	foreignSide := names.get("-foreign-join-subscription", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR")
	AddProcessor(b.t, foreignSide, func() processor.Processor[KO, Change[VO], []byte, fkResponse] {
		return &fkForeignSide[KO, VO]{store: store, fkSerde: fkSerde, fv: fv, topic: subTopic}
	}, other.node)
	g.Connect(store, foreignSide)

	respTopic := runtime.Topic{Name: names.get("-subscription-response", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE") + "-topic", Internal: true}
	g.AddInternalTopic(runtime.InternalTopic{Name: respTopic.Name, Configs: repartitionConfigs})
	respSink := names.get("-subscription-response-sink", "KTABLE-SINK")
	g.Add(&runtime.NodeSpec{
		Name: respSink, Kind: runtime.SinkKind, Parents: []string{joinForeign, foreignSide}, Topics: []runtime.Topic{respTopic},
		In: runtime.RecordType[[]byte, fkResponse](),
		New: runtime.NewPartitionedSink(respSink, respTopic, serde.Bytes(), fkResponseSerde{},
			func(r processor.Record[[]byte, fkResponse]) int32 { return r.Value.partition }),
	})
	respSrc := names.get("-subscription-response-source", "KTABLE-SOURCE")
	g.Add(&runtime.NodeSpec{
		Name: respSrc, Kind: runtime.SourceKind, Topics: []runtime.Topic{respTopic},
		Out: runtime.RecordType[[]byte, []byte](), New: runtime.NewSource(respSrc, serde.Bytes(), serde.Bytes()),
	})
	// The responses meet the primary table's rows.
	g.Copartition(respSrc, t.node)

	lookP := lookupOf(t, op)
	resolver := names.get("-subscription-response-resolver", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR")
	AddProcessor(b.t, resolver, func() processor.Processor[[]byte, []byte, K, optional[VR]] {
		return &fkResolve[K, V, VO, VR]{look: lookP, pk: pk, pv: pv, fv: fv, joiner: joiner, left: left, topic: respTopic, subTopic: subTopic}
	}, respSrc)
	connectLookup(b, lookP, resolver)

	resultName := names.get("-result", "KTABLE-FK-JOIN-OUTPUT")
	if m.Name == "" {
		// Kafka Streams names a store for the result even when it keeps
		// none, and keeps the result in it only once a later operation
		// needs its old values or reads it by key.
		m.Name = g.NextName("KTABLE-FK-JOIN-OUTPUT-STATE-STORE")
		return fkLazyResult(b, resultName, resolver, pk, m)
	}
	resStore, key, value := materialize(b, m, "", resultName, pk, nil)
	old := sourceOld(true)
	AddProcessor(b.t, resultName, func() processor.Processor[K, optional[VR], K, Change[VR]] {
		return &tableSource[K, optional[VR], VR]{
			tableProc: tableProc[K, VR]{store: resStore, old: old},
			unwrap:    func(o optional[VR]) (VR, bool) { return o.v, o.ok },
		}
	}, resolver)
	g.Connect(resStore, resultName)
	return Table[K, VR]{b: b, node: resultName, key: key, value: value, store: resStore, old: old}
}

// fkLazyResult adds the result node of a foreign-key join without a
// store name, as Kafka Streams' KTableSource that is materialized only on
// demand: it forwards each result as a new row, without the old one, until
// a later operation needs old values (a re-grouping) or reads the rows by
// key (a join); then the result is kept in the store m.Name (generated,
// not queryable) and, for old values, sent with them.
func fkLazyResult[K, VR any](b *Builder, name, parent string, key serde.Serde[K], m Materialized[K, VR]) Table[K, VR] {
	lz := &lazyStore{}
	lz.add = func() {
		materialize(b, m, "", name, key, nil)
		b.t.g.Connect(m.Name, name)
	}
	old := &oldValues{}
	old.enable = func(force bool) bool {
		if !force && !lz.done {
			return false
		}
		lz.need()
		old.send = true
		return true
	}
	AddProcessor(b.t, name, func() processor.Processor[K, optional[VR], K, Change[VR]] {
		if !lz.done {
			return &fnProcessor[K, optional[VR], K, Change[VR]]{fn: func(ctx processor.Context[K, Change[VR]], r processor.Record[K, optional[VR]]) error {
				ctx.Forward(processor.Record[K, Change[VR]]{Key: r.Key, Value: Change[VR]{New: r.Value.v, HasNew: r.Value.ok}, Timestamp: r.Timestamp, Headers: r.Headers})
				return nil
			}}
		}
		return &tableSource[K, optional[VR], VR]{
			tableProc: tableProc[K, VR]{store: m.Name, old: old},
			unwrap:    func(o optional[VR]) (VR, bool) { return o.v, o.ok },
		}
	}, parent)
	rows := storeLookup[K, VR](m.Name)
	rows.need = lz.need
	return Table[K, VR]{b: b, node: name, key: key, value: m.Value, old: old, lookup: rows}
}

// lazyStore is the store of a table that Kafka Streams materializes only
// when a later operation needs it: add declares it, once, on the first
// need, while the topology is built.
type lazyStore struct {
	done bool
	add  func()
}

func (l *lazyStore) need() {
	if !l.done {
		l.done = true
		l.add()
	}
}

// fkSend is Kafka Streams' SubscriptionSendProcessorSupplier (4.x). As
// there, values are serialized for hashing as for the pseudo topic
// "<subscription topic>-vh" and primary keys as for "...-pk" (what a
// schema-registry serde registers its subjects under). For
// each update of a primary row it sends subscriptions to the foreign key
// it leaves (no answer wanted, except when the row is deleted or loses
// its foreign key in an inner join) and to the one it refers to (always
// answered when it changed, or in a left join), keyed by the serialized
// foreign key.
type fkSend[K, V, KO any] struct {
	fk      func(V) KO
	fkSerde serde.Serde[KO]
	pk      serde.Serde[K]
	pv      serde.Serde[V]
	left    bool
	topic   runtime.Topic
	ctx     processor.Context[[]byte, []byte]
	name    string
}

func (p *fkSend[K, V, KO]) Init(ctx processor.Context[[]byte, []byte]) error {
	p.ctx, p.name = ctx, p.topic.Resolve(ctx.ApplicationID())
	return nil
}

func (p *fkSend[K, V, KO]) foreignKey(v V) ([]byte, error) {
	b, err := p.fkSerde.Serialize(p.name, p.fk(v))
	if err != nil {
		return nil, fmt.Errorf("serialize foreign key: %w", err)
	}
	return b, nil
}

func (p *fkSend[K, V, KO]) Process(r processor.Record[K, Change[V]]) error {
	c := r.Value
	var newFK, oldFK []byte
	var err error
	if c.HasNew {
		if newFK, err = p.foreignKey(c.New); err != nil {
			return err
		}
	}
	if c.HasOld {
		if oldFK, err = p.foreignKey(c.Old); err != nil {
			return err
		}
	}
	var hash *fkwire.Hash
	if c.HasNew {
		vb, err := p.pv.Serialize(p.name+"-vh", c.New)
		if err != nil {
			return fmt.Errorf("serialize value to hash: %w", err)
		}
		hash = fkwire.ValueHash(vb)
	}
	kb, err := p.pk.Serialize(p.name+"-pk", r.Key)
	if err != nil {
		return fmt.Errorf("serialize key: %w", err)
	}
	send := func(fk []byte, in fkwire.Instruction) {
		sub := fkwire.AppendSubscription(nil, fkwire.Subscription{Hash: hash, Instruction: in, PrimaryKey: kb, PrimaryPartition: p.ctx.TaskID().Partition})
		p.ctx.Forward(processor.Record[[]byte, []byte]{Key: fk, Value: sub, Timestamp: r.Timestamp, Headers: r.Headers})
	}
	hasOld := c.HasOld && oldFK != nil
	moved := hasOld && (newFK == nil || string(newFK) != string(oldFK))
	if p.left {
		if !c.HasOld && !c.HasNew {
			return nil
		}
		if moved {
			send(oldFK, fkwire.DeleteKeyNoPropagate)
		}
		send(newFK, fkwire.PropagateNullIfNoFKValAvailable)
		return nil
	}
	switch {
	case !c.HasNew:
		if hasOld {
			send(oldFK, fkwire.DeleteKeyAndPropagate)
		}
	case newFK == nil:
		dropRecord(p.ctx, "null foreign key")
		if hasOld {
			send(oldFK, fkwire.DeleteKeyAndPropagate)
		}
	case moved:
		send(oldFK, fkwire.DeleteKeyNoPropagate)
		send(newFK, fkwire.PropagateNullIfNoFKValAvailable)
	default:
		send(newFK, fkwire.PropagateOnlyIfFKValAvailable)
	}
	return nil
}

func (p *fkSend[K, V, KO]) Close() error { return nil }

// fkSubscribed is a subscription as the receiving side passes it on: the
// serialized foreign key (nil: null) and the subscription.
type fkSubscribed struct {
	fk  []byte
	sub fkwire.Subscription
}

// fkReceive is Kafka Streams' SubscriptionReceiveProcessorSupplier: it
// keeps each subscription in the subscription store under (foreign key,
// primary key), or removes it, and passes it on.
type fkReceive struct {
	store   string
	st      state.BytesStore
	ctx     processor.Context[[]byte, fkSubscribed]
	scratch []byte
}

func (p *fkReceive) Init(ctx processor.Context[[]byte, fkSubscribed]) error {
	st, err := processor.Store[state.BytesStore](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	return nil
}

func (p *fkReceive) Process(r processor.Record[[]byte, []byte]) error {
	sub, err := fkwire.ParseSubscription(r.Value)
	if err != nil {
		return err
	}
	if r.Key == nil {
		if sub.Instruction != fkwire.PropagateNullIfNoFKValAvailable {
			dropRecord(p.ctx, "null foreign key")
			return nil
		}
	} else {
		ck := fkwire.AppendCombinedKey(nil, r.Key, sub.PrimaryKey)
		var raw []byte
		if sub.Instruction != fkwire.DeleteKeyAndPropagate && sub.Instruction != fkwire.DeleteKeyNoPropagate {
			p.scratch = state.AppendWithTimestamp(p.scratch[:0], r.Timestamp, r.Value)
			raw = p.scratch
		}
		if err := p.st.Put(ck, raw); err != nil {
			return &state.StoreError{Store: p.store, Op: "put", Key: ck, Err: err}
		}
	}
	p.ctx.Forward(processor.Record[[]byte, fkSubscribed]{Key: sub.PrimaryKey, Value: fkSubscribed{fk: r.Key, sub: sub}, Timestamp: r.Timestamp, Headers: r.Headers})
	return nil
}

func (p *fkReceive) Close() error { return nil }

// fkResponse is a response on its way to the response topic: its bytes
// and the partition of the primary row it answers (-1: unknown, then the
// default partitioner's, by the primary key).
type fkResponse struct {
	value     []byte
	partition int32
}

// fkResponseSerde writes a response's bytes.
type fkResponseSerde struct{}

func (fkResponseSerde) Serialize(_ string, r fkResponse) ([]byte, error) { return r.value, nil }

func (fkResponseSerde) Deserialize(_ string, b []byte) (fkResponse, error) {
	return fkResponse{value: b, partition: -1}, nil
}

// fkJoinForeign is Kafka Streams' SubscriptionJoinProcessorSupplier: it
// answers a subscription with the foreign row, as its instruction says.
type fkJoinForeign[KO, VO any] struct {
	look    lookupSpec[KO, VO]
	get     rowLookup[KO, VO]
	fkSerde serde.Serde[KO]
	fv      serde.Serde[VO]
	topic   runtime.Topic
	name    string
	ctx     processor.Context[[]byte, fkResponse]
}

func (p *fkJoinForeign[KO, VO]) Init(ctx processor.Context[[]byte, fkResponse]) error {
	get, err := p.look.open(ctx)
	if err != nil {
		return err
	}
	p.get, p.ctx, p.name = get, ctx, p.topic.Resolve(ctx.ApplicationID())
	return nil
}

func (p *fkJoinForeign[KO, VO]) Process(r processor.Record[[]byte, fkSubscribed]) error {
	sub := r.Value.sub
	if sub.Instruction == fkwire.DeleteKeyNoPropagate {
		return nil
	}
	var fvb []byte
	found := false
	ts := r.Timestamp
	if r.Value.fk != nil {
		k, err := p.fkSerde.Deserialize(p.name, r.Value.fk)
		if err != nil {
			return fmt.Errorf("deserialize foreign key: %w", err)
		}
		v, fts, ok, err := p.get(k)
		if err != nil {
			return err
		}
		if ok {
			found, ts = true, max(ts, fts)
			if fvb, err = p.fv.Serialize(p.name, v); err != nil {
				return fmt.Errorf("serialize foreign value: %w", err)
			}
		}
	}
	switch sub.Instruction {
	case fkwire.DeleteKeyAndPropagate:
		fvb = nil
	case fkwire.PropagateOnlyIfFKValAvailable:
		if !found {
			return nil
		}
	}
	resp := fkwire.AppendResponse(nil, fkwire.Response{Hash: sub.Hash, ForeignValue: fvb})
	p.ctx.Forward(processor.Record[[]byte, fkResponse]{Key: r.Key, Value: fkResponse{value: resp, partition: sub.PrimaryPartition}, Timestamp: ts, Headers: r.Headers})
	return nil
}

func (p *fkJoinForeign[KO, VO]) Close() error { return nil }

// fkForeignSide is Kafka Streams' ForeignTableJoinProcessorSupplier: an
// update of a foreign row answers every subscription to it again, with the
// row's new value, stamped with the update's timestamp.
type fkForeignSide[KO, VO any] struct {
	store   string
	st      state.BytesStore
	fkSerde serde.Serde[KO]
	fv      serde.Serde[VO]
	topic   runtime.Topic
	name    string
	ctx     processor.Context[[]byte, fkResponse]
}

func (p *fkForeignSide[KO, VO]) Init(ctx processor.Context[[]byte, fkResponse]) error {
	st, err := processor.Store[state.BytesStore](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx, p.name = st, ctx, p.topic.Resolve(ctx.ApplicationID())
	return nil
}

func (p *fkForeignSide[KO, VO]) Process(r processor.Record[KO, Change[VO]]) (err error) {
	kb, err := p.fkSerde.Serialize(p.name, r.Key)
	if err != nil {
		return fmt.Errorf("serialize foreign key: %w", err)
	}
	if kb == nil {
		dropRecord(p.ctx, "null key")
		return nil
	}
	var fvb []byte
	if r.Value.HasNew {
		if fvb, err = p.fv.Serialize(p.name, r.Value.New); err != nil {
			return fmt.Errorf("serialize foreign value: %w", err)
		}
	}
	prefix := fkwire.AppendPrefix(nil, kb)
	it, err := p.st.PrefixScan(prefix)
	if err != nil {
		return &state.StoreError{Store: p.store, Op: "prefix scan", Key: prefix, Err: err}
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = &state.StoreError{Store: p.store, Op: "prefix scan", Key: prefix, Err: cerr}
		}
	}()
	for it.Next() {
		_, pkb, err := fkwire.SplitCombinedKey(it.Key())
		if err != nil {
			return &state.StoreError{Store: p.store, Op: "prefix scan", Key: it.Key(), Err: err}
		}
		_, raw, err := state.SplitTimestamp(it.Value())
		if err != nil {
			return &state.StoreError{Store: p.store, Op: "prefix scan", Key: it.Key(), Err: err}
		}
		sub, err := fkwire.ParseSubscription(raw)
		if err != nil {
			return &state.StoreError{Store: p.store, Op: "prefix scan", Key: it.Key(), Err: err}
		}
		resp := fkwire.AppendResponse(nil, fkwire.Response{Hash: sub.Hash, ForeignValue: fvb})
		p.ctx.Forward(processor.Record[[]byte, fkResponse]{Key: append([]byte(nil), pkb...), Value: fkResponse{value: resp, partition: sub.PrimaryPartition}, Timestamp: r.Timestamp, Headers: r.Headers})
	}
	return it.Err()
}

func (p *fkForeignSide[KO, VO]) Close() error { return nil }

// fkResolve is Kafka Streams' ResponseJoinProcessorSupplier: it joins a
// response with the primary row it answers, if the row still has the
// value the subscription was sent for (same hash), and drops it otherwise.
type fkResolve[K, V, VO, VR any] struct {
	look   lookupSpec[K, V]
	get    rowLookup[K, V]
	pk     serde.Serde[K]
	pv     serde.Serde[V]
	fv     serde.Serde[VO]
	joiner func(V, VO) VR
	left   bool
	topic  runtime.Topic
	name   string
	// subTopic names the topic the hashed values are serialized for:
	// "<subscription topic>-vh", as Kafka Streams.
	subTopic runtime.Topic
	hashName string
	ctx      processor.Context[K, optional[VR]]
}

func (p *fkResolve[K, V, VO, VR]) Init(ctx processor.Context[K, optional[VR]]) error {
	get, err := p.look.open(ctx)
	if err != nil {
		return err
	}
	p.get, p.ctx, p.name = get, ctx, p.topic.Resolve(ctx.ApplicationID())
	p.hashName = p.subTopic.Resolve(ctx.ApplicationID()) + "-vh"
	return nil
}

func (p *fkResolve[K, V, VO, VR]) Process(r processor.Record[[]byte, []byte]) error {
	resp, err := fkwire.ParseResponse(r.Value)
	if err != nil {
		return err
	}
	k, err := p.pk.Deserialize(p.name, r.Key)
	if err != nil {
		return fmt.Errorf("deserialize primary key: %w", err)
	}
	v, _, found, err := p.get(k)
	if err != nil {
		return err
	}
	var cur *fkwire.Hash
	if found {
		vb, err := p.pv.Serialize(p.hashName, v)
		if err != nil {
			return fmt.Errorf("serialize value to hash: %w", err)
		}
		cur = fkwire.ValueHash(vb)
	}
	if (cur == nil) != (resp.Hash == nil) || cur != nil && *cur != *resp.Hash {
		dropRecord(p.ctx, "stale foreign-key join response")
		return nil
	}
	var out optional[VR]
	if resp.ForeignValue != nil || p.left && found {
		var fv VO
		if resp.ForeignValue != nil {
			if fv, err = p.fv.Deserialize(p.name, resp.ForeignValue); err != nil {
				return fmt.Errorf("deserialize foreign value: %w", err)
			}
		}
		out = optional[VR]{v: p.joiner(v, fv), ok: true}
	}
	p.ctx.Forward(processor.Record[K, optional[VR]]{Key: k, Value: out, Timestamp: r.Timestamp, Headers: r.Headers})
	return nil
}

func (p *fkResolve[K, V, VO, VR]) Close() error { return nil }

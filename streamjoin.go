package kstreams

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// StreamJoined configures a stream-stream join, as Kafka Streams'
// StreamJoined: the serdes of both sides, the names of the join's nodes,
// stores and internal topics, and its stores' kind and changelogs.
//
// The join keeps each side's records in a window store and, for a left or
// outer join, the records still waiting for a partner in a key-value store.
// With StoreName "s" they are "s-this-join-store" and "s-other-join-store"
// ("s-outer-this-join-store" for an outer join, "s-outer-other-join-store"
// for a left or outer join) and "s-left-shared-join-store" (left join) or
// "s-outer-shared-join-store" (outer join), each with the changelog topic
// "<application id>-<store>-changelog"; without StoreName the stores are
// named after the generated node names, as in Kafka Streams.
type StreamJoined[K, V1, V2 any] struct {
	// Name names the join's nodes ("<Name>-this-join", "<Name>-merge",
	// ...) and the repartition topics of inputs whose key changed
	// ("<Name>-left-repartition", "<Name>-right-repartition"). Default:
	// automatic names.
	Name Named
	// StoreName is the base name of the join's stores. Default: names
	// derived from the generated node names.
	StoreName string
	// Key, Value and OtherValue are the serdes of the key and of the left
	// and right values; nil falls back to those of the streams, then to
	// serde.Default.
	Key        serde.Serde[K]
	Value      serde.Serde[V1]
	OtherValue serde.Serde[V2]
	// InMemory keeps the stores in memory instead of Pebble on disk.
	InMemory bool
	// DisableLogging turns the changelogs off: the stores are not restored.
	DisableLogging bool
	// ChangelogConfigs are extra topic configs of the changelogs.
	ChangelogConfigs map[string]string
}

// StreamStreamJoin joins two streams by key within join windows, as Kafka
// Streams' KStream#join(KStream, ValueJoinerWithKey, JoinWindows,
// StreamJoined): each record of either stream is joined with every record
// of the other stream with the same key whose timestamp is within w of its
// own (a left record at t with the right records from t-before to t+after),
// as soon as the later of the two arrives. joiner gets the key, the left
// value and the right value; each result is stamped with the larger of the
// two timestamps. Records with a null key or a nil value are dropped
// (counted in Metrics.Dropped). A record arriving after the other side's
// matching records left the window store (older than stream time minus the
// window size and grace) finds nothing.
//
// A stream whose key changed upstream is repartitioned first; the two
// inputs must be co-partitioned (same partition count), checked at start
// ([ErrNotCopartitioned]). Invalid windows fail the topology's build.
func StreamStreamJoin[K, V1, V2, VR any](left Stream[K, V1], right Stream[K, V2], joiner func(K, V1, V2) VR, w JoinWindows, sj ...StreamJoined[K, V1, V2]) Stream[K, VR] {
	return streamStreamJoin(left, right, joiner, w, false, false, "StreamStreamJoin", sj)
}

// StreamStreamLeftJoin is [StreamStreamJoin] that also emits every left
// record that found no right record, joined with the zero V2 (use a
// pointer type to tell). As in Kafka Streams 3.1 and later, such a record
// is emitted only once its window has closed (stream time passed its
// timestamp plus after plus grace), never early, by ascending timestamp,
// stamped with its own timestamp; a left record older than stream time
// minus after is already closed and emitted at once if it finds nothing.
// Closed windows are looked for on records that advance stream time, at
// most once per second of wall-clock time (Kafka Streams' internal
// emit interval). A left record with a null key and a value is joined at
// once, with no right record.
func StreamStreamLeftJoin[K, V1, V2, VR any](left Stream[K, V1], right Stream[K, V2], joiner func(K, V1, V2) VR, w JoinWindows, sj ...StreamJoined[K, V1, V2]) Stream[K, VR] {
	return streamStreamJoin(left, right, joiner, w, true, false, "StreamStreamLeftJoin", sj)
}

// StreamStreamOuterJoin is [StreamStreamLeftJoin] both ways: a record of
// either stream that found no record of the other is emitted, joined with
// the zero value of the other side, once its window has closed.
func StreamStreamOuterJoin[K, V1, V2, VR any](left Stream[K, V1], right Stream[K, V2], joiner func(K, V1, V2) VR, w JoinWindows, sj ...StreamJoined[K, V1, V2]) Stream[K, VR] {
	return streamStreamJoin(left, right, joiner, w, true, true, "StreamStreamOuterJoin", sj)
}

// outerJoinEmitInterval is the wall-clock time between two looks for
// closed windows of a left or outer stream-stream join (ms), Kafka
// Streams' internal __emit.interval.ms.kstreams.outer.join.spurious.results.fix__
// default.
const outerJoinEmitInterval = 1000

func streamStreamJoin[K, V1, V2, VR any](left Stream[K, V1], right Stream[K, V2], joiner func(K, V1, V2) VR, w JoinWindows, leftOuter, rightOuter bool, op string, sjs []StreamJoined[K, V1, V2]) Stream[K, VR] {
	b := left.b
	sj := first(sjs)
	if len(sjs) > 1 {
		b.t.g.Problem(fmt.Errorf("%s %s: more than one StreamJoined given", op, after(left.node)))
	}
	if !b.checkSame(op, left.node, right.b, right.node) {
		return Stream[K, VR]{b: b, node: left.node}
	}
	if err := w.Validate(); err != nil {
		b.t.g.Problem(fmt.Errorf("%s %s: %w", op, after(left.node), err))
	}
	name := string(sj.Name)
	// As Kafka Streams, null keys go through the repartition of a left or
	// outer join, which joins them.
	keepNull := leftOuter || rightOuter
	if left.keyChanged {
		left = left.repartition(Repartitioned[K, V1]{Name: joinRepartitionName(name, "-left", left.node), Key: sj.Key, Value: sj.Value}, op, "StreamJoined", left.node, keepNull)
	}
	if right.keyChanged {
		right = right.repartition(Repartitioned[K, V2]{Name: joinRepartitionName(name, "-right", right.node), Key: sj.Key, Value: sj.OtherValue}, op, "StreamJoined", right.node, keepNull)
	}
	b.t.g.Copartition(left.node, right.node)

	thisSuffix, otherSuffix := "-this-join", "-other-join"
	thisPrefix, otherPrefix := "KSTREAM-JOINTHIS", "KSTREAM-JOINOTHER"
	if rightOuter {
		thisSuffix, thisPrefix = "-outer-this-join", "KSTREAM-OUTERTHIS"
	}
	if leftOuter {
		otherSuffix, otherPrefix = "-outer-other-join", "KSTREAM-OUTEROTHER"
	}
	// As Kafka Streams, a generated name is drawn even for a named join.
	named := func(suffix, prefix string) string {
		gen := b.t.g.NextName(prefix)
		if name != "" {
			return name + suffix
		}
		return gen
	}
	thisWindowed := named("-this-windowed", "KSTREAM-WINDOWED")
	otherWindowed := named("-other-windowed", "KSTREAM-WINDOWED")
	thisGen, otherGen := b.t.g.NextName(thisPrefix), b.t.g.NextName(otherPrefix)
	thisJoin, otherJoin := thisGen, otherGen
	if name != "" {
		thisJoin, otherJoin = name+thisSuffix, name+otherSuffix
	}
	merge := named("-merge", "KSTREAM-MERGE")
	b.checkFn(op, thisJoin, left.node, "joiner", joiner)

	thisStore, otherStore := thisGen+"-store", otherGen+"-store"
	if sj.StoreName != "" {
		thisStore, otherStore = sj.StoreName+thisSuffix+"-store", sj.StoreName+otherSuffix+"-store"
	}
	where := fmt.Sprintf("%s %s", op, after(left.node))
	k := pickSerde(b, where, "StreamJoined", "key", sj.Key, left.key)
	v1 := pickSerde(b, where, "StreamJoined", "value", sj.Value, left.value)
	v2 := pickSerde(b, where+" (other value)", "StreamJoined", "value", sj.OtherValue, right.value)

	size, grace := w.Size(), w.grace
	if w.Validate() == nil {
		addJoinWindowStore(b, sj.InMemory, sj.DisableLogging, sj.ChangelogConfigs, thisStore, size, grace, k, v1)
		addJoinWindowStore(b, sj.InMemory, sj.DisableLogging, sj.ChangelogConfigs, otherStore, size, grace, k, v2)
	}
	outerStore := ""
	if leftOuter {
		suffix := "-left-shared-join"
		if rightOuter {
			suffix = "-outer-shared-join"
		}
		if sj.StoreName != "" {
			outerStore = sj.StoreName + suffix + "-store"
		} else {
			outerStore = "KSTREAM-OUTERSHARED-" + thisGen[len(thisPrefix)+1:] + "-store"
		}
		b.t.g.AddStore(&runtime.StoreSpec{
			Name: outerStore, Persistent: !sj.InMemory, Logged: !sj.DisableLogging, ChangelogConfigs: sj.ChangelogConfigs,
			Typed: func(s state.BytesStore, topic string) any { return &outerJoinStore{BytesStore: s, topic: topic} },
		})
	}

	addJoinWindowNode[K, V1](b, thisWindowed, thisStore, k, left.node)
	addJoinWindowNode[K, V2](b, otherWindowed, otherStore, k, right.node)

	trackers := &joinTimeTrackers{byTask: map[processor.TaskID]*joinTimeTracker{}}
	spec := ssJoinSpec[K, V1, V2, VR]{
		key: k, v1: v1, v2: v2, joiner: joiner, outerStore: outerStore, trackers: trackers,
		windowBefore: w.before.Milliseconds(), windowAfter: w.after.Milliseconds(), grace: grace.Milliseconds(),
	}
	isNull1, isNull2 := nilCheck[V1](), nilCheck[V2]()
	AddProcessor(b.t, thisJoin, func() processor.Processor[K, V1, K, VR] {
		return &ssJoinSide[K, V1, V2, V1, V2, VR]{
			ssJoinSpec: spec, left: true, outer: leftOuter, otherStore: otherStore, isNull: isNull1,
			joinBefore: spec.windowBefore, joinAfter: spec.windowAfter, this: v1,
			join: joiner,
		}
	}, thisWindowed)
	AddProcessor(b.t, otherJoin, func() processor.Processor[K, V2, K, VR] {
		return &ssJoinSide[K, V2, V1, V1, V2, VR]{
			ssJoinSpec: spec, left: false, outer: rightOuter, otherStore: thisStore, isNull: isNull2,
			joinBefore: spec.windowAfter, joinAfter: spec.windowBefore, this: v2,
			join: func(k K, v V2, o V1) VR { return joiner(k, o, v) },
		}
	}, otherWindowed)
	b.t.g.Connect(otherStore, thisJoin)
	b.t.g.Connect(thisStore, otherJoin)
	if outerStore != "" {
		b.t.g.Connect(outerStore, thisJoin)
		b.t.g.Connect(outerStore, otherJoin)
	}
	addFn(b, merge, func(ctx processor.Context[K, VR], r processor.Record[K, VR]) error {
		ctx.Forward(r)
		return nil
	}, thisJoin, otherJoin)
	return Stream[K, VR]{b: b, node: merge, key: k}
}

// joinRepartitionName returns the name of the repartition topic of one
// side of a stream-stream join, as Kafka Streams names it: "<name><suffix>"
// for a named join, else the node before the repartition (whose name then
// makes the topic's, "<node>-repartition").
func joinRepartitionName(name, suffix, node string) Named {
	if name != "" {
		return Named(name + suffix)
	}
	return Named(node)
}

// addJoinWindowStore adds one side's window store of a stream-stream join:
// retention the window size plus grace, duplicates retained, a changelog
// with cleanup.policy=delete as Kafka Streams configures it.
func addJoinWindowStore[K, V any](b *Builder, inMemory, noLogging bool, user map[string]string, name string, size, grace time.Duration, k serde.Serde[K], v serde.Serde[V]) {
	configs := map[string]string{"cleanup.policy": "delete"}
	for key, value := range user {
		configs[key] = value
	}
	retention := size + grace
	opts := state.WindowStoreOptions{Retention: retention, WindowSize: size, Grace: grace, RetainDuplicates: true}
	b.t.g.AddStore(&runtime.StoreSpec{
		Name: name, Persistent: !inMemory, Logged: !noLogging,
		ChangelogConfigs: runtime.WindowedChangelogConfigs(retention, configs),
		Open:             runtime.WindowStoreOpen(opts),
		Typed: runtime.WindowStoreTyped(func(s state.WindowBytesStore, topic string) any {
			return state.NewWindowStore(s, k, v, state.SerdeTopic(topic))
		}),
	})
}

// addJoinWindowNode adds the node that puts one side's records into its
// window store after passing them on to the join, Kafka Streams'
// KStreamJoinWindow.
func addJoinWindowNode[K, V any](b *Builder, name, store string, k serde.Serde[K], parent string) {
	AddProcessor(b.t, name, func() processor.Processor[K, V, K, V] {
		return &joinWindowNode[K, V]{store: store, key: k}
	}, parent)
	b.t.g.Connect(store, name)
}

// joinWindowNode is Kafka Streams' KStreamJoinWindowProcessor.
type joinWindowNode[K, V any] struct {
	store string
	key   serde.Serde[K]
	st    state.WindowStore[K, V]
	ctx   processor.Context[K, V]
}

func (p *joinWindowNode[K, V]) Init(ctx processor.Context[K, V]) error {
	st, err := processor.Store[state.WindowStore[K, V]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	return nil
}

func (p *joinWindowNode[K, V]) Process(r processor.Record[K, V]) error {
	p.ctx.Forward(r)
	kb, err := p.key.Serialize("", r.Key)
	if err != nil {
		return fmt.Errorf("serialize join key: %w", err)
	}
	if kb == nil {
		return nil
	}
	// Every record starts a window; the store's retention drops it. A nil
	// value is not kept (duplicates retained).
	return p.st.Put(r.Key, r.Value, r.Timestamp)
}

func (p *joinWindowNode[K, V]) Close() error { return nil }

// joinTimeTracker is the state the two sides of a stream-stream join share
// in one task, Kafka Streams' KStreamImplJoin.TimeTracker: the join's stream
// time over both inputs, the smallest timestamp waiting in the outer store
// (math.MaxInt64: none known), and the wall-clock time of the next look for
// closed windows.
type joinTimeTracker struct {
	streamTime, minTime, nextEmit int64
}

// joinTimeTrackers holds the tracker of each task running the join.
type joinTimeTrackers struct {
	mu     sync.Mutex
	byTask map[processor.TaskID]*joinTimeTracker
}

func (t *joinTimeTrackers) get(id processor.TaskID) *joinTimeTracker {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.byTask[id]
	if tr == nil {
		tr = &joinTimeTracker{streamTime: -1, minTime: math.MaxInt64}
		t.byTask[id] = tr
	}
	return tr
}

func (t *joinTimeTrackers) remove(id processor.TaskID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byTask, id)
}

// outerJoinStore is the store of the records of a left or outer
// stream-stream join waiting for a partner, with Kafka Streams' layout
// (TimestampedKeyAndJoinSide keys over a list-value store): the key is the
// record's timestamp (8 bytes big-endian), its side (1 left, 0 right) and
// its key's bytes, so that iteration goes by timestamp; the value is the
// list of the records' values with that key, timestamp and side, each its
// side byte and value bytes, written as Kafka Streams' ListSerde of byte
// arrays (a strategy byte 1, the count, then each length and bytes, all
// 4-byte big-endian).
type outerJoinStore struct {
	state.BytesStore
	topic string
}

// StoreKind names what processors may ask for, for error messages.
func (s *outerJoinStore) StoreKind() string {
	return "the outer store of a stream-stream join (internal)"
}

// errBadOuterEntry reports an entry of the outer join store that does not
// decode.
var errBadOuterEntry = errors.New("kstreams: malformed entry in the outer store of a stream-stream join")

func outerKey(ts int64, left bool, key []byte) []byte {
	b := make([]byte, 9+len(key))
	binary.BigEndian.PutUint64(b, uint64(ts))
	if left {
		b[8] = 1
	}
	copy(b[9:], key)
	return b
}

// appendOuterValue returns list with one value appended.
func appendOuterValue(list []byte, left bool, value []byte) []byte {
	side := byte(0)
	if left {
		side = 1
	}
	if len(list) < 5 {
		list = []byte{1, 0, 0, 0, 0}
	} else {
		list = append([]byte(nil), list...)
	}
	n := binary.BigEndian.Uint32(list[1:5])
	binary.BigEndian.PutUint32(list[1:5], n+1)
	list = binary.BigEndian.AppendUint32(list, uint32(len(value)+1))
	list = append(list, side)
	return append(list, value...)
}

// outerValues splits a list value into its entries, each a side byte and
// the value bytes.
func outerValues(list []byte) ([][]byte, error) {
	if len(list) < 5 || list[0] != 1 {
		return nil, errBadOuterEntry
	}
	n := binary.BigEndian.Uint32(list[1:5])
	rest := list[5:]
	out := make([][]byte, 0, n)
	for range n {
		if len(rest) < 4 {
			return nil, errBadOuterEntry
		}
		l := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if l < 1 || uint32(len(rest)) < l {
			return nil, errBadOuterEntry
		}
		out = append(out, rest[:l])
		rest = rest[l:]
	}
	return out, nil
}

// ssJoinSpec is what both sides of a stream-stream join share.
type ssJoinSpec[K, V1, V2, VR any] struct {
	key        serde.Serde[K]
	v1         serde.Serde[V1]
	v2         serde.Serde[V2]
	joiner     func(K, V1, V2) VR
	outerStore string
	trackers   *joinTimeTrackers
	// windowBefore, windowAfter and grace are the join windows' (ms).
	windowBefore, windowAfter, grace int64
}

// ssJoinSide is one side of a stream-stream join, Kafka Streams'
// KStreamKStreamJoin processor: VT is this side's value type, VO the other
// side's.
type ssJoinSide[K, VT, VO, V1, V2, VR any] struct {
	ssJoinSpec[K, V1, V2, VR]
	left, outer bool
	otherStore  string
	isNull      func(VT) bool
	// joinBefore and joinAfter bound the other side's timestamps, seen
	// from this side (ms).
	joinBefore, joinAfter int64
	this                  serde.Serde[VT]
	join                  func(K, VT, VO) VR

	ctx     processor.Context[K, VR]
	other   state.WindowStore[K, VO]
	pending *outerJoinStore
	tracker *joinTimeTracker
}

func (p *ssJoinSide[K, VT, VO, V1, V2, VR]) Init(ctx processor.Context[K, VR]) error {
	other, err := processor.Store[state.WindowStore[K, VO]](ctx, p.otherStore)
	if err != nil {
		return err
	}
	if p.outerStore != "" {
		if p.pending, err = processor.Store[*outerJoinStore](ctx, p.outerStore); err != nil {
			return err
		}
	}
	p.ctx, p.other, p.tracker = ctx, other, p.trackers.get(ctx.TaskID())
	return nil
}

func (p *ssJoinSide[K, VT, VO, V1, V2, VR]) Process(r processor.Record[K, VT]) error {
	ts := r.Timestamp
	p.tracker.streamTime = max(p.tracker.streamTime, ts)
	kb, err := p.key.Serialize("", r.Key)
	if err != nil {
		return fmt.Errorf("serialize join key: %w", err)
	}
	nullValue := p.isNull != nil && p.isNull(r.Value)
	if p.outer && kb == nil && !nullValue {
		var zero VO
		p.ctx.Forward(processor.Record[K, VR]{Key: r.Key, Value: p.join(r.Key, r.Value, zero), Timestamp: ts, Headers: r.Headers})
		return nil
	}
	if kb == nil || nullValue {
		dropRecord(p.ctx, "null key or value")
		return nil
	}
	if p.pending != nil && ts == p.tracker.streamTime {
		if err := p.emitClosed(r.Headers); err != nil {
			return err
		}
	}
	from, to := max(0, ts-p.joinBefore), max(0, ts+p.joinAfter)
	it, err := p.other.FetchTimeRange(r.Key, from, to)
	if err != nil {
		return err
	}
	found := false
	for it.Next() {
		found = true
		if p.pending != nil {
			// The other record found a partner: it no longer waits.
			if err := p.unpend(outerKey(it.Timestamp(), !p.left, kb)); err != nil {
				it.Close()
				return err
			}
		}
		p.ctx.Forward(processor.Record[K, VR]{Key: r.Key, Value: p.join(r.Key, r.Value, it.Value()), Timestamp: max(ts, it.Timestamp()), Headers: r.Headers})
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil || found || !p.outer {
		return err
	}
	if to < p.tracker.streamTime {
		// The window closed already: no partner can come.
		var zero VO
		p.ctx.Forward(processor.Record[K, VR]{Key: r.Key, Value: p.join(r.Key, r.Value, zero), Timestamp: ts, Headers: r.Headers})
		return nil
	}
	p.tracker.minTime = min(p.tracker.minTime, ts)
	vb, err := p.this.Serialize(p.pending.topic, r.Value)
	if err != nil {
		return fmt.Errorf("serialize join value: %w", err)
	}
	if vb == nil {
		return nil
	}
	key := outerKey(ts, p.left, kb)
	list, err := p.pending.Get(key)
	if err != nil {
		return err
	}
	return p.pending.Put(key, appendOuterValue(list, p.left, vb))
}

// unpend deletes the waiting records of key, if any (Kafka Streams'
// putIfAbsent of a null on the list-value store: a read, then a delete
// only when there is something).
func (p *ssJoinSide[K, VT, VO, V1, V2, VR]) unpend(key []byte) error {
	v, err := p.pending.Get(key)
	if err != nil || v == nil {
		return err
	}
	_, err = p.pending.Delete(key)
	return err
}

// emitClosed emits the waiting records whose window closed, by ascending
// timestamp (then right before left, then key bytes), and deletes them, as
// Kafka Streams' emitNonJoinedOuterRecords: only when the smallest waiting
// timestamp may be closed, and at most once per emit interval of
// wall-clock time. The additions below wrap around as Java's do when
// nothing is known to wait (minTime math.MaxInt64), which then still looks.
func (p *ssJoinSide[K, VT, VO, V1, V2, VR]) emitClosed(h []processor.Header) error {
	tr := p.tracker
	if tr.minTime+p.joinAfter+p.grace >= tr.streamTime {
		return nil
	}
	now := p.ctx.WallClockTime()
	if now < tr.nextEmit {
		return nil
	}
	tr.nextEmit = now + outerJoinEmitInterval
	tr.minTime = math.MaxInt64
	it, err := p.pending.All()
	if err != nil {
		return err
	}
	var done [][]byte
	leftOpen, rightOpen := false, false
	for it.Next() {
		raw := it.Key()
		if len(raw) < 9 {
			it.Close()
			return errBadOuterEntry
		}
		ts := int64(binary.BigEndian.Uint64(raw))
		isLeft := raw[8] == 1
		tr.minTime = ts
		if leftOpen && rightOpen {
			break
		}
		lookBack := p.windowBefore
		if isLeft {
			lookBack = p.windowAfter
		}
		if tr.minTime+lookBack+p.grace >= tr.streamTime {
			if isLeft {
				leftOpen = true
			} else {
				rightOpen = true
			}
			continue
		}
		values, err := outerValues(it.Value())
		if err == nil {
			err = p.forwardWaiting(raw[9:], ts, values, h)
		}
		if err != nil {
			it.Close()
			return err
		}
		done = append(done, append([]byte(nil), raw...))
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, k := range done {
		if _, err := p.pending.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// forwardWaiting emits the waiting records of key kb at ts, each joined
// with nothing on the other side.
func (p *ssJoinSide[K, VT, VO, V1, V2, VR]) forwardWaiting(kb []byte, ts int64, values [][]byte, h []processor.Header) error {
	topic := p.pending.topic
	k, err := p.key.Deserialize(topic, kb)
	if err != nil {
		return fmt.Errorf("deserialize waiting join key: %w", err)
	}
	for _, v := range values {
		var v1 V1
		var v2 V2
		if v[0] == 1 {
			v1, err = p.v1.Deserialize(topic, v[1:])
		} else {
			v2, err = p.v2.Deserialize(topic, v[1:])
		}
		if err != nil {
			return fmt.Errorf("deserialize waiting join value: %w", err)
		}
		p.ctx.Forward(processor.Record[K, VR]{Key: k, Value: p.joiner(k, v1, v2), Timestamp: ts, Headers: h})
	}
	return nil
}

func (p *ssJoinSide[K, VT, VO, V1, V2, VR]) Close() error {
	if p.ctx != nil {
		p.trackers.remove(p.ctx.TaskID())
	}
	return nil
}

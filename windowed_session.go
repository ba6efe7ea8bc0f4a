package kstreams

import (
	"fmt"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// SessionWindowedStream is a grouped stream windowed by [SessionWindows],
// ready to aggregate per key and session, as Kafka Streams'
// SessionWindowedKStream.
type SessionWindowedStream[K, V any] struct {
	g    GroupedStream[K, V]
	w    SessionWindows
	emit EmitStrategy
}

// Emit returns t forwarding its results as s says. With
// [EmitOnWindowClose] (Java's EmitStrategy.onWindowClose on a session
// aggregation, Kafka Streams 3.3+), no update is forwarded: each session is
// forwarded once, when stream time passes its end plus gap and grace,
// stamped with its end; merged-away sessions are never forwarded. Closed
// sessions are looked for at most once per second of wall-clock time, on
// the next record after that second (after every record in kstreamstest,
// as in Java's TopologyTestDriver), and forwarded by ascending end, then
// start, then key bytes, as Java's time-ordered session store reads them.
func (t SessionWindowedStream[K, V]) Emit(s EmitStrategy) SessionWindowedStream[K, V] {
	t.emit = s
	return t
}

// WindowedBySession windows a grouped stream by session windows, as Java's
// KGroupedStream.windowedBy(SessionWindows). Invalid windows fail the
// topology's build.
func WindowedBySession[K, V any](g GroupedStream[K, V], w SessionWindows) SessionWindowedStream[K, V] {
	if err := w.Validate(); err != nil {
		g.s.b.t.g.Problem(fmt.Errorf("WindowedBySession %s: %w", after(g.from), err))
	}
	return SessionWindowedStream[K, V]{g: g, w: w}
}

// Count counts the records of each session. As Kafka Streams' session
// count, records with a null key are dropped and null values are counted;
// merged sessions add their counts.
func (t SessionWindowedStream[K, V]) Count(m ...WindowedMaterialized[K, int64]) Table[Windowed[K], int64] {
	return SessionAggregate(t, func() int64 { return 0 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, a, b int64) int64 { return a + b }, m...)
}

// Reduce combines the records of each session: the first value starts it,
// each later one is combined with reduce(aggregate, value); when a record
// merges sessions, their values are combined with reduce too, the older
// session's value first.
func (t SessionWindowedStream[K, V]) Reduce(reduce func(agg, v V) V, m ...WindowedMaterialized[K, V]) Table[Windowed[K], V] {
	t.g.s.b.checkFn("Reduce", "", t.g.from, "reducer", reduce)
	mm := first(m)
	if mm.Value == nil {
		mm.Value = t.g.s.value
	}
	// As Java's reduce: the aggregate starts absent, the first value or
	// session's value takes its place, later ones are reduced into it.
	return sessionAggregateStream(t, "KSTREAM-REDUCE", func(_ K, a, b V, hasA, _ bool) V {
		if !hasA {
			return b
		}
		return reduce(a, b)
	}, reduceFold[K](reduce), mm)
}

// SessionAggregate folds the records of each session into an aggregate:
// init starts a session, add folds a value in, and merge combines the
// aggregates of two sessions a record bridges (merge(key, a, b) with a the
// aggregate so far and b the next session's, by ascending end).
//
// As Kafka Streams' KStreamSessionWindowAggregate: a record joins (and
// merges) every session of its key within the inactivity gap of its
// timestamp; each merged-away session is deleted and forwarded as a
// tombstone stamped with its end, then the new session is forwarded
// stamped with its end. A record whose merged session ends before stream
// time minus gap and grace is dropped, logged and counted in
// Metrics.Dropped. Records with a null key are dropped; null values are
// folded in.
func SessionAggregate[K, V, A any](t SessionWindowedStream[K, V], init func() A, add func(K, V, A) A, merge func(K, A, A) A, m ...WindowedMaterialized[K, A]) Table[Windowed[K], A] {
	t.g.s.b.checkFn("SessionAggregate", "", t.g.from, "initializer", init)
	t.g.s.b.checkFn("SessionAggregate", "", t.g.from, "adder", add)
	t.g.s.b.checkFn("SessionAggregate", "", t.g.from, "merger", merge)
	return sessionAggregateStream(t, "KSTREAM-AGGREGATE", func(k K, a, b A, _, _ bool) A { return merge(k, a, b) }, func(k K, v V, agg A, _ bool) A {
		return add(k, v, agg)
	}, first(m), init)
}

// sessionTableStore is the typed store of a session aggregation.
type sessionTableStore[K, V any] struct {
	state.SessionStore[K, V]
	// raw is the bytes store under it, read across keys by emit-on-close.
	raw   state.SessionBytesStore
	key   serde.Serde[K]
	value serde.Serde[V]
	topic string
}

// StoreKind names what processors may ask for, for error messages.
func (s *sessionTableStore[K, V]) StoreKind() string {
	return "state.SessionStore[K, V] (the store of a session aggregation)"
}

// isNull reports whether v is a Kafka null: whether it serializes to nil.
func (s *sessionTableStore[K, V]) isNull(v V) bool {
	b, err := s.value.Serialize(s.topic, v)
	return err == nil && b == nil
}

// sessionMerge combines the aggregate so far (a, present when hasA) with a
// merged session's (b, present when hasB).
type sessionMerge[K, A any] func(k K, a, b A, hasA, hasB bool) A

func sessionAggregateStream[K, V, A any](t SessionWindowedStream[K, V], prefix string, merge sessionMerge[K, A], fold func(K, V, A, bool) A, m WindowedMaterialized[K, A], init ...func() A) Table[Windowed[K], A] {
	b := t.g.s.b
	name, k, v := addSessionStore(b, prefix, t.g.from, t.g.s.key, t.w, m)
	n := b.t.g.NextName(prefix)
	old := alwaysOld()
	w, onClose := t.w, t.emit == EmitOnWindowClose
	start := first(init)
	AddProcessor(b.t, n, func() processor.Processor[K, V, Windowed[K], Change[A]] {
		return &sessionAggregate[K, V, A]{store: name, windows: w, start: start, fold: fold, merge: merge, old: old, observed: -1, onClose: onClose, lastEmit: -1}
	}, t.g.input(name).node)
	b.t.g.Connect(name, n)
	var key serde.Serde[Windowed[K]]
	if k != nil {
		key = serde.SessionWindowed(k)
	}
	return Table[Windowed[K], A]{b: b, node: n, key: key, value: v, store: name, old: old, win: windowEnds[K](t.w.gap + t.w.grace)}
}

// addSessionStore adds the session store of a session aggregation of the
// stream at node from, and returns its name and serdes.
func addSessionStore[K, A any](b *Builder, prefix, from string, streamKey serde.Serde[K], w SessionWindows, m WindowedMaterialized[K, A]) (string, serde.Serde[K], serde.Serde[A]) {
	name := m.Name
	if name == "" {
		name = b.t.g.NextName(prefix + "-STATE-STORE")
	}
	where := fmt.Sprintf("store %q %s", name, after(from))
	k := pickSerde(b, where, "Materialized", "key", m.Key, streamKey)
	v := pickSerde(b, where, "Materialized", "value", m.Value)
	retention := m.Retention
	if retention == 0 {
		retention = w.gap + w.grace
	}
	if retention < w.gap+w.grace {
		b.t.g.Problem(fmt.Errorf("%s: retention %v is shorter than the inactivity gap %v plus grace %v", where, retention, w.gap, w.grace))
	}
	opts := state.SessionStoreOptions{Retention: retention}
	if err := opts.Validate(); err != nil {
		b.t.g.Problem(fmt.Errorf("%s: %w", where, err))
	}
	b.t.g.AddStore(&runtime.StoreSpec{
		Name: name, Persistent: !m.InMemory, Logged: !m.DisableLogging,
		ChangelogConfigs: runtime.WindowedChangelogConfigs(retention, m.ChangelogConfigs),
		Open:             runtime.SessionStoreOpen(opts),
		Typed: runtime.SessionStoreTyped(func(s state.SessionBytesStore, topic string) any {
			return &sessionTableStore[K, A]{SessionStore: state.NewSessionStore(s, k, v, state.SerdeTopic(topic)), raw: s, key: k, value: v, topic: topic}
		}),
	})
	return name, k, v
}

// sessionAggregate is Kafka Streams' KStreamSessionWindowAggregate.
type sessionAggregate[K, V, A any] struct {
	store   string
	windows SessionWindows
	// start starts an aggregate (nil for a reduce, whose first value or
	// merged session starts it); fold folds a value in; merge folds in a
	// merged session's aggregate.
	start func() A
	fold  func(K, V, A, bool) A
	merge sessionMerge[K, A]
	old   *oldValues
	ctx   processor.Context[Windowed[K], Change[A]]
	st    *sessionTableStore[K, A]
	// observed is the largest timestamp seen, -1 before the first record.
	observed int64
	// merged holds the sessions a record merges, reused from one record
	// to the next.
	merged []KeyValue[Windowed[K], A]
	// onClose forwards sessions when they close instead of every update;
	// lastEmit is the close time of the last emission (-1: none) and
	// nextEmit the wall-clock time from which to look again.
	onClose  bool
	lastEmit int64
	nextEmit int64
}

func (p *sessionAggregate[K, V, A]) Init(ctx processor.Context[Windowed[K], Change[A]]) error {
	st, err := processor.Store[*sessionTableStore[K, A]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	if p.onClose {
		p.lastEmit = restoredLastEmit(ctx, p.store)
	}
	return nil
}

func (p *sessionAggregate[K, V, A]) Process(r processor.Record[K, V]) error {
	kb, err := p.st.key.Serialize(p.st.topic, r.Key)
	if err != nil {
		return &state.StoreError{Store: p.store, Op: "put", Err: fmt.Errorf("serialize key: %w", err)}
	}
	if kb == nil {
		dropRecord(p.ctx, "null key")
		return nil
	}
	ts := r.Timestamp
	p.observed = max(p.observed, ts)
	gap, grace := p.windows.gap.Milliseconds(), p.windows.grace.Milliseconds()
	closeTime := p.observed - grace - gap
	var agg A
	found := false
	if p.start != nil {
		agg, found = p.start(), true
	}
	window := Window{Start: ts, End: ts}
	merged := p.merged[:0]
	it, err := p.st.FindSessions(r.Key, ts-gap, ts+gap)
	if err != nil {
		return err
	}
	for it.Next() {
		s := KV(it.Key(), it.Value())
		merged = append(merged, s)
		agg = p.merge(r.Key, agg, s.Value, found, true)
		found = true
		window.Start, window.End = min(window.Start, s.Key.Window.Start), max(window.End, s.Key.Window.End)
	}
	p.merged = merged
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if window.End < closeTime {
		dropRecord(p.ctx, fmt.Sprintf("expired session [%d,%d]: timestamp %d, sessions ending before %d (stream time %d minus gap and grace) are closed, %d ms late",
			window.Start, window.End, ts, closeTime, p.observed, closeTime-window.End))
		return p.emitClosed(closeTime, r.Headers)
	}
	if window != (Window{Start: ts, End: ts}) {
		for _, s := range merged {
			if err := p.st.Remove(s.Key); err != nil {
				return err
			}
			p.forward(s.Key, Change[A]{Old: s.Value, HasOld: true}, r.Headers)
		}
	}
	agg = p.fold(r.Key, r.Value, agg, found)
	key := Windowed[K]{Key: r.Key, Window: window}
	if err := p.st.Put(key, agg); err != nil {
		return err
	}
	p.forward(key, Change[A]{New: agg, HasNew: !p.st.isNull(agg)}, r.Headers)
	return p.emitClosed(closeTime, r.Headers)
}

// forward sends an update stamped with its session's end; old values are
// left out unless asked for.
func (p *sessionAggregate[K, V, A]) forward(k Windowed[K], c Change[A], h []processor.Header) {
	if p.onClose {
		return
	}
	if !p.old.send {
		var zero A
		c.Old, c.HasOld = zero, false
	}
	p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: k, Value: c, Timestamp: k.Window.End, Headers: h})
}

func (p *sessionAggregate[K, V, A]) Close() error { return nil }

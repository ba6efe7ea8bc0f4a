package kstreams

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// WindowedMaterialized configures the window store behind a windowed
// aggregation: the fields of [Materialized] and the store's retention.
type WindowedMaterialized[K, V any] struct {
	Materialized[K, V]
	// Retention is how long a window is kept, counted from its start.
	// Default, and minimum: the window size plus grace, as in Kafka
	// Streams.
	Retention time.Duration
}

// TimeWindowedStream is a grouped stream windowed by [TimeWindows], ready
// to aggregate per key and window, as Kafka Streams' TimeWindowedKStream.
type TimeWindowedStream[K, V any] struct {
	g    GroupedStream[K, V]
	w    TimeWindows
	emit EmitStrategy
	// sliding, when set, windows the stream by sliding windows instead of
	// w (see WindowedBySliding).
	sliding *SlidingWindows
}

// EmitStrategy says when a windowed aggregation forwards its results, as
// Kafka Streams' EmitStrategy.
type EmitStrategy int

const (
	// EmitOnWindowUpdate forwards every update of a window (the default).
	EmitOnWindowUpdate EmitStrategy = iota
	// EmitOnWindowClose forwards each window once, when it closes: when
	// stream time reaches its end plus grace (Java's
	// EmitStrategy.onWindowClose, Kafka Streams 3.3+). As in Kafka
	// Streams, closed windows are looked for at most once per second of
	// wall-clock time, on the next record after that second (after every
	// record in kstreamstest, as in Java's TopologyTestDriver); the closed
	// windows are forwarded by ascending start, then key bytes.
	EmitOnWindowClose
)

// emitInterval is how often (wall-clock ms) an aggregation emitting on
// window close looks for closed windows: Kafka Streams' default of its
// internal emit.interval.ms.kstreams.windowed.aggregation, 1000, unless the
// runtime says otherwise (0 in the test driver, as Java's
// TopologyTestDriver).
func emitInterval(ctx any) int64 {
	if c, ok := ctx.(interface{ EmitInterval() int64 }); ok {
		return c.EmitInterval()
	}
	return 1000
}

// Emit returns t forwarding its results as s says.
func (t TimeWindowedStream[K, V]) Emit(s EmitStrategy) TimeWindowedStream[K, V] {
	t.emit = s
	return t
}

// WindowedBy windows a grouped stream by tumbling or hopping time windows,
// as Java's KGroupedStream.windowedBy. Invalid windows fail the topology's
// build. It is a function, not a method of GroupedStream: Go refuses the
// method, whose result type would nest Windowed keys without end.
func WindowedBy[K, V any](g GroupedStream[K, V], w TimeWindows) TimeWindowedStream[K, V] {
	if err := w.Validate(); err != nil {
		g.s.b.t.g.Problem(fmt.Errorf("WindowedBy %s: %w", after(g.from), err))
	}
	return TimeWindowedStream[K, V]{g: g, w: w}
}

// Count counts the records of each key in each window. As Kafka Streams'
// windowed count, records with a null key are dropped but records with a
// null value are counted. Each count is stamped with the largest timestamp
// of the records it counts.
func (t TimeWindowedStream[K, V]) Count(m ...WindowedMaterialized[K, int64]) Table[Windowed[K], int64] {
	return WindowedAggregate(t, func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 }, m...)
}

// Reduce combines the records of each key in each window: the first value
// starts the window, each later one is combined with reduce(aggregate,
// value).
func (t TimeWindowedStream[K, V]) Reduce(reduce func(agg, v V) V, m ...WindowedMaterialized[K, V]) Table[Windowed[K], V] {
	t.g.s.b.checkFn("Reduce", "", t.g.from, "reducer", reduce)
	mm := first(m)
	if mm.Value == nil {
		mm.Value = t.g.s.value
	}
	return windowAggregateStream(t, "KSTREAM-REDUCE", nil, reduceFold[K](reduce), mm)
}

// WindowedAggregate folds the records of each key in each window into an
// aggregate: init starts a window, add folds a value in. An aggregate that
// serializes to null deletes the window. Each aggregate is stamped with the
// largest timestamp of the records folded into it.
//
// As Kafka Streams' KStreamWindowAggregate, a record goes into every window
// WindowsFor gives for its timestamp, except those already closed: a window
// closes when the largest timestamp this task has seen reaches its end plus
// grace. A record whose windows are all closed is dropped, logged with its
// topic, partition and offset and how late it is, and counted in
// Metrics.Dropped, once per closed window as Java's dropped-records metric.
// Records with a null key are dropped; null values are folded in.
func WindowedAggregate[K, V, A any](t TimeWindowedStream[K, V], init func() A, add func(K, V, A) A, m ...WindowedMaterialized[K, A]) Table[Windowed[K], A] {
	t.g.s.b.checkFn("WindowedAggregate", "", t.g.from, "initializer", init)
	t.g.s.b.checkFn("WindowedAggregate", "", t.g.from, "adder", add)
	return windowAggregateStream(t, "KSTREAM-AGGREGATE", init, func(k K, v V, agg A, _ bool) A {
		return add(k, v, agg)
	}, first(m))
}

// windowTableStore is the typed store of a windowed aggregation: a
// timestamped window store.
type windowTableStore[K, V any] struct {
	state.WindowStore[K, state.ValueAndTimestamp[V]]
	key   serde.Serde[K]
	value serde.Serde[V]
	topic string
}

// isNull reports whether v is a Kafka null: whether it serializes to nil.
func (s *windowTableStore[K, V]) isNull(v V) bool {
	b, err := s.value.Serialize(s.topic, v)
	return err == nil && b == nil
}

// StoreKind names what processors may ask for, for error messages.
func (s *windowTableStore[K, V]) StoreKind() string {
	return "state.WindowStore[K, state.ValueAndTimestamp[V]] (the store of a windowed aggregation)"
}

func windowAggregateStream[K, V, A any](t TimeWindowedStream[K, V], prefix string, init func() A, fold func(K, V, A, bool) A, m WindowedMaterialized[K, A]) Table[Windowed[K], A] {
	if t.sliding != nil {
		return slidingAggregateStream(t, prefix, init, fold, m)
	}
	b := t.g.s.b
	name, k, v, retention := addWindowStore(b, prefix, t.g.from, t.g.s.key, t.w, t.emit, m)
	n := b.t.g.NextName(prefix)
	old := alwaysOld()
	w, emit := t.w, t.emit
	AddProcessor(b.t, n, func() processor.Processor[K, V, Windowed[K], Change[A]] {
		return &windowAggregate[K, V, A]{store: name, windows: w, start: init, fold: fold, old: old, observed: -1, onClose: emit == EmitOnWindowClose, lastEmit: -1, storeTime: -1, retention: retention.Milliseconds()}
	}, t.g.input(name).node)
	b.t.g.Connect(name, n)
	var key serde.Serde[Windowed[K]]
	if k != nil {
		key = serde.TimeWindowed(k, t.w.size)
	}
	return Table[Windowed[K], A]{b: b, node: n, key: key, value: v, store: name, old: old, win: windowEnds[K](t.w.grace)}
}

// addWindowStore adds the timestamped window store of a time-windowed
// aggregation of the stream at node from, and returns its name, serdes and
// retention.
func addWindowStore[K, A any](b *Builder, prefix, from string, streamKey serde.Serde[K], w TimeWindows, emit EmitStrategy, m WindowedMaterialized[K, A]) (string, serde.Serde[K], serde.Serde[A], time.Duration) {
	name := m.Name
	if name == "" {
		name = b.t.g.NextName(prefix + "-STATE-STORE")
	}
	where := fmt.Sprintf("store %q %s", name, after(from))
	k := pickSerde(b, where, "Materialized", "key", m.Key, streamKey)
	v := pickSerde(b, where, "Materialized", "value", m.Value)
	retention := m.Retention
	if retention == 0 {
		retention = w.size + w.grace
	}
	opts := state.WindowStoreOptions{Retention: retention, WindowSize: w.size, Grace: w.grace}
	if emit == EmitOnWindowClose {
		// Java's store for emit-on-close (time first) still reads a window
		// starting exactly Retention before its latest start, which a
		// window store of kstreams, as Java's other window stores, has
		// expired: the store keeps one millisecond more, and emitClosed
		// applies Java's bound.
		opts.Retention += time.Millisecond
	}
	if w.Validate() == nil {
		if err := opts.Validate(); err != nil {
			b.t.g.Problem(fmt.Errorf("%s: %w", where, err))
		}
	}
	b.t.g.AddStore(&runtime.StoreSpec{
		Name: name, Persistent: !m.InMemory, Logged: !m.DisableLogging, Timestamped: true,
		ChangelogConfigs: runtime.WindowedChangelogConfigs(retention, m.ChangelogConfigs),
		Open:             runtime.WindowStoreOpen(opts),
		Typed: runtime.WindowStoreTyped(func(s state.WindowBytesStore, topic string) any {
			return &windowTableStore[K, A]{WindowStore: state.NewWindowStore(s, k, state.TimestampedSerde(v), state.SerdeTopic(topic)), key: k, value: v, topic: topic}
		}),
	})
	return name, k, v, retention
}

// windowAggregate is Kafka Streams' KStreamWindowAggregate for time
// windows.
type windowAggregate[K, V, A any] struct {
	store   string
	windows TimeWindows
	// start starts an aggregate (nil for a reduce, whose first value
	// starts it); fold folds a value into the aggregate.
	start func() A
	fold  func(K, V, A, bool) A
	old   *oldValues
	ctx   processor.Context[Windowed[K], Change[A]]
	st    *windowTableStore[K, A]
	// observed is the largest timestamp seen, -1 before the first record,
	// as Java's observedStreamTime.
	observed int64
	// onClose forwards windows when they close instead of every update;
	// lastEmit is the close time of the last emission (-1: none) and
	// nextEmit the wall-clock time from which to look again.
	onClose  bool
	lastEmit int64
	nextEmit int64
	// storeTime is the latest window start put, the store's stream time,
	// and retention the store's retention (ms): emitClosed reads no window
	// starting before storeTime minus retention, as Java's store.
	storeTime, retention int64
}

func (p *windowAggregate[K, V, A]) Init(ctx processor.Context[Windowed[K], Change[A]]) error {
	st, err := processor.Store[*windowTableStore[K, A]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	if p.onClose {
		p.lastEmit = restoredLastEmit(ctx, p.store)
	}
	return nil
}

func (p *windowAggregate[K, V, A]) Process(r processor.Record[K, V]) error {
	kb, err := p.st.key.Serialize(p.st.topic, r.Key)
	if err != nil {
		return &state.StoreError{Store: p.store, Op: "put", Err: fmt.Errorf("serialize key: %w", err)}
	}
	if kb == nil {
		dropRecord(p.ctx, "null key")
		return nil
	}
	p.observed = max(p.observed, r.Timestamp)
	closeTime := p.observed - p.windows.grace.Milliseconds()
	for _, w := range p.windows.WindowsFor(r.Timestamp) {
		if w.End <= closeTime {
			grace := p.windows.grace.Milliseconds()
			dropRecord(p.ctx, fmt.Sprintf("expired window [%d,%d): timestamp %d, window closed at %d (end plus grace), stream time %d, %d ms late",
				w.Start, w.End, r.Timestamp, w.End+grace, p.observed, p.observed-(w.End+grace)))
			continue
		}
		old, found, err := p.st.Fetch(r.Key, w.Start)
		if err != nil {
			return err
		}
		c := Change[A]{Old: old.Value, HasOld: found}
		ts := r.Timestamp
		if found {
			ts = max(ts, old.Timestamp)
		} else if p.start != nil {
			c.Old, c.HasOld = p.start(), true
		}
		c.New = p.fold(r.Key, r.Value, c.Old, found)
		if err := p.st.Put(r.Key, state.ValueAndTimestamp[A]{Value: c.New, Timestamp: ts}, w.Start); err != nil {
			return err
		}
		p.storeTime = max(p.storeTime, w.Start)
		if !p.old.send {
			var zero A
			c.Old, c.HasOld = zero, false
		}
		c.HasNew = !p.st.isNull(c.New)
		if !p.onClose {
			p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: r.Key, Window: w}, Value: c, Timestamp: ts, Headers: r.Headers})
		}
	}
	if p.onClose {
		return p.emitClosed(closeTime, r.Headers)
	}
	return nil
}

// emitClosed forwards the windows closed since the last emission, as Java's
// maybeForwardFinalResult: at most once per emitInterval of wall-clock
// time, when the close time moved on and a window boundary was passed.
func (p *windowAggregate[K, V, A]) emitClosed(closeTime int64, h []processor.Header) error {
	now := p.ctx.WallClockTime()
	if now < p.nextEmit {
		return nil
	}
	p.nextEmit = now + emitInterval(p.ctx)
	if p.lastEmit != -1 && p.lastEmit >= closeTime {
		return nil
	}
	size := p.windows.size.Milliseconds()
	upper := closeTime - size
	if upper < 0 {
		return nil
	}
	lower := int64(0)
	if p.lastEmit != -1 {
		lower = max(0, p.lastEmit-size) + 1
		if slices.Equal(p.windows.WindowsFor(upper), p.windows.WindowsFor(lower-1)) {
			return nil
		}
	}
	from := max(lower, p.storeTime-p.retention)
	p.lastEmit = closeTime
	keepLastEmit(p.ctx, p.store, closeTime)
	if from > upper {
		return nil
	}
	return forwardClosed(p.ctx, p.st, p.store, from, upper, h)
}

// forwardClosed forwards the windows of st starting in [from, upper],
// closed, by ascending start, then key bytes, as Java's time-ordered window
// store reads them for emit-on-close. Each is stamped with its aggregate's
// timestamp.
func forwardClosed[K, A any](ctx processor.Context[Windowed[K], Change[A]], st *windowTableStore[K, A], store string, from, upper int64, h []processor.Header) error {
	it, err := st.FetchAll(from, upper)
	if err != nil {
		return err
	}
	type closed struct {
		key   Windowed[K]
		kb    []byte
		value state.ValueAndTimestamp[A]
	}
	var out []closed
	for it.Next() {
		kb, err := st.key.Serialize(st.topic, it.Key().Key)
		if err != nil {
			it.Close()
			return &state.StoreError{Store: store, Op: "fetch", Err: fmt.Errorf("serialize key: %w", err)}
		}
		out = append(out, closed{it.Key(), kb, it.Value()})
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	slices.SortStableFunc(out, func(a, b closed) int {
		if c := cmp.Compare(a.key.Window.Start, b.key.Window.Start); c != 0 {
			return c
		}
		return bytes.Compare(a.kb, b.kb)
	})
	for _, c := range out {
		ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: c.key, Value: Change[A]{New: c.value.Value, HasNew: true}, Timestamp: c.value.Timestamp, Headers: h})
	}
	return nil
}

func (p *windowAggregate[K, V, A]) Close() error { return nil }

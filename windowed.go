package kstreams

import (
	"fmt"
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
	g GroupedStream[K, V]
	w TimeWindows
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
	return windowAggregateStream(t, "KSTREAM-REDUCE", nil, func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return reduce(agg, v)
	}, mm)
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
	b := t.g.s.b
	name := m.Name
	if name == "" {
		name = b.t.g.NextName(prefix + "-STATE-STORE")
	}
	where := fmt.Sprintf("store %q %s", name, after(t.g.from))
	k := pickSerde(b, where, "Materialized", "key", m.Key, t.g.s.key)
	v := pickSerde(b, where, "Materialized", "value", m.Value)
	retention := m.Retention
	if retention == 0 {
		retention = t.w.size + t.w.grace
	}
	opts := state.WindowStoreOptions{Retention: retention, WindowSize: t.w.size, Grace: t.w.grace}
	if t.w.Validate() == nil {
		if err := opts.Validate(); err != nil {
			b.t.g.Problem(fmt.Errorf("%s: %w", where, err))
		}
	}
	b.t.g.AddStore(&runtime.StoreSpec{
		Name: name, Persistent: !m.InMemory, Logged: !m.DisableLogging, Timestamped: true,
		ChangelogConfigs: runtime.WindowedChangelogConfigs(retention, m.ChangelogConfigs),
		Open:             runtime.WindowStoreOpen(opts),
		Typed: runtime.WindowStoreTyped(func(s state.WindowBytesStore) any {
			return &windowTableStore[K, A]{WindowStore: state.NewWindowStore(s, k, state.TimestampedSerde(v)), key: k, value: v, topic: name + "-changelog"}
		}),
	})
	n := b.t.g.NextName(prefix)
	old := alwaysOld()
	w := t.w
	AddProcessor(b.t, n, func() processor.Processor[K, V, Windowed[K], Change[A]] {
		return &windowAggregate[K, V, A]{store: name, windows: w, start: init, fold: fold, old: old, observed: -1}
	}, t.g.s.node)
	b.t.g.Connect(name, n)
	var key serde.Serde[Windowed[K]]
	if k != nil {
		key = serde.TimeWindowed(k, t.w.size)
	}
	return Table[Windowed[K], A]{b: b, node: n, key: key, value: v, store: name, old: old}
}

// windowAggregate is Kafka Streams' KStreamWindowAggregate for time
// windows, emitting every update.
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
}

func (p *windowAggregate[K, V, A]) Init(ctx processor.Context[Windowed[K], Change[A]]) error {
	st, err := processor.Store[*windowTableStore[K, A]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	return nil
}

func (p *windowAggregate[K, V, A]) Process(r processor.Record[K, V]) error {
	kb, err := p.st.key.Serialize(p.st.topic, r.Key)
	if err != nil {
		return &state.StoreError{Store: p.store, Op: "put", Err: fmt.Errorf("serialize key: %w", err)}
	}
	if kb == nil {
		p.drop("null key")
		return nil
	}
	p.observed = max(p.observed, r.Timestamp)
	closeTime := p.observed - p.windows.grace.Milliseconds()
	for _, w := range p.windows.WindowsFor(r.Timestamp) {
		if w.End <= closeTime {
			grace := p.windows.grace.Milliseconds()
			p.drop(fmt.Sprintf("expired window [%d,%d): timestamp %d, window closed at %d (end plus grace), stream time %d, %d ms late",
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
		if !p.old.send {
			var zero A
			c.Old, c.HasOld = zero, false
		}
		c.HasNew = !p.st.isNull(c.New)
		p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: r.Key, Window: w}, Value: c, Timestamp: ts, Headers: r.Headers})
	}
	return nil
}

// drop counts and logs a record the processor skips.
func (p *windowAggregate[K, V, A]) drop(reason string) {
	if d, ok := p.ctx.(interface{ DropRecord(reason string) }); ok {
		d.DropRecord(reason)
	}
}

func (p *windowAggregate[K, V, A]) Close() error { return nil }

package kstreams

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// WindowedBySliding windows a grouped stream by sliding windows, as Java's
// KGroupedStream.windowedBy(SlidingWindows). The result aggregates as time
// windows do ([TimeWindowedStream.Count], [TimeWindowedStream.Reduce],
// [WindowedAggregate], [TimeWindowedStream.Emit]), with sliding windows'
// semantics: every window [Start, End] holds the records of a key whose
// timestamps lie within it, both bounds inclusive, End - Start being the
// time difference, and only windows that a record starts or ends exist.
// Invalid windows fail the topology's build.
//
// As Kafka Streams' KStreamSlidingWindowAggregate, a record at time t
// creates its left window [t-d, t] (holding the records of [t-d, t]) and,
// when a later record lies within d of it, its right window [t+1, t+1+d];
// it creates the right window of the latest earlier record within d when
// missing, and is folded into every existing window that contains it. A
// record earlier than d goes, with every other such record, into the
// window [0, d]. A window closes when the largest timestamp the task has
// seen passes its end plus grace; updates of closed windows, and records
// whose own windows are closed, are dropped, logged and counted in
// Metrics.Dropped. Records with a null key or a null value are dropped.
// Each aggregate is stamped with the largest timestamp of its records.
//
// The window store keeps windows 2 × d + grace by default
// (WindowedMaterialized.Retention, which may not be shorter).
func WindowedBySliding[K, V any](g GroupedStream[K, V], w SlidingWindows) TimeWindowedStream[K, V] {
	if err := w.Validate(); err != nil {
		g.s.b.t.g.Problem(fmt.Errorf("WindowedBySliding %s: %w", after(g.from), err))
	}
	return TimeWindowedStream[K, V]{g: g, sliding: &w}
}

func slidingAggregateStream[K, V, A any](t TimeWindowedStream[K, V], prefix string, init func() A, fold func(K, V, A, bool) A, m WindowedMaterialized[K, A]) Table[Windowed[K], A] {
	b := t.g.s.b
	w := *t.sliding
	name, k, v, retention := addSlidingStore(b, prefix, t.g.from, t.g.s.key, w, t.emit, m)
	n := b.t.g.NextName(prefix)
	old := alwaysOld()
	emit := t.emit
	isNull := nilCheck[V]()
	AddProcessor(b.t, n, func() processor.Processor[K, V, Windowed[K], Change[A]] {
		return &slidingAggregate[K, V, A]{
			store: name, d: w.timeDifference.Milliseconds(), grace: w.grace.Milliseconds(),
			start: init, fold: fold, old: old, isNull: isNull, observed: -1,
			onClose: emit == EmitOnWindowClose, lastEmit: -1, storeTime: -1, retention: retention,
		}
	}, t.g.input(name).node)
	b.t.g.Connect(name, n)
	var key serde.Serde[Windowed[K]]
	if k != nil {
		key = serde.TimeWindowed(k, w.timeDifference)
	}
	return Table[Windowed[K], A]{b: b, node: n, key: key, value: v, store: name, old: old, win: windowEnds[K](w.grace)}
}

// addSlidingStore adds the timestamped window store of a sliding-window
// aggregation of the stream at node from, and returns its name, serdes and
// retention (ms).
func addSlidingStore[K, A any](b *Builder, prefix, from string, streamKey serde.Serde[K], w SlidingWindows, emit EmitStrategy, m WindowedMaterialized[K, A]) (string, serde.Serde[K], serde.Serde[A], int64) {
	name := m.Name
	if name == "" {
		name = b.t.g.NextName(prefix + "-STATE-STORE")
	}
	where := fmt.Sprintf("store %q %s", name, after(from))
	k := pickSerde(b, where, "Materialized", "key", m.Key, streamKey)
	v := pickSerde(b, where, "Materialized", "value", m.Value)
	retention := m.Retention
	if retention == 0 {
		retention = 2*w.timeDifference + w.grace
	}
	if retention < 2*w.timeDifference+w.grace {
		b.t.g.Problem(fmt.Errorf("%s: retention %v is shorter than twice the time difference %v plus grace %v", where, retention, w.timeDifference, w.grace))
	}
	opts := state.WindowStoreOptions{Retention: retention, WindowSize: w.timeDifference, Grace: w.grace}
	if emit == EmitOnWindowClose {
		// As for time windows (windowAggregateStream): one millisecond
		// more, Java's bound applied by the processor.
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
	return name, k, v, retention.Milliseconds()
}

// slidingAgg is an aggregate and its timestamp as read from the store or
// started for a new window; ok is false for Java's null (a reduce's window
// before its first value).
type slidingAgg[A any] struct {
	value A
	ts    int64
	ok    bool
}

// slidingAggregate is Kafka Streams' KStreamSlidingWindowAggregate, which
// reads a key's windows backward when the store can (always, here).
type slidingAggregate[K, V, A any] struct {
	store    string
	d, grace int64
	// start starts an aggregate (nil for a reduce); fold folds a value in.
	start  func() A
	fold   func(K, V, A, bool) A
	old    *oldValues
	isNull func(V) bool
	ctx    processor.Context[Windowed[K], Change[A]]
	st     *windowTableStore[K, A]
	// observed is the largest timestamp seen, -1 before the first record.
	observed int64
	// onClose, lastEmit, nextEmit, storeTime and retention are as in
	// windowAggregate.
	onClose              bool
	lastEmit, nextEmit   int64
	storeTime, retention int64
	// starts holds the window starts a record's read found, reused.
	starts map[int64]bool
}

func (p *slidingAggregate[K, V, A]) Init(ctx processor.Context[Windowed[K], Change[A]]) error {
	st, err := processor.Store[*windowTableStore[K, A]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx, p.starts = st, ctx, map[int64]bool{}
	if p.onClose {
		p.lastEmit = restoredLastEmit(ctx, p.store)
	}
	return nil
}

func (p *slidingAggregate[K, V, A]) Process(r processor.Record[K, V]) error {
	kb, err := p.st.key.Serialize(p.st.topic, r.Key)
	if err != nil {
		return &state.StoreError{Store: p.store, Op: "put", Err: fmt.Errorf("serialize key: %w", err)}
	}
	if kb == nil || (p.isNull != nil && p.isNull(r.Value)) {
		dropRecord(p.ctx, "null key or value")
		return nil
	}
	ts := r.Timestamp
	p.observed = max(p.observed, ts)
	closeTime := p.observed - p.grace
	if ts+p.d < closeTime {
		p.late(ts, ts, ts+p.d, closeTime)
		return nil
	}
	if ts < p.d {
		// As Java, an early record never looks for closed windows.
		return p.processEarly(r, closeTime)
	}
	if err := p.processReverse(r, closeTime); err != nil {
		return err
	}
	if p.onClose {
		return p.emitClosed(closeTime, r.Headers)
	}
	return nil
}

// late drops a record for a closed window [start, end].
func (p *slidingAggregate[K, V, A]) late(ts, start, end, closeTime int64) {
	dropRecord(p.ctx, fmt.Sprintf("expired window [%d,%d]: timestamp %d, windows ending before %d (stream time %d minus grace) are closed, %d ms late",
		start, end, ts, closeTime, p.observed, closeTime-end))
}

// window is the sliding window starting at start.
func (p *slidingAggregate[K, V, A]) window(start int64) Window {
	return Window{Start: start, End: start + p.d}
}

// scan reads the windows of the record's key starting in [from, ts+1],
// backward or forward, calling fn on each until it returns false; it fills
// p.starts with the starts read.
func (p *slidingAggregate[K, V, A]) scan(k K, from, to int64, backward bool, fn func(start int64, agg slidingAgg[A]) (bool, error)) error {
	clear(p.starts)
	var it state.WindowStoreIterator[state.ValueAndTimestamp[A]]
	var err error
	if backward {
		it, err = p.st.BackwardFetchTimeRange(k, from, to)
	} else {
		it, err = p.st.FetchTimeRange(k, from, to)
	}
	if err != nil {
		return err
	}
	more := true
	for more && it.Next() {
		start := it.Timestamp()
		p.starts[start] = true
		v := it.Value()
		more, err = fn(start, slidingAgg[A]{value: v.Value, ts: v.Timestamp, ok: true})
		if err != nil {
			it.Close()
			return err
		}
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// slidingState is what reading a record's windows found: the aggregates
// for its new left and right windows, whether they exist, and the
// timestamp of the latest earlier record (valid when hasPrev).
type slidingState[A any] struct {
	left, right             slidingAgg[A]
	leftExists, rightExists bool
	prev                    int64
	hasPrev                 bool
}

// processReverse reads the key's windows from the latest start down, as
// Java's processReverse: the record's right window (start t+1) exists or
// not, windows containing t are updated, and the first window ending
// before t holds the aggregate for the left window.
func (p *slidingAggregate[K, V, A]) processReverse(r processor.Record[K, V], closeTime int64) error {
	ts := r.Timestamp
	var s slidingState[A]
	done := false
	err := p.scan(r.Key, max(0, ts-2*p.d), ts+1, true, func(start int64, agg slidingAgg[A]) (bool, error) {
		end := start + p.d
		switch {
		case start == ts+1:
			s.rightExists = true
		case end > ts:
			if !s.right.ok {
				s.right = agg
			}
			return true, p.update(r, start, agg, closeTime)
		case end == ts:
			s.leftExists = true
			if err := p.update(r, start, agg, closeTime); err != nil {
				return false, err
			}
			if agg.ts >= ts {
				done = true
				return false, nil
			}
			s.prev, s.hasPrev = agg.ts, true
		default:
			s.left = agg
			s.prev, s.hasPrev = agg.ts, true
			return false, nil
		}
		return true, nil
	})
	if err != nil || done {
		return err
	}
	return p.createWindows(r, closeTime, s)
}

// processEarly handles a record earlier than the time difference, whose
// left window would start before 0: it goes into the window [0, d] with
// every other early record, as Java's processEarly.
func (p *slidingAggregate[K, V, A]) processEarly(r processor.Record[K, V], closeTime int64) error {
	ts := r.Timestamp
	var s slidingState[A]
	var combined slidingAgg[A]
	err := p.scan(r.Key, 0, ts+1, false, func(start int64, agg slidingAgg[A]) (bool, error) {
		switch {
		case start == 0:
			combined = agg
			if agg.ts < ts {
				s.prev, s.hasPrev = agg.ts, true
			}
		case start <= ts:
			s.right = agg
			return true, p.update(r, start, agg, closeTime)
		case start == ts+1:
			s.rightExists = true
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if !s.right.ok && combined.ok && combined.ts > ts {
		s.right = combined
	}
	if !s.rightExists && s.right.ok && s.right.ts > ts {
		if err := p.createRight(r, s.right); err != nil {
			return err
		}
	}
	if s.hasPrev && !p.starts[s.prev+1] {
		if err := p.update(r, s.prev+1, p.initial(ts), closeTime); err != nil {
			return err
		}
	}
	if !combined.ok {
		combined = p.initial(ts)
	}
	return p.update(r, 0, combined, closeTime)
}

// createWindows creates the windows a record needs that do not exist, as
// Java's createWindows: the latest earlier record's right window when the
// record falls into it, the record's left window, and its right window
// when a later record falls into it.
func (p *slidingAggregate[K, V, A]) createWindows(r processor.Record[K, V], closeTime int64, s slidingState[A]) error {
	ts := r.Timestamp
	if s.hasPrev {
		if start := s.prev + 1; !p.starts[start] && start+p.d >= ts {
			if err := p.update(r, start, p.initial(ts), closeTime); err != nil {
				return err
			}
		}
	}
	if !s.leftExists {
		agg := p.initial(ts)
		if s.hasPrev && ts-p.d <= s.prev {
			agg = slidingAgg[A]{value: s.left.value, ts: ts, ok: s.left.ok}
		}
		if err := p.update(r, ts-p.d, agg, closeTime); err != nil {
			return err
		}
	}
	if !s.rightExists && s.right.ok && s.right.ts > ts {
		return p.createRight(r, s.right)
	}
	return nil
}

// initial is a new window's aggregate before the record: the initializer's
// (null for a reduce) stamped with ts.
func (p *slidingAggregate[K, V, A]) initial(ts int64) slidingAgg[A] {
	if p.start == nil {
		return slidingAgg[A]{ts: ts}
	}
	return slidingAgg[A]{value: p.start(), ts: ts, ok: true}
}

// createRight puts the record's right window [t+1, t+1+d] with the
// aggregate of the later records in it, and forwards it.
func (p *slidingAggregate[K, V, A]) createRight(r processor.Record[K, V], agg slidingAgg[A]) error {
	start := r.Timestamp + 1
	if err := p.put(r.Key, agg.value, agg.ts, start); err != nil {
		return err
	}
	p.forward(r, start, slidingAgg[A]{}, agg.value, agg.ts)
	return nil
}

// update folds the record into the window at start, whose aggregate is
// cur, and forwards the result, unless the window is closed: then the
// record is dropped for it.
func (p *slidingAggregate[K, V, A]) update(r processor.Record[K, V], start int64, cur slidingAgg[A], closeTime int64) error {
	end := start + p.d
	if end < closeTime {
		p.late(r.Timestamp, start, end, closeTime)
		return nil
	}
	next := p.fold(r.Key, r.Value, cur.value, cur.ok)
	ts := r.Timestamp
	if cur.ok {
		ts = max(ts, cur.ts)
	}
	if err := p.put(r.Key, next, ts, start); err != nil {
		return err
	}
	p.forward(r, start, cur, next, ts)
	return nil
}

func (p *slidingAggregate[K, V, A]) put(k K, v A, ts, start int64) error {
	if err := p.st.Put(k, state.ValueAndTimestamp[A]{Value: v, Timestamp: ts}, start); err != nil {
		return err
	}
	p.storeTime = max(p.storeTime, start)
	return nil
}

// forward sends a window's update, unless windows are emitted on close.
func (p *slidingAggregate[K, V, A]) forward(r processor.Record[K, V], start int64, old slidingAgg[A], next A, ts int64) {
	if p.onClose {
		return
	}
	c := Change[A]{New: next, HasNew: !p.st.isNull(next)}
	if p.old.send && old.ok {
		c.Old, c.HasOld = old.value, !p.st.isNull(old.value)
	}
	p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: r.Key, Window: p.window(start)}, Value: c, Timestamp: ts, Headers: r.Headers})
}

// emitClosed forwards the windows closed since the last emission, as Java's
// maybeForwardFinalResult for sliding windows: windows starting in
// [last close - d, close - d - 1], both bounds of a window being inclusive,
// at most once per emitInterval of wall-clock time.
func (p *slidingAggregate[K, V, A]) emitClosed(closeTime int64, h []processor.Header) error {
	now := p.ctx.WallClockTime()
	if now < p.nextEmit {
		return nil
	}
	p.nextEmit = now + emitInterval(p.ctx)
	if p.lastEmit != -1 && p.lastEmit >= closeTime {
		return nil
	}
	upper := closeTime - p.d - 1
	if upper < 0 {
		return nil
	}
	lower := int64(0)
	if p.lastEmit != -1 {
		lower = max(0, p.lastEmit-p.d)
	}
	p.lastEmit = closeTime
	keepLastEmit(p.ctx, p.store, closeTime)
	from := max(lower, p.storeTime-p.retention)
	if from > upper {
		return nil
	}
	return forwardClosed(p.ctx, p.st, p.store, from, upper, h)
}

func (p *slidingAggregate[K, V, A]) Close() error { return nil }

package kstreams

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// ErrBufferFull is the error (use errors.Is) with which a suppression whose
// buffer is configured with [BufferConfig.ShutDownWhenFull] stops the
// application when the buffer is over its limit; the error is a
// *[BufferFullError].
var ErrBufferFull = errors.New("kstreams: suppression buffer full")

// BufferFullError says which suppression buffer went over which limit.
type BufferFullError struct {
	// Node is the suppression's node name, Store its buffer store's.
	Node, Store string
	// Records and Bytes are what the buffer held; MaxRecords and MaxBytes
	// its limits (0: none).
	Records, MaxRecords, Bytes, MaxBytes int64
}

func (e *BufferFullError) Error() string {
	return fmt.Sprintf("%v: buffer %q of suppression %q over its limit: %d records (max %s), %d bytes (max %s)",
		ErrBufferFull, e.Store, e.Node, e.Records, limitText(e.MaxRecords), e.Bytes, limitText(e.MaxBytes))
}

func (e *BufferFullError) Unwrap() error { return ErrBufferFull }

func limitText(n int64) string {
	if n == 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}

// BufferFull says what a suppression does when its buffer is over a limit.
type BufferFull int

const (
	// EmitEarlyWhenFull forwards the buffered rows buffered first until the
	// buffer is within its limits again, as Kafka Streams'
	// BufferConfig#emitEarlyWhenFull.
	EmitEarlyWhenFull BufferFull = iota
	// ShutDownWhenFull stops the application with a *[BufferFullError], as
	// Kafka Streams' BufferConfig#shutDownWhenFull.
	ShutDownWhenFull
)

// BufferConfig bounds the buffer of a suppression, as Kafka Streams'
// Suppressed.BufferConfig. A zero limit is no limit: the zero BufferConfig
// is an unbounded buffer, Kafka Streams' BufferConfig.unbounded(). The
// buffer is over its limit when it holds more than MaxRecords rows or more
// than MaxBytes bytes. A row's bytes are counted as Kafka Streams counts
// them: its buffer time (8), the key, the serialized values (the old value
// of the key's first buffered update, and the old and new values of its
// latest) and the record context (timestamp, offset and partition: 20; the
// topic's length; the headers' keys and values).
type BufferConfig struct {
	MaxRecords int64
	MaxBytes   int64
	WhenFull   BufferFull
	// DisableLogging keeps the buffer without a changelog topic, as Kafka
	// Streams' BufferConfig#withLoggingDisabled: the rows it holds when an
	// instance stops or loses the task are lost.
	DisableLogging bool
	// ChangelogConfigs are extra topic configs of the buffer's changelog,
	// as Kafka Streams' BufferConfig#withLoggingEnabled.
	ChangelogConfigs map[string]string
}

// UnboundedBuffer returns an unbounded buffer; it fits [UntilWindowCloses].
func UnboundedBuffer() BufferConfig { return BufferConfig{WhenFull: ShutDownWhenFull} }

// MaxRecords returns a buffer of at most n rows that emits early when full.
func MaxRecords(n int64) BufferConfig { return BufferConfig{MaxRecords: n} }

// MaxBytes returns a buffer of at most n bytes that emits early when full.
func MaxBytes(n int64) BufferConfig { return BufferConfig{MaxBytes: n} }

// WithMaxRecords returns c limited to n rows as well.
func (c BufferConfig) WithMaxRecords(n int64) BufferConfig { c.MaxRecords = n; return c }

// WithMaxBytes returns c limited to n bytes as well.
func (c BufferConfig) WithMaxBytes(n int64) BufferConfig { c.MaxBytes = n; return c }

// ShutDownWhenFull returns c stopping the application when full.
func (c BufferConfig) ShutDownWhenFull() BufferConfig { c.WhenFull = ShutDownWhenFull; return c }

// EmitEarlyWhenFull returns c emitting early when full.
func (c BufferConfig) EmitEarlyWhenFull() BufferConfig { c.WhenFull = EmitEarlyWhenFull; return c }

// WithLoggingDisabled returns c without a changelog.
func (c BufferConfig) WithLoggingDisabled() BufferConfig { c.DisableLogging = true; return c }

// WithLoggingEnabled returns c logged to a changelog with the extra topic
// configs given (nil for none).
func (c BufferConfig) WithLoggingEnabled(configs map[string]string) BufferConfig {
	c.DisableLogging, c.ChangelogConfigs = false, configs
	return c
}

// Suppressed says which updates [Table.Suppress] holds back; make one with
// [UntilWindowCloses] or [UntilTimeLimit].
type Suppressed struct {
	final  bool
	limit  time.Duration
	buffer BufferConfig
}

// UntilWindowCloses holds back every update of a windowed table (the
// result of a windowed aggregation, possibly filtered or mapped) until its
// window closes, when stream time reaches the window's end plus the grace
// period (for session windows: plus the inactivity gap and grace), and then
// forwards the window's final value only: exactly one result per window, as
// Kafka Streams' Suppressed.untilWindowCloses. A window whose final value is
// a delete forwards nothing. The buffer must never emit early: give an
// unbounded buffer (the zero BufferConfig) or one with ShutDownWhenFull.
func UntilWindowCloses(buffer BufferConfig) Suppressed {
	return Suppressed{final: true, buffer: buffer}
}

// UntilTimeLimit holds back the updates of any table's key until stream time
// passes by d the timestamp of the update that first buffered the key, and
// then forwards the key's latest update (deletes included), as Kafka
// Streams' Suppressed.untilTimeLimit: at most one update per key and d.
func UntilTimeLimit(d time.Duration, buffer BufferConfig) Suppressed {
	return Suppressed{limit: d, buffer: buffer}
}

// windowInfo lets a suppression find the window end of the keys of a
// windowed table, and the time after it that its windows close.
type windowInfo struct {
	// close is the time after its end at which a window closes: the grace
	// period (time windows), or the inactivity gap plus grace (sessions).
	close time.Duration
	// end returns the end of the window of a key of the table.
	end func(key any) int64
}

// windowEnds returns the windowInfo of tables keyed by Windowed[K].
func windowEnds[K any](close time.Duration) *windowInfo {
	return &windowInfo{close: close, end: func(k any) int64 { return k.(Windowed[K]).Window.End }}
}

// Suppress holds back updates of t as s says, Kafka Streams'
// KTable#suppress. Stream time is the largest timestamp of the updates the
// suppression has seen. A forwarded update keeps the timestamp and headers
// it arrived with.
//
// The buffer is a state store, as Kafka Streams': named "<name>-store" when
// the suppression is named, else KTABLE-SUPPRESS-STATE-STORE-<n>, kept in
// memory and logged to the changelog topic "<application id>-<store
// name>-changelog" (unless the BufferConfig disables logging), from which a
// restarted or migrated task restores it before processing.
func (t Table[K, V]) Suppress(s Suppressed, name ...Named) Table[K, V] {
	n := t.b.givenOrNext(name, "KTABLE-SUPPRESS")
	storeName := n + "-store"
	if len(name) == 0 || name[0] == "" {
		storeName = t.b.t.g.NextName("KTABLE-SUPPRESS-STATE-STORE")
	}
	where := fmt.Sprintf("Suppress %q %s", n, after(t.node))
	c := s.buffer
	if c.MaxRecords < 0 || c.MaxBytes < 0 {
		t.b.t.g.Problem(fmt.Errorf("%s: negative buffer limit (%d records, %d bytes)", where, c.MaxRecords, c.MaxBytes))
	}
	if s.limit < 0 {
		t.b.t.g.Problem(fmt.Errorf("%s: negative time limit %v", where, s.limit))
	}
	key, value := t.key, t.value
	if key == nil {
		key = serde.Default[K]()
	}
	if value == nil {
		value = serde.Default[V]()
	}
	if key == nil {
		t.b.t.g.Problem(fmt.Errorf("%s: the table has no key serde (the buffer orders, sizes and logs rows by their bytes)", where))
	}
	if value == nil {
		t.b.t.g.Problem(fmt.Errorf("%s: the table has no value serde (the buffer logs values to its changelog): give the upstream table one", where))
	}
	bounded := c.MaxRecords > 0 || c.MaxBytes > 0
	var win *windowInfo
	if s.final {
		win = t.win
		if win == nil {
			t.b.t.g.Problem(fmt.Errorf("%s: UntilWindowCloses needs a windowed table, the result of a windowed aggregation", where))
		}
		if bounded && c.WhenFull == EmitEarlyWhenFull {
			t.b.t.g.Problem(fmt.Errorf("%s: UntilWindowCloses cannot emit early: give an unbounded buffer or ShutDownWhenFull", where))
		}
	}
	// As Kafka Streams', the buffer keeps old values (their bytes count
	// toward MaxBytes): the parent sends them.
	t.old.enableSend(true)
	out := Table[K, V]{b: t.b, node: n, key: t.key, value: t.value, win: t.win}
	out.old = derivedOld(t.old, false)
	final, limit := s.final, s.limit.Milliseconds()
	if win != nil {
		limit = win.close.Milliseconds()
	}
	AddProcessor(t.b.t, n, func() processor.Processor[K, Change[V], K, Change[V]] {
		p := &suppress[K, V]{node: n, store: storeName, cfg: c, final: final, limit: limit, observed: -1,
			key: key, value: value, index: map[string]*buffered{}}
		if win != nil {
			p.end = win.end
		}
		return p
	}, t.node)
	t.b.t.g.AddStore(&runtime.StoreSpec{
		Name: storeName, Logged: !c.DisableLogging, ChangelogConfigs: c.ChangelogConfigs,
		Cached: true, ChangelogHeaders: bufferChangelogHeaders,
		Typed: func(bs state.BytesStore, _ string) any { return bufferStore{bs} },
	})
	t.b.t.g.Connect(storeName, n)
	return out
}

// buffered is where a row of a suppression buffer is: its key's bytes,
// its buffer time and its size. The row itself is in the buffer store.
type buffered struct {
	kb   []byte
	time int64
	size int64
}

// suppress is Kafka Streams' KTableSuppressProcessor over its time-ordered
// buffer: rows ordered by buffer time, then key bytes; a key updated again
// keeps its place and takes the new update. The rows are in the buffer
// store (logged, so restored); the processor keeps their order in memory,
// rebuilt from the store before the first record it processes (after the
// task's restoration).
type suppress[K, V any] struct {
	node     string
	store    string
	cfg      BufferConfig
	final    bool
	limit    int64
	end      func(any) int64
	key      serde.Serde[K]
	value    serde.Serde[V]
	ctx      processor.Context[K, Change[V]]
	buf      bufferStore
	topic    string
	loaded   bool
	observed int64
	rows     []*buffered
	index    map[string]*buffered
	size     int64
	scratch  []byte
}

func (p *suppress[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	p.ctx = ctx
	buf, err := processor.Store[bufferStore](ctx, p.store)
	if err != nil {
		return err
	}
	p.buf = buf
	p.topic = runtime.Topic{Name: p.store + "-changelog", Internal: true}.Resolve(ctx.ApplicationID())
	return nil
}

// load rebuilds the buffer's order from the rows of its store.
func (p *suppress[K, V]) load() error {
	p.loaded = true
	it, err := p.buf.All()
	if err != nil {
		return fmt.Errorf("kstreams: suppress %q: reading buffer store %q: %w", p.node, p.store, err)
	}
	defer it.Close()
	for it.Next() {
		kb := append([]byte{}, it.Key()...)
		r, err := decodeStoredRow(p.store, kb, it.Value())
		if err != nil {
			return err
		}
		b := &buffered{kb: kb, time: r.time, size: r.size(kb)}
		p.rows = append(p.rows, b)
		p.index[string(kb)] = b
		p.size += b.size
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("kstreams: suppress %q: reading buffer store %q: %w", p.node, p.store, err)
	}
	slices.SortFunc(p.rows, compareRows)
	return nil
}

func (p *suppress[K, V]) Process(r processor.Record[K, Change[V]]) error {
	if !p.loaded {
		if err := p.load(); err != nil {
			return err
		}
	}
	p.observed = max(p.observed, r.Timestamp)
	kb, err := p.key.Serialize(p.topic, r.Key)
	if err != nil {
		return fmt.Errorf("kstreams: suppress %q: serialize key: %w", p.node, err)
	}
	if kb == nil {
		if d, ok := p.ctx.(interface{ DropRecord(reason string) }); ok {
			d.DropRecord("null key")
		}
		return nil
	}
	if err := p.put(kb, r); err != nil {
		return err
	}
	p.recordBuffer()
	expiry := p.observed - p.limit
	evicted := false
	for len(p.rows) > 0 && p.rows[0].time <= expiry {
		if err := p.emit(); err != nil {
			return err
		}
		evicted = true
	}
	if evicted {
		p.recordBuffer()
	}
	if !p.full() {
		return nil
	}
	if p.cfg.WhenFull == ShutDownWhenFull {
		return &BufferFullError{Node: p.node, Store: p.store, Records: int64(len(p.rows)), MaxRecords: p.cfg.MaxRecords, Bytes: p.size, MaxBytes: p.cfg.MaxBytes}
	}
	for p.full() {
		if err := p.emit(); err != nil {
			return err
		}
	}
	p.recordBuffer()
	return nil
}

// put buffers the update r of the key whose bytes are kb.
func (p *suppress[K, V]) put(kb []byte, r processor.Record[K, Change[V]]) error {
	row := &bufferRow{timestamp: r.Timestamp, offset: -1, partition: -1, headers: r.Headers}
	if md, ok := p.ctx.RecordMetadata(); ok {
		row.topic, row.partition, row.offset = md.Topic, md.Partition, md.Offset
	}
	var err error
	if r.Value.HasNew {
		if row.new, err = p.value.Serialize(p.topic, r.Value.New); err != nil {
			return fmt.Errorf("kstreams: suppress %q: serialize value: %w", p.node, err)
		}
	}
	if r.Value.HasOld {
		if row.old, err = p.value.Serialize(p.topic, r.Value.Old); err != nil {
			return fmt.Errorf("kstreams: suppress %q: serialize old value: %w", p.node, err)
		}
	}
	b, ok := p.index[string(kb)]
	if ok {
		stored, err := p.buf.Get(kb)
		if err != nil {
			return fmt.Errorf("kstreams: suppress %q: reading buffer store %q: %w", p.node, p.store, err)
		}
		prev, err := decodeStoredRow(p.store, kb, stored)
		if err != nil {
			return err
		}
		row.prior, row.time = prev.prior, b.time
	} else {
		row.time = r.Timestamp
		if p.end != nil {
			row.time = p.end(r.Key)
		}
		row.prior, row.oldIsPrior = row.old, true
	}
	p.scratch = row.encode(p.scratch[:0])
	if err := p.buf.Put(kb, p.scratch); err != nil {
		return fmt.Errorf("kstreams: suppress %q: writing buffer store %q: %w", p.node, p.store, err)
	}
	size := row.size(kb)
	if ok {
		p.size += size - b.size
		b.size = size
		return nil
	}
	b = &buffered{kb: kb, time: row.time, size: size}
	i, _ := slices.BinarySearchFunc(p.rows, b, compareRows)
	p.rows = slices.Insert(p.rows, i, b)
	p.index[string(kb)] = b
	p.size += size
	return nil
}

func compareRows(a, b *buffered) int {
	if c := cmp.Compare(a.time, b.time); c != 0 {
		return c
	}
	return bytes.Compare(a.kb, b.kb)
}

// full reports whether the buffer is over a limit.
func (p *suppress[K, V]) full() bool {
	return (p.cfg.MaxRecords > 0 && int64(len(p.rows)) > p.cfg.MaxRecords) ||
		(p.cfg.MaxBytes > 0 && p.size > p.cfg.MaxBytes)
}

// emit removes the first row of the buffer (a tombstone in its changelog)
// and forwards its update with the timestamp and headers it came with;
// final results forward no delete.
func (p *suppress[K, V]) emit() error {
	b := p.rows[0]
	p.rows[0] = nil
	p.rows = p.rows[1:]
	delete(p.index, string(b.kb))
	p.size -= b.size
	stored, err := p.buf.Delete(b.kb)
	if err != nil {
		return fmt.Errorf("kstreams: suppress %q: writing buffer store %q: %w", p.node, p.store, err)
	}
	row, err := decodeStoredRow(p.store, b.kb, stored)
	if err != nil {
		return err
	}
	if p.final && row.new == nil {
		return nil
	}
	k, err := p.key.Deserialize(p.topic, b.kb)
	if err != nil {
		return fmt.Errorf("kstreams: suppress %q: deserialize buffered key: %w", p.node, err)
	}
	var c Change[V]
	if row.new != nil {
		if c.New, err = p.value.Deserialize(p.topic, row.new); err != nil {
			return fmt.Errorf("kstreams: suppress %q: deserialize buffered value: %w", p.node, err)
		}
		c.HasNew = true
	}
	if row.old != nil {
		if c.Old, err = p.value.Deserialize(p.topic, row.old); err != nil {
			return fmt.Errorf("kstreams: suppress %q: deserialize buffered old value: %w", p.node, err)
		}
		c.HasOld = true
	}
	p.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Value: c, Timestamp: row.timestamp, Headers: row.headers})
	return nil
}

func (p *suppress[K, V]) Close() error { return nil }

package kstreams

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kstreams-go/kstreams/processor"
)

// ErrBufferFull is the error (use errors.Is) with which a suppression whose
// buffer is configured with [BufferConfig.ShutDownWhenFull] stops the
// application when the buffer is over its limit; the error is a
// *[BufferFullError].
var ErrBufferFull = errors.New("kstreams: suppression buffer full")

// BufferFullError says which suppression buffer went over which limit.
type BufferFullError struct {
	// Node is the suppression's node name.
	Node string
	// Records and Bytes are what the buffer held; MaxRecords and MaxBytes
	// its limits (0: none).
	Records, MaxRecords, Bytes, MaxBytes int64
}

func (e *BufferFullError) Error() string {
	return fmt.Sprintf("%v: buffer of %q over its limit: %d records (max %s), %d bytes (max %s)",
		ErrBufferFull, e.Node, e.Records, limitText(e.MaxRecords), e.Bytes, limitText(e.MaxBytes))
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
// than MaxBytes bytes (the key and the serialized new and old values of
// each row, plus a fixed overhead per row for its time and record context;
// close to, but not exactly, Kafka Streams' estimate).
type BufferConfig struct {
	MaxRecords int64
	MaxBytes   int64
	WhenFull   BufferFull
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
// The buffer is kept in memory only: unlike Kafka Streams', it has no
// changelog topic yet, so the rows it holds when an instance stops are lost
// (issue 10 item 5).
func (t Table[K, V]) Suppress(s Suppressed, name ...Named) Table[K, V] {
	n := t.b.name(name, "KTABLE-SUPPRESS")
	where := fmt.Sprintf("Suppress %q %s", n, after(t.node))
	c := s.buffer
	if c.MaxRecords < 0 || c.MaxBytes < 0 {
		t.b.t.g.Problem(fmt.Errorf("%s: negative buffer limit (%d records, %d bytes)", where, c.MaxRecords, c.MaxBytes))
	}
	if s.limit < 0 {
		t.b.t.g.Problem(fmt.Errorf("%s: negative time limit %v", where, s.limit))
	}
	if t.key == nil {
		t.b.t.g.Problem(fmt.Errorf("%s: the table has no key serde (the buffer orders and sizes rows by their bytes)", where))
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
	out := Table[K, V]{b: t.b, node: n, key: t.key, value: t.value, win: t.win}
	out.old = derivedOld(t.old, false)
	key, value, final, limit := t.key, t.value, s.final, s.limit.Milliseconds()
	if win != nil {
		limit = win.close.Milliseconds()
	}
	AddProcessor(t.b.t, n, func() processor.Processor[K, Change[V], K, Change[V]] {
		p := &suppress[K, V]{node: n, cfg: c, final: final, limit: limit, observed: -1, index: map[string]*buffered[K, V]{}}
		p.keyBytes = func(k K) ([]byte, error) { return key.Serialize(n+"-store-changelog", k) }
		p.valueBytes = func(v V) int {
			if value == nil {
				return 0
			}
			b, _ := value.Serialize(n+"-store-changelog", v)
			return len(b)
		}
		if win != nil {
			p.end = win.end
		}
		return p
	}, t.node)
	return out
}

// rowOverhead is what a buffered row costs beyond its key and values: its
// time (8 bytes) and the timestamp, offset and partition of its record
// context (20 bytes), as Kafka Streams counts them.
const rowOverhead = 28

// buffered is one row of a suppression buffer: the key's latest update and
// the time it was first buffered at.
type buffered[K, V any] struct {
	kb   []byte
	time int64
	rec  processor.Record[K, Change[V]]
	size int64
}

// suppress is Kafka Streams' KTableSuppressProcessor over its in-memory
// time-ordered buffer: rows ordered by buffer time, then key bytes; a key
// updated again keeps its place and takes the new update.
type suppress[K, V any] struct {
	node       string
	cfg        BufferConfig
	final      bool
	limit      int64
	end        func(any) int64
	keyBytes   func(K) ([]byte, error)
	valueBytes func(V) int
	ctx        processor.Context[K, Change[V]]
	observed   int64
	rows       []*buffered[K, V]
	index      map[string]*buffered[K, V]
	size       int64
}

func (p *suppress[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	p.ctx = ctx
	return nil
}

func (p *suppress[K, V]) Process(r processor.Record[K, Change[V]]) error {
	p.observed = max(p.observed, r.Timestamp)
	kb, err := p.keyBytes(r.Key)
	if err != nil {
		return fmt.Errorf("kstreams: suppress %q: serialize key: %w", p.node, err)
	}
	if kb == nil {
		if d, ok := p.ctx.(interface{ DropRecord(reason string) }); ok {
			d.DropRecord("null key")
		}
		return nil
	}
	t := r.Timestamp
	if p.end != nil {
		t = p.end(r.Key)
	}
	size := int64(len(kb) + rowOverhead)
	if r.Value.HasNew {
		size += int64(p.valueBytes(r.Value.New))
	}
	if r.Value.HasOld {
		size += int64(p.valueBytes(r.Value.Old))
	}
	if b, ok := p.index[string(kb)]; ok {
		p.size += size - b.size
		b.rec, b.size = r, size
	} else {
		b := &buffered[K, V]{kb: kb, time: t, rec: r, size: size}
		i, _ := slices.BinarySearchFunc(p.rows, b, compareRows[K, V])
		p.rows = slices.Insert(p.rows, i, b)
		p.index[string(kb)] = b
		p.size += size
	}
	expiry := p.observed - p.limit
	for len(p.rows) > 0 && p.rows[0].time <= expiry {
		p.emit()
	}
	if !p.full() {
		return nil
	}
	if p.cfg.WhenFull == ShutDownWhenFull {
		return &BufferFullError{Node: p.node, Records: int64(len(p.rows)), MaxRecords: p.cfg.MaxRecords, Bytes: p.size, MaxBytes: p.cfg.MaxBytes}
	}
	for p.full() {
		p.emit()
	}
	return nil
}

func compareRows[K, V any](a, b *buffered[K, V]) int {
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

// emit removes the first row of the buffer and forwards its update; final
// results forward no delete.
func (p *suppress[K, V]) emit() {
	b := p.rows[0]
	p.rows[0] = nil
	p.rows = p.rows[1:]
	delete(p.index, string(b.kb))
	p.size -= b.size
	if p.final && !b.rec.Value.HasNew {
		return
	}
	p.ctx.Forward(b.rec)
}

func (p *suppress[K, V]) Close() error { return nil }

package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// WindowStoreOptions configures a window store: how long it keeps windows
// and how it cuts time into segments. Durations are whole milliseconds.
type WindowStoreOptions struct {
	// Retention is how long a window is kept, counted from its start
	// against stream time (the latest window start put): a window is
	// dropped once stream time passes its start plus Retention, a whole
	// segment at a time. Required: at least WindowSize plus Grace, as
	// Kafka Streams requires of windowed aggregations (Materialized's
	// retention).
	Retention time.Duration

	// WindowSize is the size of the windows the store holds, used to give
	// each entry its window end. Allowed: not negative (a join window may
	// be empty).
	WindowSize time.Duration

	// Grace is the grace period of the windows: how long after its end a
	// window still takes updates. It only enters the check of Retention.
	// Default: 0.
	Grace time.Duration

	// SegmentInterval is the span of time of one segment. Default:
	// max(Retention/2, 1 minute), as Kafka Streams computes it, so that a
	// store keeps about three segments. Allowed: at least 1 ms.
	SegmentInterval time.Duration

	// RetainDuplicates keeps every value put for the same key and window,
	// as the window stores of stream-stream joins do, instead of the
	// latest one; a nil value is then ignored instead of deleting. Default:
	// false. This corresponds to Java's retainDuplicates.
	RetainDuplicates bool
}

// Validate reports, in one error wrapping [ErrInvalidOptions], every
// problem of o, after its defaults; opening a store checks the same.
func (o WindowStoreOptions) Validate() error { return o.validate() }

// validate applies the default segment interval and reports every problem
// in one error wrapping [ErrInvalidOptions].
func (o *WindowStoreOptions) validate() error {
	if o.SegmentInterval == 0 {
		o.SegmentInterval = defaultSegmentInterval(o.Retention)
	}
	var p []string
	p = checkDurations(p, map[string]time.Duration{
		"Retention": o.Retention, "WindowSize": o.WindowSize, "Grace": o.Grace,
	})
	if o.Retention < o.WindowSize+o.Grace {
		p = append(p, fmt.Sprintf("Retention %v smaller than WindowSize %v plus Grace %v", o.Retention, o.WindowSize, o.Grace))
	}
	p = checkInterval(p, o.SegmentInterval)
	return optionsError(p)
}

// defaultSegmentInterval returns Kafka Streams' segment interval for a
// retention: max(retention/2, 60 s).
func defaultSegmentInterval(retention time.Duration) time.Duration {
	return max(time.Duration(retention.Milliseconds()/2)*time.Millisecond, time.Minute)
}

// checkDurations adds to p the durations that are negative or not whole
// milliseconds, in name order.
func checkDurations(p []string, durations map[string]time.Duration) []string {
	for _, name := range []string{"HistoryRetention", "Retention", "WindowSize", "Grace"} {
		d, ok := durations[name]
		switch {
		case !ok:
		case d < 0:
			p = append(p, fmt.Sprintf("%s %v negative", name, d))
		case d%time.Millisecond != 0:
			p = append(p, fmt.Sprintf("%s %v not a whole number of milliseconds", name, d))
		}
	}
	return p
}

// checkInterval adds to p a segment interval below 1 ms or not whole.
func checkInterval(p []string, d time.Duration) []string {
	if d < time.Millisecond || d%time.Millisecond != 0 {
		p = append(p, fmt.Sprintf("SegmentInterval %v not a positive whole number of milliseconds", d))
	}
	return p
}

func optionsError(p []string) error {
	if p == nil {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(p, "; "))
}

// WindowBytesStore is a store of values by key and window start, as Kafka
// Streams' WindowStore<Bytes, byte[]>: the bottom layer of windowed
// aggregations and stream-stream joins. Times are milliseconds.
//
// Entries are kept in segments of time (see [WindowStoreOptions]), each
// ordered by key bytes then window start; reads visit the segments in time
// order (reverse time order for the Backward reads), so a fetch of one key
// returns its windows by start, and a fetch of several keys returns them by
// key then start within each segment, as Kafka Streams' RocksDB window
// store (keys are not delimited from the times, so the windows of a key and
// of a longer key it is a prefix of may interleave). Reads skip windows out of retention (start at or before stream
// time minus retention) even before their segment is dropped.
//
// A put for a window already out of retention is dropped (Java counts it
// in its dropped-records metric: see ExpiredPuts). The store is safe for
// concurrent use; iterators are not.
type WindowBytesStore interface {
	// Name returns the store's name.
	Name() string
	// Put sets the value of key in the window starting at windowStart; a
	// nil value deletes it (and is ignored with RetainDuplicates). A
	// negative windowStart is refused with [ErrInvalidWindow].
	Put(key []byte, windowStart int64, value []byte) error
	// Fetch returns the value of key in the window starting at
	// windowStart, nil if absent. With RetainDuplicates it returns the
	// first value put there.
	Fetch(key []byte, windowStart int64) ([]byte, error)
	// FetchTimeRange iterates over the windows of key starting from from
	// to to, both inclusive, by ascending start.
	FetchTimeRange(key []byte, from, to int64) (WindowIterator, error)
	// BackwardFetchTimeRange is FetchTimeRange by descending start.
	BackwardFetchTimeRange(key []byte, from, to int64) (WindowIterator, error)
	// FetchKeyRange iterates over the windows of the keys from keyFrom to
	// keyTo (inclusive; nil is unbounded) starting from from to to.
	FetchKeyRange(keyFrom, keyTo []byte, from, to int64) (WindowIterator, error)
	// BackwardFetchKeyRange is FetchKeyRange in reverse order.
	BackwardFetchKeyRange(keyFrom, keyTo []byte, from, to int64) (WindowIterator, error)
	// FetchAll iterates over the windows of every key starting from from to
	// to.
	FetchAll(from, to int64) (WindowIterator, error)
	// BackwardFetchAll is FetchAll in reverse order.
	BackwardFetchAll(from, to int64) (WindowIterator, error)
	// All iterates over every window in retention.
	All() (WindowIterator, error)
	// BackwardAll is All in reverse order.
	BackwardAll() (WindowIterator, error)
	// Restore writes changelog records: keys laid out as [WindowStoreKey]
	// makes them, nil values deleting. Restoration uses it.
	Restore(keys, values [][]byte) error
	// ExpiredPuts returns the number of puts dropped because their window
	// was out of retention.
	ExpiredPuts() int64
	// Flush makes every write durable, for stores that persist.
	Flush() error
	// Close releases the store; it does not flush.
	Close() error
}

// NewMemoryWindowStore returns an empty in-memory [WindowBytesStore], as
// Kafka Streams' in-memory window store, with segments held in memory
// stores.
func NewMemoryWindowStore(name string, opts WindowStoreOptions) (WindowBytesStore, error) {
	return newWindowStore(name, opts, memoryBackend{})
}

// OpenPebbleWindowStore opens, creating it if needed, a persistent
// [WindowBytesStore] in directory dir: one pebble database per segment, in
// a subdirectory named after the store and the segment's first
// millisecond ("name.1700000000000"), as Kafka Streams' RocksDB window
// store. dir is created at once, segments as time reaches them. Dropping a segment deletes its directory. Segments found in dir
// are opened. pebbleOpts configures each segment's database; see
// [OpenPebbleStore].
func OpenPebbleWindowStore(name, dir string, opts WindowStoreOptions, pebbleOpts *PebbleOptions) (WindowBytesStore, error) {
	if err := mkdirStore(name, dir); err != nil {
		return nil, err
	}
	return newWindowStore(name, opts, pebbleBackend{dir: dir, opts: pebbleOpts})
}

// mkdirStore creates the directory of a store, as OpenPebbleStore does,
// so that it exists before the first segment.
func mkdirStore(name, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state: store %q: %w", name, err)
	}
	return nil
}

func newWindowStore(name string, opts WindowStoreOptions, backend segmentBackend) (*windowStore, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("state: window store %q: %w", name, err)
	}
	seg, err := newSegmented(name, opts.Retention.Milliseconds(), opts.SegmentInterval.Milliseconds(), backend)
	if err != nil {
		return nil, err
	}
	return &windowStore{seg: seg, size: opts.WindowSize.Milliseconds(), dups: opts.RetainDuplicates, seqnum: &atomicSeqnum{}}, nil
}

// Window store keys are Kafka Streams' (WindowKeySchema.toStoreKeyBinary),
// which are also the keys of the store's changelog: the key bytes, the
// window start as 8 big-endian bytes, then a sequence number as 4
// big-endian bytes (0, or counting puts with RetainDuplicates).
const (
	seqnumSize       = 4
	windowSuffixSize = timeSize + seqnumSize
	timeSize         = 8
	maxSeqnum        = math.MaxInt32
)

// WindowStoreKey returns the key under which a window store keeps, and
// changelogs, the value of key in the window starting at windowStart,
// with sequence number seqnum: Kafka Streams' layout.
func WindowStoreKey(key []byte, windowStart int64, seqnum int32) []byte {
	b := make([]byte, 0, len(key)+windowSuffixSize)
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, uint64(windowStart))
	return binary.BigEndian.AppendUint32(b, uint32(seqnum))
}

// windowKeyStart returns the window start of a window store key, false
// for a key too short to hold one.
func windowKeyStart(raw []byte) (int64, bool) {
	if len(raw) < windowSuffixSize {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(raw[len(raw)-windowSuffixSize:])), true
}

type windowStore struct {
	seg  *segmented // the store's own segments; see segs
	size int64      // window size in ms
	dups bool

	// writes, when set, takes the puts instead of seg: a layer, such as
	// changelogging, over the BytesStore view of seg (see
	// [WindowStoreWritingTo]).
	writes BytesStore
	// txn, when set, is the transaction layer among writes: reads see its
	// pending writes.
	txn *SegmentedTxn

	// seqnum numbers puts with dups. Puts may come from several
	// goroutines, so it is atomic; the views of one store share it.
	seqnum *atomicSeqnum
}

// segs returns the segments the store reads: its own, or, writing
// through a layer, those under the layer now (the layer may have been
// pointed at a new store, as the runtime does when it wipes a store).
func (s *windowStore) segs() *segmented {
	if s.writes != nil {
		if v, err := findView(s.writes); err == nil {
			return v.seg
		}
	}
	return s.seg
}

// atomicSeqnum is the sequence number of puts with RetainDuplicates: 1, 2,
// ... wrapping to 0 after math.MaxInt32, as Java's.
type atomicSeqnum struct{ v atomic.Int32 }

func (a *atomicSeqnum) next() int32 {
	for {
		old := a.v.Load()
		n := (old + 1) & maxSeqnum
		if a.v.CompareAndSwap(old, n) {
			return n
		}
	}
}

func (s *windowStore) Name() string       { return s.segs().name }
func (s *windowStore) ExpiredPuts() int64 { return s.segs().expired.Load() }
func (s *windowStore) Flush() error       { return s.segs().flush() }
func (s *windowStore) Close() error       { return s.segs().close() }

func (s *windowStore) Put(key []byte, windowStart int64, value []byte) error {
	if key == nil {
		return ErrNullKey
	}
	if windowStart < 0 {
		return fmt.Errorf("state: store %q: window start %d: %w", s.segs().name, windowStart, ErrInvalidWindow)
	}
	var seq int32
	if s.dups {
		if value == nil {
			return nil
		}
		seq = s.seqnum.next()
	}
	raw := WindowStoreKey(key, windowStart, seq)
	if s.writes != nil {
		return s.writes.Put(raw, value)
	}
	return s.segs().put(windowStart, raw, value)
}

func (s *windowStore) Fetch(key []byte, windowStart int64) ([]byte, error) {
	if key == nil {
		return nil, ErrNullKey
	}
	if windowStart < 0 {
		return nil, nil
	}
	if !s.dups {
		return s.get(windowStart, WindowStoreKey(key, windowStart, 0))
	}
	it, err := s.FetchTimeRange(key, windowStart, windowStart)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if it.Next() {
		return it.Value(), nil
	}
	return nil, it.Err()
}

func (s *windowStore) FetchTimeRange(key []byte, from, to int64) (WindowIterator, error) {
	return s.fetchKey(key, from, to, true)
}

func (s *windowStore) BackwardFetchTimeRange(key []byte, from, to int64) (WindowIterator, error) {
	return s.fetchKey(key, from, to, false)
}

// fetchKey reads the windows of one key.
func (s *windowStore) fetchKey(key []byte, from, to int64, forward bool) (WindowIterator, error) {
	if key == nil {
		return nil, ErrNullKey
	}
	return s.fetch(key, key, from, to, forward, func(from, to int64) (lo, hi []byte) {
		return WindowStoreKey(key, from, 0), WindowStoreKey(key, to, maxSeqnum)
	})
}

func (s *windowStore) FetchKeyRange(keyFrom, keyTo []byte, from, to int64) (WindowIterator, error) {
	return s.fetchKeys(keyFrom, keyTo, from, to, true)
}

func (s *windowStore) BackwardFetchKeyRange(keyFrom, keyTo []byte, from, to int64) (WindowIterator, error) {
	return s.fetchKeys(keyFrom, keyTo, from, to, false)
}

func (s *windowStore) FetchAll(from, to int64) (WindowIterator, error) {
	return s.fetchKeys(nil, nil, from, to, true)
}

func (s *windowStore) BackwardFetchAll(from, to int64) (WindowIterator, error) {
	return s.fetchKeys(nil, nil, from, to, false)
}

func (s *windowStore) All() (WindowIterator, error) { return s.FetchAll(0, math.MaxInt64) }

func (s *windowStore) BackwardAll() (WindowIterator, error) {
	return s.BackwardFetchAll(0, math.MaxInt64)
}

// fetchKeys reads the windows of a range of keys.
func (s *windowStore) fetchKeys(keyFrom, keyTo []byte, from, to int64, forward bool) (WindowIterator, error) {
	return s.fetch(keyFrom, keyTo, from, to, forward, func(_, to int64) (lo, hi []byte) {
		suffix := binary.BigEndian.AppendUint64(nil, uint64(to))
		suffix = binary.BigEndian.AppendUint32(suffix, maxSeqnum)
		return clone(keyFrom), upperBound(keyTo, suffix)
	})
}

// fetch reads the windows starting from from to to of the keys from
// keyFrom to keyTo, within the byte bounds that bounds returns for the
// time range actually read.
func (s *windowStore) fetch(keyFrom, keyTo []byte, from, to int64, forward bool, bounds func(from, to int64) (lo, hi []byte)) (WindowIterator, error) {
	if keyFrom != nil && keyTo != nil && bytes.Compare(keyFrom, keyTo) > 0 {
		return emptyWindowIterator{}, nil
	}
	seg := s.segs()
	seg.mu.RLock()
	from = max(from, seg.minLiveTimeLocked(), 0)
	seg.mu.RUnlock()
	if to < from {
		return emptyWindowIterator{}, nil
	}
	lo, hi := bounds(from, to)
	return s.iterate(seg, scan{
		fromTime: from, toTime: to, forward: forward, open: rangeScan(lo, hi, forward),
		decode: func(raw []byte) ([]byte, serde.Window, bool) {
			start, ok := windowKeyStart(raw)
			if !ok || start < from || start > to {
				return nil, serde.Window{}, false
			}
			key := raw[: len(raw)-windowSuffixSize : len(raw)-windowSuffixSize]
			if !inKeyRange(key, keyFrom, keyTo) {
				return nil, serde.Window{}, false
			}
			return key, serde.Window{Start: start, End: windowEnd(start, s.size)}, true
		},
	})
}

// windowEnd returns start+size, capped at math.MaxInt64 as Java does.
func windowEnd(start, size int64) int64 {
	if end := start + size; end >= start {
		return end
	}
	return math.MaxInt64
}

// get reads raw from the segment of time t, through the transaction layer
// if there is one.
func (s *windowStore) get(t int64, raw []byte) ([]byte, error) {
	seg := s.segs()
	if s.txn != nil {
		return s.txn.get(seg, t, raw)
	}
	return seg.get(t, raw)
}

// iterate runs sc over seg, through the transaction layer if there is
// one.
func (s *windowStore) iterate(seg *segmented, sc scan) (WindowIterator, error) {
	if s.txn != nil {
		return s.txn.iterate(seg, sc)
	}
	return seg.iterate(sc)
}

func (s *windowStore) Restore(keys, values [][]byte) error {
	return s.segs().restore(keys, values, windowKeyStart)
}

// inKeyRange reports whether key is within [from, to]; a nil bound is
// unbounded.
func inKeyRange(key, from, to []byte) bool {
	return (from == nil || bytes.Compare(key, from) >= 0) && (to == nil || bytes.Compare(key, to) <= 0)
}

// upperBound returns an inclusive upper bound of the stored keys k+s with
// k <= keyTo and s <= maxSuffix (bytewise, same length), nil for a nil
// keyTo. Because keys are not delimited, a k that is a proper prefix of
// keyTo may sort after keyTo+maxSuffix, so the bound is the largest of
// keyTo[:j]+maxSuffix over every j. Any other k <= keyTo differs from keyTo
// at a byte where it is smaller, so k+s is below keyTo.
func upperBound(keyTo, maxSuffix []byte) []byte {
	if keyTo == nil {
		return nil
	}
	best := len(keyTo)
	for j := len(keyTo) - 1; j >= 0; j-- {
		if compareCandidates(keyTo, maxSuffix, j, best) > 0 {
			best = j
		}
	}
	b := make([]byte, 0, best+len(maxSuffix))
	return append(append(b, keyTo[:best]...), maxSuffix...)
}

// compareCandidates compares keyTo[:i]+suffix with keyTo[:j]+suffix, i < j,
// without building them: both share keyTo[:i], then compare suffix with
// keyTo[i:j]+suffix.
func compareCandidates(keyTo, suffix []byte, i, j int) int {
	a := suffix
	b := keyTo[i:j]
	for n := 0; ; n++ {
		if n == len(b) {
			// b continues with suffix
			return bytes.Compare(a[n:], suffix)
		}
		if n == len(a) {
			return -1
		}
		if a[n] != b[n] {
			return cmpByte(a[n], b[n])
		}
	}
}

func cmpByte(a, b byte) int {
	if a < b {
		return -1
	}
	return 1
}

// emptyWindowIterator is the iterator of a read that matches nothing.
type emptyWindowIterator struct{}

func (emptyWindowIterator) Next() bool           { return false }
func (emptyWindowIterator) Key() []byte          { return nil }
func (emptyWindowIterator) Window() serde.Window { return serde.Window{} }
func (emptyWindowIterator) Value() []byte        { return nil }
func (emptyWindowIterator) Err() error           { return nil }
func (emptyWindowIterator) Close() error         { return nil }

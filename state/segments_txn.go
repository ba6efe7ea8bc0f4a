package state

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/kstreams-go/kstreams/serde"
	"github.com/tidwall/btree"
)

// SegmentedTxn keeps the writes of an open transaction of a window or
// session store apart from the store, as Kafka Streams' transactional
// stores (KIP-892) do: it is a layer over the store's [BytesStore] view
// ([WindowStoreBytes], [SessionStoreBytes]) that takes the puts and
// deletes into memory. The window and session stores made over it (or
// over a layer above it, such as changelogging) by [WindowStoreWritingTo]
// and [SessionStoreWritingTo] read those writes over the store's own
// entries; stores made over the view below it read the store only.
// [SegmentedTxn.Commit] writes them into the store, [SegmentedTxn.Abort]
// drops them. So the store on disk holds only committed writes.
//
// A write still moves the store's stream time at once, so that reads
// through the layer apply retention as the store would, and creates the
// segment it goes to; segments that fall out of retention are dropped by
// Commit, not before. Reads of the view below may so see a retention
// bound a little ahead of the committed entries.
//
// Only one goroutine may use the layer (the store's task); the view below
// stays safe for concurrent readers.
type SegmentedTxn struct {
	view *segmentedBytes
	// pending holds, per segment id, the uncommitted writes by store key;
	// a nil value is a deletion.
	pending map[int64]*btree.Map[string, []byte]
	n       int
}

// NewSegmentedTxn returns a transaction layer over below, the BytesStore
// view of a window or session store of this package.
func NewSegmentedTxn(below BytesStore) (*SegmentedTxn, error) {
	v, ok := below.(*segmentedBytes)
	if !ok {
		return nil, fmt.Errorf("state: a transaction layer needs a window or session store view, not a %T", below)
	}
	return &SegmentedTxn{view: v, pending: map[int64]*btree.Map[string, []byte]{}}, nil
}

// Rebind points the layer at a new view below (a store wiped and opened
// anew), dropping the pending writes.
func (x *SegmentedTxn) Rebind(below BytesStore) error {
	v, ok := below.(*segmentedBytes)
	if !ok {
		return fmt.Errorf("state: a transaction layer needs a window or session store view, not a %T", below)
	}
	x.view = v
	x.Abort()
	return nil
}

// Unwrap returns the view below, for [WindowStoreWritingTo].
func (x *SegmentedTxn) Unwrap() BytesStore { return x.view }

// Pending returns the number of uncommitted writes.
func (x *SegmentedTxn) Pending() int { return x.n }

// Abort drops the uncommitted writes.
func (x *SegmentedTxn) Abort() {
	clear(x.pending)
	x.n = 0
}

// Commit writes the uncommitted writes into their segments, a batch per
// segment, then drops the segments out of retention. A write whose
// segment fell out of retention since is dropped with it.
func (x *SegmentedTxn) Commit() error {
	seg := x.view.seg
	seg.mu.Lock()
	defer seg.mu.Unlock()
	if seg.mu.closed {
		return ErrClosed
	}
	minLive := seg.segmentID(seg.mu.observed - seg.retention)
	ids := make([]int64, 0, len(x.pending))
	for id := range x.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id < minLive {
			continue
		}
		m := x.pending[id]
		var g *segment
		for _, s := range seg.mu.segments {
			if s.id == id {
				g = s
			}
		}
		if g == nil {
			// Only deletions go to a segment that does not exist.
			continue
		}
		keys, values := make([][]byte, 0, m.Len()), make([][]byte, 0, m.Len())
		m.Scan(func(k string, v []byte) bool {
			keys, values = append(keys, []byte(k)), append(values, v)
			return true
		})
		if err := writeAll(g.store, keys, values); err != nil {
			return fmt.Errorf("state: store %q: commit segment %s: %w", seg.name, g.name, err)
		}
	}
	x.Abort()
	return seg.dropExpiredLocked(minLive)
}

// record notes a write of raw at time t: it moves stream time, creates
// the live segment a put goes to, and keeps the write pending. A write to
// an expired segment is dropped and counted, as the store's own.
func (x *SegmentedTxn) record(raw, value []byte) error {
	t, err := x.view.time(raw)
	if err != nil {
		return err
	}
	seg := x.view.seg
	seg.mu.Lock()
	if seg.mu.closed {
		seg.mu.Unlock()
		return ErrClosed
	}
	minLive := seg.advanceLocked(t)
	id := seg.segmentID(t)
	if id < minLive {
		seg.expired.Add(1)
		seg.mu.Unlock()
		return nil
	}
	if value != nil {
		if _, err := seg.segmentLocked(id); err != nil {
			seg.mu.Unlock()
			return err
		}
	}
	seg.mu.Unlock()
	m := x.pending[id]
	if m == nil {
		m = new(btree.Map[string, []byte])
		x.pending[id] = m
	}
	if _, replaced := m.Set(string(raw), clone(value)); !replaced {
		x.n++
	}
	return nil
}

// lookup returns the pending write of raw, if any, in segment id.
func (x *SegmentedTxn) lookup(id int64, raw []byte) (value []byte, ok bool) {
	m := x.pending[id]
	if m == nil {
		return nil, false
	}
	return m.Get(string(raw))
}

func (x *SegmentedTxn) Name() string { return x.view.Name() }

// Get returns the pending value of raw, or else the store's.
func (x *SegmentedTxn) Get(raw []byte) ([]byte, error) {
	t, err := x.view.time(raw)
	if err != nil {
		return nil, err
	}
	return x.get(x.view.seg, t, raw)
}

// get is segmented.get reading the pending writes first.
func (x *SegmentedTxn) get(seg *segmented, t int64, raw []byte) ([]byte, error) {
	seg.mu.RLock()
	live := t >= seg.minLiveTimeLocked()
	seg.mu.RUnlock()
	if !live {
		return nil, nil
	}
	if v, ok := x.lookup(seg.segmentID(t), raw); ok {
		return clone(v), nil
	}
	return seg.get(t, raw)
}

func (x *SegmentedTxn) Put(raw, value []byte) error { return x.record(raw, value) }

func (x *SegmentedTxn) PutIfAbsent(raw, value []byte) ([]byte, error) {
	old, err := x.Get(raw)
	if err != nil || old != nil || value == nil {
		return old, err
	}
	return nil, x.record(raw, value)
}

func (x *SegmentedTxn) Delete(raw []byte) ([]byte, error) {
	old, err := x.Get(raw)
	if err != nil {
		return nil, err
	}
	return old, x.record(raw, nil)
}

func (x *SegmentedTxn) Range(from, to []byte) (Iterator, error) {
	return x.iterateRaw(rangeScan(from, to, true), true)
}

func (x *SegmentedTxn) ReverseRange(from, to []byte) (Iterator, error) {
	return x.iterateRaw(rangeScan(from, to, false), false)
}

func (x *SegmentedTxn) PrefixScan(prefix []byte) (Iterator, error) {
	return x.iterateRaw(func(b BytesStore) (Iterator, error) { return b.PrefixScan(prefix) }, true)
}

func (x *SegmentedTxn) All() (Iterator, error) { return x.Range(nil, nil) }

// iterateRaw is segmentedBytes.iterate over the pending writes too.
func (x *SegmentedTxn) iterateRaw(open func(BytesStore) (Iterator, error), forward bool) (Iterator, error) {
	seg := x.view.seg
	seg.mu.RLock()
	minLive := max(seg.minLiveTimeLocked(), 0)
	seg.mu.RUnlock()
	it, err := x.iterate(seg, scan{
		fromTime: minLive, toTime: 1<<63 - 1, forward: forward, open: open,
		decode: func(raw []byte) ([]byte, serde.Window, bool) {
			t, ok := x.view.timeOf(raw)
			return nil, serde.Window{}, ok && t >= minLive
		},
	})
	if err != nil {
		return nil, err
	}
	return rawIterator{it.(*segmentIterator)}, nil
}

// ApproximateNumEntries counts the store's entries and the pending writes.
func (x *SegmentedTxn) ApproximateNumEntries() (int64, error) {
	n, err := x.view.ApproximateNumEntries()
	return n + int64(x.n), err
}

// Flush writes nothing: pending writes reach the store only with Commit.
func (x *SegmentedTxn) Flush() error { return nil }

// Close drops the pending writes and closes the store.
func (x *SegmentedTxn) Close() error {
	x.Abort()
	return x.view.Close()
}

// iterate is segmented.iterate reading each segment's pending writes over
// its store. The segments out of retention, which the store drops only at
// commit, are left out as if dropped.
func (x *SegmentedTxn) iterate(seg *segmented, sc scan) (WindowIterator, error) {
	seg.mu.RLock()
	minLive := seg.segmentID(seg.mu.observed - seg.retention)
	seg.mu.RUnlock()
	open := sc.open
	sc.open = nil
	sc.openSegment = func(g *segment) (Iterator, error) {
		if g.id < minLive {
			return emptyIterator{}, nil
		}
		m := x.pending[g.id]
		if m == nil || m.Len() == 0 {
			return open(g.store)
		}
		return open(&pendingOver{BytesStore: g.store, pending: m})
	}
	return seg.iterate(sc)
}

// pendingOver is a segment's store with its pending writes over it, for
// the range reads of a scan.
type pendingOver struct {
	BytesStore
	pending *btree.Map[string, []byte]
}

func (p *pendingOver) Range(from, to []byte) (Iterator, error) {
	return p.merged(from, to, "", false, func() (Iterator, error) { return p.BytesStore.Range(from, to) })
}

func (p *pendingOver) ReverseRange(from, to []byte) (Iterator, error) {
	return p.merged(from, to, "", true, func() (Iterator, error) { return p.BytesStore.ReverseRange(from, to) })
}

func (p *pendingOver) PrefixScan(prefix []byte) (Iterator, error) {
	return p.merged(prefix, nil, string(prefix), false, func() (Iterator, error) { return p.BytesStore.PrefixScan(prefix) })
}

func (p *pendingOver) All() (Iterator, error) { return p.Range(nil, nil) }

// merged takes the pending writes from from to to (both inclusive, nil
// unbounded) starting with prefix, then merges them over the iterator
// of the store below: a pending write hides the stored entry of its key,
// and a pending deletion hides the key.
func (p *pendingOver) merged(from, to []byte, prefix string, reverse bool, open func() (Iterator, error)) (Iterator, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return emptyIterator{}, nil
	}
	var keys []string
	var vals [][]byte
	p.pending.Ascend(string(from), func(k string, v []byte) bool {
		if to != nil && k > string(to) || !strings.HasPrefix(k, prefix) {
			return false
		}
		keys, vals = append(keys, k), append(vals, v)
		return true
	})
	if reverse {
		slices.Reverse(keys)
		slices.Reverse(vals)
	}
	below, err := open()
	if err != nil {
		return nil, err
	}
	return &mergeIter{below: below, keys: keys, vals: vals, reverse: reverse}, nil
}

// mergeIter merges sorted pending writes over an iterator of the store
// below.
type mergeIter struct {
	below     Iterator
	belowOK   bool
	belowDone bool
	keys      []string
	vals      [][]byte
	reverse   bool
	key, val  []byte
	err       error
}

func (m *mergeIter) before(a []byte, b string) bool {
	if m.reverse {
		return string(a) > b
	}
	return string(a) < b
}

func (m *mergeIter) Next() bool {
	for m.err == nil {
		if !m.belowOK && !m.belowDone {
			if m.below.Next() {
				m.belowOK = true
			} else {
				m.belowDone = true
				if m.err = m.below.Err(); m.err != nil {
					return false
				}
			}
		}
		switch {
		case len(m.keys) == 0 && !m.belowOK:
			return false
		case len(m.keys) == 0 || m.belowOK && m.before(m.below.Key(), m.keys[0]):
			m.key, m.val, m.belowOK = m.below.Key(), m.below.Value(), false
			return true
		default:
			k, v := m.keys[0], m.vals[0]
			m.keys, m.vals = m.keys[1:], m.vals[1:]
			if m.belowOK && string(m.below.Key()) == k {
				m.belowOK = false
			}
			if v != nil {
				m.key, m.val = []byte(k), v
				return true
			}
		}
	}
	return false
}

func (m *mergeIter) Key() []byte   { return m.key }
func (m *mergeIter) Value() []byte { return m.val }
func (m *mergeIter) Err() error    { return m.err }
func (m *mergeIter) Close() error  { return m.below.Close() }

// emptyIterator iterates over nothing.
type emptyIterator struct{}

func (emptyIterator) Next() bool    { return false }
func (emptyIterator) Key() []byte   { return nil }
func (emptyIterator) Value() []byte { return nil }
func (emptyIterator) Err() error    { return nil }
func (emptyIterator) Close() error  { return nil }

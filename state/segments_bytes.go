package state

import (
	"errors"
	"fmt"
	"math"

	"github.com/kstreams-go/kstreams/serde"
)

// WindowStoreBytes returns the [BytesStore] view of store, a window store
// made by this package: its entries keyed by their store keys
// ([WindowStoreKey]), which are also their changelog keys. Layers written
// for key-value byte stores, such as changelogging and restoration, work on
// this view unchanged: Put and Delete write into the segment of the key's
// window start (moving stream time as the store's own puts do), Get reads
// it, and PutAll restores changelog records as [WindowBytesStore.Restore].
// Range, ReverseRange, PrefixScan and All visit the segments by time
// (ReverseRange by descending time) and skip windows out of retention.
// PutIfAbsent is not atomic with respect to other writers. The view of a
// store of another package is an error.
func WindowStoreBytes(store WindowBytesStore) (BytesStore, error) {
	s, ok := store.(*windowStore)
	if !ok {
		return nil, fmt.Errorf("state: WindowStoreBytes of a %T, not a window store of this package", store)
	}
	return &segmentedBytes{seg: s.seg, timeOf: windowKeyStart, owner: s,
		del: func(t int64, raw []byte) error { return s.seg.put(t, raw, nil) }}, nil
}

// SessionStoreBytes returns the [BytesStore] view of store, a session
// store made by this package, keyed by [SessionStoreKey], as
// [WindowStoreBytes]. Delete removes a session as
// [SessionBytesStore.Remove] does.
func SessionStoreBytes(store SessionBytesStore) (BytesStore, error) {
	s, ok := store.(*sessionStore)
	if !ok {
		return nil, fmt.Errorf("state: SessionStoreBytes of a %T, not a session store of this package", store)
	}
	return &segmentedBytes{seg: s.seg, timeOf: sessionKeyEnd, owner: s, deleteOld: s.seg.remove,
		del: func(t int64, raw []byte) error { _, err := s.seg.remove(t, raw); return err }}, nil
}

// WindowStoreWritingTo returns a window store that reads the store under
// writes and puts through writes: writes is the view made by
// [WindowStoreBytes], or a layer over it (such as changelogging) that
// reaches it through Unwrap() BytesStore methods. Its puts become
// writes.Put(WindowStoreKey(key, windowStart, seqnum), value), so the layer
// sees, and a changelog gets, Kafka Streams' window store keys.
//
// Over a [Partitioned] store it returns a read-only store over its parts.
func WindowStoreWritingTo(writes BytesStore) (WindowBytesStore, error) {
	if p, ok := writes.(Partitioned); ok {
		return compositeWindowStore{p}, nil
	}
	view, txn, err := findViewTxn(writes)
	if err != nil {
		return nil, err
	}
	s, ok := view.owner.(*windowStore)
	if !ok {
		return nil, fmt.Errorf("state: store %q is not a window store", view.seg.name)
	}
	w := *s
	w.writes, w.txn = writes, txn
	return &w, nil
}

// SessionStoreWritingTo returns a session store that reads the store under
// writes and puts and removes through writes, as [WindowStoreWritingTo].
//
// Over a [Partitioned] store it returns a read-only store over its parts.
func SessionStoreWritingTo(writes BytesStore) (SessionBytesStore, error) {
	if p, ok := writes.(Partitioned); ok {
		return compositeSessionStore{p}, nil
	}
	view, txn, err := findViewTxn(writes)
	if err != nil {
		return nil, err
	}
	s, ok := view.owner.(*sessionStore)
	if !ok {
		return nil, fmt.Errorf("state: store %q is not a session store", view.seg.name)
	}
	return &sessionStore{seg: s.seg, writes: writes, txn: txn}, nil
}

// findView unwraps layers down to a segmentedBytes view.
func findView(s BytesStore) (*segmentedBytes, error) {
	v, _, err := findViewTxn(s)
	return v, err
}

// findViewTxn unwraps layers down to a segmentedBytes view, and returns
// the transaction layer met on the way, if any.
func findViewTxn(s BytesStore) (*segmentedBytes, *SegmentedTxn, error) {
	var txn *SegmentedTxn
	for s != nil {
		if v, ok := s.(*segmentedBytes); ok {
			return v, txn, nil
		}
		if x, ok := s.(*SegmentedTxn); ok && txn == nil {
			txn = x
		}
		u, ok := s.(interface{ Unwrap() BytesStore })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return nil, nil, errors.New("state: no window or session store under the given byte store")
}

// segmentedBytes is the BytesStore view of a segmented store.
type segmentedBytes struct {
	seg    *segmented
	timeOf func(raw []byte) (int64, bool)
	del    func(t int64, raw []byte) error
	// deleteOld, if set, deletes and returns the value deleted in one
	// read (Delete otherwise reads, then deletes).
	deleteOld func(t int64, raw []byte) ([]byte, error)
	owner     any // the *windowStore or *sessionStore viewed
}

func (s *segmentedBytes) Name() string { return s.seg.name }

// time returns the time of raw, or ErrInvalidWindow.
func (s *segmentedBytes) time(raw []byte) (int64, error) {
	if raw == nil {
		return 0, ErrNullKey
	}
	t, ok := s.timeOf(raw)
	if !ok || t < 0 {
		return 0, fmt.Errorf("state: store %q: key %q: %w", s.seg.name, raw, ErrInvalidWindow)
	}
	return t, nil
}

func (s *segmentedBytes) Get(raw []byte) ([]byte, error) {
	t, err := s.time(raw)
	if err != nil {
		return nil, err
	}
	return s.seg.get(t, raw)
}

func (s *segmentedBytes) Put(raw, value []byte) error {
	t, err := s.time(raw)
	if err != nil {
		return err
	}
	if value == nil {
		return s.del(t, raw)
	}
	return s.seg.put(t, raw, value)
}

func (s *segmentedBytes) PutIfAbsent(raw, value []byte) ([]byte, error) {
	old, err := s.Get(raw)
	if err != nil || old != nil || value == nil {
		return old, err
	}
	return nil, s.Put(raw, value)
}

func (s *segmentedBytes) Delete(raw []byte) ([]byte, error) {
	if s.deleteOld != nil {
		t, err := s.time(raw)
		if err != nil {
			return nil, err
		}
		return s.deleteOld(t, raw)
	}
	old, err := s.Get(raw)
	if err != nil {
		return nil, err
	}
	t, _ := s.time(raw)
	return old, s.del(t, raw)
}

// PutAll implements [BatchWriter]: it restores changelog records.
func (s *segmentedBytes) PutAll(keys, values [][]byte) error {
	return s.seg.restore(keys, values, s.timeOf)
}

func (s *segmentedBytes) Range(from, to []byte) (Iterator, error) {
	return s.iterate(rangeScan(from, to, true), true)
}

func (s *segmentedBytes) ReverseRange(from, to []byte) (Iterator, error) {
	return s.iterate(rangeScan(from, to, false), false)
}

func (s *segmentedBytes) PrefixScan(prefix []byte) (Iterator, error) {
	return s.iterate(func(b BytesStore) (Iterator, error) { return b.PrefixScan(prefix) }, true)
}

func (s *segmentedBytes) All() (Iterator, error) { return s.Range(nil, nil) }

// iterate reads every live segment with open, skipping entries out of
// retention.
func (s *segmentedBytes) iterate(open func(BytesStore) (Iterator, error), forward bool) (Iterator, error) {
	s.seg.mu.RLock()
	minLive := max(s.seg.minLiveTimeLocked(), 0)
	s.seg.mu.RUnlock()
	it, err := s.seg.iterate(scan{
		fromTime: minLive, toTime: math.MaxInt64, forward: forward, open: open,
		decode: func(raw []byte) ([]byte, serde.Window, bool) {
			t, ok := s.timeOf(raw)
			return nil, serde.Window{}, ok && t >= minLive
		},
	})
	if err != nil {
		return nil, err
	}
	return rawIterator{it.(*segmentIterator)}, nil
}

func (s *segmentedBytes) ApproximateNumEntries() (int64, error) {
	s.seg.mu.RLock()
	defer s.seg.mu.RUnlock()
	if s.seg.mu.closed {
		return 0, ErrClosed
	}
	var n int64
	for _, g := range s.seg.mu.segments {
		m, err := g.store.ApproximateNumEntries()
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

func (s *segmentedBytes) Flush() error { return s.seg.flush() }
func (s *segmentedBytes) Close() error { return s.seg.close() }

// rawIterator is a segmentIterator whose keys are the store keys.
type rawIterator struct{ *segmentIterator }

func (it rawIterator) Key() []byte { return it.raw }

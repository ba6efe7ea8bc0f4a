package state

import (
	"errors"
	"fmt"
	"math"

	"github.com/kstreams-go/kstreams/serde"
)

// ErrReadOnly is returned by the writes of a read-only window or session
// store over several partitions (see [Partitioned]). Use errors.Is.
var ErrReadOnly = errors.New("state: read-only store")

// Partitioned is implemented by a read-only BytesStore over the partitions
// of a store, such as a local query: Parts returns the bottom byte store of
// each partition, in partition order. Over a Partitioned whose parts are
// window (session) store views, [WindowStoreWritingTo]
// ([SessionStoreWritingTo]) returns a read-only store reading them all, as
// Kafka Streams' CompositeReadOnlyWindowStore (SessionStore): a read of one
// key returns the first partition's answer that is not empty (a key lives
// in one partition); a read of several keys returns each partition's
// answer in turn, not merged.
type Partitioned interface {
	BytesStore
	Parts() ([]BytesStore, error)
}

// windowParts returns the window stores of the parts of p.
func windowParts(p Partitioned) ([]WindowBytesStore, error) {
	parts, err := p.Parts()
	if err != nil {
		return nil, err
	}
	out := make([]WindowBytesStore, len(parts))
	for i, part := range parts {
		if out[i], err = WindowStoreWritingTo(part); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// compositeWindowStore is a read-only window store over partitions.
type compositeWindowStore struct{ p Partitioned }

func (s compositeWindowStore) Name() string { return s.p.Name() }

func (s compositeWindowStore) Put([]byte, int64, []byte) error {
	return fmt.Errorf("%w: %q", ErrReadOnly, s.p.Name())
}

func (s compositeWindowStore) Restore(_, _ [][]byte) error {
	return fmt.Errorf("%w: %q", ErrReadOnly, s.p.Name())
}

func (s compositeWindowStore) ExpiredPuts() int64 { return 0 }
func (s compositeWindowStore) Flush() error       { return nil }
func (s compositeWindowStore) Close() error       { return nil }

func (s compositeWindowStore) Fetch(key []byte, windowStart int64) ([]byte, error) {
	parts, err := windowParts(s.p)
	if err != nil {
		return nil, err
	}
	for _, part := range parts {
		if v, err := part.Fetch(key, windowStart); err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}

// concatParts returns the iterator of every part opened by open; firstOnly
// keeps only the first that is not empty.
func concatParts[P any](parts []P, firstOnly bool, open func(P) (WindowIterator, error)) *concatIterator {
	opens := make([]func() (WindowIterator, error), len(parts))
	for i, part := range parts {
		opens[i] = func() (WindowIterator, error) { return open(part) }
	}
	return &concatIterator{opens: opens, firstOnly: firstOnly}
}

// each is concatParts over the window store's parts.
func (s compositeWindowStore) each(firstOnly bool, open func(WindowBytesStore) (WindowIterator, error)) (WindowIterator, error) {
	parts, err := windowParts(s.p)
	if err != nil {
		return nil, err
	}
	return concatParts(parts, firstOnly, open), nil
}

func (s compositeWindowStore) FetchTimeRange(key []byte, from, to int64) (WindowIterator, error) {
	return s.each(true, func(w WindowBytesStore) (WindowIterator, error) { return w.FetchTimeRange(key, from, to) })
}

func (s compositeWindowStore) BackwardFetchTimeRange(key []byte, from, to int64) (WindowIterator, error) {
	return s.each(true, func(w WindowBytesStore) (WindowIterator, error) { return w.BackwardFetchTimeRange(key, from, to) })
}

func (s compositeWindowStore) FetchKeyRange(keyFrom, keyTo []byte, from, to int64) (WindowIterator, error) {
	return s.each(false, func(w WindowBytesStore) (WindowIterator, error) { return w.FetchKeyRange(keyFrom, keyTo, from, to) })
}

func (s compositeWindowStore) BackwardFetchKeyRange(keyFrom, keyTo []byte, from, to int64) (WindowIterator, error) {
	return s.each(false, func(w WindowBytesStore) (WindowIterator, error) {
		return w.BackwardFetchKeyRange(keyFrom, keyTo, from, to)
	})
}

func (s compositeWindowStore) FetchAll(from, to int64) (WindowIterator, error) {
	return s.each(false, func(w WindowBytesStore) (WindowIterator, error) { return w.FetchAll(from, to) })
}

func (s compositeWindowStore) BackwardFetchAll(from, to int64) (WindowIterator, error) {
	return s.each(false, func(w WindowBytesStore) (WindowIterator, error) { return w.BackwardFetchAll(from, to) })
}

func (s compositeWindowStore) All() (WindowIterator, error) { return s.FetchAll(0, math.MaxInt64) }

func (s compositeWindowStore) BackwardAll() (WindowIterator, error) {
	return s.BackwardFetchAll(0, math.MaxInt64)
}

// compositeSessionStore is a read-only session store over partitions.
type compositeSessionStore struct{ p Partitioned }

// sessionParts returns the session stores of the parts of p.
func sessionParts(p Partitioned) ([]SessionBytesStore, error) {
	parts, err := p.Parts()
	if err != nil {
		return nil, err
	}
	out := make([]SessionBytesStore, len(parts))
	for i, part := range parts {
		if out[i], err = SessionStoreWritingTo(part); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s compositeSessionStore) Name() string { return s.p.Name() }

func (s compositeSessionStore) Put([]byte, serde.Window, []byte) error {
	return fmt.Errorf("%w: %q", ErrReadOnly, s.p.Name())
}

func (s compositeSessionStore) Remove([]byte, serde.Window) error {
	return fmt.Errorf("%w: %q", ErrReadOnly, s.p.Name())
}

func (s compositeSessionStore) Restore(_, _ [][]byte) error {
	return fmt.Errorf("%w: %q", ErrReadOnly, s.p.Name())
}

func (s compositeSessionStore) ExpiredPuts() int64 { return 0 }
func (s compositeSessionStore) Flush() error       { return nil }
func (s compositeSessionStore) Close() error       { return nil }

func (s compositeSessionStore) FetchSession(key []byte, w serde.Window) ([]byte, error) {
	parts, err := sessionParts(s.p)
	if err != nil {
		return nil, err
	}
	for _, part := range parts {
		if v, err := part.FetchSession(key, w); err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}

// each is concatParts over the session store's parts.
func (s compositeSessionStore) each(firstOnly bool, open func(SessionBytesStore) (WindowIterator, error)) (WindowIterator, error) {
	parts, err := sessionParts(s.p)
	if err != nil {
		return nil, err
	}
	return concatParts(parts, firstOnly, open), nil
}

func (s compositeSessionStore) FindSessions(key []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.each(true, func(p SessionBytesStore) (WindowIterator, error) {
		return p.FindSessions(key, earliestEnd, latestStart)
	})
}

func (s compositeSessionStore) BackwardFindSessions(key []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.each(true, func(p SessionBytesStore) (WindowIterator, error) {
		return p.BackwardFindSessions(key, earliestEnd, latestStart)
	})
}

func (s compositeSessionStore) SessionsEndingIn(earliestEnd, latestEnd int64) (WindowIterator, error) {
	return s.each(false, func(p SessionBytesStore) (WindowIterator, error) {
		return p.SessionsEndingIn(earliestEnd, latestEnd)
	})
}

func (s compositeSessionStore) FindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.each(false, func(p SessionBytesStore) (WindowIterator, error) {
		return p.FindSessionsKeyRange(keyFrom, keyTo, earliestEnd, latestStart)
	})
}

func (s compositeSessionStore) BackwardFindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.each(false, func(p SessionBytesStore) (WindowIterator, error) {
		return p.BackwardFindSessionsKeyRange(keyFrom, keyTo, earliestEnd, latestStart)
	})
}

func (s compositeSessionStore) Fetch(key []byte) (WindowIterator, error) {
	return s.FindSessions(key, 0, math.MaxInt64)
}

func (s compositeSessionStore) BackwardFetch(key []byte) (WindowIterator, error) {
	return s.BackwardFindSessions(key, 0, math.MaxInt64)
}

// concatIterator reads the iterators opens makes, one after the other; with
// firstOnly, only the first that yields an entry.
type concatIterator struct {
	opens     []func() (WindowIterator, error)
	firstOnly bool
	cur       WindowIterator
	err       error
}

func (it *concatIterator) Next() bool {
	for it.err == nil {
		if it.cur == nil {
			if len(it.opens) == 0 {
				return false
			}
			it.cur, it.err = it.opens[0]()
			it.opens = it.opens[1:]
			continue
		}
		if it.cur.Next() {
			if it.firstOnly {
				it.opens = nil
			}
			return true
		}
		it.err = it.cur.Err()
		it.cur.Close()
		it.cur = nil
	}
	return false
}

func (it *concatIterator) Key() []byte {
	if it.cur == nil {
		return nil
	}
	return it.cur.Key()
}

func (it *concatIterator) Window() serde.Window {
	if it.cur == nil {
		return serde.Window{}
	}
	return it.cur.Window()
}

func (it *concatIterator) Value() []byte {
	if it.cur == nil {
		return nil
	}
	return it.cur.Value()
}

func (it *concatIterator) Err() error { return it.err }

func (it *concatIterator) Close() error {
	if it.cur != nil {
		it.cur.Close()
		it.cur = nil
	}
	it.opens = nil
	return nil
}

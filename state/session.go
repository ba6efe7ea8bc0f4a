package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// SessionStoreOptions configures a session store. Durations are whole
// milliseconds.
type SessionStoreOptions struct {
	// Retention is how long a session is kept, counted from its end
	// against stream time (the latest session end put): a session is
	// dropped once stream time passes its end plus Retention, a whole
	// segment at a time. Session aggregations need at least the inactivity
	// gap plus the grace period, the default Kafka Streams takes. Allowed:
	// not negative.
	Retention time.Duration

	// SegmentInterval is the span of session ends of one segment. Default:
	// max(Retention/2, 1 minute), as Kafka Streams computes it. Allowed:
	// at least 1 ms.
	SegmentInterval time.Duration
}

// Validate reports, in one error wrapping [ErrInvalidOptions], every
// problem of o, after its defaults; opening a store checks the same.
func (o SessionStoreOptions) Validate() error { return o.validate() }

// validate applies the default segment interval and reports every problem
// in one error wrapping [ErrInvalidOptions].
func (o *SessionStoreOptions) validate() error {
	if o.SegmentInterval == 0 {
		o.SegmentInterval = defaultSegmentInterval(o.Retention)
	}
	p := checkDurations(nil, map[string]time.Duration{"Retention": o.Retention})
	p = checkInterval(p, o.SegmentInterval)
	return optionsError(p)
}

// SessionBytesStore is a store of values by key and session window, as
// Kafka Streams' SessionStore<Bytes, byte[]>: the bottom layer of session
// aggregations. A session window [start, end] has both bounds inclusive.
// Times are milliseconds.
//
// Sessions are kept in segments by their end; within a segment they are
// ordered by their stored bytes, key then end then start, as Kafka Streams'
// RocksDB session store (keys are not delimited from the times, so the
// sessions of a key and of a longer key it is a prefix of may interleave). Reads skip sessions out of retention (end at or before
// stream time minus retention).
type SessionBytesStore interface {
	// Name returns the store's name.
	Name() string
	// Put sets the value of key in session window w; a nil value removes
	// it. A window with a negative start or ending before it starts is
	// refused with [ErrInvalidWindow].
	Put(key []byte, w serde.Window, value []byte) error
	// Remove deletes the session of key with window w.
	Remove(key []byte, w serde.Window) error
	// FetchSession returns the value of the session of key with exactly
	// window w, nil if absent.
	FetchSession(key []byte, w serde.Window) ([]byte, error)
	// FindSessions iterates over the sessions of key that end at or after
	// earliestEnd and start at or before latestStart: the sessions
	// overlapping [earliestEnd, latestStart]. They come by ascending end,
	// then start.
	FindSessions(key []byte, earliestEnd, latestStart int64) (WindowIterator, error)
	// BackwardFindSessions is FindSessions in reverse order.
	BackwardFindSessions(key []byte, earliestEnd, latestStart int64) (WindowIterator, error)
	// FindSessionsKeyRange is FindSessions over the keys from keyFrom to
	// keyTo, inclusive; a nil bound is unbounded.
	FindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (WindowIterator, error)
	// BackwardFindSessionsKeyRange is FindSessionsKeyRange in reverse
	// order.
	BackwardFindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (WindowIterator, error)
	// SessionsEndingIn iterates over the sessions of every key that end
	// in [earliestEnd, latestEnd] and lie in a segment not yet dropped, as
	// Kafka Streams' time-ordered session store reads them for
	// emit-on-close (its fetchSessions): unlike the other reads, it does
	// not leave out sessions of a live segment older than retention.
	// Sessions come in store order; callers sort them as they need.
	SessionsEndingIn(earliestEnd, latestEnd int64) (WindowIterator, error)
	// Fetch iterates over every session of key in retention.
	Fetch(key []byte) (WindowIterator, error)
	// BackwardFetch is Fetch in reverse order.
	BackwardFetch(key []byte) (WindowIterator, error)
	// Restore writes changelog records: keys laid out as
	// [SessionStoreKey] makes them, nil values deleting.
	Restore(keys, values [][]byte) error
	// ExpiredPuts returns the number of puts dropped because their session
	// was out of retention.
	ExpiredPuts() int64
	// Flush makes every write durable, for stores that persist.
	Flush() error
	// Close releases the store; it does not flush.
	Close() error
}

// NewMemorySessionStore returns an empty in-memory [SessionBytesStore].
func NewMemorySessionStore(name string, opts SessionStoreOptions) (SessionBytesStore, error) {
	return newSessionStore(name, opts, memoryBackend{})
}

// OpenPebbleSessionStore opens, creating it if needed, a persistent
// [SessionBytesStore] in directory dir, one pebble database per segment as
// [OpenPebbleWindowStore].
func OpenPebbleSessionStore(name, dir string, opts SessionStoreOptions, pebbleOpts *PebbleOptions) (SessionBytesStore, error) {
	if err := mkdirStore(name, dir); err != nil {
		return nil, err
	}
	return newSessionStore(name, opts, pebbleBackend{dir: dir, opts: pebbleOpts})
}

func newSessionStore(name string, opts SessionStoreOptions, backend segmentBackend) (*sessionStore, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("state: session store %q: %w", name, err)
	}
	seg, err := newSegmented(name, opts.Retention.Milliseconds(), opts.SegmentInterval.Milliseconds(), backend)
	if err != nil {
		return nil, err
	}
	return &sessionStore{seg: seg}, nil
}

// sessionSuffixSize is the size of the window of a session store key.
const sessionSuffixSize = 2 * timeSize

// SessionStoreKey returns the key under which a session store keeps, and
// changelogs, the session of key with window w: Kafka Streams' layout
// (SessionKeySchema), the key bytes, the end, then the start, each time as
// 8 big-endian bytes. It is also serde.SessionWindowed's layout.
func SessionStoreKey(key []byte, w serde.Window) []byte {
	b := make([]byte, 0, len(key)+sessionSuffixSize)
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, uint64(w.End))
	return binary.BigEndian.AppendUint64(b, uint64(w.Start))
}

// sessionKeyWindow returns the window of a session store key.
func sessionKeyWindow(raw []byte) (serde.Window, bool) {
	n := len(raw) - sessionSuffixSize
	if n < 0 {
		return serde.Window{}, false
	}
	return serde.Window{
		End:   int64(binary.BigEndian.Uint64(raw[n:])),
		Start: int64(binary.BigEndian.Uint64(raw[n+timeSize:])),
	}, true
}

// sessionKeyEnd returns the session end of a session store key, the time
// that picks its segment.
func sessionKeyEnd(raw []byte) (int64, bool) {
	w, ok := sessionKeyWindow(raw)
	return w.End, ok
}

type sessionStore struct {
	seg *segmented
	// writes, when set, takes the puts and removes instead of seg (see
	// [SessionStoreWritingTo]).
	writes BytesStore
	// txn, when set, is the transaction layer among writes: reads see its
	// pending writes.
	txn *SegmentedTxn
}

// segs returns the segments the store reads, as windowStore.segs.
func (s *sessionStore) segs() *segmented {
	if s.writes != nil {
		if v, err := findView(s.writes); err == nil {
			return v.seg
		}
	}
	return s.seg
}

func (s *sessionStore) Name() string       { return s.segs().name }
func (s *sessionStore) ExpiredPuts() int64 { return s.segs().expired.Load() }
func (s *sessionStore) Flush() error       { return s.segs().flush() }
func (s *sessionStore) Close() error       { return s.segs().close() }

// check validates key and w.
func (s *sessionStore) check(key []byte, w serde.Window) error {
	if key == nil {
		return ErrNullKey
	}
	if w.Start < 0 || w.End < w.Start {
		return fmt.Errorf("state: store %q: session [%d, %d]: %w", s.segs().name, w.Start, w.End, ErrInvalidWindow)
	}
	return nil
}

func (s *sessionStore) Put(key []byte, w serde.Window, value []byte) error {
	if err := s.check(key, w); err != nil {
		return err
	}
	if value == nil {
		return s.Remove(key, w)
	}
	raw := SessionStoreKey(key, w)
	if s.writes != nil {
		return s.writes.Put(raw, value)
	}
	return s.segs().put(w.End, raw, value)
}

func (s *sessionStore) Remove(key []byte, w serde.Window) error {
	if err := s.check(key, w); err != nil {
		return err
	}
	raw := SessionStoreKey(key, w)
	if s.writes != nil {
		_, err := s.writes.Delete(raw)
		return err
	}
	_, err := s.segs().remove(w.End, raw)
	return err
}

func (s *sessionStore) FetchSession(key []byte, w serde.Window) ([]byte, error) {
	if key == nil {
		return nil, ErrNullKey
	}
	if w.Start < 0 || w.End < w.Start {
		return nil, nil
	}
	seg := s.segs()
	if s.txn != nil {
		return s.txn.get(seg, w.End, SessionStoreKey(key, w))
	}
	return seg.get(w.End, SessionStoreKey(key, w))
}

func (s *sessionStore) FindSessions(key []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.findKey(key, earliestEnd, latestStart, true)
}

func (s *sessionStore) BackwardFindSessions(key []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.findKey(key, earliestEnd, latestStart, false)
}

func (s *sessionStore) Fetch(key []byte) (WindowIterator, error) {
	return s.findKey(key, 0, math.MaxInt64, true)
}

func (s *sessionStore) BackwardFetch(key []byte) (WindowIterator, error) {
	return s.findKey(key, 0, math.MaxInt64, false)
}

// findKey finds the sessions of one key.
func (s *sessionStore) findKey(key []byte, earliestEnd, latestStart int64, forward bool) (WindowIterator, error) {
	if key == nil {
		return nil, ErrNullKey
	}
	return s.find(key, key, earliestEnd, latestStart, forward, func(earliestEnd int64) (lo, hi []byte) {
		return SessionStoreKey(key, serde.Window{End: earliestEnd}),
			SessionStoreKey(key, serde.Window{Start: latestStart, End: math.MaxInt64})
	})
}

func (s *sessionStore) FindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.findKeys(keyFrom, keyTo, earliestEnd, latestStart, true)
}

func (s *sessionStore) BackwardFindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (WindowIterator, error) {
	return s.findKeys(keyFrom, keyTo, earliestEnd, latestStart, false)
}

// findKeys finds the sessions of a range of keys.
func (s *sessionStore) findKeys(keyFrom, keyTo []byte, earliestEnd, latestStart int64, forward bool) (WindowIterator, error) {
	return s.find(keyFrom, keyTo, earliestEnd, latestStart, forward, func(int64) (lo, hi []byte) {
		suffix := SessionStoreKey(nil, serde.Window{Start: latestStart, End: math.MaxInt64})
		return clone(keyFrom), upperBound(keyTo, suffix)
	})
}

func (s *sessionStore) SessionsEndingIn(earliestEnd, latestEnd int64) (WindowIterator, error) {
	earliestEnd = max(earliestEnd, 0)
	if latestEnd < earliestEnd {
		return emptyWindowIterator{}, nil
	}
	return s.iterate(s.segs(), scan{
		fromTime: earliestEnd, toTime: latestEnd, forward: true, open: rangeScan(nil, nil, true),
		decode: func(raw []byte) ([]byte, serde.Window, bool) {
			w, ok := sessionKeyWindow(raw)
			if !ok || w.End < earliestEnd || w.End > latestEnd {
				return nil, serde.Window{}, false
			}
			return raw[: len(raw)-sessionSuffixSize : len(raw)-sessionSuffixSize], w, true
		},
	})
}

// find reads the sessions of the keys from keyFrom to keyTo that end at or
// after earliestEnd and start at or before latestStart, within the byte
// bounds that bounds returns for the earliest end actually read. Sessions
// are segmented by end, so every segment from earliestEnd on is visited.
func (s *sessionStore) find(keyFrom, keyTo []byte, earliestEnd, latestStart int64, forward bool, bounds func(earliestEnd int64) (lo, hi []byte)) (WindowIterator, error) {
	if (keyFrom != nil && keyTo != nil && bytes.Compare(keyFrom, keyTo) > 0) || latestStart < 0 {
		return emptyWindowIterator{}, nil
	}
	seg := s.segs()
	seg.mu.RLock()
	earliestEnd = max(earliestEnd, seg.minLiveTimeLocked(), 0)
	seg.mu.RUnlock()
	lo, hi := bounds(earliestEnd)
	return s.iterate(seg, scan{
		fromTime: earliestEnd, toTime: math.MaxInt64, forward: forward, open: rangeScan(lo, hi, forward),
		decode: func(raw []byte) ([]byte, serde.Window, bool) {
			w, ok := sessionKeyWindow(raw)
			if !ok || w.End < earliestEnd || w.Start > latestStart {
				return nil, serde.Window{}, false
			}
			key := raw[: len(raw)-sessionSuffixSize : len(raw)-sessionSuffixSize]
			if !inKeyRange(key, keyFrom, keyTo) {
				return nil, serde.Window{}, false
			}
			return key, w, true
		},
	})
}

// iterate runs sc over seg, through the transaction layer if there is
// one.
func (s *sessionStore) iterate(seg *segmented, sc scan) (WindowIterator, error) {
	if s.txn != nil {
		return s.txn.iterate(seg, sc)
	}
	return seg.iterate(sc)
}

func (s *sessionStore) Restore(keys, values [][]byte) error {
	return s.segs().restore(keys, values, sessionKeyEnd)
}

package runtime

import (
	"time"

	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Window and session stores are read below the store's layers (see
// windowstore.go), so the meteredStore on top sees their writes only. At
// the debug recording level the typed window and session stores are
// wrapped once more, as Kafka Streams' MeteredWindowStore and
// MeteredSessionStore: every read (fetch, fetchAll, findSessions, ...)
// records into the store's fetch sensor, a single-window fetch at once, an
// iterating read from its creation to its close.

// storeSensorsOf returns the sensors of the metered layer top is, nil
// below the debug level (no metered layer).
func storeSensorsOf(top state.BytesStore) *StoreSensors {
	switch m := top.(type) {
	case *meteredStore:
		return m.sens
	case *meteredCachedStore:
		return m.sens
	}
	return nil
}

// meteredWindowStore times the reads of a window store.
type meteredWindowStore struct {
	state.WindowBytesStore
	sens *StoreSensors
}

// meterWindow wraps s when top is a metered layer.
func meterWindow(top state.BytesStore, s state.WindowBytesStore) state.WindowBytesStore {
	if sens := storeSensorsOf(top); sens != nil {
		return &meteredWindowStore{WindowBytesStore: s, sens: sens}
	}
	return s
}

func (s *meteredWindowStore) Fetch(key []byte, windowStart int64) ([]byte, error) {
	defer since(&s.sens.Fetch, time.Now())
	return s.WindowBytesStore.Fetch(key, windowStart)
}

func (s *meteredWindowStore) FetchTimeRange(key []byte, from, to int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.FetchTimeRange(key, from, to))
}

func (s *meteredWindowStore) BackwardFetchTimeRange(key []byte, from, to int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.BackwardFetchTimeRange(key, from, to))
}

func (s *meteredWindowStore) FetchKeyRange(keyFrom, keyTo []byte, from, to int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.FetchKeyRange(keyFrom, keyTo, from, to))
}

func (s *meteredWindowStore) BackwardFetchKeyRange(keyFrom, keyTo []byte, from, to int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.BackwardFetchKeyRange(keyFrom, keyTo, from, to))
}

func (s *meteredWindowStore) FetchAll(from, to int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.FetchAll(from, to))
}

func (s *meteredWindowStore) BackwardFetchAll(from, to int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.BackwardFetchAll(from, to))
}

func (s *meteredWindowStore) All() (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.All())
}

func (s *meteredWindowStore) BackwardAll() (state.WindowIterator, error) {
	return s.sens.fetchIter(s.WindowBytesStore.BackwardAll())
}

// meteredSessionStore times the reads of a session store.
type meteredSessionStore struct {
	state.SessionBytesStore
	sens *StoreSensors
}

// meterSession wraps s when top is a metered layer.
func meterSession(top state.BytesStore, s state.SessionBytesStore) state.SessionBytesStore {
	if sens := storeSensorsOf(top); sens != nil {
		return &meteredSessionStore{SessionBytesStore: s, sens: sens}
	}
	return s
}

func (s *meteredSessionStore) FetchSession(key []byte, w serde.Window) ([]byte, error) {
	defer since(&s.sens.Fetch, time.Now())
	return s.SessionBytesStore.FetchSession(key, w)
}

func (s *meteredSessionStore) FindSessions(key []byte, earliestEnd, latestStart int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.SessionBytesStore.FindSessions(key, earliestEnd, latestStart))
}

func (s *meteredSessionStore) BackwardFindSessions(key []byte, earliestEnd, latestStart int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.SessionBytesStore.BackwardFindSessions(key, earliestEnd, latestStart))
}

func (s *meteredSessionStore) FindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.SessionBytesStore.FindSessionsKeyRange(keyFrom, keyTo, earliestEnd, latestStart))
}

func (s *meteredSessionStore) BackwardFindSessionsKeyRange(keyFrom, keyTo []byte, earliestEnd, latestStart int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.SessionBytesStore.BackwardFindSessionsKeyRange(keyFrom, keyTo, earliestEnd, latestStart))
}

func (s *meteredSessionStore) SessionsEndingIn(earliestEnd, latestEnd int64) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.SessionBytesStore.SessionsEndingIn(earliestEnd, latestEnd))
}

func (s *meteredSessionStore) Fetch(key []byte) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.SessionBytesStore.Fetch(key))
}

func (s *meteredSessionStore) BackwardFetch(key []byte) (state.WindowIterator, error) {
	return s.sens.fetchIter(s.SessionBytesStore.BackwardFetch(key))
}

// fetchIter wraps it to record a fetch when it is closed.
func (sens *StoreSensors) fetchIter(it state.WindowIterator, err error) (state.WindowIterator, error) {
	if err != nil {
		return nil, err
	}
	return &meteredWindowIter{WindowIterator: it, sens: sens, start: time.Now()}, nil
}

// meteredWindowIter records a window or session store read's latency, from
// its creation to its close, as Kafka Streams' MeteredWindowStoreIterator.
type meteredWindowIter struct {
	state.WindowIterator
	sens   *StoreSensors
	start  time.Time
	closed bool
}

func (it *meteredWindowIter) Close() error {
	if !it.closed {
		it.closed = true
		since(&it.sens.Fetch, it.start)
	}
	return it.WindowIterator.Close()
}

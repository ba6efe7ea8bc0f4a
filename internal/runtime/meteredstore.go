package runtime

import (
	"time"

	"github.com/kstreams-go/kstreams/state"
)

// meteredStore is the top layer of a store at the debug recording level,
// as Kafka Streams' metered stores: it times the puts, gets, range scans
// (from the iterator's creation to its close) and flushes that processors
// make. Window and session stores read the store below the layers
// directly: their reads are timed by meteredWindowStore and
// meteredSessionStore (meteredwindow.go).
type meteredStore struct {
	state.BytesStore
	sens *StoreSensors
}

// meteredCachedStore is a meteredStore over a cached store, which it lets
// the DSL's tables reach (they set the cache's flush listener).
type meteredCachedStore struct {
	*meteredStore
	cache CachedStore
}

func (s *meteredCachedStore) SetFlushListener(fn FlushListener) { s.cache.SetFlushListener(fn) }
func (s *meteredCachedStore) Caching() bool                     { return s.cache.Caching() }

// meter puts a metered layer over top when the task records debug-level
// metrics, and has the record cache, if any, record its hit ratio.
func (t *Task) meter(ts *taskStore) state.BytesStore {
	sens := t.cfg.Sensors.store(t.id, ts.spec.Name)
	if sens == nil {
		return ts.top
	}
	if ts.cache != nil {
		ts.cache.sens = sens
	}
	m := &meteredStore{BytesStore: ts.top, sens: sens}
	if c, ok := ts.top.(CachedStore); ok {
		return &meteredCachedStore{meteredStore: m, cache: c}
	}
	return m
}

// Unwrap returns the store below, for the typed window and session stores
// (state.WindowStoreWritingTo).
func (s *meteredStore) Unwrap() state.BytesStore { return s.BytesStore }

func since(sam *sampled, start time.Time) {
	now := time.Now()
	sam.record(ms(now.Sub(start)), now)
}

func (s *meteredStore) Get(key []byte) ([]byte, error) {
	defer since(&s.sens.Get, time.Now())
	return s.BytesStore.Get(key)
}

func (s *meteredStore) Put(key, value []byte) error {
	defer since(&s.sens.Put, time.Now())
	return s.BytesStore.Put(key, value)
}

func (s *meteredStore) PutIfAbsent(key, value []byte) ([]byte, error) {
	defer since(&s.sens.Put, time.Now())
	return s.BytesStore.PutIfAbsent(key, value)
}

func (s *meteredStore) Delete(key []byte) ([]byte, error) {
	defer since(&s.sens.Put, time.Now())
	return s.BytesStore.Delete(key)
}

func (s *meteredStore) Flush() error {
	defer since(&s.sens.Flush, time.Now())
	return s.BytesStore.Flush()
}

func (s *meteredStore) Range(from, to []byte) (state.Iterator, error) {
	return s.iter(s.BytesStore.Range(from, to))
}

func (s *meteredStore) ReverseRange(from, to []byte) (state.Iterator, error) {
	return s.iter(s.BytesStore.ReverseRange(from, to))
}

func (s *meteredStore) PrefixScan(prefix []byte) (state.Iterator, error) {
	return s.iter(s.BytesStore.PrefixScan(prefix))
}

func (s *meteredStore) All() (state.Iterator, error) {
	return s.iter(s.BytesStore.All())
}

func (s *meteredStore) iter(it state.Iterator, err error) (state.Iterator, error) {
	if err != nil {
		return nil, err
	}
	return &meteredIter{Iterator: it, sens: s.sens, start: time.Now()}, nil
}

// meteredIter records a range scan's latency when it is closed, as Kafka
// Streams' metered iterators do.
type meteredIter struct {
	state.Iterator
	sens   *StoreSensors
	start  time.Time
	closed bool
}

func (it *meteredIter) Close() error {
	if !it.closed {
		it.closed = true
		since(&it.sens.Range, it.start)
	}
	return it.Iterator.Close()
}

// countDropped counts a record the task dropped in its dropped-records
// sensor (the thread's Dropped or Skipped counter is the caller's).
func (t *Task) countDropped() {
	if ts := t.cfg.Sensors.task(t.id); ts != nil {
		ts.Dropped.Add(1)
	}
}

// flushed records the flush at commit of a cached store that began at
// start (debug level).
func (ts *taskStore) flushed(start time.Time) {
	if ts.cache != nil && ts.cache.sens != nil {
		since(&ts.cache.sens.Flush, start)
	}
}

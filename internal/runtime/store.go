package runtime

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StoreSpec describes a state store of the graph. Each task of the
// sub-topology whose nodes use it gets its own instance.
type StoreSpec struct {
	Name string
	// Persistent stores live in Pebble under the state directory; others
	// in memory.
	Persistent bool
	// Logged stores write every update to the changelog topic
	// "<application id>-<Name>-changelog" and are restored from it.
	Logged bool
	// Cached stores hold writes between commits and write (and report
	// through their flush listener) one update per key per commit.
	Cached bool
	// WriteThrough makes a cached store write (and report) every update
	// at once, whatever the cache size.
	WriteThrough bool
	// ChangelogConfigs are extra configs of the changelog topic.
	ChangelogConfigs map[string]string
	// Timestamped stores hold each value behind its 8-byte big-endian
	// timestamp (state.WithTimestamp). Their changelog carries the plain
	// value with that timestamp as the record timestamp, and restoring puts
	// the record timestamp back in front of the value.
	Timestamped bool
	// Versioned stores (state.VersionedStoreBytes, opened by Open) take
	// each value as state.VersionedValue: their changelog carries the
	// plain value (nil for a tombstone) with the version's timestamp as the
	// record timestamp, and restoring encodes it back.
	Versioned bool
	// Typed makes what processors get from Context.StateStore out of the
	// top byte store; nil gives them the byte store. topic is the store's
	// changelog topic, "<application id>-<Name>-changelog" (also when not
	// Logged): the topic its serdes are given, as Kafka Streams' metered
	// stores give theirs (state.SerdeTopic).
	Typed func(store state.BytesStore, topic string) any
	// Open, when set, opens the bottom byte store in place of a key-value
	// store: window and session stores (see windowstore.go). dir is the
	// store's directory, "" unless Persistent.
	Open func(name, dir string, pebble *state.PebbleOptions) (state.BytesStore, error)
	// ChangelogHeaders are put on every changelog record but tombstones:
	// the suppression buffer marks its value layout with them, as Kafka
	// Streams' ("v" = 3).
	ChangelogHeaders []kgo.RecordHeader
}

// Changelog returns the store's changelog topic.
func (s *StoreSpec) Changelog() Topic { return Topic{Name: s.Name + "-changelog", Internal: true} }

// FlushListener receives the updates a cached store writes: the key, the
// new value (nil for a delete), the value it replaces (nil if none), and the
// timestamp of the record that wrote it.
type FlushListener func(key, newValue, oldValue []byte, timestamp int64) error

// CachedStore is the top layer of a cached store.
type CachedStore interface {
	state.BytesStore
	// SetFlushListener sets the function that receives each update as it
	// is written to the layers below.
	SetFlushListener(FlushListener)
	// Caching reports whether writes are held until a flush; if not, each
	// write goes below at once and its writer forwards it itself.
	Caching() bool
}

// loggedStore writes each update to the store below and to the changelog
// partition of its task.
type loggedStore struct {
	state.BytesStore
	topic     string
	partition int32
	out       Collector
	ts        func() int64
	last      *kgo.Record
	// timestamped: values start with their timestamp, which the changelog
	// record carries as its own timestamp instead of the value bytes.
	timestamped bool
	// headers go on every record but tombstones.
	headers []kgo.RecordHeader
	// versioned: values are state.VersionedValue encodings, logged as
	// their value with their timestamp.
	versioned bool
}

func (s *loggedStore) log(key, value []byte) {
	ts := s.ts()
	if s.timestamped && value != nil {
		t, v, err := state.SplitTimestamp(value)
		if err == nil {
			ts, value = t, v
		}
	}
	if s.versioned && value != nil {
		t, v, err := state.SplitVersionedValue(value)
		if err == nil {
			ts, value = t, v
		}
	}
	rec := &kgo.Record{
		Topic: s.topic, Partition: s.partition,
		Key: append([]byte(nil), key...), Value: cloneOrNil(value),
		Timestamp: time.UnixMilli(ts),
	}
	if value != nil {
		rec.Headers = s.headers
	}
	s.last = rec
	s.out.Send(rec, SendChangelog)
}

func cloneOrNil(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func (s *loggedStore) Put(key, value []byte) error {
	if err := s.BytesStore.Put(key, value); err != nil {
		return err
	}
	s.log(key, value)
	return nil
}

func (s *loggedStore) PutIfAbsent(key, value []byte) ([]byte, error) {
	old, err := s.BytesStore.PutIfAbsent(key, value)
	if err == nil && old == nil {
		s.log(key, value)
	}
	return old, err
}

func (s *loggedStore) Delete(key []byte) ([]byte, error) {
	old, err := s.BytesStore.Delete(key)
	if err == nil && old != nil {
		s.log(key, nil)
	}
	return old, err
}

// nextOffset returns the changelog offset after the last acknowledged
// update, or -1 if this store wrote nothing. Call it after a producer flush.
func (s *loggedStore) nextOffset() int64 {
	if s.last == nil || s.last.Offset < 0 {
		return -1
	}
	return s.last.Offset + 1
}

// cachedStore holds dirty entries in memory and writes them to the store
// below on Flush, when it outgrows maxBytes, or at once when maxBytes is 0.
// It is used by its task's goroutine; the mutex lets queries from other
// goroutines read through it.
type cachedStore struct {
	state.BytesStore
	maxBytes int64
	ts       func() int64
	listener FlushListener
	// sens, if set, records the cache's hit ratio (debug level).
	sens *StoreSensors

	mu    sync.Mutex
	dirty map[string]*cacheEntry
	order []string
	size  int64
	// flushing holds the entries flushCache is writing below, so that
	// queries (cacheView) still see them until they are all written.
	flushing map[string]*cacheEntry

	// last is the last entry the task read from the store below, until
	// the next write (write-through only): an aggregation reads a key and
	// then writes it, and write needs the old value for the listener, so
	// this saves the second read. Only the task's goroutine touches it.
	last struct {
		key, value []byte
		ok         bool
	}
}

type cacheEntry struct {
	value []byte
	ts    int64
}

func newCachedStore(inner state.BytesStore, maxBytes int64, ts func() int64) *cachedStore {
	return &cachedStore{BytesStore: inner, maxBytes: maxBytes, ts: ts, dirty: map[string]*cacheEntry{}}
}

func (c *cachedStore) SetFlushListener(fn FlushListener) { c.listener = fn }

func (c *cachedStore) Caching() bool { return c.maxBytes > 0 }

func (c *cachedStore) Get(key []byte) ([]byte, error) {
	c.mu.Lock()
	e, ok := c.dirty[string(key)]
	c.mu.Unlock()
	if c.sens != nil && c.maxBytes > 0 {
		c.sens.hit(ok, time.Now())
	}
	if ok {
		return e.value, nil
	}
	v, err := c.BytesStore.Get(key)
	if err == nil && c.maxBytes <= 0 && c.listener != nil {
		c.remember(key, v)
	}
	return v, err
}

// remember sets last to copies of key and value (the caller owns the
// slices it was given and may change them).
func (c *cachedStore) remember(key, value []byte) {
	c.last.key = append(c.last.key[:0], key...)
	c.last.value = cloneOrNil(value)
	c.last.ok = true
}

func (c *cachedStore) Put(key, value []byte) error {
	if c.maxBytes <= 0 {
		return c.write(key, value, c.ts())
	}
	c.mu.Lock()
	k := string(key)
	if old, ok := c.dirty[k]; ok {
		c.size -= int64(len(old.value))
	} else {
		c.order = append(c.order, k)
		c.size += int64(len(k)) + 64
	}
	c.dirty[k] = &cacheEntry{value: cloneOrNil(value), ts: c.ts()}
	c.size += int64(len(value))
	over := c.size > c.maxBytes
	c.mu.Unlock()
	if over {
		return c.flushCache()
	}
	return nil
}

func (c *cachedStore) PutIfAbsent(key, value []byte) ([]byte, error) {
	old, err := c.Get(key)
	if err != nil || old != nil {
		return old, err
	}
	return nil, c.Put(key, value)
}

func (c *cachedStore) Delete(key []byte) ([]byte, error) {
	old, err := c.Get(key)
	if err != nil || old == nil {
		return old, err
	}
	return old, c.Put(key, nil)
}

// write writes one entry below and reports it to the listener.
func (c *cachedStore) write(key, value []byte, ts int64) error {
	var old []byte
	if c.listener != nil {
		if c.last.ok && bytes.Equal(c.last.key, key) {
			old = c.last.value
		} else {
			var err error
			if old, err = c.BytesStore.Get(key); err != nil {
				c.last.ok = false
				return err
			}
		}
	}
	c.last.ok = false
	if err := c.BytesStore.Put(key, value); err != nil {
		return err
	}
	if c.listener != nil && (old != nil || value != nil) {
		return c.listener(key, value, old, ts)
	}
	return nil
}

// Flush writes the dirty entries below, then flushes the store below.
func (c *cachedStore) Flush() error {
	if err := c.flushCache(); err != nil {
		return err
	}
	return c.BytesStore.Flush()
}

// flushCache writes the dirty entries below in the order they were first
// written, reporting each to the listener.
func (c *cachedStore) flushCache() error {
	c.mu.Lock()
	order, dirty := c.order, c.dirty
	c.order, c.dirty, c.size = nil, map[string]*cacheEntry{}, 0
	if len(order) > 0 {
		c.flushing = dirty
	}
	c.mu.Unlock()
	if len(order) > 0 {
		defer func() {
			c.mu.Lock()
			c.flushing = nil
			c.mu.Unlock()
		}()
	}
	for _, k := range order {
		e := dirty[k]
		if err := c.write([]byte(k), e.value, e.ts); err != nil {
			return fmt.Errorf("flushing cached store %q: %w", c.Name(), err)
		}
	}
	return nil
}

// Range and the other iterators flush first, so they see every write.
func (c *cachedStore) Range(from, to []byte) (state.Iterator, error) {
	if err := c.flushCache(); err != nil {
		return nil, err
	}
	return c.BytesStore.Range(from, to)
}

func (c *cachedStore) ReverseRange(from, to []byte) (state.Iterator, error) {
	if err := c.flushCache(); err != nil {
		return nil, err
	}
	return c.BytesStore.ReverseRange(from, to)
}

func (c *cachedStore) PrefixScan(prefix []byte) (state.Iterator, error) {
	if err := c.flushCache(); err != nil {
		return nil, err
	}
	return c.BytesStore.PrefixScan(prefix)
}

func (c *cachedStore) All() (state.Iterator, error) {
	if err := c.flushCache(); err != nil {
		return nil, err
	}
	return c.BytesStore.All()
}

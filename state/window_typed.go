package state

import (
	"fmt"

	"github.com/kstreams-go/kstreams/serde"
)

// ReadOnlyWindowStore is the read side of a typed window store, as Kafka
// Streams' ReadOnlyWindowStore: what local queries may use. Times are
// milliseconds; every error is a [*StoreError].
type ReadOnlyWindowStore[K, V any] interface {
	// Name returns the store's name.
	Name() string
	// Fetch returns the value of key in the window starting at
	// windowStart and true, or the zero V and false if there is none.
	Fetch(key K, windowStart int64) (V, bool, error)
	// FetchTimeRange iterates over the windows of key starting from from
	// to to, both inclusive, by ascending start (Java's fetch(key,
	// timeFrom, timeTo)).
	FetchTimeRange(key K, from, to int64) (WindowStoreIterator[V], error)
	// BackwardFetchTimeRange is FetchTimeRange by descending start.
	BackwardFetchTimeRange(key K, from, to int64) (WindowStoreIterator[V], error)
	// FetchKeyRange iterates over the windows of the keys from keyFrom to
	// keyTo (by serialized bytes, inclusive) starting from from to to.
	FetchKeyRange(keyFrom, keyTo K, from, to int64) (KeyValueIterator[serde.Windowed[K], V], error)
	// BackwardFetchKeyRange is FetchKeyRange in reverse order.
	BackwardFetchKeyRange(keyFrom, keyTo K, from, to int64) (KeyValueIterator[serde.Windowed[K], V], error)
	// FetchAll iterates over the windows of every key starting from from
	// to to.
	FetchAll(from, to int64) (KeyValueIterator[serde.Windowed[K], V], error)
	// BackwardFetchAll is FetchAll in reverse order.
	BackwardFetchAll(from, to int64) (KeyValueIterator[serde.Windowed[K], V], error)
	// All iterates over every window in retention.
	All() (KeyValueIterator[serde.Windowed[K], V], error)
	// BackwardAll is All in reverse order.
	BackwardAll() (KeyValueIterator[serde.Windowed[K], V], error)
}

// WindowStore is a typed window store, as Kafka Streams' WindowStore: keys
// and values go through serdes to a [WindowBytesStore].
type WindowStore[K, V any] interface {
	ReadOnlyWindowStore[K, V]
	// Put sets the value of key in the window starting at windowStart. A
	// value that serializes to nil bytes deletes it.
	Put(key K, value V, windowStart int64) error
}

// WindowStoreIterator walks the windows of one key: the start of each
// window and its value, as Kafka Streams' WindowStoreIterator. It follows
// the rules of [KeyValueIterator].
type WindowStoreIterator[V any] interface {
	// Next moves to the next window, the first one on the first call.
	Next() bool
	// Timestamp returns the start of the current window.
	Timestamp() int64
	// Value returns the value of the current window.
	Value() V
	// Err returns the error that stopped the iteration, if any.
	Err() error
	// Close releases the iterator.
	Close() error
}

// ReadOnlySessionStore is the read side of a typed session store, as Kafka
// Streams' ReadOnlySessionStore. Every error is a [*StoreError].
type ReadOnlySessionStore[K, V any] interface {
	// Name returns the store's name.
	Name() string
	// FetchSession returns the value of the session of key with exactly
	// window w and true, or the zero V and false if there is none.
	FetchSession(key K, w serde.Window) (V, bool, error)
	// FindSessions iterates over the sessions of key that end at or after
	// earliestEnd and start at or before latestStart, by ascending end.
	FindSessions(key K, earliestEnd, latestStart int64) (KeyValueIterator[serde.Windowed[K], V], error)
	// BackwardFindSessions is FindSessions in reverse order.
	BackwardFindSessions(key K, earliestEnd, latestStart int64) (KeyValueIterator[serde.Windowed[K], V], error)
	// FindSessionsKeyRange is FindSessions over the keys from keyFrom to
	// keyTo (by serialized bytes, inclusive).
	FindSessionsKeyRange(keyFrom, keyTo K, earliestEnd, latestStart int64) (KeyValueIterator[serde.Windowed[K], V], error)
	// Fetch iterates over every session of key in retention.
	Fetch(key K) (KeyValueIterator[serde.Windowed[K], V], error)
	// BackwardFetch is Fetch in reverse order.
	BackwardFetch(key K) (KeyValueIterator[serde.Windowed[K], V], error)
}

// SessionStore is a typed session store, as Kafka Streams' SessionStore:
// keys and values go through serdes to a [SessionBytesStore].
type SessionStore[K, V any] interface {
	ReadOnlySessionStore[K, V]
	// Put sets the value of the session s. A value that serializes to nil
	// bytes removes it.
	Put(s serde.Windowed[K], value V) error
	// Remove deletes the session s.
	Remove(s serde.Windowed[K]) error
}

// NewWindowStore returns a typed window store over store, turning keys
// and values into bytes with keySerde and valueSerde (given the store's
// name as topic, or the topic of [SerdeTopic]). The value bytes are stored as they are: a timestamped
// window store, whose values carry their record timestamp as Kafka
// Streams' ValueAndTimestamp, is this store with a value serde that writes
// that layout.
func NewWindowStore[K, V any](store WindowBytesStore, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...TypedOption) WindowStore[K, V] {
	return &windowStoreOf[K, V]{codec: newCodec(store.Name(), keySerde, valueSerde, opts), bytes: store}
}

// NewSessionStore returns a typed session store over store, as
// [NewWindowStore].
func NewSessionStore[K, V any](store SessionBytesStore, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...TypedOption) SessionStore[K, V] {
	return &sessionStoreOf[K, V]{codec: newCodec(store.Name(), keySerde, valueSerde, opts), bytes: store}
}

// codec turns the keys and values of a typed store into bytes and back.
type codec[K, V any] struct {
	name string
	// topic is what the serdes are given.
	topic  string
	keys   serde.Serde[K]
	values serde.Serde[V]
}

// newCodec returns the codec of the typed store name.
func newCodec[K, V any](name string, keys serde.Serde[K], values serde.Serde[V], opts []TypedOption) codec[K, V] {
	return codec[K, V]{name: name, topic: serdeTopic(name, opts), keys: keys, values: values}
}

// fail returns the StoreError of operation op on key.
func (c codec[K, V]) fail(op string, key []byte, err error) error {
	return &StoreError{Store: c.name, Op: op, Key: key, Err: err}
}

// rawKey serializes key for operation op; a nil result is ErrNullKey.
func (c codec[K, V]) rawKey(op string, key K) ([]byte, error) {
	b, err := c.keys.Serialize(c.topic, key)
	if err != nil {
		return nil, c.fail(op, nil, fmt.Errorf("serialize key: %w", err))
	}
	if b == nil {
		return nil, c.fail(op, nil, ErrNullKey)
	}
	return b, nil
}

// rawValue serializes value for operation op on key.
func (c codec[K, V]) rawValue(op string, key []byte, value V) ([]byte, error) {
	b, err := c.values.Serialize(c.topic, value)
	if err != nil {
		return nil, c.fail(op, key, fmt.Errorf("serialize value: %w", err))
	}
	return b, nil
}

// value deserializes raw, nil meaning absent.
func (c codec[K, V]) value(op string, key, raw []byte) (V, bool, error) {
	var zero V
	if raw == nil {
		return zero, false, nil
	}
	v, err := c.values.Deserialize(c.topic, raw)
	if err != nil {
		return zero, false, c.fail(op, key, fmt.Errorf("deserialize value: %w", err))
	}
	return v, true, nil
}

// iterator wraps it, the result of opening operation op, into a typed
// iterator of windowed keys.
func (c codec[K, V]) iterator(op string, it WindowIterator, err error) (KeyValueIterator[serde.Windowed[K], V], error) {
	if err != nil {
		return nil, c.fail(op, nil, err)
	}
	return &windowedIterator[K, V]{codec: c, op: op, it: it}, nil
}

// timeIterator wraps it, the result of opening operation op, into a typed
// iterator of the windows of one key.
func (c codec[K, V]) timeIterator(op string, it WindowIterator, err error) (WindowStoreIterator[V], error) {
	if err != nil {
		return nil, c.fail(op, nil, err)
	}
	return &windowedIterator[K, V]{codec: c, op: op, it: it}, nil
}

// windowedIterator deserializes the entries of a WindowIterator; it is
// both a KeyValueIterator of windowed keys and a WindowStoreIterator.
type windowedIterator[K, V any] struct {
	codec codec[K, V]
	op    string
	it    WindowIterator
	key   serde.Windowed[K]
	value V
	err   error
}

func (it *windowedIterator[K, V]) Next() bool {
	var zero V
	it.key, it.value = serde.Windowed[K]{}, zero
	if it.err != nil {
		return false
	}
	if !it.it.Next() {
		if err := it.it.Err(); err != nil {
			it.err = it.codec.fail(it.op, nil, err)
		}
		return false
	}
	c := it.codec
	k := it.it.Key()
	key, err := c.keys.Deserialize(c.topic, k)
	if err != nil {
		it.err = c.fail(it.op, k, fmt.Errorf("deserialize key: %w", err))
		return false
	}
	value, _, err := c.value(it.op, k, it.it.Value())
	if err != nil {
		it.err = err
		return false
	}
	it.key, it.value = serde.Windowed[K]{Key: key, Window: it.it.Window()}, value
	return true
}

func (it *windowedIterator[K, V]) Key() serde.Windowed[K] { return it.key }
func (it *windowedIterator[K, V]) Timestamp() int64       { return it.key.Window.Start }
func (it *windowedIterator[K, V]) Value() V               { return it.value }
func (it *windowedIterator[K, V]) Err() error             { return it.err }

func (it *windowedIterator[K, V]) Close() error {
	if err := it.it.Close(); err != nil {
		return it.codec.fail(it.op, nil, err)
	}
	return nil
}

type windowStoreOf[K, V any] struct {
	codec codec[K, V]
	bytes WindowBytesStore
}

func (s *windowStoreOf[K, V]) Name() string { return s.codec.name }

func (s *windowStoreOf[K, V]) Put(key K, value V, windowStart int64) error {
	const op = "put"
	k, err := s.codec.rawKey(op, key)
	if err != nil {
		return err
	}
	v, err := s.codec.rawValue(op, k, value)
	if err != nil {
		return err
	}
	if err := s.bytes.Put(k, windowStart, v); err != nil {
		return s.codec.fail(op, k, err)
	}
	return nil
}

func (s *windowStoreOf[K, V]) Fetch(key K, windowStart int64) (V, bool, error) {
	const op = "fetch"
	var zero V
	k, err := s.codec.rawKey(op, key)
	if err != nil {
		return zero, false, err
	}
	raw, err := s.bytes.Fetch(k, windowStart)
	if err != nil {
		return zero, false, s.codec.fail(op, k, err)
	}
	return s.codec.value(op, k, raw)
}

func (s *windowStoreOf[K, V]) FetchTimeRange(key K, from, to int64) (WindowStoreIterator[V], error) {
	return s.timeRange("fetch-time-range", key, from, to, s.bytes.FetchTimeRange)
}

func (s *windowStoreOf[K, V]) BackwardFetchTimeRange(key K, from, to int64) (WindowStoreIterator[V], error) {
	return s.timeRange("backward-fetch-time-range", key, from, to, s.bytes.BackwardFetchTimeRange)
}

// timeRange serializes key and opens fn on it.
func (s *windowStoreOf[K, V]) timeRange(op string, key K, from, to int64, fn func([]byte, int64, int64) (WindowIterator, error)) (WindowStoreIterator[V], error) {
	k, err := s.codec.rawKey(op, key)
	if err != nil {
		return nil, err
	}
	it, err := fn(k, from, to)
	return s.codec.timeIterator(op, it, err)
}

func (s *windowStoreOf[K, V]) FetchKeyRange(keyFrom, keyTo K, from, to int64) (KeyValueIterator[serde.Windowed[K], V], error) {
	return s.keyRange("fetch-key-range", keyFrom, keyTo, from, to, s.bytes.FetchKeyRange)
}

func (s *windowStoreOf[K, V]) BackwardFetchKeyRange(keyFrom, keyTo K, from, to int64) (KeyValueIterator[serde.Windowed[K], V], error) {
	return s.keyRange("backward-fetch-key-range", keyFrom, keyTo, from, to, s.bytes.BackwardFetchKeyRange)
}

// keyRange serializes both keys and opens fn on them.
func (s *windowStoreOf[K, V]) keyRange(op string, keyFrom, keyTo K, from, to int64, fn func(a, b []byte, from, to int64) (WindowIterator, error)) (KeyValueIterator[serde.Windowed[K], V], error) {
	lo, err := s.codec.rawKey(op, keyFrom)
	if err != nil {
		return nil, err
	}
	hi, err := s.codec.rawKey(op, keyTo)
	if err != nil {
		return nil, err
	}
	it, err := fn(lo, hi, from, to)
	return s.codec.iterator(op, it, err)
}

func (s *windowStoreOf[K, V]) FetchAll(from, to int64) (KeyValueIterator[serde.Windowed[K], V], error) {
	it, err := s.bytes.FetchAll(from, to)
	return s.codec.iterator("fetch-all", it, err)
}

func (s *windowStoreOf[K, V]) BackwardFetchAll(from, to int64) (KeyValueIterator[serde.Windowed[K], V], error) {
	it, err := s.bytes.BackwardFetchAll(from, to)
	return s.codec.iterator("backward-fetch-all", it, err)
}

func (s *windowStoreOf[K, V]) All() (KeyValueIterator[serde.Windowed[K], V], error) {
	it, err := s.bytes.All()
	return s.codec.iterator("all", it, err)
}

func (s *windowStoreOf[K, V]) BackwardAll() (KeyValueIterator[serde.Windowed[K], V], error) {
	it, err := s.bytes.BackwardAll()
	return s.codec.iterator("backward-all", it, err)
}

type sessionStoreOf[K, V any] struct {
	codec codec[K, V]
	bytes SessionBytesStore
}

func (s *sessionStoreOf[K, V]) Name() string { return s.codec.name }

func (s *sessionStoreOf[K, V]) Put(session serde.Windowed[K], value V) error {
	const op = "put"
	k, err := s.codec.rawKey(op, session.Key)
	if err != nil {
		return err
	}
	v, err := s.codec.rawValue(op, k, value)
	if err != nil {
		return err
	}
	if err := s.bytes.Put(k, session.Window, v); err != nil {
		return s.codec.fail(op, k, err)
	}
	return nil
}

func (s *sessionStoreOf[K, V]) Remove(session serde.Windowed[K]) error {
	const op = "remove"
	k, err := s.codec.rawKey(op, session.Key)
	if err != nil {
		return err
	}
	if err := s.bytes.Remove(k, session.Window); err != nil {
		return s.codec.fail(op, k, err)
	}
	return nil
}

func (s *sessionStoreOf[K, V]) FetchSession(key K, w serde.Window) (V, bool, error) {
	const op = "fetch-session"
	var zero V
	k, err := s.codec.rawKey(op, key)
	if err != nil {
		return zero, false, err
	}
	raw, err := s.bytes.FetchSession(k, w)
	if err != nil {
		return zero, false, s.codec.fail(op, k, err)
	}
	return s.codec.value(op, k, raw)
}

func (s *sessionStoreOf[K, V]) FindSessions(key K, earliestEnd, latestStart int64) (KeyValueIterator[serde.Windowed[K], V], error) {
	return s.find("find-sessions", key, func(k []byte) (WindowIterator, error) {
		return s.bytes.FindSessions(k, earliestEnd, latestStart)
	})
}

func (s *sessionStoreOf[K, V]) BackwardFindSessions(key K, earliestEnd, latestStart int64) (KeyValueIterator[serde.Windowed[K], V], error) {
	return s.find("backward-find-sessions", key, func(k []byte) (WindowIterator, error) {
		return s.bytes.BackwardFindSessions(k, earliestEnd, latestStart)
	})
}

func (s *sessionStoreOf[K, V]) Fetch(key K) (KeyValueIterator[serde.Windowed[K], V], error) {
	return s.find("fetch", key, s.bytes.Fetch)
}

func (s *sessionStoreOf[K, V]) BackwardFetch(key K) (KeyValueIterator[serde.Windowed[K], V], error) {
	return s.find("backward-fetch", key, s.bytes.BackwardFetch)
}

// find serializes key and opens fn on it.
func (s *sessionStoreOf[K, V]) find(op string, key K, fn func([]byte) (WindowIterator, error)) (KeyValueIterator[serde.Windowed[K], V], error) {
	k, err := s.codec.rawKey(op, key)
	if err != nil {
		return nil, err
	}
	it, err := fn(k)
	return s.codec.iterator(op, it, err)
}

func (s *sessionStoreOf[K, V]) FindSessionsKeyRange(keyFrom, keyTo K, earliestEnd, latestStart int64) (KeyValueIterator[serde.Windowed[K], V], error) {
	const op = "find-sessions-key-range"
	lo, err := s.codec.rawKey(op, keyFrom)
	if err != nil {
		return nil, err
	}
	hi, err := s.codec.rawKey(op, keyTo)
	if err != nil {
		return nil, err
	}
	it, err := s.bytes.FindSessionsKeyRange(lo, hi, earliestEnd, latestStart)
	return s.codec.iterator(op, it, err)
}

package state

import (
	"fmt"

	"github.com/kstreams-go/kstreams/serde"
)

// ReadOnlyKeyValueStore is the read side of a typed key-value store, as
// Kafka Streams' ReadOnlyKeyValueStore: what interactive queries may use.
// Every error is a [*StoreError].
type ReadOnlyKeyValueStore[K, V any] interface {
	// Name returns the store's name.
	Name() string
	// Get returns the value of key and true, or the zero V and false if key
	// is absent.
	Get(key K) (V, bool, error)
	// Range iterates, in ascending order of serialized keys, over the keys
	// from from to to, both inclusive. If from is after to the iterator is
	// empty.
	Range(from, to K) (KeyValueIterator[K, V], error)
	// ReverseRange is Range in descending order: it starts at to.
	ReverseRange(from, to K) (KeyValueIterator[K, V], error)
	// PrefixScan iterates, in ascending order, over the keys whose
	// serialized form starts with the serialized form of prefix. The prefix
	// is serialized with the store's key serde and matched bytewise, so this
	// suits serdes whose output for a prefix is a prefix of their output for
	// longer keys, as serde.String and serde.Bytes; with serde.JSON the
	// closing quote of "ab" keeps it from being a prefix of "abc".
	PrefixScan(prefix K) (KeyValueIterator[K, V], error)
	// All iterates over every entry in ascending order of serialized keys.
	All() (KeyValueIterator[K, V], error)
	// ApproximateNumEntries estimates the number of entries.
	ApproximateNumEntries() (int64, error)
}

// KeyValueStore is a typed key-value store, as Kafka Streams'
// KeyValueStore: keys and values go through serdes to a [BytesStore].
// Every error is a [*StoreError].
type KeyValueStore[K, V any] interface {
	ReadOnlyKeyValueStore[K, V]
	// Put sets key to value. A value that serializes to nil bytes (a Kafka
	// null, such as a nil pointer with serde.JSON) deletes key.
	Put(key K, value V) error
	// PutIfAbsent sets key to value only if key is absent. It returns the
	// value already there and true, or the zero V and false if it wrote.
	PutIfAbsent(key K, value V) (V, bool, error)
	// Delete removes key. It returns the old value and true, or the zero V
	// and false if key was absent.
	Delete(key K) (V, bool, error)
}

// KeyValueIterator walks the entries of a typed store. It follows the
// rules of [Iterator]; in addition, an entry whose key or value does not
// deserialize stops the iteration, and Err then returns a [*StoreError]
// naming the store and that entry's key.
type KeyValueIterator[K, V any] interface {
	// Next moves to the next entry, the first one on the first call. It
	// returns false when there is none or an error stopped the iteration.
	Next() bool
	// Key returns the key of the current entry.
	Key() K
	// Value returns the value of the current entry.
	Value() V
	// Err returns the error that stopped the iteration, if any.
	Err() error
	// Close releases the iterator.
	Close() error
}

// NewKeyValueStore returns a typed store over store, turning keys and
// values into bytes with keySerde and valueSerde. The serdes are given the
// store's name as their topic, or the topic of [SerdeTopic]. The typed
// store is safe for concurrent use when store and the serdes are.
func NewKeyValueStore[K, V any](store BytesStore, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...TypedOption) KeyValueStore[K, V] {
	return &keyValueStore[K, V]{bytes: store, topic: serdeTopic(store.Name(), opts), keys: keySerde, values: valueSerde}
}

// TypedOption configures a typed store: [SerdeTopic].
type TypedOption func(*typedOptions)

type typedOptions struct{ topic string }

// SerdeTopic makes a typed store give its serdes topic as the topic they
// serialize for, in place of the store's name. The stores of a topology
// pass their changelog topic, "<application id>-<store>-changelog" (logged
// or not), as Kafka Streams' metered stores do, so that schema-registry
// serdes in stores use the subjects Java uses
// ("<application id>-<store>-changelog-value" under the topic name
// strategy).
func SerdeTopic(topic string) TypedOption {
	return func(o *typedOptions) { o.topic = topic }
}

// serdeTopic returns the topic of the serdes of a typed store named name.
func serdeTopic(name string, opts []TypedOption) string {
	o := typedOptions{topic: name}
	for _, opt := range opts {
		opt(&o)
	}
	return o.topic
}

type keyValueStore[K, V any] struct {
	bytes BytesStore
	// topic is what the serdes are given.
	topic  string
	keys   serde.Serde[K]
	values serde.Serde[V]
}

func (s *keyValueStore[K, V]) Name() string { return s.bytes.Name() }

// fail returns the StoreError of operation op on key.
func (s *keyValueStore[K, V]) fail(op string, key []byte, err error) error {
	return &StoreError{Store: s.bytes.Name(), Op: op, Key: key, Err: err}
}

// rawKey serializes key for operation op.
func (s *keyValueStore[K, V]) rawKey(op string, key K) ([]byte, error) {
	b, err := s.keys.Serialize(s.topic, key)
	if err != nil {
		return nil, s.fail(op, nil, fmt.Errorf("serialize key: %w", err))
	}
	if b == nil {
		return nil, s.fail(op, nil, ErrNullKey)
	}
	return b, nil
}

// rawValue serializes value.
func (s *keyValueStore[K, V]) rawValue(value V) ([]byte, error) {
	b, err := s.values.Serialize(s.topic, value)
	if err != nil {
		return nil, fmt.Errorf("serialize value: %w", err)
	}
	return b, nil
}

// value deserializes raw, the value of key read by operation op; nil raw
// means absent.
func (s *keyValueStore[K, V]) value(op string, key, raw []byte) (V, bool, error) {
	var zero V
	if raw == nil {
		return zero, false, nil
	}
	v, err := s.values.Deserialize(s.topic, raw)
	if err != nil {
		return zero, false, s.fail(op, key, fmt.Errorf("deserialize value: %w", err))
	}
	return v, true, nil
}

func (s *keyValueStore[K, V]) Get(key K) (V, bool, error) {
	return s.readModify("get", key, s.bytes.Get)
}

func (s *keyValueStore[K, V]) Delete(key K) (V, bool, error) {
	return s.readModify("delete", key, s.bytes.Delete)
}

func (s *keyValueStore[K, V]) PutIfAbsent(key K, value V) (V, bool, error) {
	return s.readModify("put-if-absent", key, func(k []byte) ([]byte, error) {
		v, err := s.rawValue(value)
		if err != nil {
			return nil, err
		}
		return s.bytes.PutIfAbsent(k, v)
	})
}

// readModify runs fn, one of the bytes store's methods returning a value,
// on the serialized key and deserializes what it returns.
func (s *keyValueStore[K, V]) readModify(op string, key K, fn func(k []byte) ([]byte, error)) (V, bool, error) {
	var zero V
	k, err := s.rawKey(op, key)
	if err != nil {
		return zero, false, err
	}
	raw, err := fn(k)
	if err != nil {
		return zero, false, s.fail(op, k, err)
	}
	return s.value(op, k, raw)
}

func (s *keyValueStore[K, V]) Put(key K, value V) error {
	const op = "put"
	k, err := s.rawKey(op, key)
	if err != nil {
		return err
	}
	v, err := s.rawValue(value)
	if err == nil {
		err = s.bytes.Put(k, v)
	}
	if err != nil {
		return s.fail(op, k, err)
	}
	return nil
}

func (s *keyValueStore[K, V]) Range(from, to K) (KeyValueIterator[K, V], error) {
	return s.rangeOp("range", from, to, s.bytes.Range)
}

func (s *keyValueStore[K, V]) ReverseRange(from, to K) (KeyValueIterator[K, V], error) {
	return s.rangeOp("reverse-range", from, to, s.bytes.ReverseRange)
}

// rangeOp serializes both bounds and opens a typed iterator with fn.
func (s *keyValueStore[K, V]) rangeOp(op string, from, to K, fn func(from, to []byte) (Iterator, error)) (KeyValueIterator[K, V], error) {
	lo, err := s.rawKey(op, from)
	if err != nil {
		return nil, err
	}
	hi, err := s.rawKey(op, to)
	if err != nil {
		return nil, err
	}
	return s.iterator(op, func() (Iterator, error) { return fn(lo, hi) })
}

func (s *keyValueStore[K, V]) PrefixScan(prefix K) (KeyValueIterator[K, V], error) {
	const op = "prefix-scan"
	p, err := s.rawKey(op, prefix)
	if err != nil {
		return nil, err
	}
	return s.iterator(op, func() (Iterator, error) { return s.bytes.PrefixScan(p) })
}

func (s *keyValueStore[K, V]) All() (KeyValueIterator[K, V], error) {
	return s.iterator("all", s.bytes.All)
}

// iterator wraps the bytes iterator that open returns.
func (s *keyValueStore[K, V]) iterator(op string, open func() (Iterator, error)) (KeyValueIterator[K, V], error) {
	it, err := open()
	if err != nil {
		return nil, s.fail(op, nil, err)
	}
	return &keyValueIterator[K, V]{store: s, op: op, it: it}, nil
}

func (s *keyValueStore[K, V]) ApproximateNumEntries() (int64, error) {
	n, err := s.bytes.ApproximateNumEntries()
	if err != nil {
		return 0, s.fail("approximate-num-entries", nil, err)
	}
	return n, nil
}

// keyValueIterator deserializes the entries of a bytes iterator.
type keyValueIterator[K, V any] struct {
	store *keyValueStore[K, V]
	op    string
	it    Iterator
	key   K
	value V
	err   error
}

func (it *keyValueIterator[K, V]) Next() bool {
	var zeroK K
	var zeroV V
	it.key, it.value = zeroK, zeroV
	if it.err != nil {
		return false
	}
	if !it.it.Next() {
		if err := it.it.Err(); err != nil {
			it.err = it.store.fail(it.op, nil, err)
		}
		return false
	}
	it.err = it.decode(it.it.Key(), it.it.Value())
	return it.err == nil
}

// decode deserializes one entry into it.key and it.value.
func (it *keyValueIterator[K, V]) decode(k, v []byte) error {
	s := it.store
	key, err := s.keys.Deserialize(s.topic, k)
	if err != nil {
		return s.fail(it.op, k, fmt.Errorf("deserialize key: %w", err))
	}
	value, _, err := s.value(it.op, k, v)
	if err != nil {
		return err
	}
	it.key, it.value = key, value
	return nil
}

func (it *keyValueIterator[K, V]) Key() K     { return it.key }
func (it *keyValueIterator[K, V]) Value() V   { return it.value }
func (it *keyValueIterator[K, V]) Err() error { return it.err }

func (it *keyValueIterator[K, V]) Close() error {
	if err := it.it.Close(); err != nil {
		return it.store.fail(it.op, nil, err)
	}
	return nil
}

package state

import "bytes"

// Iterator walks entries of a [BytesStore] in key order (bytewise, as
// bytes.Compare), or in reverse order for ReverseRange.
//
//	it, err := store.All()
//	if err != nil { ... }
//	defer it.Close()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { ... }
//
// An iterator sees the store as it was when the iterator was created: writes
// made while it is open, even from the same goroutine, do not show through
// it. The slices returned by Key and Value stay valid after Next and after
// Close, and must not be modified. An iterator must be closed; closing the
// store closes its open iterators, whose Next then returns false with Err
// reporting [ErrClosed]. An iterator is not safe for concurrent use.
type Iterator interface {
	// Next moves to the next entry, the first one on the first call. It
	// returns false when there is none or an error stopped the iteration.
	Next() bool
	// Key returns the key of the current entry.
	Key() []byte
	// Value returns the value of the current entry: never nil while Next
	// returns true.
	Value() []byte
	// Err returns the error that stopped the iteration, if any.
	Err() error
	// Close releases the iterator. Closing twice returns nil.
	Close() error
}

// BatchWriter is implemented by byte stores that apply many writes as one
// batch, as the Pebble store does. Restoration from a changelog uses it:
// one batch per fetch of changelog records instead of one write each.
type BatchWriter interface {
	// PutAll sets keys[i] to values[i], in order, in one atomic batch; a
	// nil value deletes its key. Unlike Put and Delete it does not read
	// old values. keys and values have the same length; a nil key is an
	// error and nothing is written.
	PutAll(keys, values [][]byte) error
}

// BytesStore is an ordered key-value store of bytes: the bottom layer of a
// state store, under the typed [KeyValueStore] and the runtime's caching
// and changelogging layers. Keys are ordered bytewise, as bytes.Compare.
//
// As in Kafka Streams, a nil value is a tombstone: Put(key, nil) deletes the
// key, and no stored value is nil (an empty, non-nil value is a value). A nil
// key is refused with [ErrNullKey].
//
// Stores copy the keys and values given to them, so a caller may reuse its
// buffers once a call returns. Slices returned by a store stay valid
// indefinitely and must not be modified.
//
// Every method returns [ErrClosed] once Close was called. The store backends
// of this package are safe for concurrent use, and PutIfAbsent and Delete are
// atomic with respect to other writes.
type BytesStore interface {
	// Name returns the store's name.
	Name() string
	// Get returns the value of key, or nil and no error if key is absent.
	Get(key []byte) ([]byte, error)
	// Put sets key to value; a nil value deletes key.
	Put(key, value []byte) error
	// PutIfAbsent sets key to value only if key is absent. It returns the
	// value already there, nil if it wrote value.
	PutIfAbsent(key, value []byte) ([]byte, error)
	// Delete removes key and returns its old value, nil if it was absent.
	Delete(key []byte) ([]byte, error)
	// Range iterates, in ascending order, over the keys from from to to,
	// both inclusive as in Kafka Streams. A nil bound is unbounded. If from
	// is greater than to, the iterator is empty.
	Range(from, to []byte) (Iterator, error)
	// ReverseRange is Range in descending order: it starts at to.
	ReverseRange(from, to []byte) (Iterator, error)
	// PrefixScan iterates, in ascending order, over the keys that start with
	// prefix. An empty prefix matches every key.
	PrefixScan(prefix []byte) (Iterator, error)
	// All iterates over every entry in ascending order.
	All() (Iterator, error)
	// ApproximateNumEntries estimates the number of entries; see each
	// backend for how exact it is.
	ApproximateNumEntries() (int64, error)
	// Flush makes every write done so far durable, for stores that persist.
	Flush() error
	// Close releases the store and closes its open iterators. It does not
	// flush: call Flush first to keep recent writes of a persistent store.
	Close() error
}

// span is a key interval [lo, hi): lo inclusive, hi exclusive, nil meaning
// unbounded. Both backends iterate over spans.
type span struct {
	lo, hi []byte
	empty  bool // the interval holds no key at all
}

// rangeSpan returns the span of Range(from, to), to being inclusive.
func rangeSpan(from, to []byte) span {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return span{empty: true}
	}
	return span{lo: lowerBound(from), hi: keySuccessor(to)}
}

// prefixSpan returns the span of PrefixScan(prefix).
func prefixSpan(prefix []byte) span {
	return span{lo: lowerBound(prefix), hi: prefixSuccessor(prefix)}
}

// lowerBound returns a copy of the inclusive lower bound lo, or nil for
// the empty key, which bounds nothing (pebble's invariant checks also
// reject an empty lower bound).
func lowerBound(lo []byte) []byte {
	if len(lo) == 0 {
		return nil
	}
	return clone(lo)
}

// contains reports whether key is inside the span.
func (s span) contains(key []byte) bool {
	return !s.empty && (s.lo == nil || bytes.Compare(key, s.lo) >= 0) &&
		(s.hi == nil || bytes.Compare(key, s.hi) < 0)
}

// keySuccessor returns the smallest key greater than key (key with a zero
// byte appended), turning an inclusive upper bound into an exclusive one.
// It returns nil for nil.
func keySuccessor(key []byte) []byte {
	if key == nil {
		return nil
	}
	next := make([]byte, len(key)+1)
	copy(next, key)
	return next
}

// prefixSuccessor returns the smallest key greater than every key that
// starts with prefix, or nil if there is none (prefix is empty or all 0xff).
func prefixSuccessor(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			next := make([]byte, i+1)
			copy(next, prefix)
			next[i]++
			return next
		}
	}
	return nil
}

// clone returns a copy of b, keeping nil as nil and empty as empty.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

package state

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/tidwall/btree"
)

// NewMemoryStore returns an empty in-memory [BytesStore], like Kafka
// Streams' InMemoryKeyValueStore. It keeps entries in a B-tree and is safe
// for concurrent use.
//
// Iterators read a copy-on-write snapshot of the tree taken when they are
// created, so writes made while an iterator is open, even from the
// iterating goroutine, never disturb it (Java's store iterates a copy of the
// key set instead and may see newer values). Taking a snapshot costs O(1);
// the first write after it copies the O(log n) tree nodes it touches.
//
// ApproximateNumEntries is exact. Flush does nothing.
func NewMemoryStore(name string) BytesStore {
	s := &memoryStore{name: name}
	s.mu.tree = btree.NewBTreeGOptions(entryLess, btree.Options{NoLocks: true})
	return s
}

// entry is a key and its value, as kept in the B-tree.
type entry struct{ key, value []byte }

func entryLess(a, b entry) bool { return bytes.Compare(a.key, b.key) < 0 }

type memoryStore struct {
	name   string
	closed atomic.Bool // set under mu; read by iterators without it

	mu struct {
		sync.RWMutex
		tree *btree.BTreeG[entry] // nil once closed
		snap *btree.BTreeG[entry] // snapshot of tree for iterators; nil after a write
	}
}

func (s *memoryStore) Name() string { return s.name }

func (s *memoryStore) Get(key []byte) ([]byte, error) {
	if key == nil {
		return nil, ErrNullKey
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.tree == nil {
		return nil, ErrClosed
	}
	e, _ := s.mu.tree.Get(entry{key: key})
	return e.value, nil
}

func (s *memoryStore) Put(key, value []byte) error {
	if value == nil {
		_, err := s.Delete(key)
		return err
	}
	return s.write(key, func() { s.setLocked(key, value) })
}

func (s *memoryStore) PutIfAbsent(key, value []byte) ([]byte, error) {
	var old []byte
	err := s.write(key, func() {
		e, found := s.mu.tree.Get(entry{key: key})
		if found {
			old = e.value
		} else if value != nil {
			s.setLocked(key, value)
		}
	})
	return old, err
}

func (s *memoryStore) Delete(key []byte) ([]byte, error) {
	var old []byte
	err := s.write(key, func() {
		e, _ := s.mu.tree.Delete(entry{key: key})
		old = e.value
	})
	return old, err
}

// write runs fn with s.mu held for writing, after checking key and that the
// store is open, and drops the iterators' snapshot.
func (s *memoryStore) write(key []byte, fn func()) error {
	if key == nil {
		return ErrNullKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.tree == nil {
		return ErrClosed
	}
	s.mu.snap = nil
	fn()
	return nil
}

// setLocked stores copies of key and value. s.mu must be held for writing.
func (s *memoryStore) setLocked(key, value []byte) {
	s.mu.tree.Set(entry{key: clone(key), value: clone(value)})
}

func (s *memoryStore) Range(from, to []byte) (Iterator, error) {
	return s.iterate(rangeSpan(from, to), false)
}

func (s *memoryStore) ReverseRange(from, to []byte) (Iterator, error) {
	return s.iterate(rangeSpan(from, to), true)
}

func (s *memoryStore) PrefixScan(prefix []byte) (Iterator, error) {
	return s.iterate(prefixSpan(prefix), false)
}

func (s *memoryStore) All() (Iterator, error) { return s.iterate(span{}, false) }

func (s *memoryStore) iterate(sp span, reverse bool) (Iterator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.tree == nil {
		return nil, ErrClosed
	}
	if s.mu.snap == nil {
		s.mu.snap = s.mu.tree.Copy()
	}
	return &memoryIterator{
		store:   s,
		iter:    s.mu.snap.Iter(),
		span:    sp,
		reverse: reverse,
	}, nil
}

func (s *memoryStore) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.tree == nil {
		return 0, ErrClosed
	}
	return int64(s.mu.tree.Len()), nil
}

func (s *memoryStore) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.tree == nil {
		return ErrClosed
	}
	return nil
}

func (s *memoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.tree == nil {
		return ErrClosed
	}
	s.mu.tree, s.mu.snap = nil, nil
	s.closed.Store(true)
	return nil
}

// memoryIterator walks a span of a snapshot of a memoryStore's tree.
type memoryIterator struct {
	store   *memoryStore
	iter    btree.IterG[entry]
	span    span
	reverse bool
	started bool
	done    bool
	cur     entry
	err     error
}

func (it *memoryIterator) Next() bool {
	if it.done {
		return false
	}
	if it.store.closed.Load() {
		return it.stop(ErrClosed)
	}
	if !it.step() || !it.span.contains(it.iter.Item().key) {
		return it.stop(nil)
	}
	it.cur = it.iter.Item()
	return true
}

// step moves the tree iterator to the next candidate entry.
func (it *memoryIterator) step() bool {
	switch {
	case it.started && it.reverse:
		return it.iter.Prev()
	case it.started:
		return it.iter.Next()
	}
	it.started = true
	switch {
	case it.span.empty:
		return false
	case it.reverse:
		return it.seekLast()
	case it.span.lo == nil:
		return it.iter.First()
	}
	return it.iter.Seek(entry{key: it.span.lo})
}

// seekLast moves the tree iterator to the last entry below the span's end.
func (it *memoryIterator) seekLast() bool {
	if it.span.hi == nil {
		return it.iter.Last()
	}
	if it.iter.Seek(entry{key: it.span.hi}) {
		return it.iter.Prev()
	}
	return it.iter.Last()
}

// stop ends the iteration with err.
func (it *memoryIterator) stop(err error) bool {
	it.done, it.err, it.cur = true, err, entry{}
	it.iter.Release()
	return false
}

func (it *memoryIterator) Key() []byte   { return it.cur.key }
func (it *memoryIterator) Value() []byte { return it.cur.value }
func (it *memoryIterator) Err() error    { return it.err }

func (it *memoryIterator) Close() error {
	if !it.done {
		it.stop(nil)
	}
	return nil
}

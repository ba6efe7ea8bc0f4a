package runtime

import (
	"slices"
	"strings"

	"github.com/kstreams-go/kstreams/state"
)

// txnStore holds a key-value store's writes of the open transaction apart
// from the store (exactly-once only). Reads by the task see them over the
// committed store; queries read the committed store below. commit writes
// them to the store once the transaction holding their changelog records
// has committed; abort drops them. So the store on disk only ever holds
// committed state, and its checkpoint stays true through a crash.
//
// Only the task's goroutine uses it.
type txnStore struct {
	state.BytesStore
	// pending maps a key to its uncommitted value; nil is a deletion.
	pending map[string][]byte
}

func newTxnStore(below state.BytesStore) *txnStore {
	return &txnStore{BytesStore: below, pending: map[string][]byte{}}
}

func (s *txnStore) Get(key []byte) ([]byte, error) {
	if v, ok := s.pending[string(key)]; ok {
		return v, nil
	}
	return s.BytesStore.Get(key)
}

func (s *txnStore) Put(key, value []byte) error {
	if key == nil {
		return state.ErrNullKey
	}
	s.pending[string(key)] = cloneOrNil(value)
	return nil
}

func (s *txnStore) PutIfAbsent(key, value []byte) ([]byte, error) {
	old, err := s.Get(key)
	if err != nil || old != nil {
		return old, err
	}
	return nil, s.Put(key, value)
}

func (s *txnStore) Delete(key []byte) ([]byte, error) {
	old, err := s.Get(key)
	if err != nil || old == nil {
		return old, err
	}
	return old, s.Put(key, nil)
}

// Flush writes nothing: pending writes reach the store only with commit.
func (s *txnStore) Flush() error { return nil }

func (s *txnStore) Range(from, to []byte) (state.Iterator, error) {
	return s.merged(false, func(k string) bool {
		return (from == nil || k >= string(from)) && (to == nil || k <= string(to))
	}, func() (state.Iterator, error) { return s.BytesStore.Range(from, to) })
}

func (s *txnStore) ReverseRange(from, to []byte) (state.Iterator, error) {
	return s.merged(true, func(k string) bool {
		return (from == nil || k >= string(from)) && (to == nil || k <= string(to))
	}, func() (state.Iterator, error) { return s.BytesStore.ReverseRange(from, to) })
}

func (s *txnStore) PrefixScan(prefix []byte) (state.Iterator, error) {
	return s.merged(false, func(k string) bool { return strings.HasPrefix(k, string(prefix)) },
		func() (state.Iterator, error) { return s.BytesStore.PrefixScan(prefix) })
}

func (s *txnStore) All() (state.Iterator, error) {
	return s.merged(false, func(string) bool { return true }, s.BytesStore.All)
}

// merged snapshots the pending writes that match and merges them over the
// committed store's iterator, as the query view of a record cache does.
func (s *txnStore) merged(reverse bool, match func(string) bool, open func() (state.Iterator, error)) (state.Iterator, error) {
	snap := map[string][]byte{}
	keys := make([]string, 0)
	for k, v := range s.pending {
		if match(k) {
			snap[k] = v
			keys = append(keys, k)
		}
	}
	it, err := open()
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	if reverse {
		slices.Reverse(keys)
	}
	return &cacheMergeIter{below: it, keys: keys, snap: snap, reverse: reverse}, nil
}

// commit writes the pending writes to the store below, in key order, in
// one batch when the store can.
func (s *txnStore) commit() error {
	if len(s.pending) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if bw, ok := s.BytesStore.(state.BatchWriter); ok {
		bk, bv := make([][]byte, len(keys)), make([][]byte, len(keys))
		for i, k := range keys {
			bk[i], bv[i] = []byte(k), s.pending[k]
		}
		if err := bw.PutAll(bk, bv); err != nil {
			return err
		}
	} else {
		for _, k := range keys {
			if err := s.BytesStore.Put([]byte(k), s.pending[k]); err != nil {
				return err
			}
		}
	}
	clear(s.pending)
	return nil
}

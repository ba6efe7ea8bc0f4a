package runtime

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/kstreams-go/kstreams/state"
)

// cacheView is the query view of a cached store: read-only, safe to use
// from goroutines other than its task's. It reads the record cache's dirty
// entries (and those being flushed) first, under the cache's mutex, then
// the bottom store, so that queries see uncommitted updates as Kafka
// Streams' read-through queries do. A nil cached value is a deletion.
type cacheView struct {
	cache *cachedStore
	below state.BytesStore
}

func (v *cacheView) Name() string { return v.below.Name() }

// cached returns the cached entry of key, if any.
func (v *cacheView) cached(key string) (*cacheEntry, bool) {
	c := v.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.dirty[key]; ok {
		return e, true
	}
	e, ok := c.flushing[key]
	return e, ok
}

func (v *cacheView) Get(key []byte) ([]byte, error) {
	if e, ok := v.cached(string(key)); ok {
		return cloneOrNil(e.value), nil
	}
	return v.below.Get(key)
}

func (v *cacheView) Put(_, _ []byte) error { return fmt.Errorf("%w: %q", ErrReadOnly, v.Name()) }
func (v *cacheView) PutIfAbsent(_, _ []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: %q", ErrReadOnly, v.Name())
}
func (v *cacheView) Delete(_ []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: %q", ErrReadOnly, v.Name())
}
func (v *cacheView) Flush() error { return nil }
func (v *cacheView) Close() error { return nil }

// ApproximateNumEntries counts the bottom store's entries only.
func (v *cacheView) ApproximateNumEntries() (int64, error) { return v.below.ApproximateNumEntries() }

func (v *cacheView) Range(from, to []byte) (state.Iterator, error) {
	return v.merged(false, func(k string) bool {
		return (from == nil || k >= string(from)) && (to == nil || k <= string(to))
	}, func() (state.Iterator, error) { return v.below.Range(from, to) })
}

func (v *cacheView) ReverseRange(from, to []byte) (state.Iterator, error) {
	return v.merged(true, func(k string) bool {
		return (from == nil || k >= string(from)) && (to == nil || k <= string(to))
	}, func() (state.Iterator, error) { return v.below.ReverseRange(from, to) })
}

func (v *cacheView) PrefixScan(prefix []byte) (state.Iterator, error) {
	return v.merged(false, func(k string) bool { return strings.HasPrefix(k, string(prefix)) },
		func() (state.Iterator, error) { return v.below.PrefixScan(prefix) })
}

func (v *cacheView) All() (state.Iterator, error) {
	return v.merged(false, func(string) bool { return true }, v.below.All)
}

// merged snapshots the cached entries that match, then merges them over
// the bottom store's iterator: a cached key hides the bottom one, and a
// cached deletion hides the key.
func (v *cacheView) merged(reverse bool, match func(string) bool, open func() (state.Iterator, error)) (state.Iterator, error) {
	snap := map[string][]byte{}
	c := v.cache
	c.mu.Lock()
	for k, e := range c.flushing {
		if match(k) {
			snap[k] = e.value
		}
	}
	for k, e := range c.dirty {
		if match(k) {
			snap[k] = e.value
		}
	}
	c.mu.Unlock()
	it, err := open()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if reverse {
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	return &cacheMergeIter{below: it, keys: keys, snap: snap, reverse: reverse}, nil
}

// cacheMergeIter merges a sorted snapshot of cached entries over an
// iterator of the store below.
type cacheMergeIter struct {
	below     state.Iterator
	belowOK   bool
	belowDone bool
	keys      []string
	snap      map[string][]byte
	reverse   bool
	key, val  []byte
	err       error
}

// before tells whether a comes before b in the iteration order.
func (m *cacheMergeIter) before(a, b []byte) bool {
	if m.reverse {
		return bytes.Compare(a, b) > 0
	}
	return bytes.Compare(a, b) < 0
}

func (m *cacheMergeIter) Next() bool {
	for m.err == nil {
		if !m.belowOK && !m.belowDone {
			if m.below.Next() {
				m.belowOK = true
			} else {
				m.belowDone = true
				if m.err = m.below.Err(); m.err != nil {
					return false
				}
			}
		}
		switch {
		case len(m.keys) == 0 && !m.belowOK:
			return false
		case len(m.keys) == 0 || (m.belowOK && m.before(m.below.Key(), []byte(m.keys[0]))):
			m.key, m.val, m.belowOK = m.below.Key(), m.below.Value(), false
			return true
		default:
			k := m.keys[0]
			m.keys = m.keys[1:]
			if m.belowOK && string(m.below.Key()) == k {
				m.belowOK = false
			}
			if val := m.snap[k]; val != nil {
				m.key, m.val = []byte(k), val
				return true
			}
		}
	}
	return false
}

func (m *cacheMergeIter) Key() []byte   { return m.key }
func (m *cacheMergeIter) Value() []byte { return m.val }
func (m *cacheMergeIter) Err() error    { return m.err }
func (m *cacheMergeIter) Close() error  { return m.below.Close() }

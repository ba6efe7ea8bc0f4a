package runtime

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
)

// ErrStoreNotAvailable is returned by local queries on a store of which
// this instance holds no partition right now (use errors.Is): the instance
// is rebalancing, restoring, or runs none of the store's tasks.
var ErrStoreNotAvailable = errors.New("kstreams: state store not available on this instance")

// ErrReadOnly is returned by writes through a query view (use errors.Is).
var ErrReadOnly = errors.New("kstreams: state store is read-only here")

// registry holds the stores of the active tasks of an instance, for
// queries from other goroutines.
type registry struct {
	mu sync.Mutex
	m  map[string]map[processor.TaskID]state.BytesStore
	// standby holds the stores of standby tasks, with their lag.
	standby map[string]map[processor.TaskID]standbyStore
	// positions holds the live changelog positions of standby tasks
	// (probing.go).
	positions map[processor.TaskID][]*atomic.Int64
	// restoring holds the partitions of each store that are restoring
	// (restoring.go): queries of the store fail meanwhile.
	restoring map[string]map[processor.TaskID]bool
}

// setRestoring marks partition id of store name as restoring or not.
func (r *registry) setRestoring(name string, id processor.TaskID, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !on {
		delete(r.restoring[name], id)
		return
	}
	if r.restoring == nil {
		r.restoring = map[string]map[processor.TaskID]bool{}
	}
	if r.restoring[name] == nil {
		r.restoring[name] = map[processor.TaskID]bool{}
	}
	r.restoring[name][id] = true
}

// isRestoring reports whether a local partition of store name restores.
func (r *registry) isRestoring(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.restoring[name]) > 0
}

type standbyStore struct {
	store state.BytesStore
	lag   *atomic.Int64
}

func (r *registry) addStandby(name string, id processor.TaskID, s state.BytesStore, lag *atomic.Int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.standby == nil {
		r.standby = map[string]map[processor.TaskID]standbyStore{}
	}
	if r.standby[name] == nil {
		r.standby[name] = map[processor.TaskID]standbyStore{}
	}
	r.standby[name][id] = standbyStore{s, lag}
}

func (r *registry) removeStandby(name string, id processor.TaskID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.standby[name], id)
}

func (r *registry) add(name string, id processor.TaskID, s state.BytesStore) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]map[processor.TaskID]state.BytesStore{}
	}
	if r.m[name] == nil {
		r.m[name] = map[processor.TaskID]state.BytesStore{}
	}
	r.m[name][id] = s
}

func (r *registry) remove(name string, id processor.TaskID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m[name], id)
}

// stores returns the partitions of store name, in task order.
func (r *registry) stores(name string) []state.BytesStore {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]processor.TaskID, 0, len(r.m[name]))
	for id := range r.m[name] {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Partition < ids[j].Partition })
	out := make([]state.BytesStore, len(ids))
	for i, id := range ids {
		out[i] = r.m[name][id]
	}
	return out
}

// LocalStore is a read-only byte store over every local partition of a
// store. It reads each partition's query view (taskStore.queryView):
// through the record cache of a cached store, so it sees every update.
type LocalStore struct {
	name string
	reg  *registry
	// fixed, if set, are the only partitions read (a standby's).
	fixed []state.BytesStore
}

func (l *LocalStore) parts() ([]state.BytesStore, error) {
	if l.fixed != nil {
		return l.fixed, nil
	}
	if l.reg.isRestoring(l.name) {
		return nil, fmt.Errorf("%w: %q: a partition of the store is restoring", ErrStoreNotAvailable, l.name)
	}
	ps := l.reg.stores(l.name)
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrStoreNotAvailable, l.name)
	}
	return ps, nil
}

func (l *LocalStore) Name() string { return l.name }

// Parts returns the bottom store of each local partition, in partition
// order: it makes LocalStore a state.Partitioned, which window and session
// stores read one partition at a time.
func (l *LocalStore) Parts() ([]state.BytesStore, error) { return l.parts() }

func (l *LocalStore) Get(key []byte) ([]byte, error) {
	ps, err := l.parts()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if v, err := p.Get(key); err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}

func (l *LocalStore) Put(_, _ []byte) error { return fmt.Errorf("%w: %q", ErrReadOnly, l.name) }
func (l *LocalStore) PutIfAbsent(_, _ []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: %q", ErrReadOnly, l.name)
}
func (l *LocalStore) Delete(_ []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: %q", ErrReadOnly, l.name)
}
func (l *LocalStore) Flush() error { return nil }
func (l *LocalStore) Close() error { return nil }

func (l *LocalStore) ApproximateNumEntries() (int64, error) {
	ps, err := l.parts()
	var n int64
	for _, p := range ps {
		c, perr := p.ApproximateNumEntries()
		err = errors.Join(err, perr)
		n += c
	}
	return n, err
}

func (l *LocalStore) Range(from, to []byte) (state.Iterator, error) {
	return l.merge(false, func(s state.BytesStore) (state.Iterator, error) { return s.Range(from, to) })
}

func (l *LocalStore) ReverseRange(from, to []byte) (state.Iterator, error) {
	return l.merge(true, func(s state.BytesStore) (state.Iterator, error) { return s.ReverseRange(from, to) })
}

func (l *LocalStore) PrefixScan(prefix []byte) (state.Iterator, error) {
	return l.merge(false, func(s state.BytesStore) (state.Iterator, error) { return s.PrefixScan(prefix) })
}

func (l *LocalStore) All() (state.Iterator, error) {
	return l.merge(false, func(s state.BytesStore) (state.Iterator, error) { return s.All() })
}

func (l *LocalStore) merge(reverse bool, open func(state.BytesStore) (state.Iterator, error)) (state.Iterator, error) {
	ps, err := l.parts()
	if err != nil {
		return nil, err
	}
	m := &mergeIter{reverse: reverse}
	for _, p := range ps {
		it, err := open(p)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.all = append(m.all, it)
		if it.Next() {
			m.h = append(m.h, it)
		} else if err := it.Err(); err != nil {
			m.Close()
			return nil, err
		}
	}
	heap.Init(m)
	return m, nil
}

// mergeIter merges sorted iterators (of disjoint keys) into one.
type mergeIter struct {
	reverse bool
	all     []state.Iterator
	h       []state.Iterator
	cur     state.Iterator
	started bool
	err     error
	key     []byte
	value   []byte
}

func (m *mergeIter) Len() int { return len(m.h) }
func (m *mergeIter) Less(i, j int) bool {
	c := bytes.Compare(m.h[i].Key(), m.h[j].Key())
	if m.reverse {
		return c > 0
	}
	return c < 0
}
func (m *mergeIter) Swap(i, j int) { m.h[i], m.h[j] = m.h[j], m.h[i] }
func (m *mergeIter) Push(x any)    { m.h = append(m.h, x.(state.Iterator)) }
func (m *mergeIter) Pop() any {
	x := m.h[len(m.h)-1]
	m.h = m.h[:len(m.h)-1]
	return x
}

func (m *mergeIter) Next() bool {
	if m.err != nil {
		return false
	}
	if m.started && len(m.h) > 0 {
		top := m.h[0]
		if top.Next() {
			heap.Fix(m, 0)
		} else {
			if m.err = top.Err(); m.err != nil {
				return false
			}
			heap.Pop(m)
		}
	}
	m.started = true
	if len(m.h) == 0 {
		return false
	}
	m.key, m.value = m.h[0].Key(), m.h[0].Value()
	return true
}

func (m *mergeIter) Key() []byte   { return m.key }
func (m *mergeIter) Value() []byte { return m.value }
func (m *mergeIter) Err() error    { return m.err }
func (m *mergeIter) Close() error {
	var err error
	for _, it := range m.all {
		err = errors.Join(err, it.Close())
	}
	m.all, m.h = nil, nil
	return err
}

// ErrStandbyLag is returned by standby queries when this instance has no
// standby of the partition within the lag asked for (use errors.Is).
var ErrStandbyLag = errors.New("kstreams: no standby within the maximum lag on this instance")

// StandbyStore returns the query view of partition p of store name on a
// standby task of this instance whose lag is known and at most maxLag
// changelog records, and the store's spec.
func (e *Engine) StandbyStore(name string, p int32, maxLag int64) (*LocalStore, *StoreSpec, error) {
	ls, spec, err := e.LocalStore(name)
	if err != nil {
		return nil, nil, err
	}
	e.registry.mu.Lock()
	defer e.registry.mu.Unlock()
	for id, s := range e.registry.standby[name] {
		if id.Partition != p {
			continue
		}
		if lag := s.lag.Load(); lag < 0 || lag > maxLag {
			return nil, nil, fmt.Errorf("%w: store %q partition %d: lag %d, at most %d wanted", ErrStandbyLag, name, p, lag, maxLag)
		}
		ls.fixed = []state.BytesStore{s.store}
		return ls, spec, nil
	}
	return nil, nil, fmt.Errorf("%w: store %q partition %d: no standby here", ErrStandbyLag, name, p)
}

// ActiveStore returns the query view of partition p of store name on an
// active task of this instance, and the store's spec. It fails with
// ErrStoreNotAvailable when no active task here holds the partition (the
// task moved, or has not arrived yet), so that a read of one key never
// answers "absent" from the other partitions.
func (e *Engine) ActiveStore(name string, p int32) (*LocalStore, *StoreSpec, error) {
	ls, spec, err := e.LocalStore(name)
	if err != nil {
		return nil, nil, err
	}
	e.registry.mu.Lock()
	defer e.registry.mu.Unlock()
	for id, s := range e.registry.m[name] {
		if id.Partition == p {
			ls.fixed = []state.BytesStore{s}
			return ls, spec, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: %q partition %d", ErrStoreNotAvailable, name, p)
}

// LocalStore returns the query view of store name over this instance's
// tasks, and the store's spec.
func (e *Engine) LocalStore(name string) (*LocalStore, *StoreSpec, error) {
	for _, st := range e.plan.Subtopologies {
		for _, s := range st.Stores {
			if s.Name == name {
				return &LocalStore{name: name, reg: &e.registry}, s, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("kstreams: no state store %q in the topology", name)
}

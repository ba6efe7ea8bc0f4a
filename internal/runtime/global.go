package runtime

import (
	"fmt"
	"sync"
)

// GlobalSpec declares a global store: every instance of the application
// keeps a full copy of topic in it, read from all partitions, with no
// changelog (the topic is its source, as in Kafka Streams).
type GlobalSpec struct {
	// Name names the store.
	Name string
	// Topic is the topic the store is a copy of.
	Topic string
}

// GlobalStore is the store of a global table: the latest value of each key
// of its topic and the timestamp of that value. The global thread writes it
// while stream threads read it, so it is guarded by a lock of its own; it is
// kept in memory and rebuilt from its topic when the application starts.
type GlobalStore struct {
	spec GlobalSpec
	mu   sync.RWMutex
	rows map[string]globalRow
}

type globalRow struct {
	value []byte
	ts    int64
}

// NewGlobalStore returns the empty store of spec.
func NewGlobalStore(spec GlobalSpec) *GlobalStore {
	return &GlobalStore{spec: spec, rows: map[string]globalRow{}}
}

// Spec returns what the store was declared as.
func (s *GlobalStore) Spec() GlobalSpec { return s.spec }

// Apply writes one record of the store's topic: a nil value deletes the
// key; a record with a nil key is skipped (reported false), as Kafka
// Streams' table source skips it.
func (s *GlobalStore) Apply(key, value []byte, ts int64) bool {
	if key == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		delete(s.rows, string(key))
		return true
	}
	s.rows[string(key)] = globalRow{value: append([]byte(nil), value...), ts: ts}
	return true
}

// Get returns the value of key and its timestamp; ok is false when the key
// has no row. The value must not be modified.
func (s *GlobalStore) Get(key []byte) (value []byte, ts int64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.rows[string(key)]
	return r.value, r.ts, ok
}

// Len returns the number of rows.
func (s *GlobalStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.rows)
}

// AddGlobal declares a global store.
func (g *Graph) AddGlobal(s GlobalSpec) {
	for _, o := range g.globals {
		if o.Name == s.Name {
			g.Problem(fmt.Errorf("global store %q declared twice", s.Name))
			return
		}
		if o.Topic == s.Topic {
			g.Problem(fmt.Errorf("topic %q read by two global tables (%q and %q)", s.Topic, o.Name, s.Name))
			return
		}
	}
	if _, dup := g.stores[s.Name]; dup {
		g.Problem(fmt.Errorf("state store %q declared twice", s.Name))
		return
	}
	g.globals = append(g.globals, s)
}

// Globals returns the global stores declared, in declaration order.
func (g *Graph) Globals() []GlobalSpec { return append([]GlobalSpec(nil), g.globals...) }

// NewGlobalStores returns an empty store for each global store of p, by name.
func (p *Plan) NewGlobalStores() map[string]*GlobalStore {
	m := make(map[string]*GlobalStore, len(p.Globals))
	for _, s := range p.Globals {
		m[s.Name] = NewGlobalStore(s)
	}
	return m
}

// GlobalStore returns the global store name, if the task was given one.
func (t *Task) GlobalStore(name string) (*GlobalStore, bool) {
	s, ok := t.cfg.Globals[name]
	return s, ok
}

// GlobalStore returns the global store name as the node's processors see it.
func (n *processorNode[KIn, VIn, KOut, VOut]) GlobalStore(name string) (*GlobalStore, bool) {
	return n.t.GlobalStore(name)
}

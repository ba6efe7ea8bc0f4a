package runtime

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// GlobalSpec declares a global store: every instance of the application
// keeps a full copy of topic in it, read from all partitions, with no
// changelog (the topic is its source, as in Kafka Streams).
type GlobalSpec struct {
	// Name names the store.
	Name string
	// Topic is the topic the store is a copy of.
	Topic string
	// Persistent keeps the store in Pebble under the state directory,
	// with the offsets it has applied in a checkpoint file, so that a
	// restart reads the topic only from there on. Otherwise the store is
	// in memory and rebuilt from the start of the topic at each start.
	Persistent bool
	// Updater, when set, makes the user processor that maintains the
	// store (a global store of the Processor API, Kafka Streams'
	// addGlobalStore): it gets every record of the topic, and restoring
	// runs the topic through it again. Without it the store is a global
	// table's: the latest value of each key with its timestamp, in the
	// layout of a timestamped key-value store.
	Updater func(st *GlobalStore, appID string) (GlobalUpdater, error)
	// Typed returns the typed view of the store's bytes that processors
	// of stream tasks get from StateStore (read-only), if any.
	Typed func(state.BytesStore) any
}

// GlobalUpdater is the user processor of a global store.
type GlobalUpdater interface {
	// Update applies one record of the store's topic.
	Update(r GlobalRecord) error
	// Close is called once, when the store closes.
	Close() error
}

// GlobalRecord is one record of a global store's topic.
type GlobalRecord struct {
	Topic      string
	Partition  int32
	Offset     int64
	Key, Value []byte
	Timestamp  int64
	Headers    []kgo.RecordHeader
}

// GlobalStore is a global store: the global thread writes it (through its
// updater, if it has one) while stream threads read it. Its bytes store is
// safe for concurrent use.
type GlobalStore struct {
	spec    GlobalSpec
	bs      state.BytesStore
	updater GlobalUpdater
	closed  bool
}

// NewGlobalStore returns the store of spec over bs, which it owns from
// now on, and makes its updater, if it has one, for application appID.
func NewGlobalStore(spec GlobalSpec, bs state.BytesStore, appID string) (*GlobalStore, error) {
	s := &GlobalStore{spec: spec, bs: bs}
	if spec.Updater != nil {
		u, err := spec.Updater(s, appID)
		if err != nil {
			_ = bs.Close()
			return nil, fmt.Errorf("kstreams: global store %q: %w", spec.Name, err)
		}
		s.updater = u
	}
	return s, nil
}

// Spec returns what the store was declared as.
func (s *GlobalStore) Spec() GlobalSpec { return s.spec }

// Bytes returns the store's bytes, for its updater.
func (s *GlobalStore) Bytes() state.BytesStore { return s.bs }

// Update applies one record of the store's topic. A global table's store
// writes it: a nil value deletes the key; a record with a nil key is
// skipped (reported false), as Kafka Streams' table source skips it. A
// store with an updater passes it to the updater, except a record with a
// nil key while restoring, which Kafka Streams' reprocessing skips.
func (s *GlobalStore) Update(r GlobalRecord, restoring bool) (bool, error) {
	if s.updater != nil {
		if r.Key == nil && restoring {
			return false, nil
		}
		if err := s.updater.Update(r); err != nil {
			return false, fmt.Errorf("kstreams: global store %q, %s[%d]@%d: %w", s.spec.Name, r.Topic, r.Partition, r.Offset, err)
		}
		return true, nil
	}
	if r.Key == nil {
		return false, nil
	}
	var err error
	if r.Value == nil {
		_, err = s.bs.Delete(r.Key)
	} else {
		err = s.bs.Put(r.Key, state.WithTimestamp(r.Timestamp, r.Value))
	}
	if err != nil {
		return false, fmt.Errorf("kstreams: global store %q: %w", s.spec.Name, err)
	}
	return true, nil
}

// Get returns the value of key in a global table's store and its
// timestamp; ok is false when the key has no row (or the store failed).
func (s *GlobalStore) Get(key []byte) (value []byte, ts int64, ok bool) {
	raw, err := s.bs.Get(key)
	if err != nil || raw == nil {
		return nil, 0, false
	}
	ts, value, err = state.SplitTimestamp(raw)
	if err != nil {
		return nil, 0, false
	}
	return value, ts, true
}

// Len returns the approximate number of rows.
func (s *GlobalStore) Len() int {
	n, _ := s.bs.ApproximateNumEntries()
	return int(n)
}

// Close closes the updater and the store.
func (s *GlobalStore) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.updater != nil {
		err = s.updater.Close()
	}
	return errors.Join(err, s.bs.Close())
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

// NewGlobalStores opens a store for each global store of p, by name: in
// memory, or for a persistent one in Pebble under dir/<name> (with pebble's
// options), for application appID.
func (p *Plan) NewGlobalStores(appID, dir string, pebble *state.PebbleOptions) (map[string]*GlobalStore, error) {
	m := make(map[string]*GlobalStore, len(p.Globals))
	for _, spec := range p.Globals {
		var bs state.BytesStore
		if spec.Persistent {
			var err error
			if bs, err = state.OpenPebbleStore(spec.Name, filepath.Join(dir, spec.Name), pebble); err != nil {
				CloseGlobalStores(m)
				return nil, fmt.Errorf("kstreams: global store %q: %w", spec.Name, err)
			}
		} else {
			bs = state.NewMemoryStore(spec.Name)
		}
		st, err := NewGlobalStore(spec, bs, appID)
		if err != nil {
			CloseGlobalStores(m)
			return nil, err
		}
		m[spec.Name] = st
	}
	return m, nil
}

// CloseGlobalStores closes stores, returning the first error.
func CloseGlobalStores(stores map[string]*GlobalStore) error {
	var errs []error
	for _, st := range stores {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
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

package kstreams

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Versioning makes a table's store a versioned key-value store (set
// [Materialized.Versioned] on [TableFrom]), as Kafka Streams'
// Materialized.as(Stores.persistentVersionedKeyValueStore(name,
// historyRetention)): the store keeps, per key, the latest value and the
// earlier values for HistoryRetention, so that a stream-table join looks
// each stream record up as of its own timestamp.
type Versioning struct {
	// HistoryRetention is how long, against the table's stream time (the
	// largest timestamp put), older versions stay readable; an update
	// older than stream time minus HistoryRetention is dropped. Not
	// negative, whole milliseconds.
	HistoryRetention time.Duration
}

// VersionedStoreBuilder declares a versioned key-value store for the
// Processor API, as Kafka Streams' Stores.versionedKeyValueStoreBuilder
// over Stores.persistentVersionedKeyValueStore. Processors connected to it
// get a state.VersionedKeyValueStore[K, V]. Each put is logged to the
// changelog "<application id>-<Name>-changelog" with the version's
// timestamp as the record timestamp (a delete as a tombstone), which
// restoring replays; the topic is compacted with min.compaction.lag.ms =
// HistoryRetention plus one day, as Kafka Streams configures it.
type VersionedStoreBuilder[K, V any] struct {
	// Name names the store and its changelog topic. Required.
	Name  string
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// HistoryRetention: see [Versioning].
	HistoryRetention time.Duration
	// InMemory keeps the store in memory instead of Pebble on disk.
	InMemory bool
	// DisableLogging turns the changelog off: the store is not restored.
	DisableLogging bool
	// ChangelogConfigs are extra topic configs of the changelog.
	ChangelogConfigs map[string]string
}

// AddVersionedStore adds a versioned key-value store to a topology (or a
// builder's topology) and connects it to the named processors.
func AddVersionedStore[K, V any](to topologyHolder, sb VersionedStoreBuilder[K, V], processors ...string) {
	b := &Builder{t: to.topology()}
	k := storeSerde(b, "versioned store "+quote(sb.Name), "VersionedStoreBuilder.Key", sb.Key)
	v := storeSerde(b, "versioned store "+quote(sb.Name), "VersionedStoreBuilder.Value", sb.Value)
	addVersionedStore(b, sb.Name, sb.HistoryRetention, !sb.InMemory, !sb.DisableLogging, sb.ChangelogConfigs,
		func(s state.VersionedBytesStore, topic string) any {
			return state.NewVersionedKeyValueStore(s, k, v, state.SerdeTopic(topic))
		})
	for _, p := range processors {
		b.t.g.Connect(sb.Name, p)
	}
}

func addVersionedStore(b *Builder, name string, retention time.Duration, persistent, logged bool, user map[string]string, typed func(state.VersionedBytesStore, string) any) {
	if name == "" {
		b.t.g.Problem(fmt.Errorf("state store: empty name"))
	}
	opts := state.VersionedStoreOptions{HistoryRetention: retention}
	if err := opts.Validate(); err != nil {
		b.t.g.Problem(fmt.Errorf("state store %q: %w", name, err))
	}
	configs := map[string]string{
		"min.compaction.lag.ms": strconv.FormatInt((retention + runtime.WindowChangelogAdditionalRetention).Milliseconds(), 10),
	}
	for k, v := range user {
		configs[k] = v
	}
	b.t.g.AddStore(&runtime.StoreSpec{
		Name: name, Persistent: persistent, Logged: logged, Versioned: true, ChangelogConfigs: configs,
		Open: runtime.VersionedStoreOpen(opts), Typed: runtime.VersionedStoreTyped(typed),
	})
}

// versionedTableStore is the typed store of a versioned DSL table: the
// versioned byte store and the table's serdes.
type versionedTableStore[K, V any] struct {
	bytes state.VersionedBytesStore
	key   serde.Serde[K]
	value serde.Serde[V]
	topic string
}

// StoreKind names what processors may ask for, for error messages.
func (s *versionedTableStore[K, V]) StoreKind() string {
	return "the versioned store of a table (internal)"
}

// get reads the version of key valid at asOf (latest: the latest one).
func (s *versionedTableStore[K, V]) get(k K, asOf int64, latest bool) (V, int64, bool, error) {
	var zero V
	kb, err := s.key.Serialize(s.topic, k)
	if err != nil || kb == nil {
		return zero, 0, false, err
	}
	var r state.VersionedRecord[[]byte]
	var ok bool
	if latest {
		r, ok, err = s.bytes.Get(kb)
	} else {
		r, ok, err = s.bytes.GetAsOf(kb, asOf)
	}
	if err != nil || !ok {
		return zero, 0, false, err
	}
	v, err := s.value.Deserialize(s.topic, r.Value)
	if err != nil {
		return zero, 0, false, &state.StoreError{Store: s.bytes.Name(), Op: "get", Key: kb, Err: fmt.Errorf("deserialize value: %w", err)}
	}
	return v, r.Timestamp, true, nil
}

// versionedTableFrom is TableFrom with a versioned store.
// The store (m.Name) and the table's node (n) are named by TableFrom.
func versionedTableFrom[K, V any](b *Builder, src, n string, m Materialized[K, V], key serde.Serde[K], value serde.Serde[V]) Table[K, V] {
	name := m.Name
	where := fmt.Sprintf("store %q %s", name, after(src))
	k := pickSerde(b, where, "Materialized", "key", m.Key, key)
	v := pickSerde(b, where, "Materialized", "value", m.Value, value)
	addVersionedStore(b, name, m.Versioned.HistoryRetention, !m.InMemory, !m.DisableLogging, m.ChangelogConfigs,
		func(s state.VersionedBytesStore, topic string) any {
			return &versionedTableStore[K, V]{bytes: s, key: k, value: v, topic: topic}
		})
	old := sourceOld(true)
	AddProcessor(b.t, n, func() processor.Processor[K, optional[V], K, Change[V]] {
		return &versionedTableSource[K, V]{store: name, old: old}
	}, src)
	b.t.g.Connect(name, n)
	open := func(ctx storeCtx) (*versionedTableStore[K, V], error) {
		return processor.Store[*versionedTableStore[K, V]](ctx, name)
	}
	look := lookupSpec[K, V]{stores: []string{name},
		open: func(ctx storeCtx) (rowLookup[K, V], error) {
			st, err := open(ctx)
			if err != nil {
				return nil, err
			}
			return func(k K) (V, int64, bool, error) { return st.get(k, 0, true) }, nil
		},
		asOf: func(ctx storeCtx) (asOfLookup[K, V], error) {
			st, err := open(ctx)
			if err != nil {
				return nil, err
			}
			return func(k K, ts int64) (V, int64, bool, error) { return st.get(k, ts, false) }, nil
		},
	}
	return Table[K, V]{b: b, node: n, key: k, value: v, old: old, lookup: look}
}

// versionedTableSource keeps a source table in a versioned store, as Kafka
// Streams' KTableSource over a versioned store: every update is put at its
// timestamp; one older than the history retention is not put and not
// forwarded; the others are forwarded, out-of-order ones too, with the
// latest value before the put as old value.
type versionedTableSource[K, V any] struct {
	store string
	old   *oldValues
	st    *versionedTableStore[K, V]
	ctx   processor.Context[K, Change[V]]
}

func (p *versionedTableSource[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	st, err := processor.Store[*versionedTableStore[K, V]](ctx, p.store)
	if err != nil {
		return err
	}
	p.st, p.ctx = st, ctx
	return nil
}

func (p *versionedTableSource[K, V]) Process(r processor.Record[K, optional[V]]) error {
	kb, err := p.st.key.Serialize(p.st.topic, r.Key)
	if err != nil {
		return &state.StoreError{Store: p.store, Op: "put", Err: fmt.Errorf("serialize key: %w", err)}
	}
	if kb == nil {
		dropRecord(p.ctx, "null key")
		return nil
	}
	var c Change[V]
	if p.old.send {
		if c.Old, _, c.HasOld, err = p.st.get(r.Key, 0, true); err != nil {
			return err
		}
	}
	var vb []byte
	if r.Value.ok {
		if vb, err = p.st.value.Serialize(p.st.topic, r.Value.v); err != nil {
			return &state.StoreError{Store: p.store, Op: "put", Key: kb, Err: fmt.Errorf("serialize value: %w", err)}
		}
		c.New, c.HasNew = r.Value.v, vb != nil
	}
	validTo, err := p.st.bytes.Put(kb, vb, r.Timestamp)
	if err != nil || validTo == state.PutNotPut {
		return err
	}
	p.ctx.Forward(processor.Record[K, Change[V]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
	return nil
}

func (p *versionedTableSource[K, V]) Close() error { return nil }

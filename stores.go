package kstreams

import (
	"fmt"
	"reflect"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// StoreBuilder declares a key-value state store for the Processor API.
// Processors connected to it get a state.KeyValueStore[K, V]:
//
//	counts, err := processor.Store[state.KeyValueStore[string, int64]](ctx, "counts")
//
// or, with Timestamped, a state.TimestampedKeyValueStore[K, V]. The stores
// of DSL tables and aggregations are timestamped: a processor connected to
// one gets a state.TimestampedKeyValueStore.
type StoreBuilder[K, V any] struct {
	// Name names the store and its changelog topic
	// "<application id>-<Name>-changelog". Required.
	Name  string
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// InMemory keeps the store in memory instead of Pebble on disk.
	InMemory bool
	// DisableLogging turns the changelog off: the store is not restored.
	DisableLogging bool
	// ChangelogConfigs are extra topic configs of the changelog.
	ChangelogConfigs map[string]string
	// Timestamped keeps a timestamp with each value, as Kafka Streams'
	// TimestampedKeyValueStore: processors get a
	// state.TimestampedKeyValueStore[K, V], whose changelog records carry
	// the value's timestamp as their own.
	Timestamped bool
}

// topologyHolder is a *Topology or a *Builder.
type topologyHolder interface{ topology() *Topology }

func (t *Topology) topology() *Topology { return t }
func (b *Builder) topology() *Topology  { return b.t }

// AddStateStore adds a store to a topology and connects it to the named
// processors. to is a *[Topology] (Processor API) or a *[Builder] (DSL);
// with the DSL, connect the store with [ProcessWithStores] or
// [ProcessValuesWithStores] instead of naming processors here.
func AddStateStore[K, V any](to topologyHolder, sb StoreBuilder[K, V], processors ...string) {
	t := to.topology()
	b := &Builder{t: t}
	if sb.Name == "" {
		t.g.Problem(fmt.Errorf("state store: empty name"))
	}
	where := "state store " + quote(sb.Name)
	k := pickSerde(b, where, "StoreBuilder", "key", sb.Key)
	v := pickSerde(b, where, "StoreBuilder", "value", sb.Value)
	typed := func(bs state.BytesStore, topic string) any {
		return state.NewKeyValueStore(bs, k, v, state.SerdeTopic(topic))
	}
	if sb.Timestamped {
		typed = func(bs state.BytesStore, topic string) any {
			return state.NewTimestampedKeyValueStore(bs, k, v, state.SerdeTopic(topic))
		}
	}
	t.g.AddStore(&runtime.StoreSpec{
		Name: sb.Name, Persistent: !sb.InMemory, Logged: !sb.DisableLogging, ChangelogConfigs: sb.ChangelogConfigs,
		Timestamped: sb.Timestamped, Typed: typed,
	})
	for _, p := range processors {
		t.g.Connect(sb.Name, p)
	}
}

// ProcessWithStores is [Process] with access to the named state stores,
// added with [AddStateStore].
func ProcessWithStores[K, V, K2, V2 any](s Stream[K, V], supplier processor.Supplier[K, V, K2, V2], stores []string, name ...Named) Stream[K2, V2] {
	out := Process(s, supplier, name...)
	for _, st := range stores {
		s.b.t.g.Connect(st, out.node)
	}
	return out
}

// LocalStore returns a read-only view of the store name over the
// partitions this instance runs. It reads through the record cache, as
// Kafka Streams does: it sees every update the instance has processed,
// committed or not. Calls
// fail with an error matching [ErrStoreNotAvailable] while the instance holds
// none of the store's partitions (before the first assignment, during a
// rebalance). On a timestamped store (those of DSL tables and aggregations)
// it returns the values alone; [LocalTimestampedStore] returns them with
// their timestamps.
func LocalStore[K, V any](a *App, name string) (state.ReadOnlyKeyValueStore[K, V], error) {
	typed, err := localTyped(a, name)
	if err != nil {
		return nil, err
	}
	switch s := typed.(type) {
	case state.ReadOnlyKeyValueStore[K, V]:
		return s, nil
	case state.ReadOnlyTimestampedKeyValueStore[K, V]:
		return valuesOnly[K, V]{s}, nil
	}
	return nil, fmt.Errorf("kstreams: state store %q holds %T, not %s", name, typed, reflect.TypeFor[state.ReadOnlyKeyValueStore[K, V]]())
}

// LocalTimestampedStore is [LocalStore] for a timestamped store: each value
// comes with the timestamp of the record it came from (for an aggregation,
// the largest timestamp of the records folded into it).
func LocalTimestampedStore[K, V any](a *App, name string) (state.ReadOnlyTimestampedKeyValueStore[K, V], error) {
	typed, err := localTyped(a, name)
	if err != nil {
		return nil, err
	}
	s, ok := typed.(state.ReadOnlyTimestampedKeyValueStore[K, V])
	if !ok {
		return nil, fmt.Errorf("kstreams: state store %q holds %T, not %s", name, typed, reflect.TypeFor[state.ReadOnlyTimestampedKeyValueStore[K, V]]())
	}
	return s, nil
}

// localTyped returns the typed read-only view of the local store name.
func localTyped(a *App, name string) (any, error) {
	ls, spec, err := a.engine.LocalStore(name)
	if err != nil {
		return nil, err
	}
	return spec.Typed(ls, spec.Changelog().Resolve(a.cfg.appID)), nil
}

// valuesOnly is a read-only view of a timestamped store without the
// timestamps.
type valuesOnly[K, V any] struct {
	s state.ReadOnlyTimestampedKeyValueStore[K, V]
}

func (v valuesOnly[K, V]) Name() string { return v.s.Name() }

func (v valuesOnly[K, V]) Get(key K) (V, bool, error) {
	vt, ok, err := v.s.Get(key)
	return vt.Value, ok, err
}

func (v valuesOnly[K, V]) Range(from, to K) (state.KeyValueIterator[K, V], error) {
	return valuesIter(v.s.Range(from, to))
}

func (v valuesOnly[K, V]) ReverseRange(from, to K) (state.KeyValueIterator[K, V], error) {
	return valuesIter(v.s.ReverseRange(from, to))
}

func (v valuesOnly[K, V]) PrefixScan(prefix K) (state.KeyValueIterator[K, V], error) {
	return valuesIter(v.s.PrefixScan(prefix))
}

func (v valuesOnly[K, V]) All() (state.KeyValueIterator[K, V], error) { return valuesIter(v.s.All()) }

func (v valuesOnly[K, V]) ApproximateNumEntries() (int64, error) { return v.s.ApproximateNumEntries() }

// valuesIterator drops the timestamps of a timestamped store's iterator.
type valuesIterator[K, V any] struct {
	state.KeyValueIterator[K, state.ValueAndTimestamp[V]]
}

func valuesIter[K, V any](it state.KeyValueIterator[K, state.ValueAndTimestamp[V]], err error) (state.KeyValueIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return valuesIterator[K, V]{it}, nil
}

func (it valuesIterator[K, V]) Value() V { return it.KeyValueIterator.Value().Value }

// ErrStoreNotAvailable is returned by queries on a store this instance
// holds no partition of right now (use errors.Is).
var ErrStoreNotAvailable = runtime.ErrStoreNotAvailable

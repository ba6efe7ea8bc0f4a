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
	t.g.AddStore(&runtime.StoreSpec{
		Name: sb.Name, Persistent: !sb.InMemory, Logged: !sb.DisableLogging, ChangelogConfigs: sb.ChangelogConfigs,
		Typed: func(bs state.BytesStore) any { return state.NewKeyValueStore(bs, k, v) },
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
// partitions this instance runs. It reads below the record cache, so it sees
// the updates of the last commit (all updates when caching is off). Calls
// fail with an error matching [ErrStoreNotAvailable] while the instance holds
// none of the store's partitions (before the first assignment, during a
// rebalance).
func LocalStore[K, V any](a *App, name string) (state.ReadOnlyKeyValueStore[K, V], error) {
	ls, spec, err := a.engine.LocalStore(name)
	if err != nil {
		return nil, err
	}
	typed := spec.Typed(ls)
	s, ok := typed.(state.ReadOnlyKeyValueStore[K, V])
	if !ok {
		return nil, fmt.Errorf("kstreams: state store %q holds %T, not %s", name, typed, reflect.TypeFor[state.ReadOnlyKeyValueStore[K, V]]())
	}
	return s, nil
}

// ErrStoreNotAvailable is returned by queries on a store this instance
// holds no partition of right now (use errors.Is).
var ErrStoreNotAvailable = runtime.ErrStoreNotAvailable

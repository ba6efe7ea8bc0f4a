package kstreams

import (
	"fmt"
	"reflect"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// WindowStoreBuilder declares a window store for the Processor API, as
// Kafka Streams' Stores.windowStoreBuilder over a persistent or in-memory
// window store. Processors connected to it get a state.WindowStore[K, V]:
//
//	windows, err := processor.Store[state.WindowStore[string, int64]](ctx, "counts")
//
// Windows older than Retention (against the latest window start put) are
// dropped a segment at a time. The changelog topic
// "<application id>-<Name>-changelog" holds Kafka Streams' windowed
// changelog records and is configured as Kafka Streams configures it:
// cleanup.policy=compact,delete and retention.ms = Retention plus one day,
// which ChangelogConfigs may override.
type WindowStoreBuilder[K, V any] struct {
	// Name names the store and its changelog topic. Required.
	Name  string
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Retention is how long windows are kept. Required: at least
	// WindowSize.
	Retention time.Duration
	// WindowSize is the size of the windows: each entry's window ends
	// WindowSize after its start.
	WindowSize time.Duration
	// RetainDuplicates keeps every value put for a key and window instead
	// of the latest, as the stores of stream-stream joins.
	RetainDuplicates bool
	// InMemory keeps the store in memory instead of Pebble on disk.
	InMemory bool
	// DisableLogging turns the changelog off: the store is not restored.
	DisableLogging bool
	// ChangelogConfigs are extra topic configs of the changelog.
	ChangelogConfigs map[string]string
}

// AddWindowStore adds a window store to a topology (or a builder's
// topology) and connects it to the named processors. With the DSL, connect
// it with [ProcessWithStores]. Invalid durations fail the topology's build.
func AddWindowStore[K, V any](to topologyHolder, sb WindowStoreBuilder[K, V], processors ...string) {
	b := &Builder{t: to.topology()}
	k := storeSerde(b, "window store "+quote(sb.Name), "WindowStoreBuilder.Key", sb.Key)
	v := storeSerde(b, "window store "+quote(sb.Name), "WindowStoreBuilder.Value", sb.Value)
	opts := state.WindowStoreOptions{Retention: sb.Retention, WindowSize: sb.WindowSize, RetainDuplicates: sb.RetainDuplicates}
	addSegmentedStore(b, opts.Validate(), &runtime.StoreSpec{
		Name: sb.Name, Persistent: !sb.InMemory, Logged: !sb.DisableLogging,
		ChangelogConfigs: runtime.WindowedChangelogConfigs(sb.Retention, sb.ChangelogConfigs),
		Open:             runtime.WindowStoreOpen(opts),
		Typed: runtime.WindowStoreTyped(func(s state.WindowBytesStore, topic string) any {
			return state.NewWindowStore(s, k, v, state.SerdeTopic(topic))
		}),
	}, processors)
}

// SessionStoreBuilder declares a session store for the Processor API, as
// Kafka Streams' Stores.sessionStoreBuilder. Processors connected to it
// get a state.SessionStore[K, V]. Sessions ending more than Retention
// before the latest session end put are dropped; the changelog is
// configured as for [WindowStoreBuilder].
type SessionStoreBuilder[K, V any] struct {
	// Name names the store and its changelog topic. Required.
	Name  string
	Key   serde.Serde[K]
	Value serde.Serde[V]
	// Retention is how long sessions are kept after their end.
	Retention time.Duration
	// InMemory keeps the store in memory instead of Pebble on disk.
	InMemory bool
	// DisableLogging turns the changelog off: the store is not restored.
	DisableLogging bool
	// ChangelogConfigs are extra topic configs of the changelog.
	ChangelogConfigs map[string]string
}

// AddSessionStore adds a session store to a topology (or a builder's
// topology) and connects it to the named processors, as [AddWindowStore].
func AddSessionStore[K, V any](to topologyHolder, sb SessionStoreBuilder[K, V], processors ...string) {
	b := &Builder{t: to.topology()}
	k := storeSerde(b, "session store "+quote(sb.Name), "SessionStoreBuilder.Key", sb.Key)
	v := storeSerde(b, "session store "+quote(sb.Name), "SessionStoreBuilder.Value", sb.Value)
	opts := state.SessionStoreOptions{Retention: sb.Retention}
	addSegmentedStore(b, opts.Validate(), &runtime.StoreSpec{
		Name: sb.Name, Persistent: !sb.InMemory, Logged: !sb.DisableLogging,
		ChangelogConfigs: runtime.WindowedChangelogConfigs(sb.Retention, sb.ChangelogConfigs),
		Open:             runtime.SessionStoreOpen(opts),
		Typed: runtime.SessionStoreTyped(func(s state.SessionBytesStore, topic string) any {
			return state.NewSessionStore(s, k, v, state.SerdeTopic(topic))
		}),
	}, processors)
}

// storeSerde returns s, or else the default serde of T; without either it
// records a problem naming field, the builder field that would set it.
func storeSerde[T any](b *Builder, where, field string, s serde.Serde[T]) serde.Serde[T] {
	if s != nil {
		return s
	}
	if d := serde.Default[T](); d != nil {
		return d
	}
	b.t.g.Problem(fmt.Errorf("%s: missing serde for type %s (set %s)", where, reflect.TypeFor[T](), field))
	return nil
}

// addSegmentedStore adds spec, a window or session store, and connects it
// to processors; invalid, if not nil, is the problem of its options.
func addSegmentedStore(b *Builder, invalid error, spec *runtime.StoreSpec, processors []string) {
	if spec.Name == "" {
		b.t.g.Problem(fmt.Errorf("state store: empty name"))
	}
	if invalid != nil {
		b.t.g.Problem(fmt.Errorf("state store %q: %w", spec.Name, invalid))
	}
	b.t.g.AddStore(spec)
	for _, p := range processors {
		b.t.g.Connect(spec.Name, p)
	}
}

// LocalWindowStore returns a read-only view of the window store name over
// the partitions this instance runs, as [LocalStore] for key-value stores.
// As Kafka Streams' composite window store, a read of one key answers from
// the first partition holding it, and reads of several keys return each
// partition's windows in turn.
func LocalWindowStore[K, V any](a *App, name string) (state.ReadOnlyWindowStore[K, V], error) {
	return localSegmented[state.ReadOnlyWindowStore[K, V]](a, name)
}

// LocalSessionStore returns a read-only view of the session store name over
// the partitions this instance runs, as [LocalWindowStore].
func LocalSessionStore[K, V any](a *App, name string) (state.ReadOnlySessionStore[K, V], error) {
	return localSegmented[state.ReadOnlySessionStore[K, V]](a, name)
}

// localSegmented returns the typed view T of the local partitions of store
// name.
func localSegmented[T any](a *App, name string) (T, error) {
	var zero T
	ls, spec, err := a.engine.LocalStore(name)
	if err != nil {
		return zero, err
	}
	if spec.Typed == nil {
		return zero, fmt.Errorf("kstreams: state store %q has no typed view", name)
	}
	typed := spec.Typed(ls, spec.Changelog().Resolve(a.cfg.appID))
	if s, ok := typed.(T); ok {
		return s, nil
	}
	if err, ok := typed.(error); ok {
		return zero, fmt.Errorf("kstreams: state store %q: %w", name, err)
	}
	return zero, fmt.Errorf("kstreams: state store %q holds %T, not %s", name, typed, reflect.TypeFor[T]())
}

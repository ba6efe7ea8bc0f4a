package query

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnavailable is the retriable error of a query that cannot be answered
// now: the instance is rebalancing or restoring, or the key's task has no
// active instance yet (use errors.Is). Retry after a short wait.
var ErrUnavailable = errors.New("kstreams: store not queryable now (rebalancing or restoring); retry")

// ErrNotLocal is returned by local queries for a key whose active task
// runs on another instance (use errors.Is; errors.As to a [*NotLocalError]
// gives the owner).
var ErrNotLocal = errors.New("kstreams: key is hosted by another instance")

// ErrUnknownStore is returned for a store the topology does not have, or
// the server does not serve (use errors.Is).
var ErrUnknownStore = errors.New("kstreams: unknown state store")

// UnavailableError says why a store cannot be queried now. It matches
// [ErrUnavailable].
type UnavailableError struct {
	Store  string
	Reason string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%v: store %q: %s", ErrUnavailable, e.Store, e.Reason)
}

func (e *UnavailableError) Unwrap() error { return ErrUnavailable }

// NotLocalError names the instance that hosts a key. It matches
// [ErrNotLocal].
type NotLocalError struct {
	Store string
	// Active is the endpoint of the instance running the key's task.
	Active string
}

func (e *NotLocalError) Error() string {
	return fmt.Sprintf("%v: store %q: active on %s", ErrNotLocal, e.Store, e.Active)
}

func (e *NotLocalError) Unwrap() error { return ErrNotLocal }

// Partitioner maps a serialized key to one of n partitions. It must be the
// partitioner that placed the store's input records; the default is Kafka's
// (murmur2 of the key), which kstreams uses for repartition topics.
type Partitioner func(key []byte, n int) int

func defaultPartitioner(key []byte, n int) int {
	return kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: key}, n)
}

// Querier answers queries about the stores of one application instance:
// where keys live (metadata, from the last assignment) and typed reads of
// the local partitions. It is safe for concurrent use.
type Querier struct {
	app  *kstreams.App
	e    *runtime.Engine
	part Partitioner
}

// Option configures a [Querier].
type Option interface{ apply(*Querier) }

type optFn func(*Querier)

func (f optFn) apply(q *Querier) { f(q) }

// WithPartitioner sets the partitioner that placed keys in the stores'
// input topics. Default: Kafka's default partitioner (murmur2).
func WithPartitioner(p Partitioner) Option {
	return optFn(func(q *Querier) {
		if p != nil {
			q.part = p
		}
	})
}

// New returns a Querier for app. Metadata needs every instance to set
// [kstreams.ApplicationServer].
func New(app *kstreams.App, opts ...Option) (*Querier, error) {
	if app == nil {
		return nil, errors.New("kstreams: query.New: nil app")
	}
	q := &Querier{app: app, e: link.EngineOf(app), part: defaultPartitioner}
	for _, o := range opts {
		if o != nil {
			o.apply(q)
		}
	}
	return q, nil
}

// Endpoint returns this instance's query endpoint.
func (q *Querier) Endpoint() string { return q.e.Endpoint() }

// Ready reports whether the instance runs with every active task restored.
func (q *Querier) Ready() bool { return q.e.State() == runtime.Running }

// State returns the instance's state.
func (q *Querier) State() kstreams.State { return q.e.State() }

// KeyMetadata says where the task holding a key runs.
type KeyMetadata struct {
	// Active is the endpoint of the instance running the task actively.
	Active string `json:"active"`
	// Standbys are the endpoints of instances with a standby of it.
	Standbys []string `json:"standbys,omitempty"`
	// Partition is the key's partition, the task's; -1 when no assignment
	// has told this instance the store's partition count yet.
	Partition int32 `json:"partition"`
}

// Host is an instance hosting partitions of a store.
type Host struct {
	Endpoint string  `json:"endpoint"`
	Active   []int32 `json:"active,omitempty"`
	Standby  []int32 `json:"standby,omitempty"`
}

// StoreHosts lists every instance hosting partitions of store, active or
// standby, by endpoint. Before this instance's first assignment (and when
// the last one gave the store's tasks to no instance with an endpoint) it
// fails with [ErrUnavailable], which is retriable, rather than answer an
// empty list that reads as "no data": Kafka Streams'
// streamsMetadataForStore answers an empty list then, which callers must
// tell from a store with no hosts. It does not wait.
func (q *Querier) StoreHosts(store string) ([]Host, error) {
	sub, err := q.subtopology(store)
	if err != nil {
		return nil, err
	}
	var out []Host
	for ep, h := range q.e.Hosts() {
		host := Host{Endpoint: ep, Active: partitionsOf(h.Active, sub), Standby: partitionsOf(h.Standby, sub)}
		if len(host.Active)+len(host.Standby) > 0 {
			out = append(out, host)
		}
	}
	if len(out) == 0 {
		return nil, &UnavailableError{Store: store, Reason: "not yet assigned: no assignment has placed its tasks on an instance with a query endpoint"}
	}
	slices.SortFunc(out, func(a, b Host) int {
		if a.Endpoint < b.Endpoint {
			return -1
		}
		if a.Endpoint > b.Endpoint {
			return 1
		}
		return 0
	})
	return out, nil
}

func partitionsOf(ts []assign.Task, sub int) []int32 {
	var out []int32
	for _, t := range ts {
		if t.Subtopology == sub {
			out = append(out, t.Partition)
		}
	}
	return out
}

func (q *Querier) subtopology(store string) (int, error) {
	sub, err := q.e.StoreSubtopology(store)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownStore, store)
	}
	return sub, nil
}

// MetadataForKey returns where the serialized key of store lives, as of
// the last assignment. It fails with [ErrUnavailable] when no instance has
// the key's task yet.
func (q *Querier) MetadataForKey(store string, key []byte) (KeyMetadata, error) {
	sub, err := q.subtopology(store)
	if err != nil {
		return KeyMetadata{}, err
	}
	hosts := q.e.Hosts()
	// The key's partition is among every task of the store's
	// sub-topology: the hosts list fewer while a cooperative rebalance
	// holds moving tasks back (a key hashed among those would be read
	// from another partition, and answer "absent").
	n := int(q.e.TaskCount(sub))
	if n == 0 {
		// A leader that sends no task counts: the highest task placed.
		for _, h := range hosts {
			for _, t := range slices.Concat(h.Active, h.Standby) {
				if t.Subtopology == sub {
					n = max(n, int(t.Partition)+1)
				}
			}
		}
	}
	if len(hosts) == 0 || n == 0 {
		return KeyMetadata{Partition: -1}, &UnavailableError{Store: store, Reason: "no instance hosts it (no assignment with query endpoints yet)"}
	}
	md := KeyMetadata{Partition: int32(q.part(key, n))}
	task := assign.Task{Subtopology: sub, Partition: md.Partition}
	for ep, h := range hosts {
		if slices.Contains(h.Active, task) {
			md.Active = ep
		}
		if slices.Contains(h.Standby, task) {
			md.Standbys = append(md.Standbys, ep)
		}
	}
	slices.Sort(md.Standbys)
	if md.Active == "" {
		return md, &UnavailableError{Store: store, Reason: fmt.Sprintf("partition %d has no active instance", md.Partition)}
	}
	return md, nil
}

// KeyValue is a key-value store of the application, typed, for queries.
type KeyValue[K, V any] struct {
	q     *Querier
	name  string
	keys  serde.Serde[K]
	topic string
}

// KeyValueStore returns the query handle of the key-value store name, whose
// keys keys serializes (the serde the store was built with).
func KeyValueStore[K, V any](q *Querier, name string, keys serde.Serde[K]) (*KeyValue[K, V], error) {
	topic, err := q.handle(name, keys == nil)
	if err != nil {
		return nil, err
	}
	return &KeyValue[K, V]{q: q, name: name, keys: keys, topic: topic}, nil
}

// Name returns the store's name.
func (s *KeyValue[K, V]) Name() string { return s.name }

// Metadata returns where key lives.
func (s *KeyValue[K, V]) Metadata(key K) (KeyMetadata, error) {
	b, err := s.keys.Serialize(s.topic, key)
	if err != nil {
		return KeyMetadata{}, fmt.Errorf("kstreams: store %q: serializing key: %w", s.name, err)
	}
	return s.q.MetadataForKey(s.name, b)
}

func (s *KeyValue[K, V]) local() (state.ReadOnlyKeyValueStore[K, V], error) {
	if !s.q.Ready() {
		return nil, &UnavailableError{Store: s.name, Reason: "instance is " + s.q.State().String()}
	}
	st, err := kstreams.LocalStore[K, V](s.q.app, s.name)
	if err != nil {
		return nil, s.wrap(err)
	}
	return st, nil
}

func (s *KeyValue[K, V]) wrap(err error) error { return s.q.wrap(s.name, err) }

// Get reads key from this instance: from the partition of its task, which
// must be active here. It fails with [ErrNotLocal] when another instance
// runs the key's task (when endpoints are set), and with [ErrUnavailable]
// while the instance rebalances or restores.
func (s *KeyValue[K, V]) Get(key K) (V, bool, error) {
	return s.get(key, -1)
}

// Entry is a key and its value.
type Entry[K, V any] struct {
	Key   K
	Value V
	// Raw is the serialized key: entries are ordered by it.
	Raw []byte
}

// Range returns the local entries with keys from from to to (inclusive),
// in serialized key order, after the serialized key after (nil: from the
// start), at most limit of them (0: all).
func (s *KeyValue[K, V]) Range(from, to K, after []byte, limit int) ([]Entry[K, V], error) {
	return s.collect(func(st state.ReadOnlyKeyValueStore[K, V]) (state.KeyValueIterator[K, V], error) {
		return st.Range(from, to)
	}, after, limit)
}

// Prefix returns the local entries whose serialized key starts with the
// serialized prefix, as Range.
func (s *KeyValue[K, V]) Prefix(prefix K, after []byte, limit int) ([]Entry[K, V], error) {
	return s.collect(func(st state.ReadOnlyKeyValueStore[K, V]) (state.KeyValueIterator[K, V], error) {
		return st.PrefixScan(prefix)
	}, after, limit)
}

// All returns every local entry, as Range.
func (s *KeyValue[K, V]) All(after []byte, limit int) ([]Entry[K, V], error) {
	return s.collect(func(st state.ReadOnlyKeyValueStore[K, V]) (state.KeyValueIterator[K, V], error) {
		return st.All()
	}, after, limit)
}

func (s *KeyValue[K, V]) collect(open func(state.ReadOnlyKeyValueStore[K, V]) (state.KeyValueIterator[K, V], error), after []byte, limit int) (out []Entry[K, V], err error) {
	st, err := s.local()
	if err != nil {
		return nil, err
	}
	it, err := open(st)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for it.Next() {
		raw, err := s.keys.Serialize(s.topic, it.Key())
		if err != nil {
			return nil, fmt.Errorf("kstreams: store %q: serializing key: %w", s.name, err)
		}
		if after != nil && string(raw) <= string(after) {
			continue
		}
		out = append(out, Entry[K, V]{Key: it.Key(), Value: it.Value(), Raw: raw})
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, s.wrap(it.Err())
}

// GetStandby reads key from this instance's standby replica of its
// partition if the replica is at most maxLag changelog records behind
// (its lag is what the standby last saw of the changelog's end), or from
// the active task if this instance runs it. It fails with [ErrUnavailable]
// when there is neither.
func (s *KeyValue[K, V]) GetStandby(key K, maxLag int64) (V, bool, error) {
	return s.get(key, maxLag)
}

// get reads key from the active task (maxLag < 0) or a standby within
// maxLag.
func (s *KeyValue[K, V]) get(key K, maxLag int64) (V, bool, error) {
	var zero V
	typed, err := openKey(s.q, s.name, s.keys, s.topic, key, maxLag)
	if err != nil {
		return zero, false, err
	}
	// As kstreams.LocalStore: a plain store answers its value, a
	// timestamped one (a DSL table's) its value without the timestamp.
	switch typed := typed.(type) {
	case state.ReadOnlyKeyValueStore[K, V]:
		v, found, err := typed.Get(key)
		return v, found, s.wrap(err)
	case state.ReadOnlyTimestampedKeyValueStore[K, V]:
		vt, found, err := typed.Get(key)
		return vt.Value, found, s.wrap(err)
	}
	return zero, false, fmt.Errorf("kstreams: store %q is not a key-value store of these types", s.name)
}

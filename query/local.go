package query

import (
	"errors"
	"fmt"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// keyMetadata returns where key of store lives, serialized with keys
// (given topic).
func keyMetadata[K any](q *Querier, store string, keys serde.Serde[K], topic string, key K) (KeyMetadata, error) {
	raw, err := keys.Serialize(topic, key)
	if err != nil {
		return KeyMetadata{}, fmt.Errorf("kstreams: store %q: serializing key: %w", store, err)
	}
	return q.MetadataForKey(store, raw)
}

// ready fails with [ErrUnavailable] unless the instance runs with every
// active task restored.
func (q *Querier) ready(store string) error {
	if !q.Ready() {
		return &UnavailableError{Store: store, Reason: "instance is " + q.State().String()}
	}
	return nil
}

// wrap turns the error of a store not held here (rebalancing, restoring)
// or closed under the read (its task moved away meanwhile) into an
// [UnavailableError].
func (q *Querier) wrap(store string, err error) error {
	if errors.Is(err, kstreams.ErrStoreNotAvailable) || errors.Is(err, state.ErrClosed) {
		return &UnavailableError{Store: store, Reason: err.Error()}
	}
	return err
}

// localTyped returns the typed read-only view of store over this
// instance's active tasks.
func (q *Querier) localTyped(store string) (any, error) {
	ls, spec, err := q.e.LocalStore(store)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownStore, store)
	}
	if spec.Typed == nil {
		return nil, fmt.Errorf("kstreams: store %q has no typed view", store)
	}
	return spec.Typed(ls, spec.Changelog().Resolve(q.e.AppID())), nil
}

// openKey returns the typed view of store to read key from: with
// maxLag < 0, this instance's active tasks, failing with [ErrNotLocal]
// when another instance runs the key's task (when endpoints are set);
// with maxLag >= 0, this instance's standby replica of the key's partition
// within maxLag, or its active tasks when the key's task is active here.
func openKey[K any](q *Querier, store string, keys serde.Serde[K], topic string, key K, maxLag int64) (any, error) {
	if maxLag < 0 && q.Endpoint() == "" {
		if _, err := keys.Serialize(topic, key); err != nil {
			return nil, fmt.Errorf("kstreams: store %q: serializing key: %w", store, err)
		}
		return q.openLocal(store)
	}
	md, err := keyMetadata(q, store, keys, topic, key)
	if maxLag < 0 {
		if err != nil {
			return nil, err
		}
		if md.Active != q.Endpoint() {
			return nil, &NotLocalError{Store: store, Active: md.Active}
		}
		return q.openPartition(store, md.Partition)
	}
	switch {
	case err == nil && md.Active == q.Endpoint():
		return q.openPartition(store, md.Partition)
	case err != nil && (!errors.Is(err, ErrUnavailable) || md.Partition < 0):
		return nil, err
	}
	ls, spec, err := q.e.StandbyStore(store, md.Partition, maxLag)
	if err != nil {
		return nil, &UnavailableError{Store: store, Reason: err.Error()}
	}
	return spec.Typed(ls, spec.Changelog().Resolve(q.e.AppID())), nil
}

// openPartition returns the typed view of partition p of store on this
// instance's active task, failing with [ErrUnavailable] unless the
// instance is running and the task is here.
func (q *Querier) openPartition(store string, p int32) (any, error) {
	if err := q.ready(store); err != nil {
		return nil, err
	}
	ls, spec, err := q.e.ActiveStore(store, p)
	if err != nil {
		return nil, q.wrap(store, err)
	}
	return spec.Typed(ls, spec.Changelog().Resolve(q.e.AppID())), nil
}

// openLocal returns the typed view of store over this instance's active
// tasks, failing with [ErrUnavailable] unless the instance is running.
func (q *Querier) openLocal(store string) (any, error) {
	if err := q.ready(store); err != nil {
		return nil, err
	}
	return q.localTyped(store)
}

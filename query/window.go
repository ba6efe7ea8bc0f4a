package query

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Window is a window store of the application (a windowed aggregation's,
// or one added with [kstreams.AddWindowStore]), typed, for queries. V is
// the value type without the record timestamp: the store of a windowed
// aggregation answers its aggregates, as Kafka Streams' windowStore()
// query type reads a timestamped window store.
//
// Window stores have no record cache in kstreams: the queries read the
// store every processed record was written to.
type Window[K, V any] struct {
	q     *Querier
	name  string
	keys  serde.Serde[K]
	topic string
}

// WindowStore returns the query handle of the window store name, whose
// keys keys serializes (the serde of the store's plain keys, which placed
// them in partitions).
func WindowStore[K, V any](q *Querier, name string, keys serde.Serde[K]) (*Window[K, V], error) {
	topic, err := q.handle(name, keys == nil)
	if err != nil {
		return nil, err
	}
	return &Window[K, V]{q: q, name: name, keys: keys, topic: topic}, nil
}

// handle checks the arguments of a store handle's constructor and returns
// the topic its key serde is given.
func (q *Querier) handle(name string, nilSerde bool) (string, error) {
	if _, err := q.subtopology(name); err != nil {
		return "", err
	}
	if nilSerde {
		return "", fmt.Errorf("kstreams: store %q: nil key serde", name)
	}
	return q.e.AppID() + "-" + name + "-changelog", nil
}

// Name returns the store's name.
func (s *Window[K, V]) Name() string { return s.name }

// Metadata returns where key lives.
func (s *Window[K, V]) Metadata(key K) (KeyMetadata, error) {
	return keyMetadata(s.q, s.name, s.keys, s.topic, key)
}

// WindowValue is the value of a key in one window.
type WindowValue[V any] struct {
	// Start and End are the window's bounds in milliseconds since the
	// epoch (End exclusive, as Kafka Streams' time windows).
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Value V     `json:"value"`
}

// Fetch returns the windows of key starting from from to to (milliseconds,
// both inclusive), by ascending start, as Kafka Streams'
// ReadOnlyWindowStore.fetch(key, from, to). It fails with [ErrNotLocal]
// when another instance runs the key's task (when endpoints are set), and
// with [ErrUnavailable] while the instance rebalances or restores.
func (s *Window[K, V]) Fetch(key K, from, to int64) ([]WindowValue[V], error) {
	return s.fetch(key, from, to, false, -1)
}

// BackwardFetch is [Window.Fetch] by descending start (Java's
// backwardFetch).
func (s *Window[K, V]) BackwardFetch(key K, from, to int64) ([]WindowValue[V], error) {
	return s.fetch(key, from, to, true, -1)
}

// FetchStandby is [Window.Fetch] read from this instance's standby
// replica of the key's partition if it is at most maxLag changelog records
// behind, or from the active task if this instance runs it; as
// [KeyValue.GetStandby].
func (s *Window[K, V]) FetchStandby(key K, from, to, maxLag int64) ([]WindowValue[V], error) {
	return s.fetch(key, from, to, false, maxLag)
}

// fetch reads key's windows from the active task (maxLag < 0) or a
// standby within maxLag.
func (s *Window[K, V]) fetch(key K, from, to int64, backward bool, maxLag int64) ([]WindowValue[V], error) {
	typed, err := openKey(s.q, s.name, s.keys, s.topic, key, maxLag)
	if err != nil {
		return nil, err
	}
	st, err := windowView[K, V](s.name, typed)
	if err != nil {
		return nil, err
	}
	open := st.FetchKeyRange
	if backward {
		open = st.BackwardFetchKeyRange
	}
	it, err := open(key, key, from, to)
	if err != nil {
		return nil, s.q.wrap(s.name, err)
	}
	var out []WindowValue[V]
	err = drain(it, func(k serde.Windowed[K], v V) bool {
		out = append(out, WindowValue[V]{Start: k.Window.Start, End: k.Window.End, Value: v})
		return true
	})
	return out, s.q.wrap(s.name, err)
}

// WindowEntry is the value of a key in one window, from a read over
// several keys.
type WindowEntry[K, V any] struct {
	Key    K
	Window serde.Window
	Value  V
	// Raw is the serialized key: entries are ordered by it, then by
	// window start.
	Raw []byte
}

// Cursor returns the position after e, for the after argument of the
// next page of [Window.FetchAll].
func (e WindowEntry[K, V]) Cursor() []byte { return windowCursor(e.Raw, e.Window.Start) }

// windowCursor is a page position: the window start, big-endian, then the
// serialized key.
func windowCursor(raw []byte, start int64) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(start)), raw...)
}

// decodeWindowCursor splits a cursor made by windowCursor.
func decodeWindowCursor(c []byte) (raw []byte, start int64, err error) {
	if len(c) < 8 {
		return nil, 0, errors.New("window cursor too short")
	}
	return c[8:], int64(binary.BigEndian.Uint64(c)), nil
}

// compareWindowEntries orders entries by serialized key, then start.
func compareWindowPos(rawA []byte, startA int64, rawB []byte, startB int64) int {
	if c := bytes.Compare(rawA, rawB); c != 0 {
		return c
	}
	return cmp.Compare(startA, startB)
}

// FetchAll returns the local windows of every key starting from from to
// to (milliseconds, inclusive), as Kafka Streams' fetchAll(from, to),
// ordered by serialized key and then start (descending with backward),
// after the cursor after (nil: from the first; else an entry's
// [WindowEntry.Cursor]), at most limit of them (0: all). It reads this
// instance's active tasks; [Server] gathers every instance's.
func (s *Window[K, V]) FetchAll(from, to int64, backward bool, after []byte, limit int) ([]WindowEntry[K, V], error) {
	var (
		afterRaw   []byte
		afterStart int64
	)
	if after != nil {
		var err error
		if afterRaw, afterStart, err = decodeWindowCursor(after); err != nil {
			return nil, fmt.Errorf("kstreams: store %q: %w", s.name, err)
		}
	}
	typed, err := s.q.openLocal(s.name)
	if err != nil {
		return nil, err
	}
	st, err := windowView[K, V](s.name, typed)
	if err != nil {
		return nil, err
	}
	it, err := st.FetchAll(from, to)
	if err != nil {
		return nil, s.q.wrap(s.name, err)
	}
	dir := 1
	if backward {
		dir = -1
	}
	var out []WindowEntry[K, V]
	var serr error
	err = drain(it, func(k serde.Windowed[K], v V) bool {
		raw, err := s.keys.Serialize(s.topic, k.Key)
		if err != nil {
			serr = fmt.Errorf("kstreams: store %q: serializing key: %w", s.name, err)
			return false
		}
		if after == nil || dir*compareWindowPos(raw, k.Window.Start, afterRaw, afterStart) > 0 {
			out = append(out, WindowEntry[K, V]{Key: k.Key, Window: k.Window, Value: v, Raw: raw})
		}
		return true
	})
	if err = errors.Join(serr, err); err != nil {
		return nil, s.q.wrap(s.name, err)
	}
	slices.SortFunc(out, func(a, b WindowEntry[K, V]) int {
		return dir * compareWindowPos(a.Raw, a.Window.Start, b.Raw, b.Window.Start)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// windowView returns the typed window store of typed with values of type
// V: a window store of V, or a timestamped one (a windowed aggregation's)
// read without the timestamps.
func windowView[K, V any](store string, typed any) (windowReader[K, V], error) {
	switch st := typed.(type) {
	case state.ReadOnlyWindowStore[K, V]:
		return st, nil
	case state.ReadOnlyWindowStore[K, state.ValueAndTimestamp[V]]:
		return windowValues[K, V]{st}, nil
	case error:
		return nil, fmt.Errorf("kstreams: store %q: %w", store, st)
	}
	return nil, fmt.Errorf("kstreams: store %q holds %T, not a window store of these types", store, typed)
}

// drain calls fn on every entry of it until fn returns false, and closes
// it.
func drain[K, V any](it state.KeyValueIterator[K, V], fn func(K, V) bool) (err error) {
	defer func() { err = errors.Join(err, it.Close()) }()
	for it.Next() {
		if !fn(it.Key(), it.Value()) {
			return nil
		}
	}
	return it.Err()
}

// windowReader is the part of a read-only window store the query handle
// reads.
type windowReader[K, V any] interface {
	FetchKeyRange(keyFrom, keyTo K, from, to int64) (state.KeyValueIterator[serde.Windowed[K], V], error)
	BackwardFetchKeyRange(keyFrom, keyTo K, from, to int64) (state.KeyValueIterator[serde.Windowed[K], V], error)
	FetchAll(from, to int64) (state.KeyValueIterator[serde.Windowed[K], V], error)
}

// windowValues reads a timestamped window store without the timestamps.
type windowValues[K, V any] struct {
	st state.ReadOnlyWindowStore[K, state.ValueAndTimestamp[V]]
}

func (w windowValues[K, V]) FetchKeyRange(keyFrom, keyTo K, from, to int64) (state.KeyValueIterator[serde.Windowed[K], V], error) {
	return valuesOf(w.st.FetchKeyRange(keyFrom, keyTo, from, to))
}

func (w windowValues[K, V]) BackwardFetchKeyRange(keyFrom, keyTo K, from, to int64) (state.KeyValueIterator[serde.Windowed[K], V], error) {
	return valuesOf(w.st.BackwardFetchKeyRange(keyFrom, keyTo, from, to))
}

func (w windowValues[K, V]) FetchAll(from, to int64) (state.KeyValueIterator[serde.Windowed[K], V], error) {
	return valuesOf(w.st.FetchAll(from, to))
}

// valuesIterator drops the timestamps of a timestamped store's iterator.
type valuesIterator[K, V any] struct {
	state.KeyValueIterator[K, state.ValueAndTimestamp[V]]
}

func (it valuesIterator[K, V]) Value() V { return it.KeyValueIterator.Value().Value }

func valuesOf[K, V any](it state.KeyValueIterator[K, state.ValueAndTimestamp[V]], err error) (state.KeyValueIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return valuesIterator[K, V]{it}, nil
}

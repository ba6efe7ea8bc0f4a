package query

import (
	"fmt"

	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Session is a session store of the application (a session aggregation's,
// or one added with [kstreams.AddSessionStore]), typed, for queries.
// Session stores have no record cache in kstreams: the queries read the
// store every processed record was written to.
type Session[K, V any] struct {
	q     *Querier
	name  string
	keys  serde.Serde[K]
	topic string
}

// SessionStore returns the query handle of the session store name, whose
// keys keys serializes (the serde of the store's plain keys).
func SessionStore[K, V any](q *Querier, name string, keys serde.Serde[K]) (*Session[K, V], error) {
	topic, err := q.handle(name, keys == nil)
	if err != nil {
		return nil, err
	}
	return &Session[K, V]{q: q, name: name, keys: keys, topic: topic}, nil
}

// Name returns the store's name.
func (s *Session[K, V]) Name() string { return s.name }

// Metadata returns where key lives.
func (s *Session[K, V]) Metadata(key K) (KeyMetadata, error) {
	return keyMetadata(s.q, s.name, s.keys, s.topic, key)
}

// SessionValue is the value of one session of a key.
type SessionValue[V any] struct {
	// Start and End are the times of the session's first and last records
	// (milliseconds since the epoch, both inclusive).
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Value V     `json:"value"`
}

// Fetch returns every session of key in retention, by ascending end, as
// Kafka Streams' ReadOnlySessionStore.fetch(key). It fails with
// [ErrNotLocal] when another instance runs the key's task (when endpoints
// are set), and with [ErrUnavailable] while the instance rebalances or
// restores.
func (s *Session[K, V]) Fetch(key K) ([]SessionValue[V], error) {
	return s.fetch(key, false, -1)
}

// BackwardFetch is [Session.Fetch] by descending end (Java's
// backwardFetch).
func (s *Session[K, V]) BackwardFetch(key K) ([]SessionValue[V], error) {
	return s.fetch(key, true, -1)
}

// FetchStandby is [Session.Fetch] read from this instance's standby
// replica of the key's partition if it is at most maxLag changelog records
// behind, or from the active task if this instance runs it; as
// [KeyValue.GetStandby].
func (s *Session[K, V]) FetchStandby(key K, maxLag int64) ([]SessionValue[V], error) {
	return s.fetch(key, false, maxLag)
}

func (s *Session[K, V]) fetch(key K, backward bool, maxLag int64) ([]SessionValue[V], error) {
	typed, err := openKey(s.q, s.name, s.keys, s.topic, key, maxLag)
	if err != nil {
		return nil, err
	}
	st, ok := typed.(state.ReadOnlySessionStore[K, V])
	if !ok {
		if err, isErr := typed.(error); isErr {
			return nil, fmt.Errorf("kstreams: store %q: %w", s.name, err)
		}
		return nil, fmt.Errorf("kstreams: store %q holds %T, not a session store of these types", s.name, typed)
	}
	open := st.Fetch
	if backward {
		open = st.BackwardFetch
	}
	it, err := open(key)
	if err != nil {
		return nil, s.q.wrap(s.name, err)
	}
	var out []SessionValue[V]
	err = drain(it, func(k serde.Windowed[K], v V) bool {
		out = append(out, SessionValue[V]{Start: k.Window.Start, End: k.Window.End, Value: v})
		return true
	})
	return out, s.q.wrap(s.name, err)
}

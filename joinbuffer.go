package kstreams

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// joinBuffer is the buffer of a stream-table join with a grace period, as
// Kafka Streams' RocksDBTimeOrderedKeyValueBuffer: a logged key-value store
// keyed as Java's time-first window keys (timestamp 8 bytes big-endian, key
// bytes, sequence number 4 bytes), so that iteration goes by timestamp,
// then key bytes, then arrival; the value is the stream value's bytes.
// Buffered records lose their headers. The buffer's stream time is the
// largest timestamp buffered; after a restart it is the largest one still
// in the buffer.
type joinBuffer[K, V any] struct {
	store string
	grace int64
	key   serde.Serde[K]
	value serde.Serde[V]

	st       state.BytesStore
	observed int64
	seq      uint32
}

// addJoinBuffer adds the buffer store of the stream-table join n.
func addJoinBuffer[K, V any](b *Builder, n, op string, grace time.Duration, versioned bool, k serde.Serde[K], v serde.Serde[V]) *joinBuffer[K, V] {
	if !versioned {
		b.t.g.Problem(fmt.Errorf("%s %q: a grace period needs a versioned table (Materialized.Versioned on TableFrom)", op, n))
	}
	if grace < 0 || grace%time.Millisecond != 0 {
		b.t.g.Problem(fmt.Errorf("%s %q: grace period %v must be a positive whole number of milliseconds", op, n, grace))
	}
	name := n + "-Buffer"
	where := fmt.Sprintf("%s %q (buffer %q)", op, n, name)
	k = pickSerde(b, where, "Joined", "key", k)
	v = pickSerde(b, where, "Joined", "value", v)
	b.t.g.AddStore(&runtime.StoreSpec{Name: name, Persistent: true, Logged: true,
		Typed: func(s state.BytesStore, _ string) any { return &joinBufferStore{s} }})
	return &joinBuffer[K, V]{store: name, grace: grace.Milliseconds(), key: k, value: v}
}

// joinBufferStore is what the buffer's processor gets of its store.
type joinBufferStore struct{ state.BytesStore }

// StoreKind names what processors may ask for, for error messages.
func (*joinBufferStore) StoreKind() string { return "the buffer of a stream-table join (internal)" }

// instance returns a buffer for one task (nil for none).
func (jb *joinBuffer[K, V]) instance() *joinBuffer[K, V] {
	if jb == nil {
		return nil
	}
	c := *jb
	return &c
}

var errBadBufferEntry = errors.New("kstreams: malformed entry in the buffer of a stream-table join")

// init opens the store and recovers the stream time and sequence number
// from what it holds.
func (jb *joinBuffer[K, V]) init(ctx storeCtx) error {
	st, err := processor.Store[*joinBufferStore](ctx, jb.store)
	if err != nil {
		return err
	}
	jb.st, jb.observed, jb.seq = st.BytesStore, -1, 0
	it, err := jb.st.All()
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		k := it.Key()
		if len(k) < 12 {
			return errBadBufferEntry
		}
		jb.observed = max(jb.observed, int64(binary.BigEndian.Uint64(k)))
		jb.seq = max(jb.seq, binary.BigEndian.Uint32(k[len(k)-4:])+1)
	}
	return it.Err()
}

// put buffers r unless it is already older than stream time minus the
// grace period (then it reports false: join it at once).
func (jb *joinBuffer[K, V]) put(kb []byte, r processor.Record[K, V]) (bool, error) {
	if jb.observed-jb.grace > r.Timestamp {
		return false, nil
	}
	vb, err := jb.value.Serialize(jb.store, r.Value)
	if err != nil {
		return false, fmt.Errorf("serialize buffered value: %w", err)
	}
	key := make([]byte, 0, 12+len(kb))
	key = binary.BigEndian.AppendUint64(key, uint64(r.Timestamp))
	key = append(key, kb...)
	key = binary.BigEndian.AppendUint32(key, jb.seq)
	jb.seq++
	if vb == nil {
		vb = []byte{}
	}
	if err := jb.st.Put(key, vb); err != nil {
		return false, err
	}
	jb.observed = max(jb.observed, r.Timestamp)
	return true, nil
}

// evict joins, in buffer order, the records at or before stream time minus
// the grace period, and deletes them.
func (jb *joinBuffer[K, V]) evict(join func(processor.Record[K, V]) error) error {
	bound := jb.observed - jb.grace
	if bound < 0 {
		return nil
	}
	hi := binary.BigEndian.AppendUint64(nil, uint64(bound))
	hi = append(hi, 0xff)
	it, err := jb.st.Range(nil, hi)
	if err != nil {
		return err
	}
	type entry struct {
		key   []byte
		value []byte
	}
	var due []entry
	for it.Next() {
		k := it.Key()
		if len(k) < 12 {
			it.Close()
			return errBadBufferEntry
		}
		if int64(binary.BigEndian.Uint64(k)) > bound {
			break
		}
		// An empty value stays empty (not nil): "" is not a null.
		due = append(due, entry{append([]byte(nil), k...), append([]byte{}, it.Value()...)})
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, e := range due {
		k, err := jb.key.Deserialize(jb.store, e.key[8:len(e.key)-4])
		if err != nil {
			return fmt.Errorf("deserialize buffered key: %w", err)
		}
		v, err := jb.value.Deserialize(jb.store, e.value)
		if err != nil {
			return fmt.Errorf("deserialize buffered value: %w", err)
		}
		ts := int64(binary.BigEndian.Uint64(e.key))
		if err := join(processor.Record[K, V]{Key: k, Value: v, Timestamp: ts}); err != nil {
			return err
		}
		if _, err := jb.st.Delete(e.key); err != nil {
			return err
		}
	}
	return nil
}

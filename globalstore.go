package kstreams

import (
	"errors"
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// ErrGlobalStoreLogged reports a global store declared with a changelog:
// its topic is its source, so, as in Kafka Streams, its StoreBuilder must
// set DisableLogging.
var ErrGlobalStoreLogged = errors.New("kstreams: a global store must not have logging enabled (set DisableLogging)")

// ErrGlobalProcessorContext reports a call a global store's processor may
// not make: scheduling a punctuator, or forwarding to a named child (it
// has no children).
var ErrGlobalProcessorContext = errors.New("kstreams: not supported in a global store's processor")

// AddGlobalStore adds a global store to a topology, as Kafka Streams'
// addGlobalStore: every instance of the application reads all partitions
// of topic, with c's serdes (then serde.Default), and passes each record
// to a processor made by supplier, which maintains the store sb declares.
// The processor runs on the global thread; it gets the store, writable,
// from its context under sb.Name, and forwards nothing. The processors of
// the stream tasks read the store, unconnected, from their own context: a
// state.ReadOnlyKeyValueStore[K, V] (a
// state.ReadOnlyTimestampedKeyValueStore[K, V] if sb is Timestamped).
//
// The store is restored before any stream task processes its first record,
// by running the topic through the processor, as Kafka Streams 3.8 and
// later do (records with a null key are skipped while restoring): from the
// start of the topic for an in-memory store, from the offsets of the last
// checkpoint for a persistent one (Pebble, the default), kept in
// "<state dir>/<application id>/global". sb must set DisableLogging: the
// topic is the store's only source ([ErrGlobalStoreLogged]). to is a
// *[Topology] or a *[Builder]; the source and processor take Kafka
// Streams' automatic names.
func AddGlobalStore[K, V any](to topologyHolder, sb StoreBuilder[K, V], topic string, c Consumed[K, V], supplier processor.Supplier[K, V, struct{}, struct{}]) {
	t := to.topology()
	b := &Builder{t: t}
	if sb.Name == "" {
		t.g.Problem(errors.New("kstreams: global store: empty name"))
		return
	}
	if !sb.DisableLogging {
		t.g.Problem(fmt.Errorf("%w: global store %q reading %q", ErrGlobalStoreLogged, sb.Name, topic))
		return
	}
	if supplier == nil {
		t.g.Problem(fmt.Errorf("kstreams: global store %q: nil processor supplier", sb.Name))
		return
	}
	// Kafka Streams names a source and a processor; the names are kept,
	// so that later automatic names are the same.
	b.name([]Named{c.Name}, "KSTREAM-SOURCE")
	t.g.NextName("KTABLE-SOURCE")
	where := "global store " + quote(sb.Name)
	sk := pickSerde(b, where, "StoreBuilder", "key", sb.Key)
	sv := pickSerde(b, where, "StoreBuilder", "value", sb.Value)
	ck := pickSerde(b, where, "Consumed", "key", c.Key)
	cv := pickSerde(b, where, "Consumed", "value", c.Value)
	writable := func(bs state.BytesStore) any {
		if sb.Timestamped {
			return state.NewTimestampedKeyValueStore(bs, sk, sv, state.SerdeTopic(topic))
		}
		return state.NewKeyValueStore(bs, sk, sv, state.SerdeTopic(topic))
	}
	t.g.AddGlobal(runtime.GlobalSpec{
		Name: sb.Name, Topic: topic, Persistent: !sb.InMemory,
		Typed: func(bs state.BytesStore) any {
			if sb.Timestamped {
				return readOnlyTimestamped[K, V]{state.NewTimestampedKeyValueStore(bs, sk, sv, state.SerdeTopic(topic))}
			}
			return readOnlyKV[K, V]{state.NewKeyValueStore(bs, sk, sv, state.SerdeTopic(topic))}
		},
		Updater: func(st *runtime.GlobalStore, appID string) (runtime.GlobalUpdater, error) {
			u := &globalUpdater[K, V]{
				p: supplier(), key: ck, value: cv, name: sb.Name, appID: appID, store: writable(st.Bytes()),
			}
			if u.p == nil {
				return nil, errors.New("the processor supplier returned nil")
			}
			if err := u.p.Init(u); err != nil {
				return nil, fmt.Errorf("init processor: %w", err)
			}
			if u.err != nil {
				return nil, u.err
			}
			return u, nil
		},
	})
}

// readOnlyKV is the stream tasks' view of a global store: reads only.
type readOnlyKV[K, V any] struct {
	state.ReadOnlyKeyValueStore[K, V]
}

// readOnlyTimestamped is readOnlyKV for a timestamped global store.
type readOnlyTimestamped[K, V any] struct {
	state.ReadOnlyTimestampedKeyValueStore[K, V]
}

// globalUpdater runs the user processor of a global store on the global
// thread; it is also the processor's context, as Kafka Streams'
// GlobalProcessorContextImpl.
type globalUpdater[K, V any] struct {
	p          processor.Processor[K, V, struct{}, struct{}]
	key        serde.Serde[K]
	value      serde.Serde[V]
	name       string
	appID      string
	store      any
	rec        runtime.GlobalRecord
	processing bool
	err        error
}

func (u *globalUpdater[K, V]) Update(r runtime.GlobalRecord) error {
	k, err := u.key.Deserialize(r.Topic, r.Key)
	if err != nil {
		return fmt.Errorf("deserialize key: %w", err)
	}
	v, err := u.value.Deserialize(r.Topic, r.Value)
	if err != nil {
		return fmt.Errorf("deserialize value: %w", err)
	}
	var hs []processor.Header
	for _, h := range r.Headers {
		hs = append(hs, processor.Header{Key: h.Key, Value: h.Value})
	}
	u.rec, u.processing = r, true
	err = u.p.Process(processor.Record[K, V]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: hs})
	u.processing = false
	return errors.Join(err, u.err)
}

func (u *globalUpdater[K, V]) Close() error { return u.p.Close() }

// Forward does nothing: a global store's processor has no children.
func (u *globalUpdater[K, V]) Forward(processor.Record[struct{}, struct{}]) {}

func (u *globalUpdater[K, V]) ForwardTo(child string, _ processor.Record[struct{}, struct{}]) {
	u.err = errors.Join(u.err, fmt.Errorf("%w: ForwardTo(%q)", ErrGlobalProcessorContext, child))
}

func (u *globalUpdater[K, V]) RecordMetadata() (processor.RecordMetadata, bool) {
	if !u.processing {
		return processor.RecordMetadata{}, false
	}
	return processor.RecordMetadata{Topic: u.rec.Topic, Partition: u.rec.Partition, Offset: u.rec.Offset}, true
}

func (u *globalUpdater[K, V]) Schedule(time.Duration, processor.PunctuationType, processor.Punctuator) processor.Cancellable {
	u.err = errors.Join(u.err, fmt.Errorf("%w: Schedule", ErrGlobalProcessorContext))
	return noCancel{}
}

// StreamTime is -1: the global thread keeps no stream time.
func (u *globalUpdater[K, V]) StreamTime() int64 { return -1 }

func (u *globalUpdater[K, V]) WallClockTime() int64 { return time.Now().UnixMilli() }

// TaskID is Kafka Streams' id of the global task, -1_-1.
func (u *globalUpdater[K, V]) TaskID() processor.TaskID {
	return processor.TaskID{Subtopology: -1, Partition: -1}
}

func (u *globalUpdater[K, V]) ApplicationID() string { return u.appID }

func (u *globalUpdater[K, V]) StateStore(name string) (any, error) {
	if name != u.name {
		return nil, fmt.Errorf("kstreams: the processor of global store %q has no state store %q", u.name, name)
	}
	return u.store, nil
}

// noCancel is the handle of a punctuator never scheduled.
type noCancel struct{}

func (noCancel) Cancel() {}

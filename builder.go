package kstreams

import (
	"fmt"
	"reflect"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// Builder builds a topology with the DSL, as Kafka Streams' StreamsBuilder.
//
//	b := kstreams.NewBuilder()
//	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.JSON[Order]()))
//	big := orders.Filter(func(id string, o Order) bool { return o.Total > 1000 })
//	big.To("big-orders")
//	topology, err := b.Build()
type Builder struct {
	t *Topology
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder { return &Builder{t: NewTopology()} }

// Build validates the topology and returns it, or a *[TopologyError] that
// lists every problem.
func (b *Builder) Build() (*Topology, error) {
	if err := b.t.Validate(); err != nil {
		return nil, err
	}
	return b.t, nil
}

func (b *Builder) name(names []Named, prefix string) string {
	// Kafka Streams draws a generated name even for a named operation,
	// so that the later generated names do not depend on it.
	gen := b.t.g.NextName(prefix)
	if len(names) > 0 && names[0] != "" {
		return b.givenOrNext(names, prefix)
	}
	return gen
}

// checkFn records a problem when fn, a user function given to op (the
// operation adding node, which follows node from), is nil; what says which
// function it is ("function", "adder", ...).
func (b *Builder) checkFn(op, node, from, what string, fn any) {
	if v := reflect.ValueOf(fn); v.IsValid() && !v.IsNil() {
		return
	}
	if node != "" {
		op += " " + quote(node)
	}
	b.t.g.Problem(fmt.Errorf("%s %s: nil %s", op, after(from), what))
}

// checkSame records a problem, and reports false, when other (the builder
// of otherNode, a stream or table given to op) is not b: a topology is made
// by one builder, and node names mean nothing in another.
func (b *Builder) checkSame(op, from string, other *Builder, otherNode string) bool {
	switch other {
	case b:
		return true
	case nil:
		b.t.g.Problem(fmt.Errorf("%s %s: the other stream is a zero value, not made by a Builder (a missing Split branch?)", op, after(from)))
	default:
		b.t.g.Problem(fmt.Errorf("%s %s: the other stream (node %q) was made by another Builder; build the whole topology with one", op, after(from), otherNode))
	}
	return false
}

// Stream is a record stream: every record is an independent event, as in
// Kafka Streams' KStream. Operations that keep the key and value types are
// methods; those that change them are package functions ([Map],
// [MapValues], [FlatMap], [SelectKey], [Process], ...). A Stream belongs to
// the [Builder] that made it; its zero value is no stream.
type Stream[K, V any] struct {
	b     *Builder
	node  string
	key   serde.Serde[K]
	value serde.Serde[V]
	// keyChanged marks a stream whose key was changed since it was last
	// read from a topic: grouping or joining it needs a repartition first.
	keyChanged bool
}

// StreamFrom reads topic as a stream.
func StreamFrom[K, V any](b *Builder, topic string, c Consumed[K, V]) Stream[K, V] {
	return StreamFromTopics(b, []string{topic}, c)
}

// StreamFromTopics reads several topics as one stream. The topics are
// processed together, partition by partition, so they should have the same
// partition count; when they do not and the stream is aggregated, the
// application warns at start.
func StreamFromTopics[K, V any](b *Builder, topics []string, c Consumed[K, V]) Stream[K, V] {
	name := b.name([]Named{c.Name}, "KSTREAM-SOURCE")
	where := fmt.Sprintf("source %q reading %q", name, topics)
	key := pickSerde(b, where, "Consumed", "key", c.Key)
	value := pickSerde(b, where, "Consumed", "value", c.Value)
	addSource(b.t, name, key, value, topics)
	return Stream[K, V]{b: b, node: name, key: key, value: value}
}

// fnProcessor adapts a function to a processor.Processor.
type fnProcessor[KIn, VIn, KOut, VOut any] struct {
	ctx processor.Context[KOut, VOut]
	fn  func(processor.Context[KOut, VOut], processor.Record[KIn, VIn]) error
}

func (p *fnProcessor[KIn, VIn, KOut, VOut]) Init(ctx processor.Context[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}

func (p *fnProcessor[KIn, VIn, KOut, VOut]) Process(rec processor.Record[KIn, VIn]) error {
	return p.fn(p.ctx, rec)
}

func (p *fnProcessor[KIn, VIn, KOut, VOut]) Close() error { return nil }

// addFn adds a processor node running fn under parents and returns its name.
func addFn[KIn, VIn, KOut, VOut any](b *Builder, name string, fn func(processor.Context[KOut, VOut], processor.Record[KIn, VIn]) error, parents ...string) string {
	supplier := func() processor.Processor[KIn, VIn, KOut, VOut] {
		return &fnProcessor[KIn, VIn, KOut, VOut]{fn: fn}
	}
	AddProcessor(b.t, name, supplier, parents...)
	return name
}

// derive returns a stream of the same types at node.
func (s Stream[K, V]) derive(node string) Stream[K, V] {
	s.node = node
	return s
}

// Filter keeps the records for which keep returns true.
func (s Stream[K, V]) Filter(keep func(K, V) bool, name ...Named) Stream[K, V] {
	n := s.b.name(name, "KSTREAM-FILTER")
	s.b.checkFn("Filter", n, s.node, "function", keep)
	return s.derive(addFn(s.b, n, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		if keep(r.Key, r.Value) {
			ctx.Forward(r)
		}
		return nil
	}, s.node))
}

// FilterNot drops the records for which drop returns true.
func (s Stream[K, V]) FilterNot(drop func(K, V) bool, name ...Named) Stream[K, V] {
	n := s.b.name(name, "KSTREAM-FILTER")
	s.b.checkFn("FilterNot", n, s.node, "function", drop)
	return s.derive(addFn(s.b, n, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		if !drop(r.Key, r.Value) {
			ctx.Forward(r)
		}
		return nil
	}, s.node))
}

// Peek calls fn for each record and passes the record on unchanged.
func (s Stream[K, V]) Peek(fn func(K, V), name ...Named) Stream[K, V] {
	n := s.b.name(name, "KSTREAM-PEEK")
	s.b.checkFn("Peek", n, s.node, "function", fn)
	return s.derive(addFn(s.b, n, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		ctx.Forward(r)
		return nil
	}, s.node))
}

// Foreach calls fn for each record. It ends the stream.
func (s Stream[K, V]) Foreach(fn func(K, V), name ...Named) {
	n := s.b.name(name, "KSTREAM-FOREACH")
	s.b.checkFn("Foreach", n, s.node, "function", fn)
	addFn(s.b, n, func(_ processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		return nil
	}, s.node)
}

// Merge returns a stream of the records of s and other, which must come
// from the same [Builder]. Records of each input keep their relative order;
// between inputs there is no order. Aggregating a merge of topics with
// different partition counts splits the state of a key over tasks (the
// application warns at start): repartition one side first.
func (s Stream[K, V]) Merge(other Stream[K, V], name ...Named) Stream[K, V] {
	n := s.b.name(name, "KSTREAM-MERGE")
	parents := []string{s.node}
	if s.b.checkSame("Merge "+quote(n), s.node, other.b, other.node) && other.node != s.node {
		// s.Merge(s): each record reaches the merge once, as in Kafka
		// Streams.
		parents = append(parents, other.node)
	}
	out := s.derive(addFn(s.b, n, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		ctx.Forward(r)
		return nil
	}, parents...))
	out.keyChanged = s.keyChanged || other.keyChanged
	return out
}

// To writes the stream to topic. The topic must exist.
func (s Stream[K, V]) To(topic string, p ...Produced[K, V]) {
	pr := first(p)
	n := s.b.name([]Named{pr.Name}, "KSTREAM-SINK")
	where := fmt.Sprintf("sink %q to topic %q %s", n, topic, after(s.node))
	key := pickSerde(s.b, where, "Produced", "key", pr.Key, s.key)
	value := pickSerde(s.b, where, "Produced", "value", pr.Value, s.value)
	addSink(s.b.t, n, topic, key, value, []string{s.node})
}

// ToFunc writes each record to the topic topicOf names for it, as Kafka
// Streams' TopicNameExtractor. The topics must exist.
func (s Stream[K, V]) ToFunc(topicOf func(processor.Record[K, V]) string, p ...Produced[K, V]) {
	pr := first(p)
	n := s.b.name([]Named{pr.Name}, "KSTREAM-SINK")
	where := fmt.Sprintf("sink %q %s", n, after(s.node))
	key := pickSerde(s.b, where, "Produced", "key", pr.Key, s.key)
	value := pickSerde(s.b, where, "Produced", "value", pr.Value, s.value)
	s.b.checkFn("ToFunc", n, s.node, "topic function", topicOf)
	s.b.t.g.Add(&runtime.NodeSpec{
		Name: n, Kind: runtime.SinkKind, Parents: []string{s.node},
		In:  runtime.RecordType[K, V](),
		New: runtime.NewDynamicSink(n, topicOf, key, value),
	})
}

// Repartition writes the stream to an internal topic the application
// creates, "<application id>-<name>-repartition", and reads it back: records
// are then partitioned by their current key.
func (s Stream[K, V]) Repartition(r ...Repartitioned[K, V]) Stream[K, V] {
	rp := first(r)
	rp.Name = Named(s.b.givenOrNext([]Named{rp.Name}, "KSTREAM-REPARTITION"))
	return s.repartition(rp, "Repartition", "Repartitioned", s.node, false)
}

// repartition writes the stream to a repartition topic named after
// rp.Name (which callers set) and reads it back.
// Records with a nil key (a nil pointer, slice, map or interface) are
// dropped (counted in Metrics.Dropped) before the topic, as Kafka Streams 4 does, unless
// keepNullKeys: a left or outer join that follows needs them. For errors,
// op and param name the operation the user called and the parameter struct
// that configures it, and from the node the user called it on.
func (s Stream[K, V]) repartition(rp Repartitioned[K, V], op, param, from string, keepNullKeys bool) Stream[K, V] {
	nm := repartitionNames(s.b, string(rp.Name))
	topic := runtime.Topic{Name: nm.topic, Internal: true}
	s.b.t.g.AddInternalTopic(runtime.InternalTopic{Name: topic.Name, Partitions: rp.Partitions, Configs: repartitionConfigs})
	where := fmt.Sprintf("%s %s (topic %q)", op, after(from), topic.Name)
	key := pickSerde(s.b, where, param, "key", rp.Key, s.key)
	value := pickSerde(s.b, where, param, "value", rp.Value, s.value)
	// As Kafka Streams' filter before every repartition topic; it drops
	// null keys unless a left or outer join follows (a key type that
	// cannot be nil has no null to drop).
	var isNull func(K) bool
	if !keepNullKeys {
		isNull = nilCheck[K]()
	}
	parent := addFn(s.b, nm.filter, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		if isNull != nil && isNull(r.Key) {
			dropRecord(ctx, "null key")
			return nil
		}
		ctx.Forward(r)
		return nil
	}, s.node)
	s.b.t.g.Add(&runtime.NodeSpec{
		Name: nm.sink, Kind: runtime.SinkKind, Parents: []string{parent}, Topics: []runtime.Topic{topic},
		In:  runtime.RecordType[K, V](),
		New: runtime.NewSink(nm.sink, topic, key, value),
	})
	s.b.t.g.Add(&runtime.NodeSpec{
		Name: nm.source, Kind: runtime.SourceKind, Topics: []runtime.Topic{topic},
		Out: runtime.RecordType[K, V](),
		New: runtime.NewSource(nm.source, key, value),
	})
	return Stream[K, V]{b: s.b, node: nm.source, key: key, value: value}
}

// repartitionConfigs are the topic configs of repartition topics, as Kafka
// Streams makes them: kept forever by the broker (retention.ms -1), since
// the application purges what it has committed (RepartitionPurgeInterval);
// a time-based retention would delete records whose event time is older
// than it before they are processed.
var repartitionConfigs = map[string]string{"cleanup.policy": "delete", "segment.bytes": "52428800", "retention.ms": "-1"}

func first[T any](ts []T) T {
	var zero T
	if len(ts) == 0 {
		return zero
	}
	return ts[0]
}

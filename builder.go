package kstreams

import (
	"fmt"

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
	if len(names) > 0 && names[0] != "" {
		if len(names) > 1 {
			b.t.g.Problem(fmt.Errorf("%s: more than one name given: %q", prefix, names))
		}
		return string(names[0])
	}
	return b.t.g.NextName(prefix)
}

// Stream is a record stream: every record is an independent event, as in
// Kafka Streams' KStream. Operations that keep the key and value types are
// methods; those that change them are package functions ([Map],
// [MapValues], [FlatMap], [SelectKey], [Process], ...).
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
// processed together, so they should have the same partition count.
func StreamFromTopics[K, V any](b *Builder, topics []string, c Consumed[K, V]) Stream[K, V] {
	name := b.name([]Named{c.Name}, "KSTREAM-SOURCE")
	key := pickSerde(b, "source "+quote(name), "key", c.Key)
	value := pickSerde(b, "source "+quote(name), "value", c.Value)
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
	return s.derive(addFn(s.b, n, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		ctx.Forward(r)
		return nil
	}, s.node))
}

// Foreach calls fn for each record. It ends the stream.
func (s Stream[K, V]) Foreach(fn func(K, V), name ...Named) {
	n := s.b.name(name, "KSTREAM-FOREACH")
	addFn(s.b, n, func(_ processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		return nil
	}, s.node)
}

// Merge returns a stream of the records of s and other. Records of each
// input keep their relative order; between inputs there is no order.
func (s Stream[K, V]) Merge(other Stream[K, V], name ...Named) Stream[K, V] {
	n := s.b.name(name, "KSTREAM-MERGE")
	parents := []string{s.node, other.node}
	if s.node == other.node {
		// s.Merge(s): each record reaches the merge once, as in Kafka
		// Streams.
		parents = parents[:1]
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
	key := pickSerde(s.b, "sink "+quote(n), "key", pr.Key, s.key)
	value := pickSerde(s.b, "sink "+quote(n), "value", pr.Value, s.value)
	addSink(s.b.t, n, topic, key, value, []string{s.node})
}

// ToFunc writes each record to the topic topicOf names for it, as Kafka
// Streams' TopicNameExtractor. The topics must exist.
func (s Stream[K, V]) ToFunc(topicOf func(processor.Record[K, V]) string, p ...Produced[K, V]) {
	pr := first(p)
	n := s.b.name([]Named{pr.Name}, "KSTREAM-SINK")
	key := pickSerde(s.b, "sink "+quote(n), "key", pr.Key, s.key)
	value := pickSerde(s.b, "sink "+quote(n), "value", pr.Value, s.value)
	if topicOf == nil {
		s.b.t.g.Problem(fmt.Errorf("sink %q: nil topic function", n))
	}
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
	return s.repartition(first(r), false)
}

// repartition writes the stream to a repartition topic and reads it back.
// Records whose key serializes to null are dropped (counted in
// Metrics.Dropped) before the topic, as Kafka Streams 4 does, unless
// keepNullKeys: a left or outer join that follows needs them.
func (s Stream[K, V]) repartition(rp Repartitioned[K, V], keepNullKeys bool) Stream[K, V] {
	base := s.b.name([]Named{rp.Name}, "KSTREAM-REPARTITION")
	topic := runtime.Topic{Name: base + "-repartition", Internal: true}
	s.b.t.g.AddInternalTopic(runtime.InternalTopic{Name: topic.Name, Partitions: rp.Partitions, Configs: repartitionConfigs})
	key := pickSerde(s.b, "repartition "+quote(base), "key", rp.Key, s.key)
	value := pickSerde(s.b, "repartition "+quote(base), "value", rp.Value, s.value)
	parent := s.node
	if !keepNullKeys {
		parent = addFn(s.b, base+"-repartition-filter", func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
			if b, err := key.Serialize(topic.Name, r.Key); err == nil && b == nil {
				if d, ok := ctx.(interface{ DropRecord(reason string) }); ok {
					d.DropRecord("null key")
				}
				return nil
			}
			ctx.Forward(r)
			return nil
		}, s.node)
	}
	sink := base + "-repartition-sink"
	s.b.t.g.Add(&runtime.NodeSpec{
		Name: sink, Kind: runtime.SinkKind, Parents: []string{parent}, Topics: []runtime.Topic{topic},
		In:  runtime.RecordType[K, V](),
		New: runtime.NewSink(sink, topic, key, value),
	})
	src := base + "-repartition-source"
	s.b.t.g.Add(&runtime.NodeSpec{
		Name: src, Kind: runtime.SourceKind, Topics: []runtime.Topic{topic},
		Out: runtime.RecordType[K, V](),
		New: runtime.NewSource(src, key, value),
	})
	return Stream[K, V]{b: s.b, node: src, key: key, value: value}
}

// repartitionConfigs are the topic configs of repartition topics.
var repartitionConfigs = map[string]string{"cleanup.policy": "delete", "segment.bytes": "52428800"}

func first[T any](ts []T) T {
	var zero T
	if len(ts) == 0 {
		return zero
	}
	return ts[0]
}

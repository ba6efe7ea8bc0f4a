package kstreams_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// topicRecorder is a serde that remembers the topics it is given.
type topicRecorder[T any] struct {
	inner  serde.Serde[T]
	mu     sync.Mutex
	topics []string
}

func (r *topicRecorder[T]) note(topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.topics, topic) {
		r.topics = append(r.topics, topic)
	}
}

func (r *topicRecorder[T]) Serialize(topic string, v T) ([]byte, error) {
	r.note(topic)
	return r.inner.Serialize(topic, v)
}

func (r *topicRecorder[T]) Deserialize(topic string, b []byte) (T, error) {
	r.note(topic)
	return r.inner.Deserialize(topic, b)
}

// TestStoreSerdesGetChangelogTopic checks that the serdes of a store are
// given its changelog topic, "<application id>-<store>-changelog", as Kafka
// Streams' metered stores give theirs (logged or not), and not the store's
// name: schema-registry serdes register their subjects after that topic.
func TestStoreSerdesGetChangelogTopic(t *testing.T) {
	const want = "orders-app-counts-changelog"
	counter := func() processor.Processor[string, string, string, int64] { return &keyCounter{store: "counts"} }
	stamped := func() processor.Processor[string, string, string, int64] { return &stampedCounter{} }
	tests := []struct {
		name string
		// sb is the Processor API store, proc the processor using it; a nil
		// proc counts with the DSL into a store named "counts".
		sb   kstreams.StoreBuilder[string, int64]
		proc func() processor.Processor[string, string, string, int64]
	}{
		{"processor store", kstreams.StoreBuilder[string, int64]{Name: "counts"}, counter},
		{"unlogged processor store", kstreams.StoreBuilder[string, int64]{Name: "counts", DisableLogging: true}, counter},
		{"in-memory processor store", kstreams.StoreBuilder[string, int64]{Name: "counts", InMemory: true}, counter},
		{"timestamped processor store", kstreams.StoreBuilder[string, int64]{Name: "counts", Timestamped: true}, stamped},
		{"DSL aggregation", kstreams.StoreBuilder[string, int64]{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &topicRecorder[string]{inner: serde.String()}
			v := &topicRecorder[int64]{inner: serde.Int64()}
			b := kstreams.NewBuilder()
			s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			var counts kstreams.Stream[string, int64]
			if tc.proc == nil {
				counts = s.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: "counts", Key: k, Value: v}).ToStream()
			} else {
				tc.sb.Key, tc.sb.Value = k, v
				kstreams.AddStateStore(b, tc.sb)
				counts = kstreams.ProcessWithStores(s, tc.proc, []string{"counts"})
			}
			counts.To("out", kstreams.ProducedWith(serde.String(), serde.Int64()))
			d := sfDriver(t, sfBuild(t, b), kstreamstest.ApplicationID("orders-app"))
			in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for _, key := range []string{"a", "b", "a"} {
				if err := in.Pipe(key, "x"); err != nil {
					t.Fatal(err)
				}
			}
			sfCheck(t, 0, "out", sfKVs(t, intOut(d, "out")), []string{"a=1", "b=1", "a=2"})
			for what, got := range map[string][]string{"key": k.topics, "value": v.topics} {
				if !slices.Equal(got, []string{want}) {
					t.Errorf("the store's %s serde was given the topics %q, want only %q", what, got, want)
				}
			}
		})
	}
}

// stampedCounter counts records by key in the timestamped store "counts".
type stampedCounter struct {
	ctx    processor.Context[string, int64]
	counts state.TimestampedKeyValueStore[string, int64]
}

func (c *stampedCounter) Init(ctx processor.Context[string, int64]) (err error) {
	c.ctx = ctx
	c.counts, err = processor.Store[state.TimestampedKeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (c *stampedCounter) Process(r processor.Record[string, string]) error {
	n, _, err := c.counts.Get(r.Key)
	if err != nil {
		return err
	}
	n.Value++
	if err := c.counts.Put(r.Key, state.ValueAndTimestamp[int64]{Value: n.Value, Timestamp: r.Timestamp}); err != nil {
		return err
	}
	c.ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n.Value, Timestamp: r.Timestamp})
	return nil
}

func (c *stampedCounter) Close() error { return nil }

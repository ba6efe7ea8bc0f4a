// Package embedded runs an in-process Kafka-compatible broker (franz-go's
// kfake) for zero-setup runs: the quickstart, examples and fast tests.
// [Broker.CreateTopics], [Produce] and [Consume] create topics and write
// and read typed records, so that a demo or a test needs no Kafka client of
// its own.
//
// It is not a substitute for a real Apache Kafka cluster: it is synchronous
// and unreplicated, so timing-dependent failures of a real broker do not
// show up on it. Point applications at a real cluster with their -brokers
// flag (kstreams.Brokers) for anything that matters.
package embedded

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configures a Broker. The zero value is ready to use.
type Options struct {
	// DataDir keeps the broker's data on disk, so that a restarted broker
	// (and the application on it) finds its topics, records and committed
	// offsets again. Default: in memory only.
	DataDir string
	// Port is the TCP port on 127.0.0.1. Default 0: a free port.
	Port int
	// Partitions is the partition count of topics created without one.
	// Default 3.
	Partitions int
	// Topics are created at start (if missing) with Partitions partitions.
	Topics []string
}

// Broker is a running embedded broker.
type Broker struct {
	c          *kfake.Cluster
	partitions int32
}

// Start starts a single-node broker on 127.0.0.1.
func Start(o Options) (*Broker, error) {
	if o.Partitions == 0 {
		o.Partitions = 3
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.Ports(o.Port),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "5000"}),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: starting broker on port %s: %w", strconv.Itoa(o.Port), err)
	}
	return &Broker{c: c, partitions: int32(o.Partitions)}, nil
}

// Addrs returns the broker's host:port addresses, for kstreams.Brokers.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker, writing its data to DataDir if one was set.
func (b *Broker) Close() { b.c.Close() }

// client returns a new client of the broker with opts.
func (b *Broker) client(opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded: client: %w", err)
	}
	return cl, nil
}

// CreateTopics creates topics with partitions partitions each (0: the
// broker's Options.Partitions). A topic that already exists is an error.
func (b *Broker) CreateTopics(ctx context.Context, partitions int32, topics ...string) error {
	cl, err := b.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	if partitions == 0 {
		partitions = b.partitions
	}
	resps, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return fmt.Errorf("embedded: creating topics %q: %w", topics, err)
	}
	for _, name := range topics {
		if r := resps[name]; r.Err != nil {
			return fmt.Errorf("embedded: creating topic %q: %w", name, r.Err)
		}
	}
	return nil
}

// Produce writes records to topic, serialized with key and value, and
// returns once the broker has them all. Records go to partitions by the hash
// of their key bytes, as the Java producer's default partitioner does. A
// record with a zero Timestamp is stamped with the current time.
func Produce[K, V any](ctx context.Context, b *Broker, topic string, key serde.Serde[K], value serde.Serde[V], records ...processor.Record[K, V]) error {
	cl, err := b.client(kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	raw := make([]*kgo.Record, len(records))
	for i, r := range records {
		if raw[i], err = encode(topic, key, value, r); err != nil {
			return err
		}
	}
	if err := cl.ProduceSync(ctx, raw...).FirstErr(); err != nil {
		return fmt.Errorf("embedded: producing to %q: %w", topic, err)
	}
	return nil
}

func encode[K, V any](topic string, key serde.Serde[K], value serde.Serde[V], r processor.Record[K, V]) (*kgo.Record, error) {
	kb, err := key.Serialize(topic, r.Key)
	if err != nil {
		return nil, fmt.Errorf("embedded: serializing key for %q: %w", topic, err)
	}
	vb, err := value.Serialize(topic, r.Value)
	if err != nil {
		return nil, fmt.Errorf("embedded: serializing value for %q: %w", topic, err)
	}
	rec := &kgo.Record{Topic: topic, Key: kb, Value: vb}
	if r.Timestamp != 0 {
		rec.Timestamp = time.UnixMilli(r.Timestamp)
	}
	for _, h := range r.Headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return rec, nil
}

// Consume reads the first n committed records of topic (records of aborted
// transactions are not read), deserialized with key and
// value, waiting for them until ctx is done; it then returns what it read
// with ctx's error. Records come in order within each partition; across
// partitions the order is arbitrary.
func Consume[K, V any](ctx context.Context, b *Broker, topic string, n int, key serde.Serde[K], value serde.Serde[V]) ([]processor.Record[K, V], error) {
	cl, err := b.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []processor.Record[K, V]
	for len(out) < n {
		fetches := cl.PollRecords(ctx, n-len(out))
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("embedded: consuming %q: %d of %d records: %w", topic, len(out), n, err)
		}
		if err := fetches.Err0(); err != nil {
			return out, fmt.Errorf("embedded: consuming %q: %w", topic, err)
		}
		for _, r := range fetches.Records() {
			rec, err := decode(key, value, r)
			if err != nil {
				return out, err
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

func decode[K, V any](key serde.Serde[K], value serde.Serde[V], r *kgo.Record) (processor.Record[K, V], error) {
	rec := processor.Record[K, V]{Timestamp: r.Timestamp.UnixMilli()}
	var err error
	if rec.Key, err = key.Deserialize(r.Topic, r.Key); err != nil {
		return rec, fmt.Errorf("embedded: deserializing key at %q partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	if rec.Value, err = value.Deserialize(r.Topic, r.Value); err != nil {
		return rec, fmt.Errorf("embedded: deserializing value at %q partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	for _, h := range r.Headers {
		rec.Headers = append(rec.Headers, processor.Header{Key: h.Key, Value: h.Value})
	}
	return rec, nil
}

// Package embedded runs an in-process Kafka-compatible broker (franz-go's
// kfake) for zero-setup runs: the quickstart, examples and fast tests.
//
// It is not a substitute for a real Apache Kafka cluster: it is synchronous
// and unreplicated, so timing-dependent failures of a real broker do not
// show up on it. Point applications at a real cluster with their -brokers
// flag (kstreams.Brokers) for anything that matters.
package embedded

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
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
	c *kfake.Cluster
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
	return &Broker{c: c}, nil
}

// Addrs returns the broker's host:port addresses, for kstreams.Brokers.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker, writing its data to DataDir if one was set.
func (b *Broker) Close() { b.c.Close() }

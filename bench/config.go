package main

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// RunSpec is everything an application needs for one run. Worker processes
// receive it as JSON, so an application in another language reads the same
// fields; durations are in nanoseconds.
type RunSpec struct {
	// Workload is the key (Name/Impl) of the workload to run.
	Workload string   `json:"workload"`
	Brokers  []string `json:"brokers"`
	// Input is the preloaded topic; Output is fresh for this run.
	Input  string `json:"input"`
	Output string `json:"output"`
	// Side is the second input of the join workloads (join.go): a topic of
	// one row per key; "" for the others.
	Side string `json:"side,omitempty"`
	// AppID is fresh for this run: the application id of a streams app, the
	// consumer group of the copy loop.
	AppID string `json:"app_id"`
	// Records is the number of input records.
	Records    int64 `json:"records"`
	Partitions int   `json:"partitions"`
	// StateDir is a fresh directory for the run's local state.
	StateDir string       `json:"state_dir"`
	Client   ClientConfig `json:"client"`
	// CPUProfile, if set, is where a Go worker writes its CPU profile.
	CPUProfile string `json:"cpu_profile,omitempty"`
	// MemTable, if not 0, is the Pebble memtable size of a Go worker's
	// stores (kstreams.StoreOptions); the Java side ignores it.
	MemTable uint64 `json:"memtable_bytes,omitempty"`
	// Registry is the base URL of the Confluent-compatible schema registry
	// of the Avro workloads; "" for the others.
	Registry string `json:"registry,omitempty"`
	// AvroSchema is the Avro schema of the values of the Avro workloads.
	AvroSchema string `json:"avro_schema,omitempty"`
	// ReadyFile, for the kill-restore benchmark, is where the application
	// writes killReady once RUNNING; "" for none.
	ReadyFile string `json:"ready_file,omitempty"`
	// TransactionalStores turns on Kafka Streams' transactional state
	// stores (enable.transactional.statestores, KIP-892); the Go side has
	// them always under exactly-once.
	TransactionalStores bool `json:"transactional_stores,omitempty"`
}

// ClientConfig are the client settings every application of a run uses, so
// that ratios compare runtimes, not client tuning. The defaults are
// franz-go's except where noted; the Java names are for the Java side.
type ClientConfig struct {
	// Linger is how long a partition's batch waits for more records
	// (linger.ms). Default 5ms: Kafka 4's Java default (franz-go's is 10ms).
	Linger time.Duration `json:"linger_ns"`
	// BatchMaxBytes bounds one partition's batch (batch.size;
	// max.request.size). Default 1000012, franz-go's and the broker's
	// message.max.bytes; Java's batch.size default (16 KiB) would cap a batch
	// at 15 of these 1 KiB records.
	BatchMaxBytes int32 `json:"batch_max_bytes"`
	// Compression is none, gzip, snappy, lz4 or zstd (compression.type).
	// Default none, Java's default (franz-go's is snappy).
	Compression string `json:"compression"`
	// FetchMaxBytes bounds a fetch response (fetch.max.bytes). Default 50 MiB.
	FetchMaxBytes int32 `json:"fetch_max_bytes"`
	// FetchMaxPartitionBytes bounds one partition in a fetch response
	// (max.partition.fetch.bytes). Default 1 MiB.
	FetchMaxPartitionBytes int32 `json:"fetch_max_partition_bytes"`
	// FetchMaxWait is how long the broker may hold a fetch for
	// FetchMinBytes (fetch.max.wait.ms). Default 500ms.
	FetchMaxWait time.Duration `json:"fetch_max_wait_ns"`
	// MaxPollRecords bounds the records one poll returns
	// (max.poll.records). Default 10000, kstreams' default.
	MaxPollRecords int `json:"max_poll_records"`
	// CommitInterval is how often outputs are flushed and input offsets
	// committed (commit.interval.ms). Default 30s, the at-least-once default
	// of Kafka Streams and kstreams.
	CommitInterval time.Duration `json:"commit_interval_ns"`
	// Guarantee is the processing guarantee of the streams apps
	// (processing.guarantee): guaranteeALOS (the default) or guaranteeEOS.
	// The copy loop (the ceiling) is at-least-once under both.
	Guarantee string `json:"guarantee,omitempty"`
	// Metrics is the kstreams apps' metrics setting: "off" (the default),
	// or "info" / "debug": that recording level, with the operations
	// server on and /metrics scraped every second (kstreams only).
	Metrics string `json:"metrics,omitempty"`
}

// The processing guarantees, as Java's processing.guarantee spells them.
const (
	guaranteeALOS = "at_least_once"
	guaranteeEOS  = "exactly_once_v2"
)

// eosCommitInterval is the commit interval of exactly-once runs unless
// -commit-interval is given: Kafka Streams' (and kstreams') default under
// exactly-once.
const eosCommitInterval = 100 * time.Millisecond

// exactlyOnce reports whether the apps run exactly-once.
func (c ClientConfig) exactlyOnce() bool { return c.Guarantee == guaranteeEOS }

func defaultClientConfig() ClientConfig {
	return ClientConfig{
		Linger:                 5 * time.Millisecond,
		BatchMaxBytes:          1000012,
		Compression:            "none",
		FetchMaxBytes:          50 << 20,
		FetchMaxPartitionBytes: 1 << 20,
		FetchMaxWait:           500 * time.Millisecond,
		MaxPollRecords:         10000,
		CommitInterval:         30 * time.Second,
	}
}

func (c ClientConfig) codec() (kgo.CompressionCodec, error) {
	switch c.Compression {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("bench: unknown compression %q (none, gzip, snappy, lz4, zstd)", c.Compression)
}

// producerOpts are the producer settings of every client that writes.
func (c ClientConfig) producerOpts() ([]kgo.Opt, error) {
	codec, err := c.codec()
	if err != nil {
		return nil, err
	}
	return []kgo.Opt{
		kgo.ProducerLinger(c.Linger),
		kgo.ProducerBatchMaxBytes(c.BatchMaxBytes),
		kgo.ProducerBatchCompression(codec),
	}, nil
}

// appOpts are the consumer and producer settings the copy loop and the
// streams apps share; each adds its own group, topics and commit handling.
func (c ClientConfig) appOpts() ([]kgo.Opt, error) {
	opts, err := c.producerOpts()
	if err != nil {
		return nil, err
	}
	// The fetch settings (FetchMaxBytes, ...) are franz-go's defaults and
	// are not passed: each library runs with its own fetch defaults
	// (kstreams' restore client fetches 256 KiB per partition unless told
	// otherwise); the Java side gets the same values from the spec.
	return opts, nil
}

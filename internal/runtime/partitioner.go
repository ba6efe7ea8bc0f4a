package runtime

import "github.com/twmb/franz-go/pkg/kgo"

// partitioner sends changelog records to the partition they name (their
// task's), as it does records of sinks that chose theirs, and every other record where franz-go's default partitioner
// does: by the murmur2 hash of the key, as Java's default partitioner, so
// that repartition topics are co-partitioned with topics Java clients write.
type partitioner struct{ def kgo.Partitioner }

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return topicPartitioner{p.def.ForTopic(topic)}
}

type topicPartitioner struct{ def kgo.TopicPartitioner }

func (tp topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return ownPartition(r) || tp.def.RequiresConsistency(r)
}

func (tp topicPartitioner) Partition(r *kgo.Record, n int) int {
	if ownPartition(r) {
		return int(r.Partition)
	}
	return tp.def.Partition(r, n)
}

// OnNewBatch keeps the default partitioner's stickiness for records
// without a key.
func (tp topicPartitioner) OnNewBatch() {
	if nb, ok := tp.def.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// ownPartition reports whether rec names its partition.
func ownPartition(rec *kgo.Record) bool {
	k := kindOf(rec)
	return k == SendChangelog || k == SendOutputToPartition
}

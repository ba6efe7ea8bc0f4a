package runtime

import "github.com/twmb/franz-go/pkg/kgo"

// partitioner sends changelog records to the partition they name (their
// task's) and every other record where franz-go's default partitioner
// does: by the murmur2 hash of the key, as Java's default partitioner, so
// that repartition topics are co-partitioned with topics Java clients write.
type partitioner struct{ def kgo.Partitioner }

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return topicPartitioner{p.def.ForTopic(topic)}
}

type topicPartitioner struct{ def kgo.TopicPartitioner }

func (tp topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return kindOf(r) == SendChangelog || tp.def.RequiresConsistency(r)
}

func (tp topicPartitioner) Partition(r *kgo.Record, n int) int {
	if kindOf(r) == SendChangelog {
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

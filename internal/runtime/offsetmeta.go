package runtime

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/kstreams-go/kstreams/processor"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The metadata string committed with each input partition's offset, as
// Kafka Streams' TopicPartitionMetadata writes it, so that a Java
// application and kstreams read each other's: base64 (standard, padded) of
// a version byte, 2, the partition time (int64, big-endian, -1 unknown),
// then the task's processor metadata: nothing when empty, else the entry
// count (int32) and per entry the key's length (int32), the key (UTF-8)
// and the value (int64), all big-endian. Version 1 carries the partition
// time only.
const offsetMetaVersion = 2

// EncodeOffsetMetadata returns the offset metadata string for a partition
// time and processor metadata. Entries are written by key, for a stable
// string (Java writes its hash map's order, which readers ignore).
func EncodeOffsetMetadata(partitionTime int64, meta map[string]int64) string {
	var b bytes.Buffer
	b.WriteByte(offsetMetaVersion)
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(partitionTime)))
	if len(meta) > 0 {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(meta))))
		for _, k := range slices.Sorted(maps.Keys(meta)) {
			b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(k))))
			b.WriteString(k)
			b.Write(binary.BigEndian.AppendUint64(nil, uint64(meta[k])))
		}
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// errOffsetMeta is the error of metadata DecodeOffsetMetadata cannot read.
var errOffsetMeta = errors.New("kstreams: offset metadata is not Kafka Streams'")

// DecodeOffsetMetadata reads an offset metadata string: the partition time
// (-1 when unknown) and the processor metadata (nil when none). An empty
// string is no metadata; one it cannot read (another client's, such as
// franz-go's member id, or a later version) is an error wrapping
// errOffsetMeta, with partition time -1, as Kafka Streams, which logs it
// and goes on without.
func DecodeOffsetMetadata(s string) (int64, map[string]int64, error) {
	if s == "" {
		return -1, nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) < 9 {
		return -1, nil, fmt.Errorf("%w: %q", errOffsetMeta, s)
	}
	if b[0] != 1 && b[0] != offsetMetaVersion {
		return -1, nil, fmt.Errorf("%w: version %d (kstreams reads 1 and 2)", errOffsetMeta, b[0])
	}
	pt := int64(binary.BigEndian.Uint64(b[1:9]))
	rest := b[9:]
	if b[0] == 1 || len(rest) == 0 {
		return pt, nil, nil
	}
	meta, err := decodeProcessorMetadata(rest)
	if err != nil {
		return -1, nil, fmt.Errorf("%w: %w", errOffsetMeta, err)
	}
	return pt, meta, nil
}

// decodeProcessorMetadata reads the processor metadata of a version 2
// string.
func decodeProcessorMetadata(b []byte) (map[string]int64, error) {
	if len(b) < 4 {
		return nil, errors.New("processor metadata truncated")
	}
	n := int64(int32(binary.BigEndian.Uint32(b)))
	b = b[4:]
	if n < 0 || n > int64(len(b))/12 {
		return nil, fmt.Errorf("processor metadata of %d entries in %d bytes", n, len(b))
	}
	meta := make(map[string]int64, n)
	for range n {
		if len(b) < 4 {
			return nil, errors.New("processor metadata truncated")
		}
		kl := int64(int32(binary.BigEndian.Uint32(b)))
		b = b[4:]
		if kl < 0 || kl+8 > int64(len(b)) {
			return nil, errors.New("processor metadata truncated")
		}
		meta[string(b[:kl])] = int64(binary.BigEndian.Uint64(b[kl:]))
		b = b[kl+8:]
	}
	return meta, nil
}

// CommittedOffset is an input partition's committed offset and the
// partition time and processor metadata committed with it.
type CommittedOffset struct {
	Offset        int64
	PartitionTime int64
	Meta          map[string]int64
}

// committedOffsets maps topic and partition to what is committed.
type committedOffsets map[string]map[int32]CommittedOffset

// fetchCommitted reads the group's committed offsets of the assigned
// partitions with their metadata, as Kafka Streams does when it assigns a
// task (StreamTask.initializeTaskTimeAndProcessorMetadata). Offsets of a
// transaction not yet settled are waited for (require stable), for at most
// timeout.
func fetchCommitted(ctx context.Context, cl *kgo.Client, group string, assigned map[string][]int32, timeout time.Duration) (committedOffsets, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.RequireStable = true
	for topic, parts := range assigned {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic = topic
		rt.Partitions = parts
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		out, err := fetchCommittedOnce(ctx, cl, req)
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("kstreams: reading the committed offsets: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fetchCommittedOnce(ctx context.Context, cl *kgo.Client, req *kmsg.OffsetFetchRequest) (committedOffsets, error) {
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kstreams: reading the committed offsets: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("kstreams: reading the committed offsets: %w", err)
	}
	out := committedOffsets{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("kstreams: reading the committed offset of topic %q partition %d: %w", t.Topic, p.Partition, err)
			}
			if p.Offset < 0 {
				continue
			}
			c := CommittedOffset{Offset: p.Offset, PartitionTime: -1}
			if p.Metadata != nil {
				c.PartitionTime, c.Meta, _ = DecodeOffsetMetadata(*p.Metadata)
			}
			if out[t.Topic] == nil {
				out[t.Topic] = map[int32]CommittedOffset{}
			}
			out[t.Topic][p.Partition] = c
		}
	}
	return out, nil
}

// lookup returns what is committed for a partition.
func (c committedOffsets) lookup(topic string, partition int32) (CommittedOffset, bool) {
	o, ok := c[topic][partition]
	return o, ok
}

// ProcessorMetadata returns the value a processor of the task stored under
// key (Kafka Streams' processorMetadataForKey): restored from the offsets'
// metadata when the task was assigned, and kept by AddProcessorMetadata.
func (n *processorNode[KIn, VIn, KOut, VOut]) ProcessorMetadata(key string) (int64, bool) {
	v, ok := n.t.meta[key]
	return v, ok
}

// AddProcessorMetadata stores value under key in the task's processor
// metadata, committed with the offsets of all the task's input partitions
// at the next commit (Kafka Streams' addProcessorMetadataKeyValue).
func (n *processorNode[KIn, VIn, KOut, VOut]) AddProcessorMetadata(key string, value int64) {
	if n.t.meta == nil {
		n.t.meta = map[string]int64{}
	}
	n.t.meta[key] = value
	n.t.metaDirty = true
}

// applyCommitted sets the task's processor metadata and each queue's
// partition time from what is committed, before its processors are
// initialized, as Kafka Streams' StreamTask: the processor metadata is the
// largest value of each key over the partitions; stream time starts at the
// largest partition time.
func (t *Task) applyCommitted() {
	if t.cfg.Committed == nil {
		return
	}
	for _, n := range t.st.Nodes {
		if n.Kind != SourceKind {
			continue
		}
		for _, topic := range n.Topics {
			c, ok := t.cfg.Committed(topic.Resolve(t.cfg.AppID), t.id.Partition)
			if !ok {
				continue
			}
			for k, v := range c.Meta {
				if old, ok := t.meta[k]; !ok || v > old {
					if t.meta == nil {
						t.meta = map[string]int64{}
					}
					t.meta[k] = v
				}
			}
			t.streamTime = max(t.streamTime, c.PartitionTime)
		}
	}
}

// committedQueue starts a queue at its partition's committed offset and
// partition time.
func (t *Task) committedQueue(q *partQueue) {
	if t.cfg.Committed == nil {
		return
	}
	c, ok := t.cfg.Committed(q.topic, q.partition)
	if !ok {
		return
	}
	q.next, q.committed, q.epoch = c.Offset, c.Offset, -1
	q.partitionTime = max(q.partitionTime, c.PartitionTime)
	q.processedTime = max(q.processedTime, c.PartitionTime)
}

// OffsetMetadata returns the metadata to commit with the offset of the
// task's partition of topic: its partition time (the largest timestamp
// processed from it) and the task's processor metadata.
func (t *Task) OffsetMetadata(topic string) string {
	q := t.queueOf[topic]
	if q == nil {
		return ""
	}
	return EncodeOffsetMetadata(q.processedTime, t.meta)
}

// setOffsetMetadata fills the metadata of the partitions of an offset
// commit from the tasks that own them.
func (th *thread) setOffsetMetadata(topic string, partition int32, meta **string) {
	t := th.byPart[topicPartition{topic, partition}]
	if t == nil {
		return
	}
	s := t.OffsetMetadata(topic)
	*meta = &s
}

// commitMetadataContext has the offset commit of ctx carry each
// partition's metadata (at-least-once).
func (th *thread) commitMetadataContext(ctx context.Context) context.Context {
	return kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			rt := &req.Topics[i]
			for j := range rt.Partitions {
				th.setOffsetMetadata(rt.Topic, rt.Partitions[j].Partition, &rt.Partitions[j].Metadata)
			}
		}
		return nil
	})
}

// txnCommitMetadataContext has the transaction's offset commit of ctx
// commit positions, the offsets the tasks processed up to (franz-go's
// session would commit what was polled, setTxnOffsets), with each
// partition's metadata (exactly-once): Task.Offsets', so every partition
// that moved, and every partition of a task whose processor metadata
// changed without its offsets moving.
func (th *thread) txnCommitMetadataContext(ctx context.Context, positions map[string]map[int32]kgo.EpochOffset) context.Context {
	return kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		setTxnOffsets(req, positions)
		for i := range req.Topics {
			rt := &req.Topics[i]
			for j := range rt.Partitions {
				th.setOffsetMetadata(rt.Topic, rt.Partitions[j].Partition, &rt.Partitions[j].Metadata)
			}
		}
		return nil
	})
}

// loadCommittedLocked reads the group's committed offsets (with their
// partition times and processor metadata) of the input partitions of
// tasks ids, for startTaskLocked to give the tasks it opens; on error
// th.committed is left empty and the error is returned.
func (th *thread) loadCommittedLocked(ctx context.Context, ids []processor.TaskID) error {
	th.committedAt = nil
	assigned := map[string][]int32{}
	for _, id := range ids {
		for topic, parts := range th.partitionsOfTask(id) {
			assigned[topic] = append(assigned[topic], parts...)
		}
	}
	if len(assigned) == 0 {
		return nil
	}
	c, err := fetchCommitted(ctx, th.cl, th.e.cfg.AppID, assigned, th.requestTimeout())
	if err != nil {
		return err
	}
	th.committedAt = c.lookup
	return nil
}

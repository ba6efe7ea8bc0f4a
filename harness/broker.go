package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NewAdmin returns an admin client for brokers; close it with Close.
func NewAdmin(brokers []string) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("kstreams: harness: admin client: %w", err)
	}
	return kadm.NewClient(cl), nil
}

// CreateTopics creates the input and output topics with the given
// partitions and replication factor (-1: the broker's default).
func CreateTopics(ctx context.Context, adm *kadm.Client, t Topics, partitions int32, replication int16) error {
	resps, err := adm.CreateTopics(ctx, partitions, replication, nil, t.All()...)
	if err != nil {
		return fmt.Errorf("kstreams: harness: creating topics: %w", err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kstreams: harness: creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// Summary is what [Generate] records of the input it produced.
type Summary struct {
	Spec     Spec      `json:"spec"`
	Topic    string    `json:"topic"`
	Records  int       `json:"records"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// WriteSummary writes s as JSON to path.
func WriteSummary(path string, s Summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadSummary reads a summary written by [WriteSummary].
func ReadSummary(path string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("kstreams: harness: summary %s: %w", path, err)
	}
	return s, nil
}

// Generate produces spec's input to topic, at most rate records per second
// (0: as fast as possible), with acks=all and an idempotent producer, and
// returns its summary.
func Generate(ctx context.Context, brokers []string, topic string, spec Spec, rate int) (Summary, error) {
	sum := Summary{Spec: spec, Topic: topic, Started: time.Now().UTC()}
	if err := spec.Validate(); err != nil {
		return sum, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return sum, fmt.Errorf("kstreams: harness: producer: %w", err)
	}
	defer cl.Close()
	var failed error
	errc := make(chan error, 1)
	seq := spec.Sequence()
	start := time.Now()
	for i, in := range seq {
		if rate > 0 && i%max(rate/20, 1) == 0 {
			if ahead := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); ahead > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(ahead):
				}
			}
		}
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		val, _ := i64.Serialize(topic, in.Value)
		rec := &kgo.Record{Key: []byte(in.Key), Value: val, Timestamp: time.UnixMilli(spec.Timestamp(in.Value))}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
		select {
		case failed = <-errc:
			return sum, fmt.Errorf("kstreams: harness: producing to %s: %w", topic, failed)
		default:
		}
		sum.Records++
	}
	if err := cl.Flush(ctx); err != nil {
		return sum, fmt.Errorf("kstreams: harness: flushing %s: %w", topic, err)
	}
	select {
	case failed = <-errc:
		return sum, fmt.Errorf("kstreams: harness: producing to %s: %w", topic, failed)
	default:
	}
	sum.Finished = time.Now().UTC()
	return sum, nil
}

// Read gathers the dataset of a run: the input and outputs read with
// read_committed up to their last stable offsets, the application's
// committed offsets, and what is left open (transactions of the application
// id, partitions whose last stable offset is below the high watermark).
func Read(ctx context.Context, brokers []string, t Topics, appID string, spec Spec) (*Dataset, error) {
	adm, err := NewAdmin(brokers)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	ds := &Dataset{Spec: spec, Outputs: map[Output][]Record{}}
	topics := t.All()
	lso, err := adm.ListCommittedOffsets(ctx, topics...)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kstreams: harness: last stable offsets: %w", err)
	}
	hw, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = hw.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kstreams: harness: high watermarks: %w", err)
	}
	lso.Each(func(o kadm.ListedOffset) {
		if h, ok := hw.Lookup(o.Topic, o.Partition); ok && h.Offset != o.Offset {
			ds.Unstable = append(ds.Unstable, fmt.Sprintf("%s[%d] LSO %d < HW %d", o.Topic, o.Partition, o.Offset, h.Offset))
		}
	})
	slices.Sort(ds.Unstable)
	if err := readOpenTransactions(ctx, adm, appID, ds); err != nil {
		return nil, err
	}
	offs, err := adm.FetchOffsets(ctx, appID)
	if errors.Is(err, kerr.GroupIDNotFound) {
		offs, err = nil, nil // the application never committed
	}
	if err != nil {
		return nil, fmt.Errorf("kstreams: harness: committed offsets of %s: %w", appID, err)
	}
	ds.Committed = map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == t.Input() && o.Err == nil {
			ds.Committed[o.Partition] = o.At
		}
	})
	recs, err := consume(ctx, brokers, lso)
	if err != nil {
		return nil, err
	}
	ds.Input = recs[t.Input()]
	for _, o := range Outputs {
		ds.Outputs[o] = recs[t.Output(o)]
	}
	return ds, nil
}

// openStates are the transaction states of a transaction not yet finished.
var openStates = []string{"Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence"}

func readOpenTransactions(ctx context.Context, adm *kadm.Client, appID string, ds *Dataset) error {
	txns, err := adm.ListTransactions(ctx, nil, openStates)
	if errors.Is(err, kerr.UnsupportedVersion) {
		return nil // an old broker: the unstable offsets still show open transactions
	}
	if err != nil {
		return fmt.Errorf("kstreams: harness: listing transactions: %w", err)
	}
	for _, tx := range txns.Sorted() {
		if strings.HasPrefix(tx.TxnID, appID) {
			ds.OpenTransactions = append(ds.OpenTransactions, fmt.Sprintf("%s (%s)", tx.TxnID, tx.State))
		}
	}
	return nil
}

// readTimeout bounds reading the topics back.
const readTimeout = 5 * time.Minute

// consume reads every partition of end's topics from the start up to its
// offset in end, with read_committed. A partition whose last records are
// transaction markers or aborted never reaches end: reading stops when
// every partition reached it or nothing came for three seconds.
func consume(ctx context.Context, brokers []string, end kadm.ListedOffsets) (map[string][]Record, error) {
	parts := map[string]map[int32]kgo.Offset{}
	left := map[string]int64{} // topic/partition -> end
	end.Each(func(o kadm.ListedOffset) {
		if parts[o.Topic] == nil {
			parts[o.Topic] = map[int32]kgo.Offset{}
		}
		parts[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		if o.Offset > 0 {
			left[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.Offset
		}
	})
	out := map[string][]Record{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("kstreams: harness: consumer: %w", err)
	}
	defer cl.Close()
	idleSince, giveUp := time.Now(), time.Now().Add(readTimeout)
	for len(left) > 0 && time.Since(idleSince) < 3*time.Second {
		if time.Now().After(giveUp) {
			return nil, fmt.Errorf("kstreams: harness: reading back: %d partitions not read to their end after %v", len(left), readTimeout)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				idleSince = time.Now() // keep waiting for a retriable error to clear
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			idleSince = time.Now()
			out[r.Topic] = append(out[r.Topic], Record{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: r.Value})
			k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if e, ok := left[k]; ok && r.Offset+1 >= e {
				delete(left, k)
			}
		})
	}
	for _, recs := range out {
		slices.SortStableFunc(recs, func(a, b Record) int {
			if a.Partition != b.Partition {
				return int(a.Partition - b.Partition)
			}
			return int(a.Offset - b.Offset)
		})
	}
	return out, nil
}

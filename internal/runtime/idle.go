package runtime

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Idling follows Kafka Streams' PartitionGroup.readyToProcess: a task with
// several input partitions processes a record only while every partition
// has records buffered, or is known to be caught up (its lag on the broker
// is 0) and has stayed empty for MaxTaskIdle. Processing with an empty
// partition is "enforced" and counted.
//
// Kafka Streams learns each partition's lag from every fetch response, empty
// ones included. franz-go hands over only partitions with records, so a
// partition's lag is known from the last poll that returned records for it
// (its high watermark minus the offset after its last record) or from a lag
// probe: while a task waits on a partition whose lag is unknown or positive,
// its thread lists the partition's end (and start) offsets, at most every
// lagProbeEvery, and compares them with the offset it will fetch next (the
// last fetched record's, else the committed one, else the log start). Two
// probes that see the same end offset with nothing fetched in between mean
// the offsets left hold no records to fetch (transaction markers, aborted
// records): the partition is caught up.

// lagProbeEvery bounds how often a thread lists offsets for the partitions
// its tasks wait on (Kafka Streams' fetch.max.wait.ms default).
const lagProbeEvery = 500 * time.Millisecond

// idleState is what a partition queue knows of its partition's lag.
type idleState struct {
	fetched  int64 // offset after the last record fetched, -1 before the first
	lag      int64 // records on the broker after fetched, -1 unknown
	deadline int64 // wall-clock ms the task waits until, -1 none
	// probedEnd and probedFetched are the end offset and fetched at the
	// last probe (-1: none).
	probedEnd, probedFetched int64
}

func newIdleState() idleState {
	return idleState{fetched: -1, lag: -1, deadline: -1, probedEnd: -1, probedFetched: -1}
}

// processable reports whether the task may process its next record; some
// queue has one. It is called once per record, as Kafka Streams'
// StreamTask.isProcessable, so enforced processing counts records.
func (t *Task) processable() bool {
	if !t.cfg.Idling || len(t.queues) == 1 {
		return true
	}
	var now int64 = -1
	enforced := false
	for _, q := range t.queues {
		if !q.empty() {
			q.idle.deadline = -1
			continue
		}
		if q.idle.lag != 0 {
			// Unknown, or records on the broker not fetched yet: wait.
			q.idle.deadline = -1
			return false
		}
		if now < 0 {
			now = t.cfg.Clock.NowMs()
		}
		if q.idle.deadline < 0 {
			q.idle.deadline = now + t.cfg.MaxTaskIdle.Milliseconds()
		}
		if now < q.idle.deadline {
			return false
		}
		enforced = true
	}
	if enforced {
		t.cfg.Counters.EnforcedProcessing.Add(1)
	}
	return true
}

// FetchedUpTo records the high watermark of a partition of the task after
// a poll returned records of it.
func (t *Task) FetchedUpTo(topic string, highWatermark int64) {
	if q := t.queueOf[topic]; q != nil && q.idle.fetched >= 0 {
		q.idle.lag = max(0, highWatermark-q.idle.fetched)
	}
}

// appendWaiting appends the partitions the task waits on: it has records
// buffered, and these have none and are not known to be caught up.
func (t *Task) appendWaiting(into []topicPartition) []topicPartition {
	if !t.cfg.Idling || len(t.queues) == 1 || !t.Buffered() {
		return into
	}
	for _, q := range t.queues {
		if q.empty() && q.idle.lag != 0 {
			into = append(into, topicPartition{q.topic, q.partition})
		}
	}
	return into
}

// probed sets a waiting partition's lag from a probe: its end and start
// offsets, and the group's committed offset (-1: none).
func (t *Task) probed(topic string, end, start, committed int64) {
	q := t.queueOf[topic]
	if q == nil || !q.empty() {
		return
	}
	pos := q.idle.fetched
	if pos < 0 {
		pos = committed
	}
	if pos < 0 {
		pos = start
	}
	lag := max(0, end-pos)
	if lag > 0 && end == q.idle.probedEnd && q.idle.fetched == q.idle.probedFetched {
		lag = 0
	}
	q.idle.probedEnd, q.idle.probedFetched = end, q.idle.fetched
	q.idle.lag = lag
}

// lagProbe is the answer to one probe: end and start offsets by partition.
type lagProbe struct {
	tps        []topicPartition
	end, start kadm.ListedOffsets
}

// probeLagsLocked applies the answer of the last lag probe, if it came,
// and starts another for the partitions the tasks wait on if none is under
// way and the last started lagProbeEvery ago. The probe runs on a goroutine
// of its own so that the thread is never held by it.
func (th *thread) probeLagsLocked(ctx context.Context) {
	select {
	case res := <-th.lagRes:
		th.probing = false
		th.applyProbeLocked(res)
	default:
	}
	if th.probing || time.Since(th.lastProbe) < lagProbeEvery {
		return
	}
	var tps []topicPartition
	for _, t := range th.tasks {
		tps = t.appendWaiting(tps)
	}
	if len(tps) == 0 {
		return
	}
	th.probing, th.lastProbe = true, time.Now()
	seen := map[string]bool{}
	var topics []string
	for _, tp := range tps {
		if !seen[tp.topic] {
			seen[tp.topic] = true
			topics = append(topics, tp.topic)
		}
	}
	adm := kadm.NewClient(th.cl)
	go func() {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		res := lagProbe{tps: tps}
		res.end, _ = adm.ListEndOffsets(pctx, topics...)
		res.start, _ = adm.ListStartOffsets(pctx, topics...)
		th.lagRes <- res
	}()
}

// applyProbeLocked gives each waiting partition its probed offsets; a
// partition whose offsets could not be listed stays unknown (probed again).
func (th *thread) applyProbeLocked(res lagProbe) {
	committed := th.cl.CommittedOffsets()
	for _, tp := range res.tps {
		t := th.byPart[tp]
		end, ok := res.end.Lookup(tp.topic, tp.partition)
		start, ok2 := res.start.Lookup(tp.topic, tp.partition)
		if t == nil || !ok || !ok2 || end.Err != nil || start.Err != nil {
			continue
		}
		c := int64(-1)
		if o, ok := committed[tp.topic][tp.partition]; ok {
			c = o.Offset
		}
		t.probed(tp.topic, end.Offset, start.Offset, c)
	}
}

// addFetched hands a poll's records to their tasks, with each partition's
// high watermark.
func (th *thread) addFetched(fetches kgo.Fetches) {
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		t := th.byPart[topicPartition{p.Topic, p.Partition}]
		if t == nil || len(p.Records) == 0 {
			return
		}
		for _, r := range p.Records {
			if r.Attrs.IsControl() {
				t.Control(r) // exactly-once keeps them (eos.go)
				continue
			}
			t.Add(r)
		}
		t.FetchedUpTo(p.Topic, p.HighWatermark)
	})
}

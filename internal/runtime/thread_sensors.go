package runtime

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The stream thread's sensors are recorded here, once per loop iteration,
// poll, commit or rebalance: the thread's loop and callbacks call these
// with the times they took.

// polled records a poll that began at start.
func (th *thread) polled(start time.Time, fetches kgo.Fetches) {
	now := time.Now()
	d := now.Sub(start)
	th.sens.Poll.record(ms(d), now)
	// Transaction markers are fetched too under exactly-once: not records.
	n := 0
	fetches.EachRecord(func(r *kgo.Record) {
		if !r.Attrs.IsControl() {
			n++
		}
	})
	th.sens.PollRecords.record(float64(n), now)
	th.sens.Blocked.Add(int64(d))
}

// iteration accumulates the time one loop iteration spends processing and
// punctuating its tasks.
type iteration struct {
	records            int
	process, punctuate time.Duration
	punctuated         bool
}

// record records the iteration's process and punctuate latencies: per
// record for processing, as Kafka Streams' process-latency, and for the
// whole wall-clock punctuation when a punctuator ran.
func (it *iteration) record(s *ThreadSensors) {
	now := time.Now()
	if it.records > 0 {
		s.Process.record(ms(it.process)/float64(it.records), now)
		s.ProcessRecords.record(float64(it.records), now)
	}
	if it.punctuated {
		s.Punctuate.record(ms(it.punctuate), now)
	}
}

// committed records a commit that began at start, if it committed offsets
// (commitsBefore is the commit counter before it), and logs it at debug
// level.
func (th *thread) committed(start time.Time, commitsBefore int64) {
	if th.counters.Commits.Load() == commitsBefore {
		return
	}
	now := time.Now()
	d := now.Sub(start)
	th.sens.Commit.record(ms(d), now)
	th.sens.Blocked.Add(int64(d))
	th.e.cfg.Logger.Debug("kstreams: committed", "thread", th.e.ThreadID(th.id), "tasks", taskIDs(th.tasks), "latency", d)
}

// rebalanceStarted marks the start of a rebalance (a revocation, a lost
// membership, the thread's first join), unless one is under way.
func (th *thread) rebalanceStarted() {
	if th.sens.rebalanceStart.IsZero() {
		th.sens.rebalanceStart = time.Now()
	}
}

// rebalanceDone records the rebalance that ends with the assignment that
// began at assigned.
func (th *thread) rebalanceDone(assigned time.Time) {
	start := th.sens.rebalanceStart
	if start.IsZero() || start.After(assigned) {
		start = assigned
	}
	th.sens.rebalanceStart = time.Time{}
	now := time.Now()
	th.sens.Rebalance.record(ms(now.Sub(start)), now)
	th.sens.LastRebalance.Store(now.UnixMilli())
}

// deadLettered keeps a dead letter the broker acknowledged, for the
// console.
func (th *thread) deadLettered(rec *kgo.Record, info *sendCtx) {
	dl := DeadLetter{Time: time.Now(), Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		InputTopic: info.inTopic, InputPartition: info.inPartition, InputOffset: info.inOffset}
	for _, h := range rec.Headers {
		switch h.Key {
		case HeaderErrorStage:
			dl.Stage = string(h.Value)
		case HeaderStreamsErrorException:
			dl.Stage = "processing: " + string(h.Value)
		case HeaderErrorMessage, HeaderStreamsErrorMessage:
			dl.Error = string(h.Value)
		}
	}
	key := rec.Key
	if len(key) > 200 {
		key = key[:200]
	}
	dl.Key = string(bytes.ToValidUTF8(key, []byte("?")))
	th.e.sensors.deadLettered(dl)
}

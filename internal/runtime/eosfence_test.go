package runtime

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnFault checks which errors of the transactional producer make an
// exactly-once thread re-initialize its producer (Kafka Streams'
// TaskMigratedException), which stop it, and which are left to the code
// that met them.
func TestTxnFault(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name         string
		err          error
		txn, produce faultKind
	}{
		{"nil", nil, faultNone, faultNone},
		{"producer fenced", kerr.ProducerFenced, faultMigrated, faultMigrated},
		{"invalid epoch wrapped", fmt.Errorf("producing: %w", kerr.InvalidProducerEpoch), faultMigrated, faultMigrated},
		{"begin on a fatal producer", fmt.Errorf("producer ID has a fatal, unrecoverable error, err: %w", kerr.InvalidProducerEpoch), faultMigrated, faultMigrated},
		{"invalid pid mapping", kerr.InvalidProducerIDMapping, faultMigrated, faultMigrated},
		{"unknown producer id", kerr.UnknownProducerID, faultMigrated, faultMigrated},
		{"invalid txn state", kerr.InvalidTxnState, faultMigrated, faultMigrated},
		{"out of order sequence", kerr.OutOfOrderSequenceNumber, faultMigrated, faultMigrated},
		{"joined offset commit errors", fmt.Errorf("unable to commit transaction offsets: %w", errors.Join(kerr.ProducerFenced, kerr.ProducerFenced)), faultMigrated, faultMigrated},
		{"transactional id authorization", kerr.TransactionalIDAuthorizationFailed, faultFatal, faultFatal},
		{"authorization beats fencing", errors.Join(kerr.InvalidProducerEpoch, kerr.ClusterAuthorizationFailed), faultFatal, faultFatal},
		{"group gone: the session aborts and rejoins", kerr.IllegalGeneration, faultNone, faultNone},
		{"record too large: the production policy", kerr.MessageTooLarge, faultNone, faultNone},
		{"missing topic: the production policy", kerr.UnknownTopicOrPartition, faultNone, faultNone},
		{"broker unreachable", dial, faultNone, faultMigrated},
		{"not enough replicas", kerr.NotEnoughReplicas, faultNone, faultMigrated},
		{"record timeout", kgo.ErrRecordTimeout, faultNone, faultMigrated},
		{"client closed", kgo.ErrClientClosed, faultNone, faultNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := txnFault(tt.err); got != tt.txn {
				t.Errorf("txnFault(%v) = %v, want %v", tt.err, got, tt.txn)
			}
			if got := produceFault(tt.err); got != tt.produce {
				t.Errorf("produceFault(%v) = %v, want %v", tt.err, got, tt.produce)
			}
		})
	}
}

// TestFenceOf checks that the loop finds a fence behind its error or
// noted meanwhile, under exactly-once only.
func TestFenceOf(t *testing.T) {
	eos := &Engine{cfg: Config{ExactlyOnce: true}}
	th := &thread{e: eos, sess: &kgo.GroupTransactSession{}}
	if err := th.fenceOf(errors.New("a task failed")); err != nil {
		t.Fatalf("fenceOf(a task's error) = %v, want nil", err)
	}
	err := th.fenceOf(fmt.Errorf("beginning: %w", kerr.InvalidProducerEpoch))
	if !errors.Is(err, ErrProducerFenced) || !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("fenceOf(INVALID_PRODUCER_EPOCH) = %v, want it wrapped in ErrProducerFenced", err)
	}
	th = &thread{e: eos, sess: &kgo.GroupTransactSession{}}
	th.noteProduceFence(kerr.ProducerFenced)
	if err := th.fenceOf(nil); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("fenceOf(nil) after a record's PRODUCER_FENCED = %v", err)
	}
	alos := &thread{e: &Engine{}}
	if alos.noteProduceFence(kerr.ProducerFenced) || alos.fenceOf(kerr.ProducerFenced) != nil {
		t.Fatal("at-least-once noted a fence")
	}
}

// TestCommitBackoff checks the wait added to the commit interval after
// commits the session aborted in a row.
func TestCommitBackoff(t *testing.T) {
	for _, tt := range []struct {
		aborts int
		want   time.Duration
	}{{0, 0}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {6, 2 * time.Second}, {60, 2 * time.Second}} {
		if got := commitBackoff(tt.aborts); got != tt.want {
			t.Errorf("commitBackoff(%d) = %v, want %v", tt.aborts, got, tt.want)
		}
	}
}

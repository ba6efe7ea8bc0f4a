package integration

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errorGuarantees are the processing guarantees the error-handler tests run
// under.
var errorGuarantees = []kstreams.Guarantee{kstreams.AtLeastOnce, kstreams.ExactlyOnce}

// poisonTopo builds in -> MapValues "explode" -> out, upper-casing values;
// "explode" panics on "poison" always, or only the first time.
func poisonTopo(t *testing.T, in, out string, always bool) *kstreams.Topology {
	t.Helper()
	var failed atomic.Bool
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.MapValues(s, func(v string) string {
		if v == "poison" && (always || !failed.Swap(true)) {
			panic("cannot digest " + v)
		}
		return strings.ToUpper(v)
	}, "explode").To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// producePoison writes a, poison, b, c (keys k0..k3) to partition 0 of in.
func producePoison(t *testing.T, in string) {
	t.Helper()
	var recs []*kgo.Record
	for i, v := range []string{"a", "poison", "b", "c"} {
		recs = append(recs, rec(in, 0, []byte(fmt.Sprintf("k%d", i)), []byte(v), int64(1000+i), kgo.RecordHeader{Key: "trace", Value: []byte(v)}))
	}
	produce(t, recs...)
}

// A poison record (it fails in the user's code) under each processing-error
// policy, on the broker: FailTask stops Run with the error naming the
// record and node; SkipRecord drops and counts it and processes the rest;
// DeadLetter writes the input record with Kafka Streams' error headers.
func TestPoisonRecordUnderEachPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy func(dlq string) kstreams.ErrorPolicy
		fail   bool
		dlq    bool
	}{
		{name: "fail", policy: func(string) kstreams.ErrorPolicy { return kstreams.FailTask }, fail: true},
		{name: "skip", policy: func(string) kstreams.ErrorPolicy { return kstreams.SkipRecord }},
		{name: "dead letter", policy: kstreams.DeadLetter, dlq: true},
	}
	for _, g := range errorGuarantees {
		for _, tt := range tests {
			t.Run(g.String()+"/"+tt.name, func(t *testing.T) {
				app := newAppID(t)
				in, out, dlq := uniqueName(t, "in"), uniqueName(t, "out"), uniqueName(t, "dlq")
				// The dead-letter topic too: the records' timestamps are
				// from 1970, and a topic created by Run with the broker's
				// default retention loses them at its next retention check.
				createTopics(t, 1, in, out, dlq)
				producePoison(t, in)
				r := runApp(t, poisonTopo(t, in, out, true), kstreams.ApplicationID(app), kstreams.ProcessingGuarantee(g),
					kstreams.OnProcessingError(tt.policy(dlq)))
				if tt.fail {
					err := r.waitErr(t, 30*time.Second)
					var re *kstreams.RecordError
					if !errors.As(err, &re) || re.Node != "explode" || re.Topic != in || re.Offset != 1 {
						t.Fatalf("Run: %v; want a RecordError of node explode at offset 1", err)
					}
					// At-least-once commits what was processed before the
					// failed record; exactly-once aborts the transaction
					// that holds it, so nothing of it is committed: the
					// output is what the committed offset says was
					// processed. That is nothing, or a alone when a commit
					// fell between a and the poison record (the commit
					// interval passed while the group formed: the loop
					// commits after the first record).
					com := committed(t, app, in)[0]
					if g == kstreams.AtLeastOnce && com != 1 || com != 0 && com != 1 {
						t.Errorf("committed offset %d, want 1 (at-least-once) or 0 or 1 (exactly-once)", com)
					}
					if g == kstreams.ExactlyOnce && (com == 0 || com == 1) {
						got := keyValues(consumeFor(t, out, 2*time.Second))
						if want := []string{"k0=A"}[:com]; !slices.Equal(got, want) {
							t.Errorf("output %q with offset %d committed, want %q (an aborted transaction's output is not committed)", got, com, want)
						}
					}
					// The failed thread aborted its one transaction.
					wantAborts := int64(0)
					if g == kstreams.ExactlyOnce {
						wantAborts = 1
					}
					if got := r.app.Metrics().AbortedTransactions; got != wantAborts {
						t.Errorf("%d aborted transactions, want %d", got, wantAborts)
					}
					return
				}
				got := keyValues(consumeUntil(t, out, 3, 30*time.Second))
				if want := []string{"k0=A", "k2=B", "k3=C"}; !slices.Equal(got, want) {
					t.Errorf("outputs %q, want %q", got, want)
				}
				if tt.dlq {
					dl := consumeUntil(t, dlq, 1, 30*time.Second)[0]
					if string(dl.Key) != "k1" || string(dl.Value) != "poison" || dl.Timestamp.UnixMilli() != 1001 {
						t.Errorf("dead letter %s, want k1=poison at 1001", describe(dl))
					}
					for k, v := range map[string]string{"trace": "poison", kstreams.HeaderStreamsErrorException: "string",
						kstreams.HeaderStreamsErrorMessage: "cannot digest poison", kstreams.HeaderStreamsErrorTopic: in,
						kstreams.HeaderStreamsErrorPartition: "0", kstreams.HeaderStreamsErrorOffset: "1"} {
						if got, _ := headerValue(dl, k); got != v {
							t.Errorf("dead letter header %s = %q, want %q", k, got, v)
						}
					}
				}
				poll(t, 10*time.Second, "the dropped record counted", func() (bool, string) {
					m := r.app.Metrics()
					return m.Dropped == 1 && (!tt.dlq || m.DeadLettered == 1), fmt.Sprintf("dropped %d dead-lettered %d", m.Dropped, m.DeadLettered)
				})
				r.stopOK(t)
			})
		}
	}
}

// ReplaceThread: a thread that fails once is replaced; its task comes back
// through a rebalance and every record is processed.
func TestUncaughtErrorReplacesThread(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, in, out)
	producePoison(t, in)
	r := runApp(t, poisonTopo(t, in, out, false), kstreams.ApplicationID(app), kstreams.Threads(2),
		kstreams.OnUncaughtError(func(error) kstreams.UncaughtAction { return kstreams.ReplaceThread }))
	got := keyValues(consumeUntil(t, out, 4, 30*time.Second))
	if want := []string{"k0=A", "k1=POISON", "k2=B", "k3=C"}; !slices.Equal(got, want) {
		t.Errorf("outputs %q, want %q", got, want)
	}
	if m := r.app.Metrics(); m.FailedStreamThreads != 1 || len(m.Threads) != 2 {
		t.Errorf("FailedStreamThreads %d, threads %d; want 1 and 2", m.FailedStreamThreads, len(m.Threads))
	}
	r.stopOK(t)
}

// ShutdownApplication: the instance whose thread fails asks the group to
// shut down, and both instances of the application stop.
func TestUncaughtErrorShutsDownApplication(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	topo := poisonTopo(t, in, out, true)
	opt := kstreams.OnUncaughtError(func(error) kstreams.UncaughtAction { return kstreams.ShutdownApplication })
	a := runApp(t, topo, kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()), opt)
	b := runApp(t, topo, kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()), opt)
	// Both running with a partition each in a stable group: a cooperative
	// rebalance moves a task in two steps, and a poison record processed
	// while its task moves would fail on both instances (the first one
	// gives the task up uncommitted).
	poll(t, 30*time.Second, "both instances running with a task each", func() (bool, string) {
		ma, mb := a.app.Metrics(), b.app.Metrics()
		as := assignment(t, app, in)
		held := 0
		for _, parts := range as {
			if len(parts) == 1 {
				held++
			}
		}
		return ma.State == kstreams.Running && mb.State == kstreams.Running && held == 2,
			fmt.Sprintf("states %v %v, assignment %v", ma.State, mb.State, as)
	})
	produce(t, rec(in, 0, []byte("k"), []byte("poison"), 1000))
	failed := 0
	for i, r := range []*running{a, b} {
		err := r.waitErr(t, 30*time.Second)
		if !errors.Is(err, kstreams.ErrApplicationShutdown) || !strings.Contains(err.Error(), "requested by instance ") {
			t.Errorf("instance %d: Run: %v; want ErrApplicationShutdown naming the instance", i, err)
		}
		var re *kstreams.RecordError
		if errors.As(err, &re) {
			failed++
		}
		if s := r.app.State(); s != kstreams.Error {
			t.Errorf("instance %d: state %v, want Error", i, s)
		}
	}
	if failed != 1 {
		t.Errorf("%d instances returned the record's error, want 1", failed)
	}
}

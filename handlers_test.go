package kstreams_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// poisonInput is the input of the poison-record tests: the record at
// offset 1 fails in user code.
var poisonInput = []string{"a", "poison", "b", "c"}

// poisonTopology builds in -> node "explode" -> out, where "explode" fails
// on "poison": by a panic in a DSL function, or by an error a Processor API
// processor returns.
func poisonTopology(t *testing.T, byError bool) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	var out kstreams.Stream[string, string]
	if byError {
		out = kstreams.Process(s, func() processor.Processor[string, string, string, string] { return &upperOrFail{} }, "explode")
	} else {
		out = kstreams.MapValues(s, func(v string) string {
			if v == "poison" {
				panic("cannot digest " + v)
			}
			return strings.ToUpper(v)
		}, "explode")
	}
	out.To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// upperOrFail forwards values upper-cased and returns an error on
// "poison".
type upperOrFail struct {
	ctx processor.Context[string, string]
}

func (p *upperOrFail) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *upperOrFail) Close() error                                     { return nil }
func (p *upperOrFail) Process(r processor.Record[string, string]) error {
	if r.Value == "poison" {
		return errors.New("cannot digest poison")
	}
	r.Value = strings.ToUpper(r.Value)
	p.ctx.Forward(r)
	return nil
}

// poisonGuarantees are the processing guarantees the poison-record tests
// run under.
var poisonGuarantees = []kstreams.Guarantee{kstreams.AtLeastOnce, kstreams.ExactlyOnce}

// A poison record (one that fails in the user's code) under each
// processing-error policy, on the embedded broker: FailTask stops Run with
// the error naming the record and the node; SkipRecord drops it, counts it
// and processes the rest; DeadLetter also writes the input record, as
// consumed, with Kafka Streams' error headers; a handler function chooses.
func TestPoisonRecordPolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	tests := []struct {
		name    string
		byError bool // the processor returns an error instead of panicking
		opt     kstreams.Option
		fail    bool
		dropped int64
		dlq     bool
		// makeDLQ creates the dead-letter topic first: a topic a handler
		// chooses must exist (the DeadLetter policy's is created by Run).
		makeDLQ bool
	}{
		{name: "fail (default), panic", opt: kstreams.OnProcessingError(kstreams.FailTask), fail: true},
		{name: "fail (default), returned error", byError: true, opt: kstreams.OnProcessingError(kstreams.FailTask), fail: true},
		{name: "skip, panic", opt: kstreams.OnProcessingError(kstreams.SkipRecord), dropped: 1},
		{name: "skip, returned error", byError: true, opt: kstreams.OnProcessingError(kstreams.SkipRecord), dropped: 1},
		{name: "dead letter, panic", opt: kstreams.OnProcessingError(kstreams.DeadLetter("dlq")), dropped: 1, dlq: true},
		{name: "dead letter, returned error", byError: true, opt: kstreams.OnProcessingError(kstreams.DeadLetter("dlq")), dropped: 1, dlq: true},
		{name: "handler dead-letters", byError: true, dropped: 1, dlq: true, makeDLQ: true,
			opt: kstreams.ProcessingErrorHandler(func(ec kstreams.ProcessingErrorContext) kstreams.ErrorPolicy {
				if ec.Node == "explode" && ec.Topic == "in" && ec.Offset == 1 && string(ec.Value) == "poison" {
					return kstreams.DeadLetter("dlq")
				}
				return kstreams.FailTask
			})},
		{name: "handler fails", opt: kstreams.ProcessingErrorHandler(func(kstreams.ProcessingErrorContext) kstreams.ErrorPolicy {
			return kstreams.FailTask
		}), fail: true},
	}
	for _, g := range poisonGuarantees {
		for _, tt := range tests {
			t.Run(g.String()+"/"+tt.name, func(t *testing.T) {
				runPoison(t, g, poisonTopology(t, tt.byError), tt.opt, tt.fail, tt.dropped, tt.dlq, tt.byError, tt.makeDLQ)
			})
		}
	}
}

func runPoison(t *testing.T, g kstreams.Guarantee, topo *kstreams.Topology, opt kstreams.Option, fail bool, dropped int64, dlq, byError, makeDLQ bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, err := embedded.Start(embedded.Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	topics := []string{"in", "out"}
	if makeDLQ {
		topics = append(topics, "dlq")
	}
	if err := br.CreateTopics(ctx, 1, topics...); err != nil {
		t.Fatal(err)
	}
	var recs []processor.Record[string, string]
	for i, v := range poisonInput {
		recs = append(recs, processor.Record[string, string]{Key: "k", Value: v, Timestamp: int64(1000 + i),
			Headers: []processor.Header{{Key: "trace", Value: []byte(v)}}})
	}
	if err := embedded.Produce(ctx, br, "in", serde.String(), serde.String(), recs...); err != nil {
		t.Fatal(err)
	}
	// The app's log, shown if it does not get back to Running.
	logs := &syncBuffer{}
	app, err := kstreams.New(topo, kstreams.ApplicationID("poison"), kstreams.Brokers(br.Addrs()...),
		kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(100*time.Millisecond), kstreams.ProcessingGuarantee(g), opt, kstreams.Logger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	defer func() { stop(); <-done }()
	if fail {
		err := <-done
		done <- err
		var re *kstreams.RecordError
		if !errors.As(err, &re) || re.Node != "explode" || re.Topic != "in" || re.Partition != 0 || re.Offset != 1 {
			t.Fatalf("Run: %v; want a RecordError of node explode at in/0 offset 1", err)
		}
		checkMentions(t, err.Error(), `topic "in" partition 0 offset 1`, `node "explode"`, "cannot digest poison")
		if g == kstreams.ExactlyOnce {
			// The failed task's transaction is aborted: the output is
			// what the committed input offset says was processed. A
			// commit falls between A and the poison record when the
			// commit interval has passed before the first record (a
			// join that took that long): then A is out, its offset 1
			// committed; else nothing is.
			wantOut := 0
			if committedOffset(ctx, t, br, "poison", "in") == 1 {
				wantOut = 1
			}
			short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
			defer cancelShort()
			got, _ := embedded.Consume(short, br, "out", wantOut+1, serde.String(), serde.String())
			if len(got) != wantOut || wantOut == 1 && got[0].Value != "A" {
				t.Errorf("out: %v; want %d records (A if its offset is committed; the transaction of the poison record is aborted)", got, wantOut)
			}
			return
		}
		got, err := embedded.Consume(ctx, br, "out", 1, serde.String(), serde.String())
		if err != nil || got[0].Value != "A" {
			t.Errorf("out: %v, %v; want A", got, err)
		}
		return
	}
	got, err := embedded.Consume(ctx, br, "out", 3, serde.String(), serde.String())
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, r := range got {
		vals = append(vals, r.Value)
	}
	if strings.Join(vals, ",") != "A,B,C" {
		t.Errorf("out: %v, want A,B,C", vals)
	}
	if dlq {
		checkDeadLetter(ctx, t, br, byError)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := app.Metrics()
		if m.Dropped == dropped && (!dlq || m.DeadLettered == 1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dropped %d DeadLettered %d, want %d and %v", m.Dropped, m.DeadLettered, dropped, dlq)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The application goes on (a rebalance may be under way: wait for it;
	// on a loaded machine a membership check may have made the member
	// rejoin, which the embedded broker takes its time over).
	deadline = time.Now().Add(30 * time.Second)
	for app.State() != kstreams.Running {
		if time.Now().After(deadline) {
			t.Fatalf("state %v, want Running; the app's log:\n%s", app.State(), logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committedOffset returns the offset group committed for partition 0 of
// topic on br, -1 if none.
func committedOffset(ctx context.Context, t *testing.T, br *embedded.Broker, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetching the offsets of group %s: %v", group, err)
	}
	if o, ok := offs.Lookup(topic, 0); ok {
		return o.At
	}
	return -1
}

// checkDeadLetter checks the dead letter of the poison record: its key,
// value, timestamp and headers as consumed, and the error headers.
func checkDeadLetter(ctx context.Context, t *testing.T, br *embedded.Broker, byError bool) {
	t.Helper()
	dl, err := embedded.Consume(ctx, br, "dlq", 1, serde.String(), serde.String())
	if err != nil {
		t.Fatal(err)
	}
	r := dl[0]
	if r.Key != "k" || r.Value != "poison" || r.Timestamp != 1001 {
		t.Errorf("dead letter %q=%q at %d, want k=poison at 1001", r.Key, r.Value, r.Timestamp)
	}
	hs := map[string]string{}
	for _, h := range r.Headers {
		hs[h.Key] = string(h.Value)
	}
	class, msg := "string", "cannot digest poison"
	if byError {
		class = "*errors.errorString"
	}
	want := map[string]string{
		"trace":                              "poison",
		kstreams.HeaderStreamsErrorException: class,
		kstreams.HeaderStreamsErrorMessage:   msg,
		kstreams.HeaderStreamsErrorTopic:     "in",
		kstreams.HeaderStreamsErrorPartition: "0",
		kstreams.HeaderStreamsErrorOffset:    "1",
	}
	for k, v := range want {
		if hs[k] != v {
			t.Errorf("header %s = %q, want %q", k, hs[k], v)
		}
	}
	if !strings.Contains(hs[kstreams.HeaderStreamsErrorStack], "goroutine") {
		t.Errorf("header %s has no stack: %q", kstreams.HeaderStreamsErrorStack, hs[kstreams.HeaderStreamsErrorStack])
	}
}

// failOnce returns a topology in -> "explode" -> out whose node fails on
// the first "poison" it sees (a transient error) and upper-cases values.
func failOnce(t *testing.T, always bool) *kstreams.Topology {
	t.Helper()
	var failed atomic.Bool
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	kstreams.MapValues(s, func(v string) string {
		if v == "poison" && (always || !failed.Swap(true)) {
			panic("cannot digest " + v)
		}
		return strings.ToUpper(v)
	}, "explode").To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// ReplaceThread: the failed thread is replaced, its task comes back
// through a rebalance, and every record is processed once the poison
// record goes through.
func TestUncaughtReplaceThread(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, err := embedded.Start(embedded.Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.CreateTopics(ctx, 1, "in", "out"); err != nil {
		t.Fatal(err)
	}
	var recs []processor.Record[string, string]
	for _, v := range poisonInput {
		recs = append(recs, processor.Record[string, string]{Key: "k", Value: v})
	}
	if err := embedded.Produce(ctx, br, "in", serde.String(), serde.String(), recs...); err != nil {
		t.Fatal(err)
	}
	var handled []error
	app, err := kstreams.New(failOnce(t, false), kstreams.ApplicationID("replace"), kstreams.Brokers(br.Addrs()...),
		kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(100*time.Millisecond),
		kstreams.OnUncaughtError(func(err error) kstreams.UncaughtAction {
			handled = append(handled, err)
			return kstreams.ReplaceThread
		}))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	got, err := embedded.Consume(ctx, br, "out", 4, serde.String(), serde.String())
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, r := range got {
		vals = append(vals, r.Value)
	}
	if strings.Join(vals, ",") != "A,POISON,B,C" {
		t.Errorf("out: %v, want A,POISON,B,C", vals)
	}
	if m := app.Metrics(); m.FailedStreamThreads != 1 || len(m.Threads) != 1 {
		t.Errorf("FailedStreamThreads %d, threads %d; want 1 and 1", m.FailedStreamThreads, len(m.Threads))
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	var pe *kstreams.PanicError
	if len(handled) != 1 || !errors.As(handled[0], &pe) {
		t.Errorf("handler saw %v, want one panic", handled)
	}
}

// ShutdownApplication: the instance whose thread fails asks the group, and
// both instances stop with ErrApplicationShutdown.
func TestUncaughtShutdownApplication(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, err := embedded.Start(embedded.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.CreateTopics(ctx, 2, "in", "out"); err != nil {
		t.Fatal(err)
	}
	topo := failOnce(t, true)
	var apps []*kstreams.App
	var dones []chan error
	for i := range 2 {
		app, err := kstreams.New(topo, kstreams.ApplicationID("shutdown-app"), kstreams.Brokers(br.Addrs()...),
			kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(100*time.Millisecond),
			kstreams.OnUncaughtError(func(error) kstreams.UncaughtAction { return kstreams.ShutdownApplication }))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx) }()
		apps, dones = append(apps, app), append(dones, done)
		waitFor(t, 20*time.Second, fmt.Sprintf("instance %d running", i), func() bool {
			for _, a := range apps {
				if a.State() != kstreams.Running || a.Metrics().Rebalances < int64(len(apps)-1) {
					return false
				}
			}
			return true
		})
	}
	// A stable group with a partition on each instance: a cooperative
	// rebalance moves a task in two steps, and a poison record processed
	// while its task moves would fail on both instances.
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(t, 20*time.Second, "a stable group with a partition of in on each instance", func() bool {
		gs, err := adm.DescribeGroups(ctx, "shutdown-app")
		g, ok := gs["shutdown-app"]
		if err != nil || !ok || g.State != "Stable" || len(g.Members) != 2 {
			return false
		}
		for _, m := range g.Members {
			c, ok := m.Assigned.AsConsumer()
			if !ok || !slices.ContainsFunc(c.Topics, func(tp kmsg.ConsumerMemberAssignmentTopic) bool { return tp.Topic == "in" && len(tp.Partitions) == 1 }) {
				return false
			}
		}
		return true
	})
	if err := embedded.Produce(ctx, br, "in", serde.String(), serde.String(),
		processor.Record[string, string]{Key: "k", Value: "poison"}); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i, done := range dones {
		err := <-done
		if !errors.Is(err, kstreams.ErrApplicationShutdown) || !strings.Contains(err.Error(), "requested by instance ") {
			t.Errorf("instance %d: Run: %v; want ErrApplicationShutdown naming the instance", i, err)
		}
		var re *kstreams.RecordError
		if errors.As(err, &re) {
			failed++
		}
		if apps[i].State() != kstreams.Error {
			t.Errorf("instance %d: state %v, want Error", i, apps[i].State())
		}
	}
	if failed != 1 {
		t.Errorf("%d instances returned the record's error, want 1", failed)
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

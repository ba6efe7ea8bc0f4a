// Package integration runs kstreams applications against a broker: the real
// Apache Kafka broker named by KSTREAMS_TEST_BROKERS (scripts/test.sh starts
// one with scripts/kafka.sh and sets it), or else an in-process embedded
// broker (kfake).
//
// Every test uses its own topics and application ids (test name plus a
// random suffix), so tests never see each other's records on a shared
// broker, and every wait is a poll with a deadline.
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokersEnv names the real broker(s) to test against, comma-separated.
const brokersEnv = "KSTREAMS_TEST_BROKERS"

var (
	// brokers are the seed brokers every test talks to.
	brokers []string
	// realBroker is true when testing against KSTREAMS_TEST_BROKERS.
	realBroker bool
	// adm is the package's admin client; prod its producer.
	adm  *kadm.Client
	prod *kgo.Client
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if env := os.Getenv(brokersEnv); env != "" {
		brokers = strings.Split(env, ",")
		realBroker = true
		fmt.Printf("integration: testing against the real broker at %s (%s)\n", env, brokersEnv)
	} else {
		b, err := embedded.Start(embedded.Options{Partitions: 4})
		if err != nil {
			fmt.Fprintln(os.Stderr, "integration: starting the embedded broker:", err)
			return 1
		}
		defer b.Close()
		brokers = b.Addrs()
		fmt.Printf("integration: testing against the embedded kfake broker at %s (set %s for a real one)\n",
			strings.Join(brokers, ","), brokersEnv)
	}
	// kadm answers from cached metadata; a topic looked up just before a
	// real broker knows it would stay "unknown" for the default 5s.
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: admin client:", err)
		return 1
	}
	defer admCl.Close()
	adm = kadm.NewClient(admCl)
	// The test producer writes each record to the partition it names, so
	// that inputs are laid out deterministically.
	prod, err = kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: producer client:", err)
		return 1
	}
	defer prod.Close()
	defer stopFaultBroker()
	return m.Run()
}

// ctxFor returns a context that ends after d or when the test ends.
func ctxFor(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}

var nameChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// uniqueName returns "<test name>-<what>-<random>", a valid topic name and
// application id that no other test (or earlier run) uses.
func uniqueName(t testing.TB, what string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := strings.Trim(nameChars.ReplaceAllString(t.Name(), "-"), "-")
	if len(base) > 60 {
		base = base[len(base)-60:]
	}
	return fmt.Sprintf("%s-%s-%s", base, what, hex.EncodeToString(b[:]))
}

// newAppID returns a unique application id and deletes the application's
// internal topics (those named "<id>-...") when the test ends.
func newAppID(t testing.TB) string {
	t.Helper()
	id := uniqueName(t, "app")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			return
		}
		var mine []string
		for _, name := range topics.Names() {
			if strings.HasPrefix(name, id+"-") {
				mine = append(mine, name)
			}
		}
		if len(mine) > 0 {
			_, _ = adm.DeleteTopics(ctx, mine...)
		}
	})
	return id
}

// createTopics creates topics with the given partition count (and topic
// configs, if any) and deletes them when the test ends.
func createTopics(t testing.TB, partitions int32, names ...string) {
	t.Helper()
	createTopicsWithConfigs(t, partitions, nil, names...)
}

func createTopicsWithConfigs(t testing.TB, partitions int32, configs map[string]string, names ...string) {
	t.Helper()
	// Tests stamp records with small event times (1970): without this the
	// broker's retention (checked every few seconds by scripts/kafka.sh's
	// broker) may delete them before the application reads them.
	cfg := map[string]*string{"retention.ms": kadm.StringPtr("-1")}
	for k, v := range configs {
		cfg[k] = kadm.StringPtr(v)
	}
	ctx, cancel := ctxFor(t, 30*time.Second)
	defer cancel()
	resps, err := adm.CreateTopics(ctx, partitions, 1, cfg, names...)
	if err != nil {
		t.Fatalf("creating topics %q: %v", names, err)
	}
	if err := resps.Error(); err != nil {
		t.Fatalf("creating topics %q: %v", names, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, names...)
	})
	waitTopicsReady(t, names...)
}

// waitTopicsReady waits until the broker lists every partition of the
// topics with a leader: a real broker takes a moment after CreateTopics.
func waitTopicsReady(t testing.TB, names ...string) {
	t.Helper()
	poll(t, 30*time.Second, fmt.Sprintf("topics %q ready", names), func() (bool, string) {
		ctx, cancel := ctxFor(t, 5*time.Second)
		defer cancel()
		details, err := adm.ListTopics(ctx, names...)
		if err != nil {
			return false, err.Error()
		}
		for _, n := range names {
			d, ok := details[n]
			if !ok || d.Err != nil || len(d.Partitions) == 0 {
				return false, fmt.Sprintf("topic %q: %v", n, d.Err)
			}
			for _, p := range d.Partitions {
				if p.Err != nil || p.Leader < 0 {
					return false, fmt.Sprintf("topic %q partition %d: leader %d, %v", n, p.Partition, p.Leader, p.Err)
				}
			}
		}
		return true, ""
	})
}

// rec builds an input record for partition p of topic.
func rec(topic string, p int32, key, value []byte, ts int64, headers ...kgo.RecordHeader) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Key: key, Value: value, Timestamp: time.UnixMilli(ts), Headers: headers}
}

// produce writes recs synchronously, each to the partition it names, and
// returns them with their offsets.
func produce(t testing.TB, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := ctxFor(t, 30*time.Second)
	defer cancel()
	res := prod.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("producing %d records to %q: %v", len(recs), recs[0].Topic, err)
	}
	return recs
}

// consume reads topic from the start with a fresh consumer until done
// returns true for everything read so far, and fails the test, listing what
// it read and done's last note, if that takes longer than timeout.
func consume(t testing.TB, topic string, timeout time.Duration, what string, done func([]*kgo.Record) (bool, string)) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
		// Committed records only: what an exactly-once application wrote
		// in a transaction it aborted is not its output (records of
		// non-transactional producers are all committed).
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		t.Fatalf("consumer for %q: %v", topic, err)
	}
	defer cl.Close()
	var got []*kgo.Record
	deadline := time.Now().Add(timeout)
	for {
		ok, note := done(got)
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %q: timed out after %v waiting for %s (%s); read %d records:\n%s",
				topic, timeout, what, note, len(got), describeRecords(got))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Logf("consuming %q partition %d: %v", tp, p, err)
			}
		})
		got = append(got, fetches.Records()...)
	}
}

// consumeUntil reads topic from the start until it has n records.
func consumeUntil(t testing.TB, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	return consume(t, topic, timeout, fmt.Sprintf("%d records", n), func(rs []*kgo.Record) (bool, string) {
		return len(rs) >= n, fmt.Sprintf("%d of %d", len(rs), n)
	})
}

// consumeFor reads topic from the start for d and returns what it read.
func consumeFor(t testing.TB, topic string, d time.Duration) []*kgo.Record {
	t.Helper()
	until := time.Now().Add(d)
	return consume(t, topic, d+5*time.Second, "the time to pass", func([]*kgo.Record) (bool, string) {
		return time.Now().After(until), ""
	})
}

// consumeIDs reads topic from the start until every id in want was seen
// (as a record value) and returns how often each value was seen. On
// timeout the failure lists the ids still missing.
func consumeIDs(t testing.TB, topic string, want []string, timeout time.Duration) map[string]int {
	t.Helper()
	counts := map[string]int{}
	seen := 0
	consume(t, topic, timeout, fmt.Sprintf("all %d ids", len(want)), func(rs []*kgo.Record) (bool, string) {
		for _, r := range rs[seen:] {
			counts[string(r.Value)]++
		}
		seen = len(rs)
		var missing []string
		for _, id := range want {
			if counts[id] == 0 {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d ids missing: %q", len(missing), first(missing, 50))
	})
	return counts
}

func describeRecords(rs []*kgo.Record) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 200 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(rs)-i)
			break
		}
		fmt.Fprintf(&b, "  %s\n", describe(r))
	}
	return b.String()
}

// describe renders the parts of a record a test compares.
func describe(r *kgo.Record) string {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	return fmt.Sprintf("%s key=%q value=%q ts=%d headers=[%s]", r.Topic, r.Key, r.Value, r.Timestamp.UnixMilli(), strings.Join(hs, ","))
}

// diffMultisets fails the test if got and want (rendered records) differ as
// multisets, listing what is missing and what is extra.
func diffMultisets(t testing.TB, what string, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, s := range want {
		count[s]++
	}
	for _, s := range got {
		count[s]--
	}
	var missing, extra []string
	for s, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, s)
		}
		for ; n < 0; n++ {
			extra = append(extra, s)
		}
	}
	if len(missing)+len(extra) == 0 {
		return
	}
	sort.Strings(missing)
	sort.Strings(extra)
	t.Errorf("%s: got %d records, want %d\nmissing (%d):\n  %s\nunexpected (%d):\n  %s", what, len(got), len(want),
		len(missing), strings.Join(first(missing, 50), "\n  "), len(extra), strings.Join(first(extra, 50), "\n  "))
}

func first[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// poll calls cond every 100ms until it returns true, and fails the test
// with what (and cond's last explanation) after timeout.
func poll(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// endOffsets returns the end offset of every partition of topic.
func endOffsets(t testing.TB, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := ctxFor(t, 10*time.Second)
	defer cancel()
	// Errors are retried until the deadline: right after a broker comes
	// back, its partitions answer LEADER_NOT_AVAILABLE for a moment.
	var l kadm.ListedOffsets
	var err error
	for {
		l, err = adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = l.Error()
		}
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listing end offsets of %q: %v", topic, err)
	}
	out := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// committed returns the group's committed offset of every partition of
// topic that has one.
func committed(t testing.TB, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := ctxFor(t, 10*time.Second)
	defer cancel()
	resps, err := adm.FetchOffsets(ctx, group)
	for err != nil && kerr.IsRetriable(err) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond) // a coordinator that just came back
		resps, err = adm.FetchOffsets(ctx, group)
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[int32]int64{} // no member has joined yet
	}
	if err != nil {
		t.Fatalf("fetching the offsets of group %q: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resps[topic] {
		if o.Err != nil {
			t.Fatalf("group %q topic %q partition %d: %v", group, topic, p, o.Err)
		}
		if o.At >= 0 {
			out[p] = o.At
		}
	}
	return out
}

// waitCaughtUp waits until group has committed the end offset of every
// partition of topics: everything written so far is processed, and its
// outputs flushed.
func waitCaughtUp(t testing.TB, group string, timeout time.Duration, topics ...string) {
	t.Helper()
	poll(t, timeout, fmt.Sprintf("group %q to commit the end of %q", group, topics), func() (bool, string) {
		for _, topic := range topics {
			end := endOffsets(t, topic)
			com := committed(t, group, topic)
			for p, e := range end {
				if e > 0 && com[p] != e {
					return false, fmt.Sprintf("topic %q: end offsets %v, committed %v", topic, end, com)
				}
			}
		}
		return true, ""
	})
}

// running is an App whose Run runs in a goroutine.
type running struct {
	app    *kstreams.App
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	// stopped is set once the test has taken Run's result.
	stopped atomic.Bool
}

// defaultAppOpts make rebalances and commits fast enough for tests.
func defaultAppOpts() []kstreams.Option {
	return []kstreams.Option{
		kstreams.Brokers(brokers...),
		kstreams.CommitInterval(200 * time.Millisecond),
		kstreams.ClientOptions(
			kgo.SessionTimeout(6*time.Second),
			kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.RebalanceTimeout(10*time.Second),
			kgo.FetchMaxWait(200*time.Millisecond),
		),
	}
}

// runApp starts topo as an App (with the brokers, a 200ms commit interval
// and fast group timeouts, then opts) and runs it in a goroutine. Unless
// the test takes Run's result with stop or wait, the cleanup cancels the
// App and fails the test if Run does not return nil.
func runApp(t testing.TB, topo *kstreams.Topology, opts ...kstreams.Option) *running {
	t.Helper()
	logs := &testLog{t: t}
	all := append(defaultAppOpts(), kstreams.Logger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	app, err := kstreams.New(topo, append(all, opts...)...)
	if err != nil {
		t.Fatalf("kstreams.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{app: app, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = app.Run(ctx)
	}()
	t.Cleanup(func() {
		defer logs.close()
		if r.stopped.Load() {
			return
		}
		if err := r.stop(60 * time.Second); err != nil {
			t.Errorf("App.Run returned %v after cancel, want nil", err)
		}
	})
	return r
}

// stop cancels the App and returns what Run returned.
func (r *running) stop(timeout time.Duration) error {
	r.cancel()
	return r.wait(timeout)
}

// wait waits for Run to return and returns its result.
func (r *running) wait(timeout time.Duration) error {
	r.stopped.Store(true)
	select {
	case <-r.done:
		return r.err
	case <-time.After(timeout):
		return fmt.Errorf("App.Run did not return within %v", timeout)
	}
}

// stopOK cancels the App and fails the test unless Run returns nil.
func (r *running) stopOK(t testing.TB) {
	t.Helper()
	if err := r.stop(60 * time.Second); err != nil {
		t.Fatalf("App.Run returned %v after cancel, want nil", err)
	}
}

// waitErr waits for Run to return on its own (a failed task) and returns
// the error; it fails the test if Run does not return or returns nil.
func (r *running) waitErr(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		t.Fatalf("App.Run did not return within %v; state %v, metrics %+v", timeout, r.app.State(), r.app.Metrics())
	}
	r.stopped.Store(true)
	err := r.err
	if err == nil {
		t.Fatal("App.Run returned nil, want an error")
	}
	return err
}

// testLog sends the App's log lines to t.Log until the App has stopped.
type testLog struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

// headerValue returns the value of the last header named key, and whether
// there is one.
func headerValue(r *kgo.Record, key string) (string, bool) {
	for _, h := range slices.Backward(r.Headers) {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// waitSettled waits until the group of the instances rs is stable with
// each of them a member owning partitions of topic, every instance is
// Running, and no instance has started an assignment for a second: a
// cooperative rebalance moves tasks in two steps and warm-ups add probing
// rebalances, so a check right after a first poll may fall inside one.
func waitSettled(t testing.TB, group, topic string, rs ...*running) {
	t.Helper()
	var last []int64
	var since time.Time
	poll(t, 90*time.Second, "the group to settle", func() (bool, string) {
		ok, states := isRunning(rs...)
		if !ok {
			last = nil
			return false, states
		}
		asg := assignment(t, group, topic)
		owners := 0
		for _, ps := range asg {
			if len(ps) > 0 {
				owners++
			}
		}
		if len(asg) != len(rs) || owners != len(rs) {
			last = nil
			return false, fmt.Sprintf("assignment %v", asg)
		}
		var cur []int64
		for _, r := range rs {
			cur = append(cur, r.app.Metrics().Rebalances)
		}
		if !slices.Equal(cur, last) {
			last, since = cur, time.Now()
			return false, fmt.Sprintf("assignments %v", cur)
		}
		return time.Since(since) >= time.Second, fmt.Sprintf("assignments %v for %v", cur, time.Since(since))
	})
}

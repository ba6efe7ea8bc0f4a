package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The faults tests: an instance frozen past its session timeout, a broker
// stalled or killed under running instances, a close while the broker does
// not answer, a dead letter that cannot be written. The broker faults run
// on a broker of their own (faultBroker), so that the shared one is never
// stalled under other tests.

// The environment of TestHelperFaultInstance, set by startFaultInstance.
const (
	faultHelperEnv  = "KSTREAMS_IT_FAULT_HELPER"
	faultAppEnv     = "KSTREAMS_IT_FAULT_APP"
	faultInEnv      = "KSTREAMS_IT_FAULT_IN"
	faultOutEnv     = "KSTREAMS_IT_FAULT_OUT"
	faultDirEnv     = "KSTREAMS_IT_FAULT_DIR"
	faultCloseEnv   = "KSTREAMS_IT_FAULT_CLOSE_TIMEOUT"
	faultResultLine = "fault-helper: Run returned: "
)

// faultStore is the count store of faultTopology.
const faultStore = "counts"

// faultCommit is the commit interval of the faults tests' instances: long
// enough that a freeze rarely lands inside a commit's flush (records
// handed to the producer but not yet sent when the process stops are the
// stale writes that at-least-once cannot prevent; see DESIGN.md).
const faultCommit = time.Second

// faultTopology counts the records of each key of in into faultStore (a
// persistent store with a changelog, cached) and writes every count it
// forwards to out. Each record takes about 1ms, so that faults land in the
// middle of the work.
func faultTopology(t testing.TB, in, out string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	s = s.Peek(func(string, string) { time.Sleep(time.Millisecond) })
	counts := s.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: faultStore, Value: serde.Int64()})
	counts.ToStream().To(out, kstreams.ProducedWith(serde.String(), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// faultOpts are the options of every instance in the faults tests.
func faultOpts(app, dir string) []kstreams.Option {
	return []kstreams.Option{
		kstreams.ApplicationID(app),
		kstreams.StateDir(dir),
		kstreams.CommitInterval(faultCommit),
		kstreams.MaxPollRecords(50),
	}
}

// TestHelperFaultInstance is not a test: it is the instance the faults
// tests run in a child process, to freeze it (SIGSTOP) or stop it
// (SIGTERM). It runs faultTopology until SIGTERM or three minutes, then
// prints what Run returned.
func TestHelperFaultInstance(t *testing.T) {
	if os.Getenv(faultHelperEnv) != "1" {
		t.Skip("helper process for the faults tests")
	}
	opts := append(defaultAppOpts(), faultOpts(os.Getenv(faultAppEnv), os.Getenv(faultDirEnv))...)
	opts = append(opts, kstreams.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if d, err := time.ParseDuration(os.Getenv(faultCloseEnv)); err == nil {
		opts = append(opts, kstreams.CloseTimeout(d))
	}
	app, err := kstreams.New(faultTopology(t, os.Getenv(faultInEnv), os.Getenv(faultOutEnv)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	err = app.Run(ctx)
	fmt.Printf("%s%v\n", faultResultLine, err)
}

// startFaultInstance runs TestHelperFaultInstance in a child process
// against the current brokers; closeTimeout 0 keeps the default.
func startFaultInstance(t *testing.T, app, in, out string, closeTimeout time.Duration) *child {
	t.Helper()
	env := []string{
		faultHelperEnv + "=1",
		faultAppEnv + "=" + app,
		faultInEnv + "=" + in,
		faultOutEnv + "=" + out,
		faultDirEnv + "=" + t.TempDir(),
	}
	if closeTimeout > 0 {
		env = append(env, faultCloseEnv+"="+closeTimeout.String())
	}
	return startChild(t, "TestHelperFaultInstance", env...)
}

// keyedInput produces string records over keys, each key always to the
// same partition, and counts what the broker acknowledged per key.
type keyedInput struct {
	topic      string
	partitions int32
	keys       int
	mu         sync.Mutex
	counts     map[string]int64
	n          int
}

func newKeyedInput(topic string, partitions int32, keys int) *keyedInput {
	return &keyedInput{topic: topic, partitions: partitions, keys: keys, counts: map[string]int64{}}
}

// produce writes n records synchronously.
func (in *keyedInput) produce(t testing.TB, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	in.mu.Lock()
	for i := range recs {
		k := fmt.Sprintf("k%03d", in.n%in.keys)
		h := fnv.New32a()
		h.Write([]byte(k))
		recs[i] = rec(in.topic, int32(h.Sum32()%uint32(in.partitions)), []byte(k), []byte(strconv.Itoa(in.n)), time.Now().UnixMilli())
		in.n++
	}
	in.mu.Unlock()
	produce(t, recs...)
	in.mu.Lock()
	for _, r := range recs {
		in.counts[string(r.Key)]++
	}
	in.mu.Unlock()
}

// flow produces batches of 10 records every 50ms until stop is closed.
func (in *keyedInput) flow(t testing.TB, stop <-chan struct{}) (done <-chan struct{}) {
	d := make(chan struct{})
	go func() {
		defer close(d)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				in.produce(t, 10)
			}
		}
	}()
	return d
}

func (in *keyedInput) truth() map[string]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int64, len(in.counts))
	for k, v := range in.counts {
		out[k] = v
	}
	return out
}

// readAll reads topic from the start up to the end offsets it has now.
func readAll(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	end := endOffsets(t, topic)
	return consume(t, topic, 60*time.Second, "the end offsets", func(rs []*kgo.Record) (bool, string) {
		last := map[int32]int64{}
		for _, r := range rs {
			last[r.Partition] = r.Offset
		}
		for p, e := range end {
			if e > 0 && last[p] < e-1 {
				return false, fmt.Sprintf("partition %d read up to %d of %d", p, last[p], e)
			}
		}
		return true, ""
	})
}

// checkCounts checks the counts a topic (output or changelog) holds: no
// key's count goes down from one record to the next, and each key's last
// count is at least the number of its input records (at-least-once may
// count a record twice, never lose one).
func checkCounts(t testing.TB, topic string, truth map[string]int64) {
	t.Helper()
	last := map[string]int64{}
	where := map[string]int64{}
	downs := 0
	for _, r := range readAll(t, topic) {
		if len(r.Value) != 8 {
			t.Errorf("topic %q offset %d: value %q is not a count", topic, r.Offset, r.Value)
			continue
		}
		k, v := string(r.Key), int64(binary.BigEndian.Uint64(r.Value))
		if prev, ok := last[k]; ok && v < prev {
			downs++
			if downs <= 20 {
				t.Errorf("topic %q: key %s went down from %d (partition %d offset %d) to %d (offset %d)", topic, k, prev, r.Partition, where[k], v, r.Offset)
			}
		}
		last[k], where[k] = v, r.Offset
	}
	under, over := 0, int64(0)
	for k, want := range truth {
		if last[k] < want {
			under++
			if under <= 20 {
				t.Errorf("topic %q: key %s ends at count %d, below its %d input records", topic, k, last[k], want)
			}
		}
		over += last[k] - want
	}
	t.Logf("topic %q: %d keys, %d decreases, %d keys under their true count, %d counted twice in all", topic, len(last), downs, under, over)
}

// groupMembers returns the number of members of group.
func groupMembers(t testing.TB, group string) int {
	t.Helper()
	ctx, cancel := ctxFor(t, 10*time.Second)
	defer cancel()
	gs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return -1
	}
	return len(gs[group].Members)
}

// TestStalledInstance freezes (SIGSTOP) one of two instances past its
// session timeout while input flows, then lets it go on (SIGCONT): the
// other instance takes its tasks over meanwhile, and the frozen one must
// notice that its tasks may have moved and close them without writing its
// stale counts. No key's count goes down in the output or the changelog,
// every final count (what a full restore from the changelog yields) is at
// least the true count, and the frozen instance rejoins instead of
// exiting.
func TestStalledInstance(t *testing.T) {
	if !realBroker {
		t.Skip("needs a real broker (" + brokersEnv + ")")
	}
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	input := newKeyedInput(in, 4, 100)

	frozen := startFaultInstance(t, app, in, out, 0)
	other := runApp(t, faultTopology(t, in, out), faultOpts(app, t.TempDir())...)
	stop := make(chan struct{})
	flowDone := input.flow(t, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-flowDone
	}()
	poll(t, 60*time.Second, "both instances to process", func() (bool, string) {
		n, m := groupMembers(t, app), other.app.Metrics().Processed
		return n == 2 && m > 100 && sum(committed(t, app, in)) > 500, fmt.Sprintf("%d members, the in-process instance processed %d", n, m)
	})

	freezeChild := func() time.Time {
		const freeze = 10 * time.Second // the session timeout is 6s
		if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Logf("froze the child instance for %v", freeze)
		time.Sleep(freeze)
		if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	rejoined := func(thawed time.Time) {
		poll(t, 60*time.Second, "the frozen instance to rejoin", func() (bool, string) {
			n := groupMembers(t, app)
			return n == 2 && frozen.alive(), fmt.Sprintf("%d members, child alive %v", n, frozen.alive())
		})
		t.Logf("the frozen instance is a member again %v after it resumed", time.Since(thawed).Round(time.Millisecond))
	}

	// A freeze while input flows, then one while the instances are idle.
	thawed := freezeChild()
	time.Sleep(5 * time.Second)
	close(stop)
	<-flowDone
	rejoined(thawed)
	waitCaughtUp(t, app, 90*time.Second, in)
	rejoined(freezeChild())
	input.produce(t, 500)
	t.Logf("%d records produced", input.n)
	waitCaughtUp(t, app, 90*time.Second, in)
	if !frozen.alive() {
		t.Fatalf("the frozen instance exited:\n%s", frozen.out)
	}
	if o := frozen.out.String(); !strings.Contains(o, "tasks may have moved") && !strings.Contains(o, "group membership lost") {
		t.Errorf("the frozen instance did not say it closed its tasks:\n%s", o)
	}
	truth := input.truth()
	checkCounts(t, out, truth)
	checkCounts(t, changelogOf(app, faultStore), truth)

	// A full restore: a new instance with an empty state directory, alone
	// in the group, rebuilds every task's store from the changelog.
	other.stopOK(t)
	if err := frozen.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-frozen.exited:
	case <-time.After(45 * time.Second):
		t.Fatal("the child instance did not stop after SIGTERM")
	}
	fresh := runApp(t, faultTopology(t, in, out), faultOpts(app, t.TempDir())...)
	waitStore(t, fresh.app, faultStore, 60*time.Second, func(m map[string]int64) (bool, string) {
		if s := fresh.app.State(); s != kstreams.Running {
			return false, "state " + s.String()
		}
		var under []string
		for k, want := range truth {
			if m[k] < want {
				under = append(under, fmt.Sprintf("%s=%d<%d", k, m[k], want))
			}
		}
		return len(under) == 0, fmt.Sprintf("%d keys under their true count after a full restore: %v", len(under), first(under, 10))
	})
	fresh.stopOK(t)
}

// The private broker of the broker faults tests.
var (
	faultBrokerOnce sync.Once
	faultBrokerAddr string
	faultBrokerEnv  []string
	faultBrokerErr  error
)

// faultBrokerPort is the port of the private broker: $KSTREAMS_TEST_FAULT_BROKER_PORT,
// or the shared broker's port plus 100 (its controller takes the next).
func faultBrokerPort() (int, error) {
	if p := os.Getenv("KSTREAMS_TEST_FAULT_BROKER_PORT"); p != "" {
		return strconv.Atoi(p)
	}
	_, port, ok := strings.Cut(brokers[0], ":")
	if !ok {
		return 0, fmt.Errorf("no port in %q", brokers[0])
	}
	n, err := strconv.Atoi(port)
	return n + 100, err
}

// kafkaScript runs scripts/kafka.sh cmd for the private broker.
func kafkaScript(cmd string) error {
	c := exec.Command("../scripts/kafka.sh", cmd)
	c.Env = append(os.Environ(), faultBrokerEnv...)
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka.sh %s: %v\n%s", cmd, err, out)
	}
	return nil
}

// stopFaultBroker stops the private broker, if one was started (TestMain).
func stopFaultBroker() {
	if faultBrokerAddr != "" {
		_ = kafkaScript("stop")
	}
}

// useFaultBroker starts the private broker once and points the test's
// helpers (brokers, adm, prod) at it until the test ends. Tests run one at
// a time in this package, so the swap is seen by this test only.
func useFaultBroker(t *testing.T) {
	t.Helper()
	if !realBroker {
		t.Skip("needs a real broker (" + brokersEnv + "): the broker faults stop its process")
	}
	faultBrokerOnce.Do(func() {
		port, err := faultBrokerPort()
		if err != nil {
			faultBrokerErr = err
			return
		}
		faultBrokerEnv = []string{
			fmt.Sprintf("KAFKA_PORT=%d", port),
			fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", port+1),
			"KAFKA_DATA=" + filepath.Join(os.TempDir(), fmt.Sprintf("kstreams-kafka-faults-%d", port)),
		}
		faultBrokerAddr = fmt.Sprintf("127.0.0.1:%d", port)
		faultBrokerErr = kafkaScript("start")
	})
	if faultBrokerErr != nil {
		t.Fatalf("starting the private broker: %v", faultBrokerErr)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(faultBrokerAddr), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := kgo.NewClient(kgo.SeedBrokers(faultBrokerAddr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	oldBrokers, oldAdm, oldProd := brokers, adm, prod
	brokers, adm, prod = []string{faultBrokerAddr}, kadm.NewClient(admCl), pr
	t.Cleanup(func() {
		brokers, adm, prod = oldBrokers, oldAdm, oldProd
		admCl.Close()
		pr.Close()
	})
}

// faultBrokerPid returns the pid of the private broker.
func faultBrokerPid(t *testing.T) int {
	t.Helper()
	var data string
	for _, e := range faultBrokerEnv {
		if v, ok := strings.CutPrefix(e, "KAFKA_DATA="); ok {
			data = v
		}
	}
	b, err := os.ReadFile(filepath.Join(data, "kafka.pid"))
	if err != nil {
		t.Fatalf("the private broker's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// signalBroker sends sig to the private broker; a stopped broker is
// continued when the test ends, whatever happens.
func signalBroker(t *testing.T, sig syscall.Signal) {
	t.Helper()
	pid := faultBrokerPid(t)
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill -%v %d: %v", sig, pid, err)
	}
	if sig == syscall.SIGSTOP {
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	}
}

// logCounter counts the App's log lines by message, and passes them on.
type logCounter struct {
	slog.Handler
	mu     *sync.Mutex
	counts map[string]int
}

func newLogCounter(next slog.Handler) *logCounter {
	return &logCounter{Handler: next, mu: &sync.Mutex{}, counts: map[string]int{}}
}

func (l *logCounter) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	l.counts[r.Message]++
	l.mu.Unlock()
	return l.Handler.Handle(ctx, r)
}

func (l *logCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return &logCounter{Handler: l.Handler.WithAttrs(as), mu: l.mu, counts: l.counts}
}

func (l *logCounter) WithGroup(name string) slog.Handler {
	return &logCounter{Handler: l.Handler.WithGroup(name), mu: l.mu, counts: l.counts}
}

func (l *logCounter) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for m, c := range l.counts {
		if strings.HasPrefix(m, prefix) {
			n += c
		}
	}
	return n
}

// brokerFault runs two instances on the private broker, lets them work on
// a first batch of input, applies fault (which returns once the broker is
// back), then produces a second batch: no instance may exit, everything
// must be processed within resumeBound of the broker's return, and no
// count may be lost or go down.
func brokerFault(t *testing.T, fault func(t *testing.T), resumeBound time.Duration) {
	useFaultBroker(t)
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	input := newKeyedInput(in, 4, 100)
	input.produce(t, 4000)

	logs := newLogCounter(slog.NewTextHandler(&testLog{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var rs []*running
	for range 2 {
		r := runApp(t, faultTopology(t, in, out), append(faultOpts(app, t.TempDir()), kstreams.Logger(slog.New(logs)))...)
		rs = append(rs, r)
	}
	poll(t, 60*time.Second, "both instances to process", func() (bool, string) {
		p0, p1 := rs[0].app.Metrics().Processed, rs[1].app.Metrics().Processed
		return p0 > 200 && p1 > 200 && sum(committed(t, app, in)) > 500, fmt.Sprintf("processed %d and %d", p0, p1)
	})

	fault(t)
	back := time.Now()
	input.produce(t, 400)
	waitCaughtUp(t, app, resumeBound, in)
	resumed := time.Since(back)
	t.Logf("all %d records processed %v after the broker came back (bound %v)", input.n, resumed.Round(time.Millisecond), resumeBound)
	for i, r := range rs {
		select {
		case <-r.done:
			t.Fatalf("instance %d exited: %v", i, r.err)
		default:
		}
	}
	truth := input.truth()
	checkCounts(t, out, truth)
	checkCounts(t, changelogOf(app, faultStore), truth)
	for _, msg := range []string{"kstreams: cannot join the consumer group", "kstreams: commit postponed", "kstreams: group membership lost", "kstreams: fetch error"} {
		// Two instances, logging each condition when it starts and then
		// at most every 30s.
		if n := logs.count(msg); n > 8 {
			t.Errorf("%q logged %d times; want it logged once per episode and then every 30s", msg, n)
		}
	}
	for _, r := range rs {
		r.stopOK(t)
	}
}

// TestBrokerStall stalls the broker (SIGSTOP) for 20s, longer than the
// session timeout (6s), under two running instances.
func TestBrokerStall(t *testing.T) {
	brokerFault(t, func(t *testing.T) {
		signalBroker(t, syscall.SIGSTOP)
		time.Sleep(20 * time.Second)
		signalBroker(t, syscall.SIGCONT)
	}, 60*time.Second)
}

// TestBrokerStallLong is TestBrokerStall with a 60s stall; it runs only
// with KSTREAMS_TEST_LONG=1 (see scripts/test.sh).
func TestBrokerStallLong(t *testing.T) {
	if os.Getenv("KSTREAMS_TEST_LONG") != "1" {
		t.Skip("set KSTREAMS_TEST_LONG=1 for the 60s broker stall")
	}
	brokerFault(t, func(t *testing.T) {
		signalBroker(t, syscall.SIGSTOP)
		time.Sleep(60 * time.Second)
		signalBroker(t, syscall.SIGCONT)
	}, 90*time.Second)
}

// TestBrokerKilled kills the broker (kill -9) under two running instances
// and relaunches it on the same data.
func TestBrokerKilled(t *testing.T) {
	brokerFault(t, func(t *testing.T) {
		signalBroker(t, syscall.SIGKILL)
		pid := faultBrokerPid(t)
		poll(t, 20*time.Second, "the broker to die", func() (bool, string) {
			return syscall.Kill(pid, 0) != nil, "still alive"
		})
		time.Sleep(3 * time.Second)
		if err := kafkaScript("relaunch"); err != nil {
			t.Fatal(err)
		}
	}, 60*time.Second)
}

// TestCloseWhileBrokerStalled sends SIGTERM to an instance while the
// broker does not answer: Run returns within the close timeout plus a
// small margin, saying what it could not commit.
func TestCloseWhileBrokerStalled(t *testing.T) {
	useFaultBroker(t)
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	input := newKeyedInput(in, 4, 100)
	input.produce(t, 2000)
	const closeTimeout = 5 * time.Second
	c := startFaultInstance(t, app, in, out, closeTimeout)
	poll(t, 60*time.Second, "the instance to commit", func() (bool, string) {
		n := sum(committed(t, app, in))
		return n > 200, fmt.Sprintf("%d committed", n)
	})
	signalBroker(t, syscall.SIGSTOP)
	time.Sleep(2 * time.Second)
	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.exited:
	case <-time.After(closeTimeout + 30*time.Second):
		t.Fatalf("the instance did not exit %v after SIGTERM", closeTimeout+30*time.Second)
	}
	took := time.Since(start)
	signalBroker(t, syscall.SIGCONT)
	t.Logf("Run returned %v after SIGTERM (close timeout %v)", took.Round(time.Millisecond), closeTimeout)
	if margin := 3 * time.Second; took > closeTimeout+margin {
		t.Errorf("Run returned %v after SIGTERM, want at most the close timeout %v plus %v", took, closeTimeout, margin)
	}
	o := c.out.String()
	if !strings.Contains(o, faultResultLine+"kstreams: close incomplete") {
		t.Errorf("Run did not report an incomplete close:\n%s", o)
	}
}

// TestDeadLetterUnwritable sends bad records to a dead-letter topic that
// refuses the large one (max.message.bytes): the error names the input
// record whose dead letter failed, and Metrics.DeadLettered counts what
// the topic holds.
func TestDeadLetterUnwritable(t *testing.T) {
	if !realBroker {
		t.Skip("needs a real broker (" + brokersEnv + "): kfake does not enforce max.message.bytes")
	}
	app := newAppID(t)
	in, out, dlq := uniqueName(t, "in"), uniqueName(t, "out"), uniqueName(t, "dlq")
	createTopics(t, 1, in, out)
	createTopicsWithConfigs(t, 1, map[string]string{"max.message.bytes": "2000"}, dlq)
	good := make([]byte, 8)
	recs := produce(t,
		rec(in, 0, []byte("a"), good, 1),
		rec(in, 0, []byte("b"), []byte("bad"), 2), // a small dead letter
		rec(in, 0, []byte("c"), good, 3),
	)
	r := runApp(t, int64Topology(t, in, out), kstreams.ApplicationID(app),
		kstreams.OnDeserializationError(kstreams.DeadLetter(dlq)))
	consumeUntil(t, dlq, 1, 30*time.Second)
	big := produce(t, rec(in, 0, []byte("d"), randomBytes("d", 5000), 4))[0] // too large for dlq, even compressed
	err := r.waitErr(t, 30*time.Second)
	var perr *kstreams.ProduceError
	if !errors.As(err, &perr) {
		t.Fatalf("Run returned %v, want a ProduceError", err)
	}
	if perr.Topic != dlq || perr.InputTopic != in || perr.InputPartition != 0 || perr.InputOffset != big.Offset {
		t.Errorf("error %q: topic %q input %q/%d/%d, want topic %q input %q/0/%d", err, perr.Topic, perr.InputTopic, perr.InputPartition, perr.InputOffset, dlq, in, big.Offset)
	}
	if want := fmt.Sprintf("input record topic %q partition 0 offset %d", in, big.Offset); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the input record (%s)", err, want)
	}
	held := sum(endOffsets(t, dlq))
	if m := r.app.Metrics(); m.DeadLettered != held || held != 1 {
		t.Errorf("Metrics().DeadLettered = %d, dead-letter topic holds %d; want both 1 (the small dead letter of offset %d)", m.DeadLettered, held, recs[1].Offset)
	}
}

// TestSilentBroker points an App at a listener that accepts connections
// and never answers: Run says what it is waiting for instead of waiting in
// silence, and returns when cancelled.
func TestSilentBroker(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		var open []net.Conn
		defer func() {
			for _, c := range open {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			open = append(open, c)
		}
	}()
	logs := newLogCounter(slog.NewTextHandler(&testLog{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	topo := copyTopology(t, "silent-in", "silent-out", nil)
	app, err := kstreams.New(topo, kstreams.ApplicationID(newAppID(t)), kstreams.Brokers(ln.Addr().String()),
		kstreams.Logger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	start := time.Now()
	err = app.Run(ctx)
	if time.Since(start) > 10*time.Second {
		t.Errorf("Run returned %v after its context ended", time.Since(start)-6*time.Second)
	}
	if err == nil {
		t.Error("Run returned nil")
	}
	if logs.count("kstreams: still waiting for the brokers to answer") == 0 {
		t.Errorf("Run waited %v in silence (%d connections)", time.Since(start), conns.Load())
	}
}

// TestProduceToMissingTopic writes to an output topic that does not exist:
// the error says no partition was ever picked (not "partition 0") and
// names the input record that led to it.
func TestProduceToMissingTopic(t *testing.T) {
	if !realBroker {
		t.Skip("needs a real broker (" + brokersEnv + "): kfake creates topics on demand")
	}
	app := newAppID(t)
	in, missing := uniqueName(t, "in"), uniqueName(t, "missing")
	createTopics(t, 2, in)
	first := produce(t, rec(in, 1, []byte("k"), []byte("v"), 1))[0]
	r := runApp(t, copyTopology(t, in, missing, nil), kstreams.ApplicationID(app))
	err := r.waitErr(t, 60*time.Second)
	var perr *kstreams.ProduceError
	if !errors.As(err, &perr) {
		t.Fatalf("Run returned %v, want a ProduceError", err)
	}
	if perr.Topic != missing || perr.Partition != -1 || perr.InputTopic != in || perr.InputPartition != 1 || perr.InputOffset != first.Offset {
		t.Errorf("error %q: topic %q partition %d input %q/%d/%d; want topic %q, partition -1, input %q/1/%d",
			err, perr.Topic, perr.Partition, perr.InputTopic, perr.InputPartition, perr.InputOffset, missing, in, first.Offset)
	}
	if strings.Contains(err.Error(), "partition 0") {
		t.Errorf("error %q names a partition the record never had", err)
	}
}

// TestClientLogLevel: franz-go's own lines reach the Logger when asked for,
// and only then.
func TestClientLogLevel(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []kstreams.Option
		want bool
	}{
		{"default", nil, false},
		{"warn", []kstreams.Option{kstreams.ClientLogLevel(slog.LevelWarn)}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := newLogCounter(slog.NewTextHandler(&testLog{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			// Nothing listens on port 1: every connection is refused.
			opts := append([]kstreams.Option{kstreams.ApplicationID(newAppID(t)), kstreams.Brokers("127.0.0.1:1"),
				kstreams.Logger(slog.New(logs))}, c.opts...)
			app, err := kstreams.New(copyTopology(t, "quiet-in", "quiet-out", nil), opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = app.Run(ctx)
			if got := logs.count("kgo: ") > 0; got != c.want {
				t.Errorf("franz-go lines logged: %v, want %v", got, c.want)
			}
		})
	}
}

// TestCommitRefusedRejoins has the group coordinator (a kfake broker of
// the test's own) refuse one offset commit with UNKNOWN_MEMBER_ID: that is
// task migration, not a failure. The instance closes its tasks without
// committing, rejoins, and processes everything; Run does not return.
func TestCommitRefusedRejoins(t *testing.T) {
	in, out := "refused-in", "refused-out"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, in, out))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.UnknownMemberID.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		refused.Add(1)
		return resp, nil, true // handled once: later commits go through
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 300 {
		recs = append(recs, rec(in, int32(i%2), []byte(strconv.Itoa(i)), []byte(strconv.Itoa(i)), int64(i)))
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	logs := newLogCounter(slog.NewTextHandler(&testLog{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := kstreams.New(copyTopology(t, in, out, nil), kstreams.ApplicationID("refused"),
		kstreams.Brokers(c.ListenAddrs()...), kstreams.CommitInterval(200*time.Millisecond),
		kstreams.ClientOptions(kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond)),
		kstreams.Logger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel", err)
		}
	}()
	kadmCl := kadm.NewClient(cl)
	poll(t, 60*time.Second, "all 300 records committed", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v", err)
		default:
		}
		offs, err := kadmCl.FetchOffsets(t.Context(), "refused")
		if err != nil {
			return false, err.Error()
		}
		var n int64
		offs.Each(func(o kadm.OffsetResponse) { n += o.At })
		return n == 300, fmt.Sprintf("%d committed, %d commits refused", n, refused.Load())
	})
	if refused.Load() != 1 {
		t.Errorf("%d commits refused, want 1", refused.Load())
	}
	if logs.count("kstreams: tasks may have moved") == 0 {
		t.Error("the instance did not report closing its tasks")
	}
	if m := app.Metrics(); m.Rebalances < 2 {
		t.Errorf("%d assignments, want a second one after the refused commit", m.Rebalances)
	}
}

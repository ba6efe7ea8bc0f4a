package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/embedded"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The environment of the end-to-end test: a real broker, and a real SMTP
// server with the maildir it delivers to (scripts/test.sh sets them).
// Without them the test starts an embedded broker and a fake SMTP server.
const (
	brokersEnv = "KSTREAMS_TEST_BROKERS"
	smtpEnv    = "KSTREAMS_TEST_SMTP"
	maildirEnv = "KSTREAMS_TEST_MAILDIR"
)

// e2ePeriod is the email period of the end-to-end test.
const e2ePeriod = 3 * time.Second

// TestEndToEnd runs two instances of the program (run, as main does) with
// one application id, on the broker of KSTREAMS_TEST_BROKERS or an embedded
// one, emailing through the SMTP server of KSTREAMS_TEST_SMTP or a fake one.
// The first instance publishes a fixed number of generated position events.
// Once the application has processed them all, the test checks that
// GET /shareholders?scope=local on the two instances splits the expected US
// shareholders between them, that GET /shareholders on each instance (routed
// through the query servers) lists them all, and that over two whole periods each of them
// got exactly one email per period, listing its current NASDAQ positions,
// sent by the instance that holds it, and that nobody else got one.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	const seed = 42
	count, events := pickEvents(t, seed)
	want := usShareholders(events)
	removed := removedClients(events)
	t.Logf("%d events: %d US shareholders at the end, %v no longer ones", count, len(want), removed)

	brokers := testBrokers(t)
	smtpAddr, maildir := testSMTP(t)
	suffix := randomSuffix(t)
	base := config{
		Brokers: brokers, AppID: "shareholders-test-" + suffix, Input: "share-holders-test-" + suffix,
		Partitions: 3, Rate: 300, Seed: seed, Period: e2ePeriod, SMTP: smtpAddr,
		CommitInterval: 200 * time.Millisecond, ReportEvery: 2 * time.Second, Quiet: true,
	}
	if os.Getenv(brokersEnv) != "" {
		t.Cleanup(func() { deleteTopicsAndGroup(base) })
	}
	t.Logf("brokers %q, SMTP %s, maildir %s, app %s", brokers, smtpAddr, maildir, base.AppID)

	a, b := base, base
	a.Instance, a.Generate, a.Count = "a", true, count
	b.Instance = "b"
	// A rolling start: b joins a group where a already runs every task.
	first := startInstance(t, a)
	waitRunning(t, first)
	instances := []*instance{first, startInstance(t, b)}

	start := time.Now()
	held := waitSettled(t, base, instances, want)
	settled := time.Now()
	t.Logf("settled after %v: instance a holds %d clients, b %d", settled.Sub(start).Round(time.Millisecond), len(held[0]), len(held[1]))
	for i, in := range instances {
		if len(held[i]) == 0 {
			t.Errorf("instance %s holds no US shareholder: the assignment gave the other instance every task of the aggregation, so the emails are not shared", in.cfg.Instance)
		}
	}
	for _, c := range removed {
		for i := range held {
			if ids, ok := held[i][c]; ok {
				t.Errorf("client %s has no US position left, but instance %s lists %q", c, instances[i].cfg.Instance, ids)
			}
		}
	}

	// The first period that starts after the data settled, and the next.
	next := Emails{Period: e2ePeriod}.PeriodOf(settled.UnixMilli()) + 1
	checked := []int64{next, next + 1}
	emails := waitEmails(t, maildir, base.AppID, next+2, want)
	t.Logf("emails of periods %d..%d arrived %v after settling", next, next+2, time.Since(settled).Round(time.Millisecond))
	owner := map[string]string{}
	for i, in := range instances {
		for c := range held[i] {
			owner[c] = in.cfg.Instance
		}
	}
	for _, p := range checked {
		checkPeriod(t, p, emails, want, owner)
	}
	checkNoDuplicates(t, emails)
	stopAll(t, instances)
}

// pickEvents returns the number of generated events the test publishes,
// and those events: the first count from 150 on whose outcome has every case
// the test is about.
func pickEvents(t *testing.T, seed uint64) (int, []Event) {
	t.Helper()
	g := NewGenerator(seed)
	var events []Event
	for len(events) < 1000 {
		events = append(events, g.Next())
		if len(events) >= 150 && hasEveryCase(events) {
			return len(events), events
		}
	}
	t.Fatalf("seed %d: no prefix of 1000 events has every case", seed)
	return 0, nil
}

// hasEveryCase reports whether events end with: a position moved from
// NASDAQ to LON and still open there, a closed position that was on
// NASDAQ, a client that held NASDAQ positions and holds none, and at least
// four US shareholders.
func hasEveryCase(events []Event) bool {
	last := map[string]*Position{}
	var closedUS bool
	for _, e := range events {
		if e.Kind == Closed && IsUS(last[e.ID]) {
			closedUS = true
		}
		last[e.ID] = e.Position
	}
	var movedToLON bool
	for _, e := range events {
		if e.Kind == Moved && e.Position.Exchange == LON && last[e.ID] != nil && last[e.ID].Exchange == LON {
			movedToLON = true
		}
	}
	return movedToLON && closedUS && len(removedClients(events)) > 0 && len(usShareholders(events)) >= 4
}

// usShareholders returns what the store must hold after events: client ->
// sorted ids of its open NASDAQ positions.
func usShareholders(events []Event) map[string][]string {
	last := map[string]*Position{}
	for _, e := range events {
		last[e.ID] = e.Position
	}
	out := map[string][]string{}
	for id, p := range last {
		if IsUS(p) {
			out[p.Client] = append(out[p.Client], id)
		}
	}
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out
}

// removedClients returns the clients that held a NASDAQ position at some
// point of events and hold none after them.
func removedClients(events []Event) []string {
	now := usShareholders(events)
	var out []string
	for _, e := range events {
		if IsUS(e.Position) && now[e.Position.Client] == nil && !slices.Contains(out, e.Position.Client) {
			out = append(out, e.Position.Client)
		}
	}
	sort.Strings(out)
	return out
}

// testBrokers returns the broker of KSTREAMS_TEST_BROKERS, or starts an
// embedded one.
func testBrokers(t *testing.T) []string {
	t.Helper()
	if env := os.Getenv(brokersEnv); env != "" {
		return strings.Split(env, ",")
	}
	b, err := embedded.Start(embedded.Options{DataDir: t.TempDir(), Partitions: 3})
	if err != nil {
		t.Fatalf("embedded broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}

// testSMTP returns the SMTP server of KSTREAMS_TEST_SMTP and its maildir
// KSTREAMS_TEST_MAILDIR, or starts a fake one.
func testSMTP(t *testing.T) (addr, maildir string) {
	t.Helper()
	addr, maildir = os.Getenv(smtpEnv), os.Getenv(maildirEnv)
	if addr != "" && maildir != "" {
		return addr, maildir
	}
	if addr != "" || maildir != "" {
		t.Fatalf("%s=%q and %s=%q: set both or neither", smtpEnv, addr, maildirEnv, maildir)
	}
	s := startFakeSMTP(t)
	return s.addr(), s.dir
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// deleteTopicsAndGroup removes what a run on a real broker left: the input
// topic, the application's internal topics and its group.
func deleteTopicsAndGroup(cfg config) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	topics := []string{cfg.Input}
	if listed, err := adm.ListTopics(ctx); err == nil {
		for _, name := range listed.Names() {
			if strings.HasPrefix(name, cfg.AppID+"-") {
				topics = append(topics, name)
			}
		}
	}
	_, _ = adm.DeleteTopics(ctx, topics...)
	_, _ = adm.DeleteGroup(ctx, cfg.AppID)
}

// instance is one running program.
type instance struct {
	cfg config
	// url is GET /shareholders, every instance's; local, this instance's.
	url   string
	local string
	stop  context.CancelFunc
	done  chan error
}

// startInstance runs the program with cfg, a state directory of its own
// and an HTTP port and a query port of its own, until the test ends.
func startInstance(t *testing.T, cfg config) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for instance %s: %v", cfg.Instance, err)
	}
	qln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for instance %s: %v", cfg.Instance, err)
	}
	cfg.httpListener, cfg.queryListener = ln, qln
	cfg.StateDir = t.TempDir()
	cfg.DataDir = t.TempDir()
	cfg.Out = &testLog{t: t, prefix: "[" + cfg.Instance + "] "}
	ctx, cancel := context.WithCancel(context.Background())
	url := "http://" + ln.Addr().String() + "/shareholders"
	in := &instance{cfg: cfg, url: url, local: url + "?scope=local", stop: cancel, done: make(chan error, 1)}
	go func() { in.done <- run(ctx, cfg) }()
	t.Cleanup(func() { stopAll(t, []*instance{in}) })
	return in
}

// waitRunning waits until in answers GET /shareholders?scope=local: it
// runs tasks of the aggregation (the routed GET /shareholders answers once
// the instance runs, possibly none of the aggregation's tasks).
func waitRunning(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := getShareholders(in.local)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s does not answer: %v", in.cfg.Instance, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAll stops the instances (once each) and fails the test if one of
// them failed.
func stopAll(t *testing.T, ins []*instance) {
	t.Helper()
	for _, in := range ins {
		in.stop()
	}
	for _, in := range ins {
		if in.done == nil {
			continue
		}
		if err := <-in.done; err != nil {
			t.Errorf("instance %s: %v", in.cfg.Instance, err)
		}
		in.done = nil
	}
}

// waitSettled waits until the group is stable with every instance as a
// member, the application has committed the end of every topic its group
// reads (the input and the repartition topic), the instances'
// GET /shareholders?scope=local together list exactly want, each client
// once, and every instance's GET /shareholders lists want. It returns each
// instance's local answer.
func waitSettled(t *testing.T, cfg config, ins []*instance, want map[string][]string) []map[string][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(90 * time.Second)
	var why string
	for time.Now().Before(deadline) {
		var answers []map[string][]string
		if why = groupStable(t.Context(), adm, cfg.AppID, len(ins)); why == "" {
			why = lag(t.Context(), adm, cfg.AppID)
		}
		if why == "" {
			answers, why = queryAll(ins, want)
		}
		if why == "" {
			return answers
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not settled after 90s: %s", why)
	return nil
}

// groupStable returns why the group is not stable with n members, or "".
func groupStable(ctx context.Context, adm *kadm.Client, group string, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return err.Error()
	}
	d := described[group]
	if d.Err != nil {
		return d.Err.Error()
	}
	if d.State != "Stable" || len(d.Members) != n {
		return fmt.Sprintf("group %s: %s with %d members, want Stable with %d", group, d.State, len(d.Members), n)
	}
	return ""
}

// lag returns how the group's committed offsets trail the end offsets of
// the topics it commits, or "" if they do not.
func lag(ctx context.Context, adm *kadm.Client, group string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return err.Error()
	}
	topics := committed.Offsets().TopicsSet().Topics()
	if len(topics) < 2 {
		return fmt.Sprintf("the group commits %q, want the input and the repartition topic", topics)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	var behind []string
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := committed.Lookup(o.Topic, o.Partition)
		if o.Err != nil || c.At != o.Offset {
			behind = append(behind, fmt.Sprintf("%s/%d: end %d, committed %d %v", o.Topic, o.Partition, o.Offset, c.At, o.Err))
		}
	})
	return strings.Join(behind, "; ")
}

// queryAll asks every instance for its own shareholders and returns the
// answers, or why they are not yet want, split between the instances, or
// why an instance's answer for all of them is not want. An instance that
// holds no partition of the store (503) answers none of its own.
func queryAll(ins []*instance, want map[string][]string) ([]map[string][]string, string) {
	for _, in := range ins {
		got, err := getShareholders(in.url)
		if err != nil {
			return nil, fmt.Sprintf("instance %s, all: %v", in.cfg.Instance, err)
		}
		if !reflect.DeepEqual(got, want) {
			return nil, fmt.Sprintf("GET /shareholders on %s:\n got %v\nwant %v", in.cfg.Instance, got, want)
		}
	}
	var answers []map[string][]string
	union := map[string][]string{}
	for _, in := range ins {
		got, err := getShareholders(in.local)
		if errors.Is(err, errNotAvailable) {
			got, err = map[string][]string{}, nil
		}
		if err != nil {
			return nil, fmt.Sprintf("instance %s: %v", in.cfg.Instance, err)
		}
		for c, ids := range got {
			if _, dup := union[c]; dup {
				return nil, fmt.Sprintf("client %s listed by two instances", c)
			}
			union[c] = ids
		}
		answers = append(answers, got)
	}
	if !reflect.DeepEqual(union, want) {
		return nil, fmt.Sprintf("GET /shareholders?scope=local:\n got %v\nwant %v", union, want)
	}
	return answers, ""
}

// errNotAvailable is a 503 answer: the instance holds no partition of the
// store.
var errNotAvailable = errors.New("503: no partition of the store here")

func getShareholders(url string) (map[string][]string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var got map[string][]string
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil, errNotAvailable
	}
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return nil, fmt.Errorf("GET %s: %s %s", url, resp.Status, strings.TrimSpace(b.String()))
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return got, nil
}

// waitEmails waits until every client of want got its email of period
// last, and returns the application's emails.
func waitEmails(t *testing.T, maildir, app string, last int64, want map[string][]string) []receivedEmail {
	t.Helper()
	until := time.UnixMilli((last + 1) * e2ePeriod.Milliseconds()).Add(30 * time.Second)
	for {
		emails := readMaildir(t, maildir, app)
		missing := slices.Collect(maps.Keys(want))
		for _, e := range emails {
			if e.Period == last {
				missing = slices.DeleteFunc(missing, func(c string) bool { return e.To == c+"@"+DefaultDomain })
			}
		}
		if len(missing) == 0 {
			return emails
		}
		if time.Now().After(until) {
			t.Fatalf("period %d: no email to %v by %v", last, missing, until.Format(time.TimeOnly))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkPeriod checks the emails of period p: exactly one to each client of
// want, listing want's positions, sent by the instance that holds the
// client (owner), and none to anyone else.
func checkPeriod(t *testing.T, p int64, emails []receivedEmail, want map[string][]string, owner map[string]string) {
	t.Helper()
	got := map[string][]receivedEmail{}
	for _, e := range emails {
		if e.Period == p {
			got[e.To] = append(got[e.To], e)
		}
	}
	byInstance := map[string]int{}
	for c, ids := range want {
		es := got[c+"@"+DefaultDomain]
		delete(got, c+"@"+DefaultDomain)
		if len(es) != 1 {
			t.Errorf("period %d: %d emails to %s, want 1: %+v", p, len(es), c, es)
			continue
		}
		e := es[0]
		byInstance[e.Instance]++
		if !slices.Equal(e.Positions, ids) {
			t.Errorf("period %d: the email to %s lists %q, want %q", p, c, e.Positions, ids)
		}
		if e.Instance != owner[c] {
			t.Errorf("period %d: %s emailed by instance %s (task %s), but instance %s holds it", p, c, e.Instance, e.Task, owner[c])
		}
	}
	for to, es := range got {
		t.Errorf("period %d: %d emails to %s, who holds no US position", p, len(es), to)
	}
	t.Logf("period %d: one email to each of %d clients, by instance: %v", p, len(want), byInstance)
}

// checkNoDuplicates checks that no client got two emails for one period,
// in any period of the run, including those of the rebalance when b
// joined: the emailed store moves with the tasks.
func checkNoDuplicates(t *testing.T, emails []receivedEmail) {
	t.Helper()
	type key struct {
		to     string
		period int64
	}
	seen := map[key]receivedEmail{}
	periods := map[int64]bool{}
	for _, e := range emails {
		k := key{e.To, e.Period}
		if prev, dup := seen[k]; dup {
			t.Errorf("period %d: two emails to %s, by %s (task %s) and %s (task %s)", e.Period, e.To, prev.Instance, prev.Task, e.Instance, e.Task)
		}
		seen[k] = e
		periods[e.Period] = true
	}
	t.Logf("%d emails over %d periods, none twice to a client in a period", len(emails), len(periods))
}

// testLog sends the program's lines to t.Log.
type testLog struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(l.prefix + string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

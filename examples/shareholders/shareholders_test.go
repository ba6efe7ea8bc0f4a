package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

func pos(id, client, ticker string, amount int64, exchange string) *Position {
	return &Position{ID: id, Client: client, Ticker: ticker, Amount: amount, Exchange: exchange}
}

func TestAddRemovePositions(t *testing.T) {
	tests := []struct {
		name      string
		set, ids  []string
		add, drop []string
	}{
		{"empty set", nil, []string{"p-1"}, []string{"p-1"}, nil},
		{"new id, sorted", []string{"p-1", "p-3"}, []string{"p-2"}, []string{"p-1", "p-2", "p-3"}, []string{"p-1", "p-3"}},
		{"id already there", []string{"p-1", "p-2"}, []string{"p-2"}, []string{"p-1", "p-2"}, []string{"p-1"}},
		{"last id: nil, which deletes", []string{"p-1"}, []string{"p-1"}, []string{"p-1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.set)
			if got := AddPositions(tt.set, tt.ids); !slices.Equal(got, tt.add) {
				t.Errorf("AddPositions(%q, %q) = %q, want %q", tt.set, tt.ids, got, tt.add)
			}
			got := RemovePositions(tt.set, tt.ids)
			if !slices.Equal(got, tt.drop) || (tt.drop == nil) != (got == nil) {
				t.Errorf("RemovePositions(%q, %q) = %#v, want %#v", tt.set, tt.ids, got, tt.drop)
			}
			if !slices.Equal(tt.set, in) {
				t.Errorf("the set was modified: %q, was %q", tt.set, in)
			}
		})
	}
	if b, _ := IDsSerde().Serialize("t", RemovePositions([]string{"p-1"}, []string{"p-1"})); b != nil {
		t.Errorf("an empty set serializes to %q, want null (a delete)", b)
	}
}

// fakeMailer records the emails it is asked to send; fail, if set, makes a
// send fail.
type fakeMailer struct {
	mu    sync.Mutex
	sent  []receivedEmail
	tries int
	fail  func(to string) error
	delay time.Duration
}

func (m *fakeMailer) Send(_ context.Context, to, subject, body string) error {
	time.Sleep(m.delay)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tries++
	if m.fail != nil {
		if err := m.fail(to); err != nil {
			return err
		}
	}
	e := receivedEmail{To: to, Subject: subject}
	if err := e.parseBody(body); err != nil {
		return err
	}
	m.sent = append(m.sent, e)
	return nil
}

// take returns the emails sent since the last call, as recipient ->
// positions, failing on a second email to one recipient.
func (m *fakeMailer) take(t *testing.T, period int64) map[string][]string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	got := map[string][]string{}
	for _, e := range m.sent {
		if _, dup := got[e.To]; dup {
			t.Errorf("two emails to %s: %+v", e.To, m.sent)
		}
		if e.Period != period {
			t.Errorf("email to %s for period %d, want %d", e.To, e.Period, period)
		}
		got[e.To] = e.Positions
	}
	m.sent = nil
	return got
}

// testPeriod is the period of the driver tests; the driver's wall clock
// starts at the Unix epoch, period 0.
const testPeriod = time.Hour

type shareholdersDriver struct {
	period time.Duration
	d      *kstreamstest.Driver
	in     *kstreamstest.InputTopic[string, *Position]
	mailer *fakeMailer
	// holders is the store of US shareholders as its updates tell it.
	holders map[string][]string
}

func newShareholdersDriver(t *testing.T) *shareholdersDriver {
	t.Helper()
	return newShareholdersDriverPeriod(t, testPeriod)
}

func newShareholdersDriverPeriod(t *testing.T, period time.Duration) *shareholdersDriver {
	t.Helper()
	sd := &shareholdersDriver{period: period, mailer: &fakeMailer{}, holders: map[string][]string{}}
	emails := Emails{Mailer: sd.mailer, Period: period, Instance: "test"}
	topo, err := Topology("positions", emails, func(client string, ids []string) {
		if ids == nil {
			delete(sd.holders, client)
			return
		}
		sd.holders[client] = ids
	})
	if err != nil {
		t.Fatalf("Topology: %v", err)
	}
	if sd.d, err = kstreamstest.New(topo, kstreamstest.ApplicationID("shareholders-test")); err != nil {
		t.Fatalf("driver: %v", err)
	}
	t.Cleanup(func() { sd.d.Close() })
	sd.in = kstreamstest.NewInputTopic(sd.d, "positions", serde.String(), PositionSerde())
	return sd
}

func (sd *shareholdersDriver) pipe(t *testing.T, id string, p *Position) {
	t.Helper()
	if err := sd.in.Pipe(id, p); err != nil {
		t.Fatalf("piping %s: %v", id, err)
	}
}

// advance moves the wall clock and returns the emails the punctuators
// sent, recipient -> positions, checking they are for the current period.
func (sd *shareholdersDriver) advance(t *testing.T, d time.Duration) map[string][]string {
	t.Helper()
	if err := sd.d.AdvanceWallClock(d); err != nil {
		t.Fatalf("AdvanceWallClock(%v): %v", d, err)
	}
	return sd.mailer.take(t, sd.d.WallClockTime().UnixMilli()/sd.period.Milliseconds())
}

func TestShareholdersTable(t *testing.T) {
	type event struct {
		id string
		p  *Position
	}
	steps := []struct {
		name string
		in   []event
		want map[string][]string
	}{
		{"NASDAQ positions join their client's set",
			[]event{{"p-1", pos("p-1", "c-1", "AAPL", 10, NASDAQ)}, {"p-2", pos("p-2", "c-1", "MSFT", 20, NASDAQ)}, {"p-3", pos("p-3", "c-2", "NVDA", 30, NASDAQ)}},
			map[string][]string{"c-1": {"p-1", "p-2"}, "c-2": {"p-3"}}},
		{"a LON position is no US position",
			[]event{{"p-4", pos("p-4", "c-3", "VOD", 10, LON)}},
			map[string][]string{"c-1": {"p-1", "p-2"}, "c-2": {"p-3"}}},
		{"an update on NASDAQ keeps the set",
			[]event{{"p-1", pos("p-1", "c-1", "AAPL", 99, NASDAQ)}},
			map[string][]string{"c-1": {"p-1", "p-2"}, "c-2": {"p-3"}}},
		{"moving NASDAQ -> LON removes the position",
			[]event{{"p-2", pos("p-2", "c-1", "MSFT", 20, LON)}},
			map[string][]string{"c-1": {"p-1"}, "c-2": {"p-3"}}},
		{"moving LON -> NASDAQ adds it",
			[]event{{"p-4", pos("p-4", "c-3", "VOD", 10, NASDAQ)}},
			map[string][]string{"c-1": {"p-1"}, "c-2": {"p-3"}, "c-3": {"p-4"}}},
		{"closing the last US position removes the client",
			[]event{{"p-3", nil}},
			map[string][]string{"c-1": {"p-1"}, "c-3": {"p-4"}}},
		{"moving the last US position to LON removes the client",
			[]event{{"p-1", pos("p-1", "c-1", "AAPL", 99, LON)}},
			map[string][]string{"c-3": {"p-4"}}},
		{"closing a LON position changes nothing",
			[]event{{"p-1", nil}, {"p-2", nil}},
			map[string][]string{"c-3": {"p-4"}}},
		{"a closed position that reopens on NASDAQ is back",
			[]event{{"p-3", pos("p-3", "c-2", "NVDA", 5, NASDAQ)}},
			map[string][]string{"c-2": {"p-3"}, "c-3": {"p-4"}}},
	}
	sd := newShareholdersDriver(t)
	for i, st := range steps {
		for _, e := range st.in {
			sd.pipe(t, e.id, e.p)
		}
		if !reflect.DeepEqual(sd.holders, st.want) {
			t.Fatalf("step %d, %s: store\n got %v\nwant %v", i, st.name, sd.holders, st.want)
		}
		// Each period, each US shareholder gets one email listing its
		// positions, and nobody else gets one.
		want := map[string][]string{}
		for c, ids := range st.want {
			want[c+"@"+DefaultDomain] = ids
		}
		if got := sd.advance(t, testPeriod); !reflect.DeepEqual(got, want) {
			t.Errorf("step %d, %s: emails\n got %v\nwant %v", i, st.name, got, want)
		}
	}
}

func TestEmailerSchedule(t *testing.T) {
	sd := newShareholdersDriver(t)
	tick := Emails{Period: testPeriod}.Tick()
	if got := sd.advance(t, testPeriod); len(got) != 0 {
		t.Errorf("no shareholders, but emails %v", got)
	}
	sd.pipe(t, "p-1", pos("p-1", "c-1", "AAPL", 10, NASDAQ))
	sd.pipe(t, "p-2", pos("p-2", "c-2", "MSFT", 10, NASDAQ))
	both := map[string][]string{"c-1@example.com": {"p-1"}, "c-2@example.com": {"p-2"}}
	steps := []struct {
		name    string
		advance time.Duration
		before  func()
		want    map[string][]string
	}{
		{"a new shareholder is emailed at the next tick", tick, nil, both},
		{"not twice in a period", tick, nil, map[string][]string{}},
		{"not twice when the set changes", tick, func() { sd.pipe(t, "p-3", pos("p-3", "c-1", "NVDA", 1, NASDAQ)) }, map[string][]string{}},
		{"a newcomer within the period, only it", tick, func() { sd.pipe(t, "p-4", pos("p-4", "c-4", "AMZN", 1, NASDAQ)) }, map[string][]string{"c-4@example.com": {"p-4"}}},
		{"removed and back within a period: not twice", tick, func() {
			sd.pipe(t, "p-4", nil)
			sd.pipe(t, "p-5", pos("p-5", "c-4", "AMZN", 1, NASDAQ))
		}, map[string][]string{}},
		{"next period: everyone once", testPeriod, nil, map[string][]string{
			"c-1@example.com": {"p-1", "p-3"}, "c-2@example.com": {"p-2"}, "c-4@example.com": {"p-5"}}},
		{"a period later: once again", testPeriod, nil, map[string][]string{
			"c-1@example.com": {"p-1", "p-3"}, "c-2@example.com": {"p-2"}, "c-4@example.com": {"p-5"}}},
		{"a removed client is not emailed", testPeriod, func() { sd.pipe(t, "p-5", pos("p-5", "c-4", "AMZN", 1, LON)) }, map[string][]string{
			"c-1@example.com": {"p-1", "p-3"}, "c-2@example.com": {"p-2"}}},
		{"a removed client that comes back is emailed again", tick, func() { sd.pipe(t, "p-5", pos("p-5", "c-4", "AMZN", 1, NASDAQ)) }, map[string][]string{
			"c-4@example.com": {"p-5"}}},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		if got := sd.advance(t, st.advance); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: emails\n got %v\nwant %v", st.name, got, st.want)
		}
	}
}

func TestEmailerFailures(t *testing.T) {
	sd := newShareholdersDriver(t)
	tick := Emails{Period: testPeriod}.Tick()
	for i := 1; i <= 5; i++ {
		id, c := fmt.Sprintf("p-%d", i), fmt.Sprintf("c-%d", i)
		sd.pipe(t, id, pos(id, c, "AAPL", 10, NASDAQ))
	}
	all := map[string][]string{}
	for i := 1; i <= 5; i++ {
		all[fmt.Sprintf("c-%d@example.com", i)] = []string{fmt.Sprintf("p-%d", i)}
	}
	down := errors.New("connection refused")

	// The server is down: a tick gives up after three failures in a row,
	// and the task keeps running.
	sd.mailer.fail = func(string) error { return down }
	if got := sd.advance(t, testPeriod); len(got) != 0 || sd.mailer.tries != maxFailures {
		t.Errorf("server down: %d tries, emails %v; want %d tries, none", sd.mailer.tries, got, maxFailures)
	}
	// One recipient fails: the others are emailed, it is retried.
	sd.mailer.fail = func(to string) error {
		if to == "c-3@example.com" {
			return down
		}
		return nil
	}
	got := sd.advance(t, tick)
	want := maps.Clone(all)
	delete(want, "c-3@example.com")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("c-3 failing: emails\n got %v\nwant %v", got, want)
	}
	sd.mailer.fail = nil
	if got := sd.advance(t, tick); !reflect.DeepEqual(got, map[string][]string{"c-3@example.com": {"p-3"}}) {
		t.Errorf("retry: emails %v, want c-3's only", got)
	}
	if got := sd.advance(t, tick); len(got) != 0 {
		t.Errorf("after the retry: emails %v, want none", got)
	}
	if got := sd.advance(t, testPeriod); !reflect.DeepEqual(got, all) {
		t.Errorf("next period: emails\n got %v\nwant %v", got, all)
	}
}

// TestEmailerBudget checks that a tick stops sending after its budget and
// the next ticks of the period send the rest, once each.
func TestEmailerBudget(t *testing.T) {
	const period = 100 * time.Millisecond // tick 10ms, budget 5ms
	sd := newShareholdersDriverPeriod(t, period)
	sd.mailer.delay = 3 * time.Millisecond
	want := map[string][]string{}
	for i := 1; i <= 6; i++ {
		id, c := fmt.Sprintf("p-%d", i), fmt.Sprintf("c-%d", i)
		sd.pipe(t, id, pos(id, c, "AAPL", 10, NASDAQ))
		want[c+"@example.com"] = []string{id}
	}
	tick := Emails{Period: period}.Tick()
	got := sd.advance(t, period)
	if len(got) == 0 || len(got) == len(want) {
		t.Fatalf("first tick sent %d of %d emails, want some but not all", len(got), len(want))
	}
	for i := 0; i < 8 && len(got) < len(want); i++ {
		for to, ids := range sd.advance(t, tick) {
			if _, dup := got[to]; dup {
				t.Errorf("%s emailed twice in the period", to)
			}
			got[to] = ids
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("emails of the period\n got %v\nwant %v", got, want)
	}
}

func TestTopologyNames(t *testing.T) {
	topo, err := Topology(defaultInput, Emails{Mailer: &fakeMailer{}}, nil)
	if err != nil {
		t.Fatalf("Topology: %v", err)
	}
	d, err := topo.Describe()
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	for _, n := range []string{NodeSource, NodeUS, NodeUpdates, NodeWatch, NodeEmailer, StoreUSShareHolders,
		StoreEmailed, StorePositions, GroupByClient + "-repartition"} {
		if !strings.Contains(d.String(), n) {
			t.Errorf("Describe does not name %q:\n%s", n, d)
		}
	}
}

func TestEmailsDefaults(t *testing.T) {
	tests := []struct {
		period, tick time.Duration
	}{
		{0, time.Minute},
		{DefaultPeriod, time.Minute},
		{5 * time.Second, 500 * time.Millisecond},
		{5 * time.Millisecond, time.Millisecond},
	}
	for _, tt := range tests {
		if got := (Emails{Period: tt.period}).Tick(); got != tt.tick {
			t.Errorf("Period %v: Tick() = %v, want %v", tt.period, got, tt.tick)
		}
	}
	week := Emails{}
	thursday := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // a Thursday
	if a, b := week.PeriodOf(thursday.UnixMilli()-1), week.PeriodOf(thursday.UnixMilli()); b != a+1 {
		t.Errorf("weekly periods do not start on Thursday 00:00 UTC: %d, %d", a, b)
	}
	if got := week.Address("c-1"); got != "c-1@example.com" {
		t.Errorf("Address = %q", got)
	}
}

func TestSMTPMailer(t *testing.T) {
	srv := startFakeSMTP(t)
	m := &SMTPMailer{Addr: srv.addr(), From: fromAddress, Timeout: 10 * time.Second}
	body := "Dear c-1,\n.leading dot\n-- \nPeriod: 7 (x)\nPositions: p-1 p-2\nSent-By: application=smtp-test instance=i task=1_0\n"
	if err := m.Send(t.Context(), "c-1@example.com", "Your US positions", body); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := readMaildir(t, srv.dir, "smtp-test")
	if len(got) != 1 {
		t.Fatalf("%d emails in the maildir, want 1", len(got))
	}
	e := got[0]
	if e.To != "c-1@example.com" || e.Subject != "Your US positions" || e.Period != 7 ||
		!slices.Equal(e.Positions, []string{"p-1", "p-2"}) || e.Instance != "i" || e.Task != "1_0" {
		t.Errorf("received %+v", e)
	}
	raw, _ := os.ReadFile(e.File)
	if !bytes.Contains(raw, []byte("\n.leading dot\n")) {
		t.Errorf("a line starting with a dot did not survive:\n%s", raw)
	}

	closed := &SMTPMailer{Addr: "127.0.0.1:1", From: fromAddress, Timeout: time.Second}
	if err := closed.Send(t.Context(), "c-1@example.com", "s", "b"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("no server: error %v, want one naming the address", err)
	}
}

func TestLogMailer(t *testing.T) {
	var b bytes.Buffer
	m := &LogMailer{W: &b}
	if err := m.Send(t.Context(), "c-1@example.com", "Hello", "line 1\nline 2\n"); err != nil {
		t.Fatal(err)
	}
	want := "email to c-1@example.com: Hello\n    | line 1\n    | line 2\n"
	if b.String() != want {
		t.Errorf("LogMailer wrote %q, want %q", b.String(), want)
	}
}

func TestGenerator(t *testing.T) {
	const n = 2000
	a, b := NewGenerator(7), NewGenerator(7)
	open := map[string]Position{}
	kinds := map[EventKind]int{}
	for i := range n {
		ea, eb := a.Next(), b.Next()
		if !reflect.DeepEqual(ea, eb) {
			t.Fatalf("event %d: same seed, different events: %+v and %+v", i, ea, eb)
		}
		kinds[ea.Kind]++
		checkEvent(t, i, ea, open)
	}
	for _, k := range []EventKind{Opened, Updated, Moved, Closed} {
		if kinds[k] == 0 {
			t.Errorf("%d events and none %v: %v", n, k, kinds)
		}
	}
	if reflect.DeepEqual(genEvents(7, 50), genEvents(8, 50)) {
		t.Error("seeds 7 and 8 produce the same events")
	}
}

// checkEvent checks that e is a valid transition of the book open, and
// applies it.
func checkEvent(t *testing.T, i int, e Event, open map[string]Position) {
	t.Helper()
	prev, wasOpen := open[e.ID]
	switch {
	case e.Kind == Opened && wasOpen, e.Kind != Opened && !wasOpen:
		t.Fatalf("event %d: %v position %s, open before: %v", i, e.Kind, e.ID, wasOpen)
	case e.Kind == Closed && e.Position != nil, e.Kind != Closed && e.Position == nil:
		t.Fatalf("event %d: %v with position %+v", i, e.Kind, e.Position)
	case e.Kind == Moved && (prev.Exchange == e.Position.Exchange || prev.Client != e.Position.Client):
		t.Fatalf("event %d: moved %+v to %+v", i, prev, *e.Position)
	case e.Kind == Updated && prev.Exchange != e.Position.Exchange:
		t.Fatalf("event %d: updated %+v to %+v", i, prev, *e.Position)
	}
	if e.Kind == Closed {
		delete(open, e.ID)
	} else {
		open[e.ID] = *e.Position
	}
}

func genEvents(seed uint64, n int) []Event {
	g := NewGenerator(seed)
	out := make([]Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(config) bool
	}{
		{nil, "", func(c config) bool {
			return c.Brokers == nil && c.Generate && c.Rate == 5 && c.RunFor == 0 && c.Input == "share-holders" &&
				c.Partitions == 3 && strings.HasPrefix(c.DataDir, os.TempDir()) && c.Period == 168*time.Hour &&
				c.SMTP == "" && c.HTTP == "" && c.Count == 0 && c.Instance != "" &&
				c.stateDir() == c.DataDir+string(os.PathSeparator)+"state"
		}},
		{[]string{"-brokers", "a:1,b:2", "-run-for", "20s", "-rate", "50", "-generate=false", "-seed", "9",
			"-period", "5s", "-smtp", "localhost:2525", "-http", ":8080", "-state-dir", "/tmp/x", "-count", "100"}, "", func(c config) bool {
			return slices.Equal(c.Brokers, []string{"a:1", "b:2"}) && c.RunFor == 20*time.Second && c.Rate == 50 && !c.Generate &&
				c.Seed == 9 && c.Period == 5*time.Second && c.SMTP == "localhost:2525" && c.HTTP == ":8080" &&
				c.stateDir() == "/tmp/x" && c.Count == 100
		}},
		{[]string{"-rate", "0"}, "-rate 0: must be positive", nil},
		{[]string{"-period", "0s"}, "-period 0s: need at least 1ms", nil},
		{[]string{"-count", "-1"}, "-count -1: must not be negative", nil},
		{[]string{"-input", ""}, "-input: empty topic name", nil},
		{[]string{"extra"}, "unexpected arguments", nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if !tt.check(cfg) {
				t.Errorf("parseFlags(%q) = %+v", tt.args, cfg)
			}
		})
	}
}

func TestShareholdersHandlerNotAvailable(t *testing.T) {
	topo, err := Topology(defaultInput, Emails{Mailer: &fakeMailer{}}, nil)
	if err != nil {
		t.Fatalf("Topology: %v", err)
	}
	// An app that is not running holds no partition of the store.
	app, err := kstreams.New(topo, kstreams.ApplicationID("shareholders-http-test"), kstreams.Brokers("127.0.0.1:1"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	qs, err := newQueryServer(app)
	if err != nil {
		t.Fatalf("newQueryServer: %v", err)
	}
	srv := httptest.NewServer(newMux(app, qs))
	defer srv.Close()
	tests := []struct {
		method, query string
		status        int
	}{
		{http.MethodGet, "", http.StatusServiceUnavailable},
		{http.MethodGet, "?scope=local", http.StatusServiceUnavailable},
		{http.MethodGet, "?scope=all", http.StatusServiceUnavailable},
		{http.MethodGet, "?scope=mine", http.StatusBadRequest},
		{http.MethodPost, "", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/shareholders"+tt.query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s /shareholders: %v", tt.method, err)
		}
		var body map[string]string
		decErr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s /shareholders%s: status %d, want %d", tt.method, tt.query, resp.StatusCode, tt.status)
		}
		if tt.status != http.StatusMethodNotAllowed && (decErr != nil || body["error"] == "") {
			t.Errorf("%s /shareholders%s: body %v (%v), want a JSON error", tt.method, tt.query, body, decErr)
		}
	}
}

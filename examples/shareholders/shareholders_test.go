package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokersEnv names a real broker to run the end-to-end test against;
// without it the test runs the program's embedded broker.
const brokersEnv = "KSTREAMS_TEST_BROKERS"

func pos(id, client, ticker string, amount int64, exchange string) *Position {
	return &Position{ID: id, Client: client, Ticker: ticker, Amount: amount, Exchange: exchange}
}

func TestTopology(t *testing.T) {
	type in struct {
		id string
		p  *Position
	}
	type kv = kstreams.KeyValue[string, *Position]
	tests := []struct {
		name string
		in   []in
		want []kv
	}{
		{"NASDAQ position kept and keyed by client",
			[]in{{"p-1", pos("p-1", "c-1", "AAPL", 10, NASDAQ)}},
			[]kv{{Key: "c-1", Value: pos("p-1", "c-1", "AAPL", 10, NASDAQ)}}},
		{"LON position dropped",
			[]in{{"p-1", pos("p-1", "c-1", "VOD", 10, LON)}},
			nil},
		{"tombstone dropped",
			[]in{{"p-1", pos("p-1", "c-1", "AAPL", 10, NASDAQ)}, {"p-1", nil}},
			[]kv{{Key: "c-1", Value: pos("p-1", "c-1", "AAPL", 10, NASDAQ)}}},
		{"moved NASDAQ to LON: only the NASDAQ state passes",
			[]in{{"p-1", pos("p-1", "c-1", "AAPL", 10, NASDAQ)}, {"p-1", pos("p-1", "c-1", "AAPL", 10, LON)}},
			[]kv{{Key: "c-1", Value: pos("p-1", "c-1", "AAPL", 10, NASDAQ)}}},
		{"moved LON to NASDAQ: the NASDAQ state passes",
			[]in{{"p-1", pos("p-1", "c-1", "AZN", 10, LON)}, {"p-1", pos("p-1", "c-1", "AZN", 20, NASDAQ)}},
			[]kv{{Key: "c-1", Value: pos("p-1", "c-1", "AZN", 20, NASDAQ)}}},
		{"positions of several clients keep their order",
			[]in{
				{"p-1", pos("p-1", "c-1", "AAPL", 10, NASDAQ)},
				{"p-2", pos("p-2", "c-2", "MSFT", 20, NASDAQ)},
				{"p-3", pos("p-3", "c-1", "BP", 30, LON)},
				{"p-1", pos("p-1", "c-1", "AAPL", 40, NASDAQ)},
			},
			[]kv{
				{Key: "c-1", Value: pos("p-1", "c-1", "AAPL", 10, NASDAQ)},
				{Key: "c-2", Value: pos("p-2", "c-2", "MSFT", 20, NASDAQ)},
				{Key: "c-1", Value: pos("p-1", "c-1", "AAPL", 40, NASDAQ)},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var watched []string
			topo, err := Topology("in", "out", func(id string, _ *Position) { watched = append(watched, id) })
			if err != nil {
				t.Fatalf("Topology: %v", err)
			}
			d, err := kstreamstest.New(topo)
			if err != nil {
				t.Fatalf("kstreamstest.New: %v", err)
			}
			defer d.Close()
			input := kstreamstest.NewInputTopic(d, "in", serde.String(), PositionSerde())
			output := kstreamstest.NewOutputTopic(d, "out", serde.String(), PositionSerde())
			var ids []string
			for i, r := range tt.in {
				ids = append(ids, r.id)
				if err := input.PipeAt(r.id, r.p, int64(1000+i)); err != nil {
					t.Fatalf("piping %s: %v", r.id, err)
				}
			}
			got, err := output.ReadKeyValues()
			if err != nil {
				t.Fatalf("ReadKeyValues: %v", err)
			}
			if len(got)+len(tt.want) > 0 && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("output:\n got %s\nwant %s", renderKVs(got), renderKVs(tt.want))
			}
			if !slices.Equal(watched, ids) {
				t.Errorf("watch saw %q, want every input %q", watched, ids)
			}
		})
	}
}

func renderKVs(kvs []kstreams.KeyValue[string, *Position]) string {
	var s []string
	for _, kv := range kvs {
		s = append(s, fmt.Sprintf("%s=%+v", kv.Key, kv.Value))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestTopologyNodeNames(t *testing.T) {
	topo, err := Topology(defaultInput, defaultOutput, nil)
	if err != nil {
		t.Fatalf("Topology: %v", err)
	}
	d, err := topo.Describe()
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	for _, n := range []string{NodeSource, NodeWatch, NodeOpen, NodeUS, NodeByClient, NodeSink} {
		if !strings.Contains(d.String(), n) {
			t.Errorf("Describe does not name node %q:\n%s", n, d)
		}
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
				c.Output == "us-share-holders-by-client" && c.Partitions == 3 && strings.HasPrefix(c.DataDir, os.TempDir())
		}},
		{[]string{"-brokers", "a:1,b:2", "-run-for", "20s", "-rate", "50", "-generate=false", "-seed", "9"}, "", func(c config) bool {
			return slices.Equal(c.Brokers, []string{"a:1", "b:2"}) && c.RunFor == 20*time.Second && c.Rate == 50 && !c.Generate && c.Seed == 9
		}},
		{[]string{"-rate", "0"}, "-rate 0: must be positive", nil},
		{[]string{"-input", "x", "-output", "x"}, "need two different topics", nil},
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

// TestEndToEnd runs the program (run, as main does) on the broker named by
// KSTREAMS_TEST_BROKERS or else on its embedded broker, then checks that
// the output topic holds exactly the NASDAQ states the generator published,
// keyed by client, in order per position, and none of the others.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	cfg := testConfig(t)
	if err := run(t.Context(), cfg); err != nil {
		t.Fatalf("run: %v", err)
	}
	brokers := cfg.Brokers
	if len(brokers) == 0 {
		brokers = restartEmbedded(t, cfg.DataDir)
	}
	adm := newAdmin(t, brokers)
	sent := sumOffsets(t, adm, cfg.Input)
	events := genEvents(cfg.Seed, int(sent))
	checkMix(t, events)
	want := expectedOutput(events)
	got := consumeAll(t, brokers, cfg.Output, sumOffsets(t, adm, cfg.Output))
	t.Logf("generator sent %d records, %d of them NASDAQ states of %d positions; the output has %d records",
		sent, countStates(want), len(want), len(got))
	checkOutput(t, got, want)
	checkCommitted(t, adm, cfg)
}

// testConfig returns a quiet, short run with unique topic names and app id.
func testConfig(t *testing.T) config {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	cfg := config{
		DataDir: t.TempDir(), AppID: "shareholders-test-" + suffix,
		Input: "share-holders-test-" + suffix, Output: "us-share-holders-by-client-test-" + suffix,
		Partitions: 3, Generate: true, Rate: 100, Seed: 42, RunFor: 4 * time.Second,
		CommitInterval: 200 * time.Millisecond, ReportEvery: time.Second, Quiet: true,
		Out: &testLog{t: t},
	}
	if env := os.Getenv(brokersEnv); env != "" {
		cfg.Brokers = strings.Split(env, ",")
		t.Cleanup(func() { deleteTopicsAndGroup(cfg) })
	}
	t.Logf("brokers %q (empty: embedded), topics %s -> %s", cfg.Brokers, cfg.Input, cfg.Output)
	return cfg
}

func deleteTopicsAndGroup(cfg config) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	_, _ = adm.DeleteTopics(ctx, cfg.Input, cfg.Output)
	_, _ = adm.DeleteGroup(ctx, cfg.AppID)
}

// restartEmbedded starts an embedded broker on the data the run left in
// dataDir, as a restarted quickstart would, and returns its address.
func restartEmbedded(t *testing.T, dataDir string) []string {
	t.Helper()
	b, err := embedded.Start(embedded.Options{DataDir: brokerDir(dataDir)})
	if err != nil {
		t.Fatalf("restarting the embedded broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}

func newAdmin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// sumOffsets returns the number of records in topic (the sum of its end
// offsets; neither topic is compacted this soon after the run).
func sumOffsets(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %q: %v", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// checkMix fails the test if the events lack the cases it is about.
func checkMix(t *testing.T, events []Event) {
	t.Helper()
	var toLON, toNASDAQ, closed, lon int
	for _, e := range events {
		switch {
		case e.Kind == Moved && e.Position.Exchange == LON:
			toLON++
		case e.Kind == Moved:
			toNASDAQ++
		case e.Kind == Closed:
			closed++
		}
		if e.Position != nil && e.Position.Exchange == LON {
			lon++
		}
	}
	if toLON == 0 || toNASDAQ == 0 || closed == 0 || lon == 0 {
		t.Fatalf("%d events: %d moves to LON, %d to NASDAQ, %d closes, %d LON states: need some of each", len(events), toLON, toNASDAQ, closed, lon)
	}
}

// expectedOutput returns the output records events must produce, per
// position in order.
func expectedOutput(events []Event) map[string][]Position {
	want := map[string][]Position{}
	for _, e := range events {
		if IsUS(e.Position) {
			want[e.ID] = append(want[e.ID], *e.Position)
		}
	}
	return want
}

func countStates(m map[string][]Position) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

// consumeAll reads the n records of topic from the start.
func consumeAll(t *testing.T, brokers []string, topic string, n int64) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatalf("consumer of %q: %v", topic, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for int64(len(got)) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("topic %q: read %d of %d records: %v", topic, len(got), n, ctx.Err())
		}
		if err := f.Err0(); err != nil {
			t.Fatalf("consuming %q: %v", topic, err)
		}
		got = append(got, f.Records()...)
	}
	return got
}

// checkOutput compares the output records with want: each is a NASDAQ
// position keyed by its client, each position's states appear in the order
// published, and each client's records are in one partition.
func checkOutput(t *testing.T, recs []*kgo.Record, want map[string][]Position) {
	t.Helper()
	got := map[string][]Position{}
	partitionOf := map[string]int32{}
	for _, r := range recs {
		var p Position
		if err := decode(r, &p); err != nil {
			t.Fatalf("output record %s: %v", r.Key, err)
		}
		if string(r.Key) != p.Client || p.Exchange != NASDAQ {
			t.Errorf("output record key %q, value %+v: want a NASDAQ position keyed by its client", r.Key, p)
		}
		if prev, ok := partitionOf[p.Client]; ok && prev != r.Partition {
			t.Errorf("client %s in partitions %d and %d: the output is not partitioned by client", p.Client, prev, r.Partition)
		}
		partitionOf[p.Client] = r.Partition
		got[p.ID] = append(got[p.ID], p)
	}
	for _, id := range sortedKeys(want, got) {
		if !slices.Equal(got[id], want[id]) {
			t.Errorf("position %s:\n got %+v\nwant %+v", id, got[id], want[id])
		}
	}
}

func decode(r *kgo.Record, p *Position) error {
	v, err := PositionSerde().Deserialize(r.Topic, r.Value)
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("a tombstone in the output")
	}
	*p = *v
	return nil
}

func sortedKeys(ms ...map[string][]Position) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// checkCommitted checks that the run committed the end of the input before
// it stopped (the drain), and that the commit survived.
func checkCommitted(t *testing.T, adm *kadm.Client, cfg config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, cfg.Input)
	if err != nil {
		t.Fatalf("end offsets of %q: %v", cfg.Input, err)
	}
	committed, err := adm.FetchOffsets(ctx, cfg.AppID)
	if err != nil {
		t.Fatalf("offsets of group %q: %v", cfg.AppID, err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := committed.Lookup(o.Topic, o.Partition)
		if o.Offset > 0 && c.At != o.Offset {
			t.Errorf("partition %d of %q: committed %d, end %d", o.Partition, o.Topic, c.At, o.Offset)
		}
	})
}

// testLog sends the program's lines to t.Log.
type testLog struct {
	t  *testing.T
	mu sync.Mutex
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

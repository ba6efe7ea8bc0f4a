package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The stores of windowQueryTopology, and its windows.
const (
	winQueryStore     = "win-query-counts"
	sessionQueryStore = "session-query-counts"
	winQuerySize      = 10 * time.Second
	sessionQueryGap   = 5 * time.Second
)

// windowQueryTopology counts the records of in by key in tumbling windows
// of ten seconds and in sessions of a five-second gap (grace an hour: no
// record is late), in the stores winQueryStore and sessionQueryStore.
func windowQueryTopology(t testing.TB, in string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	g := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String())).GroupByKey()
	kstreams.WindowedBy(g, kstreams.TimeWindowsOfSizeAndGrace(winQuerySize, time.Hour)).Count(kstreams.WindowedMaterialized[string, int64]{
		Materialized: kstreams.Materialized[string, int64]{Name: winQueryStore},
	})
	kstreams.WindowedBySession(g, kstreams.SessionWindowsOfInactivityGapAndGrace(sessionQueryGap, time.Hour)).Count(kstreams.WindowedMaterialized[string, int64]{
		Materialized: kstreams.Materialized[string, int64]{Name: sessionQueryStore},
	})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// runWindowQueryInstance runs an instance of windowQueryTopology serving
// both stores at addr.
func runWindowQueryInstance(t *testing.T, topo *kstreams.Topology, addr string, opts ...kstreams.Option) (*running, *query.Window[string, int64]) {
	t.Helper()
	r := runApp(t, topo, append([]kstreams.Option{kstreams.ApplicationServer(addr)}, opts...)...)
	q, err := query.New(r.app)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := query.WindowStore[string, int64](q, winQueryStore, serde.String())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := query.SessionStore[string, int64](q, sessionQueryStore, serde.String())
	if err != nil {
		t.Fatal(err)
	}
	srv := query.NewServer(q)
	query.ServeWindow(srv, ws, nil)
	query.ServeSession(srv, ss, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.ListenAndServe(ctx); err != nil {
			t.Errorf("query server %s: %v", addr, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return r, ws
}

// windowOracle is what the stores must hold: per key, its windows and its
// sessions, by ascending start.
type windowOracle struct {
	windows  map[string][]query.WindowValue[int64]
	sessions map[string][]query.SessionValue[int64]
}

// keyedWindows produces, for n keys, records spread over two minutes from
// base (key i gets i%5+2 records, 4 to 13 seconds apart, so that windows
// and sessions both vary), each to the partition of its key, and returns
// the oracle.
func keyedWindows(t testing.TB, topic string, partitions int32, n int, base int64) windowOracle {
	t.Helper()
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	o := windowOracle{windows: map[string][]query.WindowValue[int64]{}, sessions: map[string][]query.SessionValue[int64]{}}
	size, gap := winQuerySize.Milliseconds(), sessionQueryGap.Milliseconds()
	var recs []*kgo.Record
	for i := range n {
		k := fmt.Sprintf("key-%04d", i)
		ts := base + int64(i%7)*1000
		counts := map[int64]int64{}
		var sessions []query.SessionValue[int64]
		for j := range i%5 + 2 {
			r := rec(topic, 0, []byte(k), []byte("v"), ts)
			r.Partition = int32(part.Partition(r, int(partitions)))
			recs = append(recs, r)
			counts[ts/size*size]++
			if last := len(sessions) - 1; last >= 0 && ts-sessions[last].End <= gap {
				sessions[last].End, sessions[last].Value = ts, sessions[last].Value+1
			} else {
				sessions = append(sessions, query.SessionValue[int64]{Start: ts, End: ts, Value: 1})
			}
			ts += int64(4000 + (i+j)%10*1000)
		}
		for start, c := range counts {
			o.windows[k] = append(o.windows[k], query.WindowValue[int64]{Start: start, End: start + size, Value: c})
		}
		slices.SortFunc(o.windows[k], func(a, b query.WindowValue[int64]) int { return int(a.Start - b.Start) })
		o.sessions[k] = sessions
	}
	produce(t, recs...)
	return o
}

// getJSON decodes the answer of GET u into v and returns its status.
func getJSON(c *http.Client, u string, v any) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}

// checkWindowKeys asks addr for every key's windows (all of them, and
// descending in the window of the key's second record) and sessions, and
// returns how many keys answered other than o, and one example.
func checkWindowKeys(c *http.Client, addr string, o windowOracle) (int, string) {
	bad, example := 0, ""
	for k, want := range o.windows {
		base := "http://" + addr + "/v1/stores/"
		var ws struct {
			Windows []query.WindowValue[int64] `json:"windows"`
		}
		status, err := getJSON(c, base+winQueryStore+"/windows/"+url.PathEscape(k), &ws)
		if err != nil || status != http.StatusOK || !slices.Equal(ws.Windows, want) {
			bad++
			example = fmt.Sprintf("%s windows via %s: %v (status %d, %v), want %v", k, addr, ws.Windows, status, err, want)
			continue
		}
		var ss struct {
			Sessions []query.SessionValue[int64] `json:"sessions"`
		}
		status, err = getJSON(c, base+sessionQueryStore+"/sessions/"+url.PathEscape(k), &ss)
		if err != nil || status != http.StatusOK || !slices.Equal(ss.Sessions, o.sessions[k]) {
			bad++
			example = fmt.Sprintf("%s sessions via %s: %v (status %d, %v), want %v", k, addr, ss.Sessions, status, err, o.sessions[k])
			continue
		}
		if len(want) < 2 {
			continue
		}
		last := want[len(want)-1]
		var desc struct {
			Windows []query.WindowValue[int64] `json:"windows"`
		}
		u := fmt.Sprintf("%s%s/windows/%s?from=%d&to=%d&order=desc", base, winQueryStore, url.PathEscape(k), want[0].Start+1, last.Start)
		wantDesc := slices.Clone(want[1:])
		slices.Reverse(wantDesc)
		status, err = getJSON(c, u, &desc)
		if err != nil || status != http.StatusOK || !slices.Equal(desc.Windows, wantDesc) {
			bad++
			example = fmt.Sprintf("%s: %v (status %d, %v), want %v", u, desc.Windows, status, err, wantDesc)
		}
	}
	return bad, example
}

// TestQueryWindowsThroughEveryInstance runs three instances of a windowed
// and a session count over twelve partitions: every key's windows (all,
// and a time range backward) and sessions, asked through every instance,
// answer what the oracle computed; a paged fetch of every key's windows in
// a time range through one instance sees each window once, in key and
// start order; and each instance's standby replicas answer the keys they
// hold within a lag of zero.
func TestQueryWindowsThroughEveryInstance(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 12, in)
	topo := windowQueryTopology(t, in)
	var (
		addrs []string
		wss   []*query.Window[string, int64]
	)
	for range 3 {
		addr := freeAddr(t)
		_, ws := runWindowQueryInstance(t, topo, addr, kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()), kstreams.StandbyReplicas(1))
		addrs, wss = append(addrs, addr), append(wss, ws)
	}
	base := time.Now().Add(-5*time.Minute).UnixMilli() / 10000 * 10000
	o := keyedWindows(t, in, 12, 300, base)
	c := &http.Client{Timeout: 10 * time.Second}
	// The third instance may join after the others have settled: a
	// cooperative rebalance (and a warm-up's probing rebalance) then moves
	// tasks while the keys are asked, so wait for the group to settle with
	// every instance hosting, then for each instance to answer every key.
	waitHosts(t, c, addrs, winQueryStore, 12)
	for _, addr := range addrs {
		poll(t, 90*time.Second, "every key's windows and sessions through "+addr, func() (bool, string) {
			bad, ex := checkWindowKeys(c, addr, o)
			return bad == 0, fmt.Sprintf("%d keys wrong, e.g. %s", bad, ex)
		})
	}
	checkPagedWindows(t, c, addrs[1], o, base+20000, base+60000)
	checkStandbyWindows(t, wss, addrs, o)
}

// checkPagedWindows reads every window starting from from to to through
// addr in pages of 37, and checks it against o.
func checkPagedWindows(t *testing.T, c *http.Client, addr string, o windowOracle, from, to int64) {
	t.Helper()
	type win struct {
		Key   string `json:"key"`
		Start int64  `json:"start"`
		End   int64  `json:"end"`
		Value int64  `json:"value"`
	}
	var want []win
	for k, ws := range o.windows {
		for _, w := range ws {
			if w.Start >= from && w.Start <= to {
				want = append(want, win{k, w.Start, w.End, w.Value})
			}
		}
	}
	sort.Slice(want, func(i, j int) bool {
		return want[i].Key < want[j].Key || want[i].Key == want[j].Key && want[i].Start < want[j].Start
	})
	var got []win
	after, pages := "", 0
	for {
		u := fmt.Sprintf("http://%s/v1/stores/%s/windows?from=%d&to=%d&limit=37", addr, winQueryStore, from, to)
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		var page struct {
			Entries []win  `json:"entries"`
			Next    string `json:"next"`
		}
		if status, err := getJSON(c, u, &page); err != nil || status != http.StatusOK {
			t.Fatalf("window page %d: status %d, %v", pages, status, err)
		}
		pages++
		got = append(got, page.Entries...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged windows from %d to %d: %d windows in %d pages, want %d (first got %v, want %v)", from, to, len(got), pages, len(want), got[:min(3, len(got))], want[:min(3, len(want))])
	}
	if len(want) < 100 {
		t.Errorf("only %d windows in the range: the paging is barely exercised", len(want))
	}
}

// checkStandbyWindows reads, through each instance's typed handle, the
// windows of every key it holds a standby replica of, with a lag of zero
// once the standbys have caught up.
func checkStandbyWindows(t *testing.T, wss []*query.Window[string, int64], addrs []string, o windowOracle) {
	t.Helper()
	poll(t, 30*time.Second, "the standby replicas to answer their keys' windows", func() (bool, string) {
		read, bad, why := 0, 0, ""
		for i, ws := range wss {
			for k, want := range o.windows {
				md, err := ws.Metadata(k)
				if err != nil {
					return false, err.Error()
				}
				if !slices.Contains(md.Standbys, addrs[i]) {
					continue
				}
				read++
				got, err := ws.FetchStandby(k, 0, time.Now().UnixMilli(), 0)
				if err != nil || !slices.Equal(got, want) {
					bad++
					why = fmt.Sprintf("%s on %s: %v %v, want %v", k, addrs[i], got, err, want)
				}
			}
		}
		return read > 0 && bad == 0, fmt.Sprintf("%d of %d standby reads wrong, e.g. %s", bad, read, why)
	})
}

// waitHosts waits until every instance answers that all of addrs host
// store, with each of its partitions active on exactly one of them.
func waitHosts(t *testing.T, c *http.Client, addrs []string, store string, partitions int) {
	t.Helper()
	want := slices.Sorted(slices.Values(addrs))
	poll(t, 90*time.Second, "every instance to host "+store, func() (bool, string) {
		for _, addr := range addrs {
			var hosts []query.Host
			status, err := getJSON(c, "http://"+addr+"/v1/stores/"+store+"/hosts", &hosts)
			if err != nil || status != http.StatusOK {
				return false, fmt.Sprintf("hosts via %s: status %d, %v", addr, status, err)
			}
			active := map[int32]int{}
			var eps []string
			for _, h := range hosts {
				eps = append(eps, h.Endpoint)
				for _, p := range h.Active {
					active[p]++
				}
			}
			slices.Sort(eps)
			if !slices.Equal(eps, want) || len(active) != partitions {
				return false, fmt.Sprintf("hosts via %s: %v with %d active partitions, want %v with %d", addr, eps, len(active), want, partitions)
			}
			for p, n := range active {
				if n != 1 {
					return false, fmt.Sprintf("hosts via %s: partition %d active on %d instances", addr, p, n)
				}
			}
		}
		return true, ""
	})
}

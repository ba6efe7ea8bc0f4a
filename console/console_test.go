package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestHandlerServesEmbeddedAssets(t *testing.T) {
	app := newApp(t, []string{"127.0.0.1:1"}, "assets", t.TempDir())
	for _, tc := range []struct{ path, want string }{
		{"/console/", "<svg id=\"graph\""},
		{"/console/console.js", "drawTopology"},
		{"/console/console.css", "#graph"},
		{"/kstreams/query/v1/stores", `"code":"no_query_server"`},
	} {
		rec := httpGet(t, app.OpsHandler(), tc.path)
		if !strings.Contains(rec, tc.want) {
			t.Errorf("GET %s: missing %q", tc.path, tc.want)
		}
	}
}

type recorder struct {
	header http.Header
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(int)             {}

func httpGet(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	return rec.body.String()
}

// topology counts input values per value (a repartition, a store "counts",
// and per hour in the window store "windowed-counts");
// the value "poison" makes the grouping panic.
func topology(t *testing.T, in string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	g := kstreams.GroupBy(s, func(_, v string) string {
		if v == "poison" {
			panic("poison record")
		}
		return v
	},
		kstreams.Grouped[string, string]{Name: kstreams.Named("by-value")})
	g.Count(kstreams.Materialized[string, int64]{Name: "counts"})
	kstreams.WindowedBy(g, kstreams.TimeWindowsOfSizeWithNoGrace(time.Hour)).
		Count(kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: "windowed-counts"}})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func newApp(t *testing.T, brokers []string, in, stateDir string, opts ...kstreams.Option) *kstreams.App {
	t.Helper()
	app, err := kstreams.New(topology(t, in), append([]kstreams.Option{kstreams.ApplicationID("console-" + in), kstreams.Brokers(brokers...),
		kstreams.CommitInterval(200 * time.Millisecond), kstreams.StateDir(stateDir), kstreams.OpsServer("127.0.0.1:0"),
		kstreams.OnProcessingError(kstreams.DeadLetter(in + "-dlq")),
		kstreams.ClientOptions(kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// chromium finds Debian's chromium; outside CI a missing browser skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium in PATH (scripts/test.sh installs it)")
	}
	t.Skip("no chromium in PATH: install it (apt-get install chromium) to run the browser test")
	return ""
}

// TestConsoleInBrowser runs two instances on the real broker and drives
// the first one's console in headless chromium: the graph shows every
// processor, lag changes as records flow, a store lookup returns the
// value, a window store lookup of a key the second instance owns shows its
// window (routed through the query servers) and a fetch of every key's
// windows lists both instances' keys, the latency charts draw, poison records show among the
// dead-lettered records; the second instance, started once the first has
// counted the input, shows its stores' restorations. It saves screenshots
// (paths in the log).
func TestConsoleInBrowser(t *testing.T) {
	env := os.Getenv("KSTREAMS_TEST_BROKERS")
	if env == "" {
		t.Skip("KSTREAMS_TEST_BROKERS is not set: the console is tested on a real broker")
	}
	browser := chromium(t)
	brokers := strings.Split(env, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	in := fmt.Sprintf("console-in-%d", time.Now().UnixNano())
	if _, err := adm.CreateTopics(t.Context(), 2, 1, nil, in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), in, in+"-dlq") })
	produce := func(from, n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: in, Partition: int32(i % 2), Key: []byte(strconv.Itoa(i)), Value: []byte(fmt.Sprintf("v%d", i%7))})
		}
		if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 70)

	var apps []*kstreams.App
	var windows []*query.Window[string, int64]
	var endpoints []string
	for i := range 2 {
		endpoints = append(endpoints, freeAddr(t))
		app := newApp(t, brokers, in, t.TempDir(), kstreams.ApplicationServer(endpoints[i]))
		ws := serveQueries(t, app)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		})
		apps, windows = append(apps, app), append(windows, ws)
		if i == 0 {
			// The second instance starts once the first has counted
			// the input: the tasks it takes over restore their
			// stores from the changelog.
			waitFor(t, "instance 0 counting the input", func() bool {
				m := app.Metrics()
				return m.Processed >= 140 && m.Commits >= 1
			})
		}
	}
	waitFor(t, "both instances running", func() bool {
		return apps[0].State() == kstreams.Running && apps[1].State() == kstreams.Running && apps[0].OpsAddr() != ""
	})
	// Find a key instance 0 holds, with its count.
	var key string
	var want int64
	waitFor(t, "instance 0 holding a count", func() bool {
		s, err := kstreams.LocalStore[string, int64](apps[0], "counts")
		if err != nil {
			return false
		}
		it, err := s.All()
		if err != nil {
			return false
		}
		defer it.Close()
		if it.Next() && it.Value() == 10 {
			key, want = it.Key(), it.Value()
			return true
		}
		return false
	})

	ctx, cancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1400, 1000))...)
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	url := "http://" + apps[0].OpsAddr() + "/console/"
	if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading the console: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitVisible(`#graph g.node`)); err != nil {
		t.Fatalf("waiting for the graph: %v", err)
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#graph g.node')].map(g => g.dataset.name)`))
	if err != nil {
		t.Fatal(err)
	}
	// Instances: two instances (one thread each), every task active once.
	waitFor(t, "the instances table listing both instances", func() bool {
		tasks, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#instances tbody tr')].map(r => r.cells[2].textContent)`))
		if err != nil || len(tasks) != 2 {
			return false
		}
		all := strings.Fields(strings.Join(tasks, " "))
		slices.Sort(all)
		return slices.Equal(all, []string{"0_0", "0_1", "1_0", "1_1"})
	})
	desc, _ := topology(t, in).Describe()
	for _, st := range desc.Subtopologies {
		for _, n := range st.Nodes {
			if !contains(names, n.Name) {
				t.Errorf("graph misses node %s (has %v)", n.Name, names)
			}
		}
	}

	// Store lookup through the form.
	for _, act := range []chromedp.Action[chromedp.Void]{
		chromedp.SetValue(`#store-name`, "counts"),
		chromedp.SendKeys(`#store-key`, key),
		chromedp.Click(`#store-go`),
		chromedp.WaitVisible(`#store-result tbody tr`),
	} {
		if _, err := chromedp.Run(ctx, act); err != nil {
			t.Fatalf("store lookup: %v", err)
		}
	}
	result, err := chromedp.Run(ctx, chromedp.Text(`#store-result tbody`))
	if err != nil {
		t.Fatal(err)
	}
	// A scan of the whole store: 7 keys across the two instances, so this
	// one holds at most 7, less than a page of 20: no next page.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('store-key').value = ''`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Click(`#store-go`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a scan listing several keys", func() bool {
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#store-result tbody tr').length`))
		next, err2 := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('store-next').disabled`))
		return err == nil && err2 == nil && rows >= 1 && rows <= 7 && next
	})
	wantKey, _ := json.Marshal(key)
	if !strings.Contains(result, string(wantKey)) || !strings.Contains(result, strconv.FormatInt(want, 10)) {
		t.Errorf("store lookup of %s: %q, want its count (at least %d)", key, result, want)
	}

	// A window store lookup, on instance 0's console, of a key instance 1
	// owns: routed through the query servers, it shows the key's window.
	var other string
	waitFor(t, "a key of instance 1 with its windows", func() bool {
		for i := range 7 {
			k := fmt.Sprintf("v%d", i)
			md, err := windows[0].Metadata(k)
			if err == nil && md.Active == endpoints[1] {
				w, err := windows[1].Fetch(k, 0, time.Now().Add(time.Hour).UnixMilli())
				if err == nil && len(w) > 0 && w[0].Value == 10 {
					other = k
					return true
				}
			}
		}
		return false
	})
	waitFor(t, "the console knowing the served stores", func() bool {
		label, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.getElementById('store-name').options].map(o => o.textContent).join(',')`))
		return err == nil && strings.Contains(label, "windowed-counts (window)")
	})
	for _, act := range []chromedp.Action[chromedp.Void]{
		chromedp.SetValue(`#store-name`, "windowed-counts"),
		chromedp.SetValue(`#store-key`, other),
		chromedp.Click(`#store-go`),
	} {
		if _, err := chromedp.Run(ctx, act); err != nil {
			t.Fatalf("window store lookup: %v", err)
		}
	}
	waitFor(t, "the other instance's windows shown", func() bool {
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#store-result tbody tr')].map(r => [...r.cells].map(c => c.textContent).join(' | '))`))
		return err == nil && len(rows) == 1 && strings.HasPrefix(rows[0], strconv.Quote(other)+" | ") && strings.Contains(rows[0], " .. ") && strings.HasSuffix(rows[0], " | 10")
	})
	// Every key's windows in one page (7 keys, one window each, gathered
	// from both instances).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('store-key').value = ''`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Click(`#store-go`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every key's windows listed", func() bool {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#store-result tbody tr').length`))
		return err == nil && n == 7
	})
	screenshot(t, ctx, "kstreams-console-window-store.png")

	// Lag: the end offsets shown grow as records are produced.
	endSum := func() int64 {
		ends, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#lag tbody tr')].filter(r => r.cells[1].textContent === `+strconv.Quote(in)+`).map(r => r.cells[4].textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		var s int64
		for _, e := range ends {
			n, _ := strconv.ParseInt(e, 10, 64)
			s += n
		}
		return s
	}
	waitFor(t, "the lag table showing the 70 records", func() bool { return endSum() == 70 })
	produce(70, 700)
	waitFor(t, "the lag table showing the new records", func() bool { return endSum() == 770 })

	// Latency charts: a point per refresh, the process latency above 0.
	waitFor(t, "the latency charts drawn", func() bool {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById('latency-process-line').getAttribute('points').split(' ').filter(p => p).length`))
		now, err2 := chromedp.Run(ctx, chromedp.Text(`#latency-commit-now`))
		return err == nil && err2 == nil && n >= 3 && strings.HasPrefix(now, "now ")
	})
	// A poison record on each partition: each instance dead-letters one.
	poison := []*kgo.Record{{Topic: in, Partition: 0, Value: []byte("poison")}, {Topic: in, Partition: 1, Value: []byte("poison")}}
	if err := cl.ProduceSync(t.Context(), poison...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dead-lettered record listed", func() bool {
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#deadletters tbody tr')].map(r => r.cells[1].textContent + ' ' + r.cells[2].textContent + ' ' + r.cells[4].textContent)`))
		return err == nil && len(rows) == 1 && strings.HasPrefix(rows[0], in+"-dlq-0@") && strings.Contains(rows[0], in+"-") && strings.Contains(rows[0], "poison record")
	})
	time.Sleep(2 * time.Second) // a few throughput samples for the chart
	screenshot(t, ctx, "kstreams-console.png")

	// The second instance's console: its restorations, done.
	if _, err := chromedp.Run(ctx, chromedp.Navigate("http://"+apps[1].OpsAddr()+"/console/")); err != nil {
		t.Fatalf("loading the second console: %v", err)
	}
	waitFor(t, "the second instance's restorations listed", func() bool {
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#restorations tbody tr')].map(r => r.cells[1].textContent + ' ' + r.cells[4].textContent + ' ' + r.cells[3].firstChild.value)`))
		if err != nil || len(rows) == 0 {
			return false
		}
		for _, r := range rows {
			if (!strings.HasPrefix(r, "counts ") && !strings.HasPrefix(r, "windowed-counts ")) || !strings.Contains(r, "(done)") {
				return false
			}
		}
		return true
	})
	screenshot(t, ctx, "kstreams-console-restoration.png")
}

// freeAddr returns a free local address for a query server.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveQueries serves app's stores "counts" and "windowed-counts" on its
// ApplicationServer address until the test ends; the console routes its
// store browser through this server.
func serveQueries(t *testing.T, app *kstreams.App) *query.Window[string, int64] {
	t.Helper()
	q, err := query.New(app)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := query.KeyValueStore[string, int64](q, "counts", serde.String())
	if err != nil {
		t.Fatal(err)
	}
	ws, err := query.WindowStore[string, int64](q, "windowed-counts", serde.String())
	if err != nil {
		t.Fatal(err)
	}
	srv := query.NewServer(q)
	query.Serve(srv, kv, nil)
	query.ServeWindow(srv, ws, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("query server: %v", err)
		}
	})
	return ws
}

// screenshot saves a PNG of the page under KSTREAMS_ARTIFACTS (or the
// temporary directory).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("KSTREAMS_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

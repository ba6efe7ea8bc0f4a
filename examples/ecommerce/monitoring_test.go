package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kstreams-go/kstreams"
)

// TestMonitoring runs the pipeline in-process over a known generated
// stream (on KSTREAMS_TEST_BROKERS or an embedded broker, syncing to the
// PostgreSQL of KSTREAMS_TEST_POSTGRES when set) and checks step 7, the
// monitoring:
//   - GET /metrics serves the pipeline's metrics with the values the
//     workload gives: raw orders, invalid orders by reason and the error
//     ratio, dedup hits, routed products, timeouts; with PostgreSQL, the
//     rows written, the batch write latency and the end-to-end latency
//     histograms (counts and plausible means) and the sink's lag once the
//     table equals the oracle;
//     the kstreams consumer lag beside them;
//   - GET /kstreams/appmetrics, which the web console's "Application
//     metrics" panel reads, serves the same values;
//   - with chromium in PATH, the console page at /console/ shows them in
//     that panel.
func TestMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	brokers := testBrokers(t)
	dsn := testDSN(t)
	suffix := randomSuffix(t)
	cc := childConfig{
		Brokers: brokers, Partitions: 2, Prefix: "ecom-mon-" + suffix + "-", AppID: "ecommerce-mon-" + suffix,
		Keys: testKeys, DSN: dsn, Table: "profiles_mon_" + suffix,
		DedupWindow: time.Minute, Timeout: 2 * time.Second, Grace: 500 * time.Millisecond,
		CommitInterval: 100 * time.Millisecond, DBBatch: 50,
	}
	out := &lockedBuffer{}
	cfg := cc.config(out)
	cfg.StateDir = t.TempDir()
	cfg.Generate = true
	cfg.Gen = GenConfig{Orders: 400, Users: 20, Rate: 1000, Seed: 3, StartMs: time.Now().Add(-time.Second).UnixMilli(),
		Timeout: cc.Timeout, Grace: cc.Grace, Partitions: cc.Partitions}
	cfg.SummaryEvery = 200 * time.Millisecond
	gen := Generate(cfg.Gen)
	want := gen.Expect()
	dedupHits := 0
	for _, o := range gen.Orders {
		if o.Valid && o.Duplicated {
			dedupHits++
		}
	}
	invalid := len(dupCounted(gen))
	orders := countOf(gen.Records, topicOrders)

	adm := newAdmin(t, brokers)
	t.Cleanup(func() { cleanUp(adm, cc) })
	topics := Topics{Prefix: cc.Prefix}
	var cats []string
	for _, c := range categories { // created before the run, as in TestEndToEnd
		cats = append(cats, topics.name(productsPrefix+c))
	}
	if err := createTopics(context.Background(), adm, cc.Partitions, cats...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := run(ctx, cfg)
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if t.Failed() {
			t.Logf("run output:\n%s", out)
		}
	}()

	var base string
	poll(t, 30*time.Second, "the ops server's address", func() (bool, string) {
		m := regexp.MustCompile(`metrics: http://([^ ]+)/metrics`).FindStringSubmatch(out.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil, "not printed yet"
	})
	var m promSamples
	poll(t, 60*time.Second, "the workload through the pipeline", func() (bool, string) {
		m = scrape(t, base+"/metrics")
		ok := m.sum("ecommerce_orders_total") >= float64(orders) && m.sum("ecommerce_timeouts_total") >= float64(len(want.Unpaid)) &&
			m.sum("ecommerce_products_routed_total") >= float64(productLines(gen))
		rows := "-"
		if ok && dsn != "" {
			got, err := ReadProfiles(context.Background(), dsn, cc.Table)
			ok = err == nil && sameProfiles(got, want.Profiles)
			rows = fmt.Sprintf("%d/%d (%v)", len(got), len(want.Profiles), err)
		}
		return ok, fmt.Sprintf("orders %v/%d, timeouts %v/%d, routed %v/%d, table rows %s", m.sum("ecommerce_orders_total"), orders,
			m.sum("ecommerce_timeouts_total"), len(want.Unpaid), m.sum("ecommerce_products_routed_total"), productLines(gen), rows)
	})
	time.Sleep(500 * time.Millisecond) // anything extra shows
	m = scrape(t, base+"/metrics")
	// The counters count records processed; a transaction aborted under
	// exactly-once would process some twice. None should abort here: if
	// one did, the counters may only be larger.
	exact := m.sum("kafka_streams_stream_thread_metrics_transaction_abort_total") == 0
	if !exact {
		t.Logf("a transaction aborted: the counters are checked as lower bounds")
	}
	wantCounts := map[string]float64{
		"ecommerce_orders_total":          float64(orders),
		"ecommerce_order_errors_total":    float64(invalid),
		"ecommerce_dedup_hits_total":      float64(dedupHits),
		"ecommerce_products_routed_total": float64(productLines(gen)),
		"ecommerce_timeouts_total":        float64(len(want.Unpaid)),
	}
	for name, w := range wantCounts {
		if got := m.sum(name); got != w && (exact || got < w) {
			t.Errorf("GET /metrics: %s = %v, want %v", name, got, w)
		}
	}
	if got, w := m.sum("ecommerce_order_error_ratio"), m.sum("ecommerce_order_errors_total")/m.sum("ecommerce_orders_total"); got != w || got == 0 {
		t.Errorf("GET /metrics: ecommerce_order_error_ratio = %v, want %v (errors over orders), not 0", got, w)
	}
	if len(m.series("ecommerce_order_errors_total")) < 2 {
		t.Errorf("GET /metrics: ecommerce_order_errors_total has %d reasons, want several: %v", len(m.series("ecommerce_order_errors_total")), m.series("ecommerce_order_errors_total"))
	}
	if _, ok := m["kafka_streams_consumer_records_lag_max"]; !ok && len(m.series("kafka_streams_consumer_records_lag_max")) == 0 {
		t.Errorf("GET /metrics lacks the consumer lag, kafka_streams_consumer_records_lag_max")
	}
	if dsn != "" {
		for _, h := range []struct {
			name     string
			min, max float64 // bounds of the mean, in seconds
		}{
			{"ecommerce_db_write_seconds", 0, 10},
			// Event time is at most a few seconds before the run: no
			// mean beyond a minute, none at or below 0.
			{"ecommerce_end_to_end_latency_seconds", 0, 60},
		} {
			n, sum := m.sum(h.name+"_count"), m.sum(h.name+"_sum")
			if n == 0 || sum/n <= h.min || sum/n > h.max {
				t.Errorf("GET /metrics: %s: %v observations, mean %vs; want some, mean in (%v, %v]", h.name, n, sum/n, h.min, h.max)
			}
		}
		// Under exactly-once each partition of user-profiles ends with a
		// commit marker, which the sink's lag counts.
		if got := m.sum("ecommerce_db_sink_lag"); got > float64(cc.Partitions) {
			t.Errorf("GET /metrics: ecommerce_db_sink_lag = %v with every row written, want at most the %d commit markers", got, cc.Partitions)
		}
		if got := m.sum("ecommerce_db_rows_total"); got < float64(len(want.Profiles)) {
			t.Errorf("GET /metrics: ecommerce_db_rows_total = %v, want at least the %d users", got, len(want.Profiles))
		}
	}
	t.Logf("metrics: %d orders, %v invalid (ratio %.3f), %v dedup hits, %v routed, %v timeouts, %v rows in %v batches (mean write %.1f ms), e2e latency mean %.0f ms",
		orders, m.sum("ecommerce_order_errors_total"), m.sum("ecommerce_order_error_ratio"), m.sum("ecommerce_dedup_hits_total"),
		m.sum("ecommerce_products_routed_total"), m.sum("ecommerce_timeouts_total"), m.sum("ecommerce_db_rows_total"),
		m.sum("ecommerce_db_write_seconds_count"), 1000*m.sum("ecommerce_db_write_seconds_sum")/m.sum("ecommerce_db_write_seconds_count"),
		1000*m.sum("ecommerce_end_to_end_latency_seconds_sum")/m.sum("ecommerce_end_to_end_latency_seconds_count"))

	// The console's data: GET /kstreams/appmetrics, the same values.
	var ams []kstreams.AppMetric
	if err := json.Unmarshal([]byte(get(t, base+"/kstreams/appmetrics")), &ams); err != nil {
		t.Fatal(err)
	}
	byName := map[string]kstreams.AppMetric{}
	for _, am := range ams {
		byName[am.Name] = am
	}
	for name := range wantCounts {
		am, ok := byName[name]
		var got float64
		for _, s := range am.Samples {
			got += s.Value
		}
		if !ok || got != m.sum(name) {
			t.Errorf("GET /kstreams/appmetrics: %s = %v (listed: %v), want %v as GET /metrics", name, got, ok, m.sum(name))
		}
	}
	for _, name := range []string{"ecommerce_db_write_seconds", "ecommerce_end_to_end_latency_seconds", "ecommerce_order_error_ratio", "ecommerce_db_sink_lag"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("GET /kstreams/appmetrics lacks %s", name)
		}
	}
	if _, ok := byName["kafka_streams_consumer_records_lag_max"]; ok {
		t.Errorf("GET /kstreams/appmetrics lists a kstreams metric")
	}

	// The console page, in a browser when there is one.
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium in PATH (CI installs it)")
		}
		t.Log("no chromium in PATH: the console page is not checked in a browser")
		return
	}
	bctx, bcancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun)...)
	defer bcancel()
	bctx, bcancel = chromedp.NewContext(bctx)
	defer bcancel()
	bctx, bcancel = context.WithTimeout(bctx, 60*time.Second)
	defer bcancel()
	if _, err := chromedp.Run(bctx, chromedp.Navigate(base+"/console/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.WaitVisible(`#appmetrics tbody tr[data-name="ecommerce_orders_total"]`)); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](
		`Object.fromEntries([...document.querySelectorAll('#appmetrics tbody tr')].map(r => [r.dataset.name + (r.cells[1].textContent ? '{' + r.cells[1].textContent + '}' : ''), r.cells[2].textContent]))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ecommerce_orders_total", "ecommerce_dedup_hits_total", "ecommerce_timeouts_total"} {
		// The panel refreshes every second: at least what /metrics said
		// (equal unless a late abort reprocessed records).
		if v, err := strconv.ParseFloat(rows[name], 64); err != nil || v < m.sum(name) || v == 0 {
			t.Errorf("console panel: %s shows %q, want %v", name, rows[name], m.sum(name))
		}
	}
	if dsn != "" && !strings.HasPrefix(rows["ecommerce_end_to_end_latency_seconds"], "count ") {
		t.Errorf("console panel: ecommerce_end_to_end_latency_seconds shows %q, want its count and mean", rows["ecommerce_end_to_end_latency_seconds"])
	}
	t.Logf("console panel: %d rows, e.g. orders %s, e2e latency %s, db write %s", len(rows), rows["ecommerce_orders_total"],
		rows["ecommerce_end_to_end_latency_seconds"], rows["ecommerce_db_write_seconds"])
}

// promSamples are the samples of a Prometheus text exposition, by series
// (name{labels}).
type promSamples map[string]float64

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)`)

func scrape(t *testing.T, url string) promSamples {
	t.Helper()
	m := promSamples{}
	for _, line := range strings.Split(get(t, url), "\n") {
		s := sampleLine.FindStringSubmatch(line)
		if s == nil {
			continue
		}
		v, err := strconv.ParseFloat(s[3], 64)
		if err != nil {
			t.Fatalf("GET %s: %q: %v", url, line, err)
		}
		m[s[1]+s[2]] = v
	}
	return m
}

// series lists the series of a metric.
func (m promSamples) series(name string) []string {
	var out []string
	for k := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			out = append(out, k)
		}
	}
	return out
}

// sum is the sum of a metric's series.
func (m promSamples) sum(name string) float64 {
	var s float64
	for _, k := range m.series(name) {
		s += m[k]
	}
	return s
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

package kstreams_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

func appMetricsApp(t *testing.T) *kstreams.App {
	t.Helper()
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := kstreams.New(topo, kstreams.ApplicationID("m"), kstreams.Brokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// TestAppMetrics: GET /kstreams/appmetrics serves the collectors the
// application registered (counters, labelled counters, gauges,
// histograms), and none of the kstreams metrics; with none registered it
// serves an empty list. The console serves the panel that reads it.
func TestAppMetrics(t *testing.T) {
	get := func(app *kstreams.App, path string) string {
		rec := httptest.NewRecorder()
		app.OpsHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	empty := appMetricsApp(t)
	if body := strings.TrimSpace(get(empty, "/kstreams/appmetrics")); body != "[]" {
		t.Errorf("no application metrics: got %s, want []", body)
	}

	app := appMetricsApp(t)
	orders := prometheus.NewCounter(prometheus.CounterOpts{Name: "shop_orders_total", Help: "Orders."})
	orders.Add(3)
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shop_errors_total", Help: "Errors."}, []string{"reason"})
	errs.WithLabelValues("phone").Add(2)
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shop_sink_lag", Help: "Lag."}, func() float64 { return 7 })
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shop_write_seconds", Help: "Writes."})
	lat.Observe(0.5)
	lat.Observe(1.5)
	if err := app.RegisterMetrics(orders, errs, lag, lat); err != nil {
		t.Fatal(err)
	}
	var got []kstreams.AppMetric
	if err := json.Unmarshal([]byte(get(app, "/kstreams/appmetrics")), &got); err != nil {
		t.Fatal(err)
	}
	want := []kstreams.AppMetric{
		{Name: "shop_errors_total", Help: "Errors.", Type: "counter", Samples: []kstreams.AppSample{{Labels: map[string]string{"reason": "phone"}, Value: 2}}},
		{Name: "shop_orders_total", Help: "Orders.", Type: "counter", Samples: []kstreams.AppSample{{Value: 3}}},
		{Name: "shop_sink_lag", Help: "Lag.", Type: "gauge", Samples: []kstreams.AppSample{{Value: 7}}},
		{Name: "shop_write_seconds", Help: "Writes.", Type: "histogram", Samples: []kstreams.AppSample{{Count: 2, Sum: 2, Mean: 1}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET /kstreams/appmetrics:\n got %+v\nwant %+v", got, want)
	}
	for _, tc := range []struct{ path, want string }{
		{"/console/", `<script src="appmetrics.js">`},
		{"/console/appmetrics.js", "/kstreams/appmetrics"},
	} {
		if body := get(app, tc.path); !strings.Contains(body, tc.want) {
			t.Errorf("GET %s lacks %q", tc.path, tc.want)
		}
	}
}

// ExampleApp_AppMetrics lists the metrics an application registered, as
// the console's "Application metrics" panel shows them.
func ExampleApp_AppMetrics() {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.String())).To("orders-seen")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	app, err := kstreams.New(topo, kstreams.ApplicationID("shop"), kstreams.Brokers("127.0.0.1:9092"))
	if err != nil {
		fmt.Println(err)
		return
	}
	orders := prometheus.NewCounter(prometheus.CounterOpts{Name: "shop_orders_total", Help: "Orders seen."})
	orders.Add(5)
	if err := app.RegisterMetrics(orders); err != nil {
		fmt.Println(err)
		return
	}
	ms, err := app.AppMetrics()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range ms {
		fmt.Println(m.Name, m.Type, m.Samples[0].Value)
	}
	// Output: shop_orders_total counter 5
}

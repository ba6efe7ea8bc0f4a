package kstreams_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// TestRegisterMetrics: an application's own collector is served by GET
// /metrics beside the kstreams metrics; registering its name twice fails.
func TestRegisterMetrics(t *testing.T) {
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
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "shop_orders_total", Help: "Orders."})
	c.Add(3)
	if err := app.RegisterMetrics(c); err != nil {
		t.Fatal(err)
	}
	again := prometheus.NewCounter(prometheus.CounterOpts{Name: "shop_orders_total", Help: "Orders."})
	if err := app.RegisterMetrics(again); err == nil || !strings.HasPrefix(err.Error(), "kstreams: RegisterMetrics:") {
		t.Errorf("registering shop_orders_total twice: %v, want a kstreams: RegisterMetrics error", err)
	}
	rec := httptest.NewRecorder()
	app.OpsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{"shop_orders_total 3", "kafka_streams_stream_metrics_state"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, body)
		}
	}
}

// ExampleApp_RegisterMetrics serves an application's own counter on the
// App's GET /metrics, beside the kstreams metrics.
func ExampleApp_RegisterMetrics() {
	b := kstreams.NewBuilder()
	orders := prometheus.NewCounter(prometheus.CounterOpts{Name: "shop_orders_total", Help: "Orders seen."})
	kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(serde.String(), serde.String())).
		Peek(func(string, string) { orders.Inc() }).
		To("orders-seen")
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
	if err := app.RegisterMetrics(orders); err != nil {
		fmt.Println(err)
		return
	}
	// app.Run(ctx) with kstreams.OpsServer(addr) serves them; so does
	// app.OpsHandler():
	rec := httptest.NewRecorder()
	app.OpsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "shop_orders_total") {
			fmt.Println(line)
		}
	}
	// Output: shop_orders_total 0
}

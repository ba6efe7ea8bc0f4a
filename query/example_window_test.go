package query_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
)

// ExampleWindowStore serves the windowed counts of clicks per user over
// HTTP. Before the instance's first assignment, reads are unavailable:
// retriable, 503 over HTTP.
func ExampleWindowStore() {
	b := kstreams.NewBuilder()
	clicks := kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.String(), serde.String()))
	perMinute := kstreams.WindowedBy(clicks.GroupByKey(), kstreams.TimeWindowsOfSizeWithNoGrace(time.Minute))
	perMinute.Count(kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: "clicks-per-minute"}})
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	app, err := kstreams.New(topo, kstreams.ApplicationID("clicks"), kstreams.Brokers("127.0.0.1:9092"),
		kstreams.ApplicationServer("127.0.0.1:7070"), kstreams.StateDir(dir))
	if err != nil {
		fmt.Println(err)
		return
	}
	q, _ := query.New(app)
	windows, err := query.WindowStore[string, int64](q, "clicks-per-minute", serde.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := query.NewServer(q)
	query.ServeWindow(srv, windows, nil)
	// go srv.ListenAndServe(ctx) serves it on 127.0.0.1:7070; app.Run(ctx)
	// runs the app.

	_, err = windows.Fetch("alice", 0, time.Now().UnixMilli())
	fmt.Println("retriable:", errors.Is(err, query.ErrUnavailable))

	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/v1/stores/clicks-per-minute/windows/alice?from=2026-11-30T10:00:00Z&order=desc", nil))
	fmt.Println(w.Code)
	// Output:
	// retriable: true
	// 503
}

package kstreams

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/kstreams-go/kstreams/serde"
)

func TestServeStoreRejectsBadRequests(t *testing.T) {
	b := NewBuilder()
	s := StreamFrom(b, "in", ConsumedWith(serde.String(), serde.String()))
	s.GroupByKey().Count(Materialized[string, int64]{Name: "counts"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(topo, ApplicationID("browse"), Brokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  int
	}{
		{"store=nope&key=a", http.StatusNotFound},
		{"store=counts&key=a", http.StatusNotFound}, // not running: no partition here
		{"store=counts&limit=0", http.StatusBadRequest},
		{"store=counts&limit=x", http.StatusBadRequest},
		{"store=counts&skip=-1", http.StatusBadRequest},
		{"store=counts&from=a", http.StatusBadRequest},
	}
	rec := httptest.NewRecorder()
	app.OpsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/kstreams/health", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "CREATED\n" {
		t.Errorf("health before Run: %d %q", rec.Code, rec.Body.String())
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		app.OpsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/kstreams/store?"+tt.query, nil))
		if rec.Code != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.query, rec.Code, tt.want, rec.Body.String())
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"", "a", "12", `"x"`, "[1,2]", "{}", "-9223372036854775809"} {
		f.Add(s)
	}
	types := []reflect.Type{reflect.TypeFor[string](), reflect.TypeFor[int64](), reflect.TypeFor[[]byte](), reflect.TypeFor[struct{ A int }]()}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			v, err := parseKey(typ, s)
			if err == nil && v.Type() != typ {
				t.Fatalf("parseKey(%s, %q) gave a %s", typ, s, v.Type())
			}
		}
	})
}

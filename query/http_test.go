package query

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// newTestServer returns a server over an instance that never runs: every
// query that gets past decoding is unavailable.
func newTestServer(t testing.TB, opts ...ServerOption) *Server {
	return newTestServerWith(t, nil, opts...)
}

// newTestServerWith is newTestServer with options of the app.
func newTestServerWith(t testing.TB, appOpts []kstreams.Option, opts ...ServerOption) *Server {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.Int64(), serde.String()))
	s.GroupByKey().Count(kstreams.Materialized[int64, int64]{Name: "counts", Value: serde.Int64()})
	kstreams.WindowedBy(s.GroupByKey(), kstreams.TimeWindowsOfSizeWithNoGrace(time.Minute)).Count(kstreams.WindowedMaterialized[int64, int64]{
		Materialized: kstreams.Materialized[int64, int64]{Name: "window-counts", Value: serde.Int64()},
	})
	kstreams.WindowedBySession(s.GroupByKey(), kstreams.SessionWindowsOfInactivityGapWithNoGrace(time.Minute)).Count(kstreams.WindowedMaterialized[int64, int64]{
		Materialized: kstreams.Materialized[int64, int64]{Name: "session-counts", Value: serde.Int64()},
	})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := kstreams.New(topo, append([]kstreams.Option{kstreams.ApplicationID("query-test"), kstreams.Brokers("127.0.0.1:1"), kstreams.StateDir(t.TempDir())}, appOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	q, err := New(app)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := KeyValueStore[int64, int64](q, "counts", serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	ws, err := WindowStore[int64, int64](q, "window-counts", serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := SessionStore[int64, int64](q, "session-counts", serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(q, opts...)
	Serve(srv, kv, nil)
	ServeWindow(srv, ws, nil)
	ServeSession(srv, ss, nil)
	return srv
}

func do(t testing.TB, srv *Server, target string, header ...string) (int, errorBody) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	var body errorBody
	if w.Code != http.StatusOK && w.Code/100 != 3 {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: status %d, body %q is not JSON: %v", target, w.Code, w.Body.String(), err)
		}
	}
	return w.Code, body
}

type errorBody struct {
	Error APIError `json:"error"`
}

func TestServerErrors(t *testing.T) {
	srv := newTestServer(t)
	tests := []struct {
		target string
		status int
		code   Code
	}{
		{"/v1/stores/counts/keys/abc", 400, CodeBadKey},
		{"/v1/stores/counts/keys/12", 503, CodeUnavailable},
		{"/v1/stores/nope/keys/12", 404, CodeUnknownStore},
		{"/v1/stores/counts/metadata/12", 503, CodeUnavailable},
		{"/v1/stores/counts/metadata/x", 400, CodeBadKey},
		{"/v1/stores/counts/range?limit=0", 400, CodeBadParameter},
		{"/v1/stores/counts/range?limit=x", 400, CodeBadParameter},
		{"/v1/stores/counts/range?after=%2F%2F", 400, CodeBadParameter},
		{"/v1/stores/counts/range?prefix=1&from=2", 400, CodeBadParameter},
		{"/v1/stores/counts/range?from=1", 400, CodeBadKey},
		{"/v1/stores/counts/range?from=a&to=2", 400, CodeBadKey},
		{"/v1/stores/counts/range?from=1&to=2", 503, CodeUnavailable},
		{"/v1/stores/counts/range", 503, CodeUnavailable},
		{"/v1/stores/counts/hosts", 503, CodeUnavailable},
		{"/v1/stores/window-counts/windows/12", 503, CodeUnavailable},
		{"/v1/stores/window-counts/windows/12?from=0&to=2026-11-30T10:00:00Z&order=desc&standby_lag=0", 503, CodeUnavailable},
		{"/v1/stores/window-counts/windows/x", 400, CodeBadKey},
		{"/v1/stores/window-counts/windows/12?from=2&to=1", 400, CodeBadParameter},
		{"/v1/stores/window-counts/windows/12?from=-1", 400, CodeBadParameter},
		{"/v1/stores/window-counts/windows/12?to=yesterday", 400, CodeBadParameter},
		{"/v1/stores/window-counts/windows/12?order=up", 400, CodeBadParameter},
		{"/v1/stores/window-counts/windows/12?limit=3", 400, CodeBadParameter},
		{"/v1/stores/window-counts/windows", 503, CodeUnavailable},
		{"/v1/stores/window-counts/windows?from=10&to=20&limit=5&order=desc", 503, CodeUnavailable},
		{"/v1/stores/window-counts/windows?limit=0", 400, CodeBadParameter},
		{"/v1/stores/window-counts/windows?after=AAAA", 400, CodeBadParameter},
		{"/v1/stores/window-counts/metadata/12", 503, CodeUnavailable},
		{"/v1/stores/window-counts/keys/12", 400, CodeWrongKind},
		{"/v1/stores/counts/windows/12", 400, CodeWrongKind},
		{"/v1/stores/counts/sessions/12", 400, CodeWrongKind},
		{"/v1/stores/nope/windows", 404, CodeUnknownStore},
		{"/v1/stores/session-counts/sessions/12", 503, CodeUnavailable},
		{"/v1/stores/session-counts/sessions/12?order=desc&standby_lag=5", 503, CodeUnavailable},
		{"/v1/stores/session-counts/sessions/y", 400, CodeBadKey},
		{"/v1/stores/session-counts/sessions/12?order=x", 400, CodeBadParameter},
		{"/v1/stores/session-counts/windows/12", 400, CodeWrongKind},
		{"/ready", 503, ""},
		{"/health", 200, ""},
	}
	for _, tt := range tests {
		status, body := do(t, srv, tt.target)
		if status != tt.status || body.Error.Code != tt.code {
			t.Errorf("%s: %d %q, want %d %q (%+v)", tt.target, status, body.Error.Code, tt.status, tt.code, body)
		}
		if tt.code == CodeUnavailable && !body.Error.Retriable {
			t.Errorf("%s: unavailable not marked retriable", tt.target)
		}
	}
}

// TestServerGet: the typed Server.Get fails with catalog errors.
func TestServerGet(t *testing.T) {
	srv := newTestServer(t)
	for _, tt := range []struct {
		store, key string
		code       Code
		retriable  bool
	}{
		{"counts", "abc", CodeBadKey, false},
		{"counts", "12", CodeUnavailable, true},
		{"nope", "12", CodeUnknownStore, false},
		{"window-counts", "12", CodeUnknownStore, false},
	} {
		_, err := srv.Get(t.Context(), tt.store, tt.key)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Code != tt.code || apiErr.Retriable != tt.retriable {
			t.Errorf("Get(%q, %q): %v, want code %s (retriable %v)", tt.store, tt.key, err, tt.code, tt.retriable)
		}
	}
}

func TestServerBearerToken(t *testing.T) {
	srv := newTestServer(t, BearerToken("s3cret"))
	for _, tt := range []struct {
		header []string
		status int
	}{
		{nil, 401},
		{[]string{"Authorization", "Bearer wrong"}, 401},
		{[]string{"Authorization", "Bearer s3cret"}, 503},
	} {
		if status, _ := do(t, srv, "/v1/stores/counts/keys/1", tt.header...); status != tt.status {
			t.Errorf("%v: %d, want %d", tt.header, status, tt.status)
		}
	}
	if status, _ := do(t, srv, "/health"); status != 200 {
		t.Errorf("/health with a token set: %d, want 200 without one", status)
	}
}

func TestParseKey(t *testing.T) {
	type point struct{ X, Y int }
	check := func(name string, got, want any, err error, wantErr bool) {
		t.Helper()
		if (err != nil) != wantErr || (!wantErr && got != want) {
			t.Errorf("%s: %v, %v; want %v (error %v)", name, got, err, want, wantErr)
		}
	}
	s, err := ParseKey[string]("a b/c")
	check("string", s, "a b/c", err, false)
	i, err := ParseKey[int64]("-42")
	check("int64", i, int64(-42), err, false)
	_, err = ParseKey[int64]("4x")
	check("bad int64", 0, 0, err, true)
	u, err := ParseKey[uint8]("300")
	check("uint8 overflow", u, uint8(0), err, true)
	f, err := ParseKey[float64]("1.5")
	check("float64", f, 1.5, err, false)
	bo, err := ParseKey[bool]("true")
	check("bool", bo, true, err, false)
	p, err := ParseKey[point](`{"X":1,"Y":2}`)
	check("json", p, point{1, 2}, err, false)
	_, err = ParseKey[point](`{`)
	check("bad json", 0, 0, err, true)
	bs, err := ParseKey[[]byte]("raw")
	check("bytes", string(bs), "raw", err, false)
}

// FuzzHTTPInput sends arbitrary keys and range parameters: the server never
// panics, and every answer but 200 is a JSON error from the catalog.
func FuzzHTTPInput(f *testing.F) {
	srv := newTestServer(f)
	f.Add("12", "from=1&to=2&limit=10")
	f.Add("x", "prefix=1&after=AAAAAAAAAAE")
	f.Add("-9223372036854775809", "limit=99999999999999999999")
	f.Add("%zz", "after=%")
	f.Add("7", "from=2026-11-30T10:00:00Z&to=99&order=desc&limit=3")
	f.Fuzz(func(t *testing.T, key, rawQuery string) {
		for _, target := range []string{
			"/v1/stores/counts/keys/" + url.PathEscape(key),
			"/v1/stores/counts/metadata/" + url.PathEscape(key),
			"/v1/stores/counts/range?" + url.PathEscape(rawQuery),
			"/v1/stores/counts/range?prefix=" + url.QueryEscape(key),
			"/v1/stores/window-counts/windows/" + url.PathEscape(key) + "?" + url.PathEscape(rawQuery),
			"/v1/stores/window-counts/windows?" + url.PathEscape(rawQuery),
			"/v1/stores/window-counts/windows?after=" + url.QueryEscape(key),
			"/v1/stores/session-counts/sessions/" + url.PathEscape(key) + "?" + url.PathEscape(rawQuery),
		} {
			if _, err := url.ParseRequestURI(target); err != nil {
				continue
			}
			status, body := do(t, srv, target)
			if status == http.StatusOK || status == http.StatusTemporaryRedirect || status == http.StatusMovedPermanently {
				// ServeMux redirects paths it cleans ("." and ".." keys).
				continue
			}
			if _, ok := codeStatus[body.Error.Code]; !ok || codeStatus[body.Error.Code] != status {
				t.Errorf("%s: status %d with code %q", target, status, body.Error.Code)
			}
		}
	})
}

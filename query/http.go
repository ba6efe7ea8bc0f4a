package query

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kstreams-go/kstreams/internal/link"
)

// Code is a stable error code of the HTTP API.
type Code string

// The catalog of error codes, with their HTTP statuses.
const (
	CodeNotFound      Code = "not_found"      // 404: no such endpoint
	CodeUnknownStore  Code = "unknown_store"  // 404: no such store served
	CodeWrongKind     Code = "wrong_kind"     // 400: the endpoint does not read stores of this kind
	CodeBadKey        Code = "bad_key"        // 400: the key does not parse
	CodeBadParameter  Code = "bad_parameter"  // 400: a query parameter does not parse
	CodeKeyNotFound   Code = "key_not_found"  // 404: the store has no such key
	CodeUnavailable   Code = "unavailable"    // 503, retriable: rebalancing or restoring
	CodeUnauthorized  Code = "unauthorized"   // 401: missing or wrong bearer token
	CodeForwardFailed Code = "forward_failed" // 502, retriable: the owner did not answer
	CodeInternal      Code = "internal"       // 500
)

var codeStatus = map[Code]int{
	CodeNotFound: http.StatusNotFound, CodeUnknownStore: http.StatusNotFound, CodeBadKey: http.StatusBadRequest, CodeWrongKind: http.StatusBadRequest, CodeBadParameter: http.StatusBadRequest,
	CodeKeyNotFound: http.StatusNotFound, CodeUnavailable: http.StatusServiceUnavailable,
	CodeUnauthorized: http.StatusUnauthorized, CodeForwardFailed: http.StatusBadGateway, CodeInternal: http.StatusInternalServerError,
}

// APIError is the body of every error answer.
type APIError struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Retriable bool   `json:"retriable"`
}

func (e *APIError) Error() string { return fmt.Sprintf("kstreams: query: %s: %s", e.Code, e.Message) }

// forwardedHeader marks a request one instance sent another: it is
// answered locally, never forwarded again.
const forwardedHeader = "X-Kstreams-Forwarded"

// Server serves the stores registered with [Serve] over HTTP:
//
//	GET /health                              200 while the instance runs
//	GET /ready                               200 when every active task is restored, else 503
//	GET /v1/stores/{store}/keys/{key}?standby_lag=N
//	                                         {"key":..,"value":..}; with standby_lag, a standby
//	                                         replica at most N records behind answers when the
//	                                         owner cannot
//	GET /v1/stores/{store}/range?from=&to=&prefix=&limit=&after=
//	                                         {"entries":[{"key":..,"value":..}],"next":".."}
//	GET /v1/stores/{store}/metadata/{key}    where the key lives
//	GET /v1/stores                           the stores served, [StoreInfo] by name
//	GET /v1/stores/{store}/hosts             the instances hosting the store ([Querier.StoreHosts])
//	GET /v1/stores/{store}/windows/{key}?from=&to=&order=&standby_lag=
//	                                         {"key":..,"windows":[{"start":..,"end":..,"value":..}]}:
//	                                         the key's windows starting from from to to
//	GET /v1/stores/{store}/windows?from=&to=&order=&limit=&after=
//	                                         {"entries":[{"key":..,"start":..,"end":..,"value":..}],"next":".."}:
//	                                         every key's windows starting from from to to, by key
//	                                         then start (reversed with order=desc), paged
//	GET /v1/stores/{store}/sessions/{key}?order=&standby_lag=
//	                                         {"key":..,"sessions":[{"start":..,"end":..,"value":..}]}
//
// Keys are path or query strings, parsed into the store's key type
// (strings as they are, integers in decimal, other types as JSON) and
// serialized with its key serde; a key that does not parse answers 400
// bad_key. Times (from, to) are milliseconds since the epoch or RFC 3339
// times; without them, every window in retention. order is asc (the
// default) or desc. Any instance answers any key: it forwards to the
// owner. Ranges gather every instance's entries, merged in serialized key
// order; next is the cursor for the following page. Window stores are
// registered with [ServeWindow], session stores with [ServeSession].
type Server struct {
	q      *Querier
	token  string
	client *http.Client
	// clientSet is whether client was given with HTTPClient.
	clientSet bool
	// tlsServer and tlsClient are the TLS configs of serving and of
	// forwarding; nil for plain HTTP.
	tlsServer, tlsClient *tls.Config
	// storesMu guards stores: a store may be registered while the
	// server (or the operations server's console) answers.
	storesMu sync.RWMutex
	stores   map[string]served
	mux      *http.ServeMux
}

// store returns the served store name, or nil.
func (s *Server) store(name string) served {
	s.storesMu.RLock()
	defer s.storesMu.RUnlock()
	return s.stores[name]
}

// addStore serves h as name.
func (s *Server) addStore(name string, h served) {
	s.storesMu.Lock()
	defer s.storesMu.Unlock()
	s.stores[name] = h
}

// ServerOption configures a [Server].
type ServerOption interface{ apply(*Server) }

type serverOpt func(*Server)

func (f serverOpt) apply(s *Server) { f(s) }

// BearerToken makes the server require "Authorization: Bearer <token>" on
// every request but /health and /ready, and send it when it forwards.
// Default: no authentication.
func BearerToken(token string) ServerOption { return serverOpt(func(s *Server) { s.token = token }) }

// HTTPClient sets the client used to forward requests to other instances.
// Default: a client with a 10s timeout.
func HTTPClient(c *http.Client) ServerOption {
	return serverOpt(func(s *Server) {
		if c != nil {
			s.client, s.clientSet = c, true
		}
	})
}

// TLS makes the server serve HTTPS with server (which holds its
// certificate), and forward to the other instances over HTTPS, verifying
// them with client (its RootCAs: nil trusts the system's roots; its
// Certificates, if any, are presented for mutual TLS). Every instance of
// the application must then serve HTTPS. A client given with [HTTPClient]
// is used as it is. [LoadTLS] makes both configs from PEM files. Default:
// plain HTTP.
func TLS(server, client *tls.Config) ServerOption {
	return serverOpt(func(s *Server) {
		if server != nil {
			s.tlsServer = server.Clone()
			s.tlsClient = &tls.Config{MinVersion: tls.VersionTLS12}
			if client != nil {
				s.tlsClient = client.Clone()
			}
		}
	})
}

// NewServer returns a server over q's instance; register stores with
// [Serve]. The console of the App's operations server ([kstreams.OpsServer])
// browses the stores through it (the last server made for the App).
func NewServer(q *Querier, opts ...ServerOption) *Server {
	s := &Server{q: q, stores: map[string]served{}, mux: http.NewServeMux()}
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	if !s.clientSet {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.TLSClientConfig = s.tlsClient
		s.client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	s.mux.HandleFunc("GET /v1/stores", s.auth(s.listStores))
	s.mux.HandleFunc("GET /v1/stores/{store}/hosts", s.auth(s.getHosts))
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.HandleFunc("GET /ready", s.ready)
	s.mux.HandleFunc("GET /v1/stores/{store}/keys/{key...}", s.auth(s.getKey))
	s.mux.HandleFunc("GET /v1/stores/{store}/range", s.auth(s.getRange))
	s.mux.HandleFunc("GET /v1/stores/{store}/metadata/{key...}", s.auth(s.getMetadata))
	s.mux.HandleFunc("GET /v1/stores/{store}/windows/{key...}", s.auth(s.getWindows))
	s.mux.HandleFunc("GET /v1/stores/{store}/windows", s.auth(s.getWindowRange))
	s.mux.HandleFunc("GET /v1/stores/{store}/sessions/{key...}", s.auth(s.getSessions))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &APIError{Code: CodeNotFound, Message: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)})
	})
	link.SetQueryHandler(q.app, s.consoleHandler())
	return s
}

// Serve registers the key-value store kv on s. parse turns a key string
// into a key; nil parses strings as they are, integers in decimal and
// other types as JSON.
func Serve[K, V any](s *Server, kv *KeyValue[K, V], parse func(string) (K, error)) {
	if parse == nil {
		parse = ParseKey[K]
	}
	s.addStore(kv.name, &kvHandler[K, V]{kv: kv, keys: keyParser[K]{parse: parse, ser: kv.keys.Serialize, topic: kv.topic}})
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// ListenAndServe serves on the instance's endpoint
// ([kstreams.ApplicationServer]) until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ep := s.q.Endpoint()
	if ep == "" {
		return errors.New("kstreams: query server: the app has no ApplicationServer endpoint")
	}
	ln, err := net.Listen("tcp", ep)
	if err != nil {
		return fmt.Errorf("kstreams: query server: %w", err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.tlsServer}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	serve := srv.Serve
	if s.tlsServer != nil {
		serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
	}
	if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Scheme returns the scheme the server is reached by: https with [TLS],
// else http.
func (s *Server) Scheme() string {
	if s.tlsServer != nil {
		return "https"
	}
	return "http"
}

func (s *Server) getHosts(w http.ResponseWriter, r *http.Request) {
	h, ok := storeOf[served](w, r, s)
	if !ok {
		return
	}
	s.answer(w, func() (any, error) { return s.q.StoreHosts(h.name()) })
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"state": s.q.State().String()})
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	status := http.StatusOK
	if !s.q.Ready() {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "state": s.q.State().String()})
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.token != "" {
			got := r.Header.Get("Authorization")
			if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+s.token)) != 1 {
				writeError(w, &APIError{Code: CodeUnauthorized, Message: "missing or wrong bearer token"})
				return
			}
		}
		h(w, r)
	}
}

// storeOf returns the served store of the request's path as H, or
// writes why it cannot.
func storeOf[H served](w http.ResponseWriter, r *http.Request, s *Server) (H, bool) {
	var zero H
	name := r.PathValue("store")
	st := s.store(name)
	if st == nil {
		writeError(w, &APIError{Code: CodeUnknownStore, Message: fmt.Sprintf("store %q is not served", name)})
		return zero, false
	}
	h, ok := st.(H)
	if !ok {
		writeError(w, &APIError{Code: CodeWrongKind, Message: fmt.Sprintf("store %q is a %s store; this endpoint does not read those", name, st.kind())})
		return zero, false
	}
	return h, true
}

func (s *Server) getMetadata(w http.ResponseWriter, r *http.Request) {
	h, ok := storeOf[served](w, r, s)
	if !ok {
		return
	}
	md, err := h.metadata(r.PathValue("key"))
	if err != nil {
		writeError(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusOK, md)
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	h, ok := storeOf[storeHandler](w, r, s)
	if !ok {
		return
	}
	key := r.PathValue("key")
	s.routed(w, r, h, key, func(maxLag int64) (any, error) {
		if maxLag < 0 {
			return h.get(key)
		}
		return h.getStandby(key, maxLag)
	})
}

// routed answers a request about key of the store h: read (with maxLag
// -1) reads the active task here, (with maxLag >= 0) a standby replica
// here. A key another instance runs is forwarded to it; with
// standby_lag, a standby replica answers when the owner cannot.
func (s *Server) routed(w http.ResponseWriter, r *http.Request, h served, key string, read func(maxLag int64) (any, error)) {
	maxLag, err := decodeStandbyLag(r.URL.Query())
	if err != nil {
		writeError(w, &APIError{Code: CodeBadParameter, Message: err.Error()})
		return
	}
	if r.Header.Get(forwardedHeader) == forwardStandby {
		s.answer(w, func() (any, error) { return read(maxLag) })
		return
	}
	body, err := read(-1)
	var nl *NotLocalError
	if errors.As(err, &nl) && r.Header.Get(forwardedHeader) == "" {
		status, fwd, ferr := s.fetch(r.Context(), nl.Active, r.URL.RequestURI(), forwardActive)
		if ferr == nil && (status != http.StatusServiceUnavailable || maxLag < 0) {
			writeRaw(w, status, fwd)
			return
		}
		if maxLag < 0 {
			writeError(w, &APIError{Code: CodeForwardFailed, Message: ferr.Error(), Retriable: true})
			return
		}
		err = &UnavailableError{Store: h.name(), Reason: fmt.Sprintf("owner %s did not answer", nl.Active)}
	}
	if errors.Is(err, ErrUnavailable) && maxLag >= 0 && r.Header.Get(forwardedHeader) == "" {
		s.fromStandby(w, r, h, key, func() (any, error) { return read(maxLag) }, err)
		return
	}
	if err != nil {
		writeError(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// fromStandby answers a key from a standby replica within maxLag: this
// instance's, or the first standby instance's that can.
func (s *Server) fromStandby(w http.ResponseWriter, r *http.Request, h served, key string, standby func() (any, error), cause error) {
	if body, err := standby(); err == nil {
		writeJSON(w, http.StatusOK, body)
		return
	} else if !errors.Is(err, ErrUnavailable) {
		writeError(w, apiError(err))
		return
	}
	md, _ := h.metadata(key)
	for _, ep := range md.Standbys {
		if ep == s.q.Endpoint() {
			continue
		}
		status, body, err := s.fetch(r.Context(), ep, r.URL.RequestURI(), forwardStandby)
		if err == nil && status != http.StatusServiceUnavailable {
			writeRaw(w, status, body)
			return
		}
	}
	writeError(w, apiError(cause))
}

// answer writes what fn returns.
func (s *Server) answer(w http.ResponseWriter, fn func() (any, error)) {
	body, err := fn()
	if err != nil {
		writeError(w, apiError(err))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// decodeStandbyLag reads standby_lag, the largest lag (in changelog
// records) of a standby replica the caller accepts an answer from when the
// owner cannot answer; -1 when absent (no standby reads).
func decodeStandbyLag(v url.Values) (int64, error) {
	if !v.Has("standby_lag") {
		return -1, nil
	}
	n, err := strconv.ParseInt(v.Get("standby_lag"), 10, 64)
	if err != nil || n < 0 {
		return -1, errors.New("standby_lag must be a non-negative integer")
	}
	return n, nil
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// The values of forwardedHeader: the request is for the active task or a
// standby replica.
const (
	forwardActive  = "active"
	forwardStandby = "standby"
)

// fetch asks the instance at endpoint for pathAndQuery, marked as
// forwarded (as role), and returns its answer.
func (s *Server) fetch(ctx context.Context, endpoint, pathAndQuery, role string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Scheme()+"://"+endpoint+pathAndQuery, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set(forwardedHeader, role)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("forwarding to %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, nil, fmt.Errorf("forwarding to %s: %w", endpoint, err)
	}
	return resp.StatusCode, buf.Bytes(), nil
}

// rangeParams are the decoded parameters of a range request.
type rangeParams struct {
	from, to, prefix *string
	after            []byte
	limit            int
}

// maxLimit bounds a page.
const maxLimit = 10000

func decodeRangeParams(v url.Values) (rangeParams, error) {
	var p rangeParams
	for _, f := range []struct {
		name string
		dst  **string
	}{{"from", &p.from}, {"to", &p.to}, {"prefix", &p.prefix}} {
		if v.Has(f.name) {
			s := v.Get(f.name)
			*f.dst = &s
		}
	}
	if p.prefix != nil && (p.from != nil || p.to != nil) {
		return p, errors.New("prefix cannot be combined with from or to")
	}
	p.limit = 100
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n <= 0 || n > maxLimit {
			return p, fmt.Errorf("limit must be an integer from 1 to %d", maxLimit)
		}
		p.limit = n
	}
	if v.Has("after") {
		b, err := base64.RawURLEncoding.DecodeString(v.Get("after"))
		if err != nil || len(b) == 0 {
			return p, errors.New("after must be the next cursor of a previous page")
		}
		p.after = b
	}
	return p, nil
}

// rangePage is the body of a range answer; its cursor is the last
// serialized key.
type rangePage = page[rawEntry]

type rawEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
	Raw   []byte          `json:"raw"`
}

func (s *Server) getRange(w http.ResponseWriter, r *http.Request) {
	h, ok := storeOf[storeHandler](w, r, s)
	if !ok {
		return
	}
	p, err := decodeRangeParams(r.URL.Query())
	if err != nil {
		writeError(w, &APIError{Code: CodeBadParameter, Message: err.Error()})
		return
	}
	if r.Header.Get(forwardedHeader) != "" || s.q.Endpoint() == "" {
		page, err := h.rangeLocal(p)
		if err != nil {
			writeError(w, apiError(err))
			return
		}
		writeJSON(w, http.StatusOK, page)
		return
	}
	page, apiErr := s.gather(r.Context(), h, p, r.URL.RequestURI())
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// gather asks every instance running the store's tasks for a page and
// merges them.
func (s *Server) gather(ctx context.Context, h storeHandler, p rangeParams, uri string) (*rangePage, *APIError) {
	local := func() (*rangePage, error) { return h.rangeLocal(p) }
	return gatherPages(ctx, s, h.name(), uri, p.limit, local,
		func(a, b rawEntry) int { return bytes.Compare(a.Raw, b.Raw) },
		func(e rawEntry) []byte { return e.Raw })
}

// page is a page of entries E of a read over several keys.
type page[E any] struct {
	Entries []E `json:"entries"`
	// Next is the cursor of the next page (unpadded base64url), empty on
	// the last.
	Next string `json:"next,omitempty"`
}

// gatherPages asks every instance running store's active tasks for a page
// (local, here; uri, elsewhere) and merges them: each page holds the
// instance's first limit entries after the cursor in the order cmp, so the
// first limit of the merge are the global ones; cursor is the cursor
// after an entry.
func gatherPages[E any](ctx context.Context, s *Server, store, uri string, limit int, local func() (*page[E], error), cmp func(a, b E) int, cursor func(E) []byte) (*page[E], *APIError) {
	hosts, err := s.q.StoreHosts(store)
	if err != nil {
		return nil, apiError(err)
	}
	var all []E
	for _, host := range hosts {
		if len(host.Active) == 0 {
			continue
		}
		var pg page[E]
		if host.Endpoint == s.q.Endpoint() {
			lp, err := local()
			if err != nil {
				return nil, apiError(err)
			}
			pg = *lp
		} else if apiErr := s.fetchJSON(ctx, host.Endpoint, uri, &pg); apiErr != nil {
			return nil, apiErr
		}
		all = append(all, pg.Entries...)
	}
	slices.SortFunc(all, cmp)
	out := &page[E]{Entries: all}
	if len(all) > limit {
		out.Entries = all[:limit]
	}
	if len(all) >= limit && len(out.Entries) > 0 {
		out.Next = base64.RawURLEncoding.EncodeToString(cursor(out.Entries[len(out.Entries)-1]))
	}
	if out.Entries == nil {
		out.Entries = []E{}
	}
	return out, nil
}

// fetchJSON asks the instance at endpoint for uri, forwarded, and decodes
// its JSON answer into pg.
func (s *Server) fetchJSON(ctx context.Context, endpoint, uri string, pg any) *APIError {
	status, body, err := s.fetch(ctx, endpoint, uri, forwardActive)
	if err != nil {
		return &APIError{Code: CodeForwardFailed, Message: err.Error(), Retriable: true}
	}
	if status != http.StatusOK {
		var e struct {
			Error APIError `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
			return &e.Error
		}
		return &APIError{Code: CodeForwardFailed, Message: fmt.Sprintf("%s answered %d", endpoint, status), Retriable: true}
	}
	if err := json.Unmarshal(body, pg); err != nil {
		return &APIError{Code: CodeForwardFailed, Message: fmt.Sprintf("%s: %v", endpoint, err), Retriable: true}
	}
	return nil
}

// Get returns the value of key in the served key-value store, as JSON,
// read here or forwarded to the instance that runs the key's task. It
// fails with an [*APIError]: key_not_found for a key the store lacks,
// bad_key for one that does not parse, retriable ones while the store
// cannot be read.
func (s *Server) Get(ctx context.Context, store, key string) (json.RawMessage, error) {
	h, ok := s.store(store).(storeHandler)
	if !ok {
		return nil, &APIError{Code: CodeUnknownStore, Message: fmt.Sprintf("key-value store %q is not served", store)}
	}
	body, err := h.get(key)
	var nl *NotLocalError
	if errors.As(err, &nl) {
		var kv struct {
			Value json.RawMessage `json:"value"`
		}
		uri := "/v1/stores/" + url.PathEscape(store) + "/keys/" + url.PathEscape(key)
		if apiErr := s.fetchJSON(ctx, nl.Active, uri, &kv); apiErr != nil {
			return nil, apiErr
		}
		return kv.Value, nil
	}
	if err != nil {
		return nil, apiError(err)
	}
	kv, ok := body.(interface{ value() any })
	if !ok {
		return nil, &APIError{Code: CodeInternal, Message: fmt.Sprintf("store %q answered %T", store, body)}
	}
	b, err := json.Marshal(kv.value())
	if err != nil {
		return nil, &APIError{Code: CodeInternal, Message: err.Error()}
	}
	return b, nil
}

// Pair is an entry of a store as JSON.
type Pair struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// All returns every entry of the served store across the instances
// hosting it, in serialized key order, reading them in pages of 1000. It
// fails with an [*APIError] when the store is not served or an instance
// cannot answer (retriable ones are marked).
func (s *Server) All(ctx context.Context, store string) ([]Pair, error) {
	h, ok := s.store(store).(storeHandler)
	if !ok {
		return nil, &APIError{Code: CodeUnknownStore, Message: fmt.Sprintf("key-value store %q is not served", store)}
	}
	var out []Pair
	p := rangeParams{limit: 1000}
	for {
		uri := "/v1/stores/" + url.PathEscape(store) + "/range?limit=1000"
		if p.after != nil {
			uri += "&after=" + base64.RawURLEncoding.EncodeToString(p.after)
		}
		var (
			page   *rangePage
			apiErr *APIError
		)
		if s.q.Endpoint() == "" {
			var err error
			if page, err = h.rangeLocal(p); err != nil {
				apiErr = apiError(err)
			}
		} else {
			page, apiErr = s.gather(ctx, h, p, uri)
		}
		if apiErr != nil {
			return nil, apiErr
		}
		for _, e := range page.Entries {
			out = append(out, Pair{Key: e.Key, Value: e.Value})
		}
		if page.Next == "" {
			return out, nil
		}
		p.after = page.Entries[len(page.Entries)-1].Raw
	}
}

// served is a store served, untyped for the HTTP layer.
type served interface {
	name() string
	// kind names the store's kind, for errors.
	kind() string
	metadata(key string) (KeyMetadata, error)
}

// storeHandler is a key-value store served.
type storeHandler interface {
	served
	get(key string) (any, error)
	getStandby(key string, maxLag int64) (any, error)
	rangeLocal(p rangeParams) (*rangePage, error)
}

type kvHandler[K, V any] struct {
	kv   *KeyValue[K, V]
	keys keyParser[K]
}

// badKeyError is a key string that does not parse.
type badKeyError struct{ err error }

func (e *badKeyError) Error() string { return "key does not parse: " + e.err.Error() }

func (h *kvHandler[K, V]) name() string { return h.kv.name }
func (h *kvHandler[K, V]) kind() string { return "key-value" }

func (h *kvHandler[K, V]) key(s string) (K, error) { return h.keys.key(s) }

func (h *kvHandler[K, V]) metadata(s string) (KeyMetadata, error) {
	k, err := h.key(s)
	if err != nil {
		return KeyMetadata{}, err
	}
	return h.kv.Metadata(k)
}

// keyValue is the body of a key answer.
type keyValue[K, V any] struct {
	Key   K `json:"key"`
	Value V `json:"value"`
}

func (kv keyValue[K, V]) value() any { return kv.Value }

var errKeyNotFound = errors.New("key not found")

func (h *kvHandler[K, V]) get(s string) (any, error) {
	k, err := h.key(s)
	if err != nil {
		return nil, err
	}
	v, ok, err := h.kv.Get(k)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("store %q: %w: %q", h.kv.name, errKeyNotFound, s)
	}
	return keyValue[K, V]{Key: k, Value: v}, nil
}

func (h *kvHandler[K, V]) getStandby(s string, maxLag int64) (any, error) {
	k, err := h.key(s)
	if err != nil {
		return nil, err
	}
	v, ok, err := h.kv.GetStandby(k, maxLag)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("store %q: %w: %q", h.kv.name, errKeyNotFound, s)
	}
	return keyValue[K, V]{Key: k, Value: v}, nil
}

func (h *kvHandler[K, V]) rangeLocal(p rangeParams) (*rangePage, error) {
	var (
		entries []Entry[K, V]
		err     error
	)
	switch {
	case p.prefix != nil:
		var k K
		if k, err = h.key(*p.prefix); err == nil {
			entries, err = h.kv.Prefix(k, p.after, p.limit)
		}
	case p.from != nil && p.to != nil:
		var from, to K
		if from, err = h.key(*p.from); err == nil {
			if to, err = h.key(*p.to); err == nil {
				entries, err = h.kv.Range(from, to, p.after, p.limit)
			}
		}
	case p.from == nil && p.to == nil:
		entries, err = h.kv.All(p.after, p.limit)
	default:
		err = &badKeyError{errors.New("give both from and to, or neither")}
	}
	if err != nil {
		return nil, err
	}
	page := &rangePage{Entries: make([]rawEntry, 0, len(entries))}
	for _, e := range entries {
		kb, err := json.Marshal(e.Key)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(e.Value)
		if err != nil {
			return nil, err
		}
		page.Entries = append(page.Entries, rawEntry{Key: kb, Value: vb, Raw: e.Raw})
	}
	if len(entries) == p.limit && p.limit > 0 {
		page.Next = base64.RawURLEncoding.EncodeToString(entries[len(entries)-1].Raw)
	}
	return page, nil
}

// ParseKey parses a key string into a K: a string as it is, bytes as the
// string's bytes, integers and floats in decimal, booleans as strconv
// does, anything else as JSON.
func ParseKey[K any](s string) (K, error) {
	var k K
	rv := reflect.ValueOf(&k).Elem()
	switch rv.Kind() {
	case reflect.String:
		rv.SetString(s)
	case reflect.Slice:
		if rv.Type().Elem().Kind() != reflect.Uint8 {
			return k, json.Unmarshal([]byte(s), &k)
		}
		rv.SetBytes([]byte(s))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, rv.Type().Bits())
		if err != nil {
			return k, err
		}
		rv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, rv.Type().Bits())
		if err != nil {
			return k, err
		}
		rv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, rv.Type().Bits())
		if err != nil {
			return k, err
		}
		rv.SetFloat(f)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return k, err
		}
		rv.SetBool(b)
	default:
		return k, json.Unmarshal([]byte(s), &k)
	}
	return k, nil
}

// apiError maps an error of the typed API to its catalog entry.
func apiError(err error) *APIError {
	var bk *badKeyError
	switch {
	case errors.As(err, &bk):
		return &APIError{Code: CodeBadKey, Message: err.Error()}
	case errors.Is(err, ErrUnknownStore):
		return &APIError{Code: CodeUnknownStore, Message: err.Error()}
	case errors.Is(err, errKeyNotFound):
		return &APIError{Code: CodeKeyNotFound, Message: err.Error()}
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrNotLocal):
		return &APIError{Code: CodeUnavailable, Message: err.Error(), Retriable: true}
	}
	return &APIError{Code: CodeInternal, Message: err.Error()}
}

func writeError(w http.ResponseWriter, e *APIError) {
	status := codeStatus[e.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]*APIError{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

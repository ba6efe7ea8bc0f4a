package query

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ServeWindow registers the window store ws on s: its windows of a key,
// and of every key in a time range, paged. parse turns a key string into a
// key, as for [Serve].
func ServeWindow[K, V any](s *Server, ws *Window[K, V], parse func(string) (K, error)) {
	if parse == nil {
		parse = ParseKey[K]
	}
	s.addStore(ws.name, &windowHandler[K, V]{ws: ws, keys: keyParser[K]{parse: parse, ser: ws.keys.Serialize, topic: ws.topic}})
}

// ServeSession registers the session store ss on s: the sessions of a
// key. parse turns a key string into a key, as for [Serve].
func ServeSession[K, V any](s *Server, ss *Session[K, V], parse func(string) (K, error)) {
	if parse == nil {
		parse = ParseKey[K]
	}
	s.addStore(ss.name, &sessionHandler[K, V]{ss: ss, keys: keyParser[K]{parse: parse, ser: ss.keys.Serialize, topic: ss.topic}})
}

// keyParser parses key strings of a store: with parse, then checked by
// the store's key serde.
type keyParser[K any] struct {
	parse func(string) (K, error)
	ser   func(topic string, k K) ([]byte, error)
	topic string
}

func (p keyParser[K]) key(s string) (K, error) {
	k, err := p.parse(s)
	if err != nil {
		return k, &badKeyError{err}
	}
	if _, err := p.ser(p.topic, k); err != nil {
		return k, &badKeyError{err}
	}
	return k, nil
}

// windowHandler is a window store served.
type windowHandler[K, V any] struct {
	ws   *Window[K, V]
	keys keyParser[K]
}

func (h *windowHandler[K, V]) name() string { return h.ws.name }
func (h *windowHandler[K, V]) kind() string { return "window" }

func (h *windowHandler[K, V]) metadata(s string) (KeyMetadata, error) {
	k, err := h.keys.key(s)
	if err != nil {
		return KeyMetadata{}, err
	}
	return h.ws.Metadata(k)
}

// sessionHandler is a session store served.
type sessionHandler[K, V any] struct {
	ss   *Session[K, V]
	keys keyParser[K]
}

func (h *sessionHandler[K, V]) name() string { return h.ss.name }
func (h *sessionHandler[K, V]) kind() string { return "session" }

func (h *sessionHandler[K, V]) metadata(s string) (KeyMetadata, error) {
	k, err := h.keys.key(s)
	if err != nil {
		return KeyMetadata{}, err
	}
	return h.ss.Metadata(k)
}

// windowParams are the decoded parameters of a window request.
type windowParams struct {
	from, to int64
	backward bool
	after    []byte
	limit    int
}

// decodeWindowParams reads from and to (milliseconds since the epoch or
// RFC 3339 times; default: every window in retention), order (asc or
// desc), and for pages limit and after.
func decodeWindowParams(v url.Values, paged bool) (windowParams, error) {
	p := windowParams{from: 0, to: math.MaxInt64, limit: 100}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"from", &p.from}, {"to", &p.to}} {
		if !v.Has(f.name) {
			continue
		}
		t, err := decodeTime(v.Get(f.name))
		if err != nil {
			return p, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = t
	}
	if p.from > p.to {
		return p, errors.New("from is after to")
	}
	var err error
	if p.backward, err = decodeOrder(v); err != nil {
		return p, err
	}
	if !paged {
		if v.Has("limit") || v.Has("after") {
			return p, errors.New("limit and after page reads over every key; the windows of one key come in one answer")
		}
		return p, nil
	}
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n <= 0 || n > maxLimit {
			return p, fmt.Errorf("limit must be an integer from 1 to %d", maxLimit)
		}
		p.limit = n
	}
	if v.Has("after") {
		b, err := base64.RawURLEncoding.DecodeString(v.Get("after"))
		if err != nil || len(b) < 8 {
			return p, errors.New("after must be the next cursor of a previous page")
		}
		p.after = b
	}
	return p, nil
}

// decodeTime parses a time given as milliseconds since the epoch or in
// RFC 3339.
func decodeTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, errors.New("a time must not be negative")
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.UnixMilli() < 0 {
		return 0, fmt.Errorf("%q is neither milliseconds since the epoch nor an RFC 3339 time after it", s)
	}
	return t.UnixMilli(), nil
}

// decodeOrder reads order: asc (the default) or desc.
func decodeOrder(v url.Values) (backward bool, err error) {
	switch o := v.Get("order"); o {
	case "", "asc":
		return false, nil
	case "desc":
		return true, nil
	default:
		return false, fmt.Errorf("order %q: want asc or desc", o)
	}
}

// windowsOfKey is the body of the answer for a key of a window store.
type windowsOfKey[K, V any] struct {
	Key     K                `json:"key"`
	Windows []WindowValue[V] `json:"windows"`
}

// sessionsOfKey is the body of the answer for a key of a session store.
type sessionsOfKey[K, V any] struct {
	Key      K                 `json:"key"`
	Sessions []SessionValue[V] `json:"sessions"`
}

// windowEntry is an entry of a page of windows.
type windowEntry struct {
	Key   json.RawMessage `json:"key"`
	Start int64           `json:"start"`
	End   int64           `json:"end"`
	Value json.RawMessage `json:"value"`
	Raw   []byte          `json:"raw"`
}

func (s *Server) getWindows(w http.ResponseWriter, r *http.Request) {
	h, ok := storeOf[windowFetcher](w, r, s)
	if !ok {
		return
	}
	p, err := decodeWindowParams(r.URL.Query(), false)
	if err != nil {
		writeError(w, &APIError{Code: CodeBadParameter, Message: err.Error()})
		return
	}
	key := r.PathValue("key")
	s.routed(w, r, h, key, func(maxLag int64) (any, error) { return h.fetch(key, p, maxLag) })
}

func (s *Server) getWindowRange(w http.ResponseWriter, r *http.Request) {
	h, ok := storeOf[windowFetcher](w, r, s)
	if !ok {
		return
	}
	p, err := decodeWindowParams(r.URL.Query(), true)
	if err != nil {
		writeError(w, &APIError{Code: CodeBadParameter, Message: err.Error()})
		return
	}
	local := func() (*page[windowEntry], error) { return h.fetchAllLocal(p) }
	if r.Header.Get(forwardedHeader) != "" || s.q.Endpoint() == "" {
		s.answer(w, func() (any, error) { return local() })
		return
	}
	dir := 1
	if p.backward {
		dir = -1
	}
	pg, apiErr := gatherPages(r.Context(), s, h.name(), r.URL.RequestURI(), p.limit, local,
		func(a, b windowEntry) int { return dir * compareWindowPos(a.Raw, a.Start, b.Raw, b.Start) },
		func(e windowEntry) []byte { return windowCursor(e.Raw, e.Start) })
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, pg)
}

func (s *Server) getSessions(w http.ResponseWriter, r *http.Request) {
	h, ok := storeOf[sessionFetcher](w, r, s)
	if !ok {
		return
	}
	backward, err := decodeOrder(r.URL.Query())
	if err != nil {
		writeError(w, &APIError{Code: CodeBadParameter, Message: err.Error()})
		return
	}
	key := r.PathValue("key")
	s.routed(w, r, h, key, func(maxLag int64) (any, error) { return h.fetch(key, backward, maxLag) })
}

// windowFetcher is a window store served, untyped.
type windowFetcher interface {
	served
	fetch(key string, p windowParams, maxLag int64) (any, error)
	fetchAllLocal(p windowParams) (*page[windowEntry], error)
}

// sessionFetcher is a session store served, untyped.
type sessionFetcher interface {
	served
	fetch(key string, backward bool, maxLag int64) (any, error)
}

func (h *windowHandler[K, V]) fetch(s string, p windowParams, maxLag int64) (any, error) {
	k, err := h.keys.key(s)
	if err != nil {
		return nil, err
	}
	ws, err := h.ws.fetch(k, p.from, p.to, p.backward, maxLag)
	if err != nil {
		return nil, err
	}
	if ws == nil {
		ws = []WindowValue[V]{}
	}
	return windowsOfKey[K, V]{Key: k, Windows: ws}, nil
}

func (h *windowHandler[K, V]) fetchAllLocal(p windowParams) (*page[windowEntry], error) {
	entries, err := h.ws.FetchAll(p.from, p.to, p.backward, p.after, p.limit)
	if err != nil {
		return nil, err
	}
	pg := &page[windowEntry]{Entries: make([]windowEntry, 0, len(entries))}
	for _, e := range entries {
		kb, err := json.Marshal(e.Key)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(e.Value)
		if err != nil {
			return nil, err
		}
		pg.Entries = append(pg.Entries, windowEntry{Key: kb, Start: e.Window.Start, End: e.Window.End, Value: vb, Raw: e.Raw})
	}
	if len(entries) == p.limit {
		pg.Next = base64.RawURLEncoding.EncodeToString(entries[len(entries)-1].Cursor())
	}
	return pg, nil
}

func (h *sessionHandler[K, V]) fetch(s string, backward bool, maxLag int64) (any, error) {
	k, err := h.keys.key(s)
	if err != nil {
		return nil, err
	}
	ss, err := h.ss.fetch(k, backward, maxLag)
	if err != nil {
		return nil, err
	}
	if ss == nil {
		ss = []SessionValue[V]{}
	}
	return sessionsOfKey[K, V]{Key: k, Sessions: ss}, nil
}

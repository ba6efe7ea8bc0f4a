package query

import (
	"errors"
	"math"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// TestStoreHostsBeforeAssignment: an instance that has had no assignment
// answers StoreHosts, metadata and every typed read with the retriable
// ErrUnavailable, not an empty answer.
func TestStoreHostsBeforeAssignment(t *testing.T) {
	srv := newTestServerWith(t, []kstreams.Option{kstreams.ApplicationServer("127.0.0.1:1")})
	q := srv.q
	for _, store := range []string{"counts", "window-counts", "session-counts"} {
		hosts, err := q.StoreHosts(store)
		if !errors.Is(err, ErrUnavailable) || hosts != nil {
			t.Errorf("StoreHosts(%q) before the first assignment: %v, %v; want ErrUnavailable", store, hosts, err)
		}
	}
	if _, err := q.StoreHosts("nope"); !errors.Is(err, ErrUnknownStore) {
		t.Errorf("StoreHosts of an unknown store: %v, want ErrUnknownStore", err)
	}
	md, err := q.MetadataForKey("counts", []byte("k"))
	if !errors.Is(err, ErrUnavailable) || md.Partition != -1 {
		t.Errorf("MetadataForKey before the first assignment: %+v, %v; want partition -1 and ErrUnavailable", md, err)
	}
	ws, err := WindowStore[int64, int64](q, "window-counts", serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := SessionStore[int64, int64](q, "session-counts", serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string]func() error{
		"Window.Fetch":          func() error { _, err := ws.Fetch(1, 0, math.MaxInt64); return err },
		"Window.BackwardFetch":  func() error { _, err := ws.BackwardFetch(1, 0, 10); return err },
		"Window.FetchStandby":   func() error { _, err := ws.FetchStandby(1, 0, 10, 100); return err },
		"Window.FetchAll":       func() error { _, err := ws.FetchAll(0, 10, false, nil, 5); return err },
		"Session.Fetch":         func() error { _, err := ss.Fetch(1); return err },
		"Session.BackwardFetch": func() error { _, err := ss.BackwardFetch(1); return err },
		"Session.FetchStandby":  func() error { _, err := ss.FetchStandby(1, 0); return err },
		"Window.Metadata":       func() error { _, err := ws.Metadata(1); return err },
		"Session.Metadata":      func() error { _, err := ss.Metadata(1); return err },
	}
	for name, read := range reads {
		if err := read(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s before the first assignment: %v, want ErrUnavailable", name, err)
		}
	}
}

func TestWindowHandleErrors(t *testing.T) {
	q := newTestServer(t).q
	if _, err := WindowStore[int64, int64](q, "nope", serde.Int64()); !errors.Is(err, ErrUnknownStore) {
		t.Errorf("WindowStore of an unknown store: %v", err)
	}
	if _, err := SessionStore[int64, int64](q, "session-counts", nil); err == nil {
		t.Error("SessionStore with a nil key serde: no error")
	}
	ws, err := WindowStore[int64, int64](q, "window-counts", serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.FetchAll(0, 1, false, []byte{1, 2}, 1); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("FetchAll with a short cursor: %v, want a cursor error", err)
	}
}

func TestWindowCursor(t *testing.T) {
	tests := []struct {
		raw   string
		start int64
	}{{"", 0}, {"a", 1}, {"key-0001", 1796028160000}, {"\xff\x00", math.MaxInt64}}
	for _, tt := range tests {
		e := WindowEntry[string, int64]{Raw: []byte(tt.raw), Window: serde.Window{Start: tt.start}}
		raw, start, err := decodeWindowCursor(e.Cursor())
		if err != nil || string(raw) != tt.raw || start != tt.start {
			t.Errorf("cursor of %q@%d decodes to %q@%d, %v", tt.raw, tt.start, raw, start, err)
		}
	}
	// Entries order by serialized key, then start: a key that is a prefix
	// of another comes first whatever the starts.
	order := []struct {
		raw   string
		start int64
	}{{"a", 5}, {"a", 7}, {"ab", 1}, {"b", 0}}
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if c := compareWindowPos([]byte(a.raw), a.start, []byte(b.raw), b.start); c >= 0 {
			t.Errorf("%v vs %v: %d, want < 0", a, b, c)
		}
	}
}

func TestDecodeTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1796028160000", 1796028160000, true},
		{"2026-11-30T10:00:00Z", 1796032800000, true},
		{"2026-11-30T10:00:00.5+01:00", 1796029200500, true},
		{"-5", 0, false},
		{"1969-12-31T23:59:59Z", 0, false},
		{"tomorrow", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := decodeTime(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("decodeTime(%q) = %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

package state

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSessionStoreAllBackends(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b windowBackend)
	}{
		{"PutFetchRemove", testSessionPutFetchRemove},
		{"FindSessions", testSessionFind},
		{"KeyRange", testSessionKeyRange},
		{"Retention", testSessionRetention},
		{"Restore", testSessionRestore},
		{"InvalidInput", testSessionInvalidInput},
	}
	for _, b := range windowBackends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) { tt.fn(t, b) })
		}
	}
}

// testSessionOpts keep sessions 30 ms after their end, in segments of 10.
var testSessionOpts = SessionStoreOptions{Retention: 30 * time.Millisecond, SegmentInterval: 10 * time.Millisecond}

func openSession(t *testing.T, b windowBackend, opts SessionStoreOptions) SessionBytesStore {
	t.Helper()
	s, err := b.openSession("sessions", t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func putSession(t *testing.T, s SessionBytesStore, key string, start, end int64, value string) {
	t.Helper()
	if err := s.Put([]byte(key), sessionWin(start, end), []byte(value)); err != nil {
		t.Fatalf("Put(%q, [%d, %d]): %v", key, start, end, err)
	}
}

func wantSession(t *testing.T, s SessionBytesStore, key string, start, end int64, want string) {
	t.Helper()
	got, err := s.FetchSession([]byte(key), sessionWin(start, end))
	if err != nil {
		t.Fatal(err)
	}
	if (want == "<nil>") != (got == nil) || (got != nil && string(got) != want) {
		t.Fatalf("FetchSession(%q, [%d, %d]) = %q, want %q", key, start, end, got, want)
	}
}

func testSessionPutFetchRemove(t *testing.T, b windowBackend) {
	s := openSession(t, b, SessionStoreOptions{Retention: time.Hour})
	putSession(t, s, "a", 0, 5, "1")
	putSession(t, s, "a", 7, 7, "2")
	wantSession(t, s, "a", 0, 5, "1")
	wantSession(t, s, "a", 7, 7, "2")
	wantSession(t, s, "a", 0, 7, "<nil>")
	wantSession(t, s, "b", 0, 5, "<nil>")
	if err := s.Remove([]byte("a"), sessionWin(0, 5)); err != nil {
		t.Fatal(err)
	}
	wantSession(t, s, "a", 0, 5, "<nil>")
	if err := s.Put([]byte("a"), sessionWin(7, 7), nil); err != nil {
		t.Fatal(err)
	}
	wantSession(t, s, "a", 7, 7, "<nil>")
	wantEntries(t, "Fetch after removes", collect(t)(s.Fetch([]byte("a"))))
}

// FindSessions returns the sessions overlapping [earliestEnd,
// latestStart], by end then start, as Java's session stores.
func testSessionFind(t *testing.T, b windowBackend) {
	s := openSession(t, b, SessionStoreOptions{Retention: time.Hour, SegmentInterval: 10 * time.Millisecond})
	putSession(t, s, "k", 10, 20, "b")
	putSession(t, s, "k", 0, 5, "a")
	putSession(t, s, "k", 30, 30, "d")
	putSession(t, s, "k", 12, 20, "c")
	putSession(t, s, "k\x00", 0, 100, "other key")
	putSession(t, s, "j", 0, 100, "other key")
	tests := []struct {
		earliestEnd, latestStart int64
		want                     []string
	}{
		{0, math.MaxInt64, []string{"k@0-5=a", "k@10-20=b", "k@12-20=c", "k@30-30=d"}},
		{6, 25, []string{"k@10-20=b", "k@12-20=c"}},
		{5, 30, []string{"k@0-5=a", "k@10-20=b", "k@12-20=c", "k@30-30=d"}},
		{20, 11, []string{"k@10-20=b"}},
		{21, 29, nil},
		{31, 100, nil},
		{-10, 0, []string{"k@0-5=a"}},
		{0, -1, nil},
	}
	for _, tt := range tests {
		what := fmt.Sprintf("FindSessions(k, %d, %d)", tt.earliestEnd, tt.latestStart)
		wantEntries(t, what, collect(t)(s.FindSessions([]byte("k"), tt.earliestEnd, tt.latestStart)), tt.want...)
		backward := collect(t)(s.BackwardFindSessions([]byte("k"), tt.earliestEnd, tt.latestStart))
		var reversed []string
		for i := len(tt.want) - 1; i >= 0; i-- {
			reversed = append(reversed, tt.want[i])
		}
		wantEntries(t, "backward "+what, backward, reversed...)
	}
	wantEntries(t, "BackwardFetch", collect(t)(s.BackwardFetch([]byte("k"))), "k@30-30=d", "k@12-20=c", "k@10-20=b", "k@0-5=a")
}

func testSessionKeyRange(t *testing.T, b windowBackend) {
	s := openSession(t, b, SessionStoreOptions{Retention: time.Hour})
	for _, k := range []string{"", "a", "a\x00", "ab", "b", "c"} {
		putSession(t, s, k, 1, 2, "v")
		putSession(t, s, k, 1000, 1000, "w")
	}
	got := collect(t)(s.FindSessionsKeyRange([]byte("a"), []byte("ab"), 0, math.MaxInt64))
	// Keys are not delimited from the times, so the sessions of "a" and
	// "a\x00" interleave, as in Kafka Streams' RocksDB store.
	wantEntries(t, "key range", got, "a\x00@1-2=v", "a@1-2=v", "a\x00@1000-1000=w", "a@1000-1000=w", "ab@1-2=v", "ab@1000-1000=w")
	got = collect(t)(s.BackwardFindSessionsKeyRange(nil, []byte("a"), 0, math.MaxInt64))
	wantEntries(t, "backward key range", got, "a@1000-1000=w", "a@1-2=v", "@1000-1000=w", "@1-2=v")
	wantEntries(t, "keyFrom after keyTo", collect(t)(s.FindSessionsKeyRange([]byte("b"), []byte("a"), 0, 10)))
}

// Sessions are segmented and expire by their end: with retention 30 ms,
// stream time 50 keeps the sessions ending after 20.
func testSessionRetention(t *testing.T, b windowBackend) {
	s := openSession(t, b, testSessionOpts)
	putSession(t, s, "k", 0, 20, "1")
	putSession(t, s, "k", 5, 21, "2")
	putSession(t, s, "k", 40, 50, "3")
	wantEntries(t, "in retention", collect(t)(s.Fetch([]byte("k"))), "k@5-21=2", "k@40-50=3")
	wantSession(t, s, "k", 0, 20, "<nil>")
	putSession(t, s, "k", 0, 1, "late")
	if got := s.ExpiredPuts(); got != 1 {
		t.Fatalf("ExpiredPuts = %d, want 1", got)
	}
	if n := s.(*sessionStore).seg.numSegments(); n != 2 {
		t.Fatalf("segments = %d, want 2 (ids 2 and 5)", n)
	}
}

func testSessionRestore(t *testing.T, b windowBackend) {
	s := openSession(t, b, testSessionOpts)
	keys := [][]byte{
		SessionStoreKey([]byte("a"), sessionWin(0, 5)),
		SessionStoreKey([]byte("a"), sessionWin(30, 40)),
		SessionStoreKey([]byte("b"), sessionWin(12, 15)),
		SessionStoreKey([]byte("b"), sessionWin(12, 15)),
	}
	values := [][]byte{[]byte("1"), []byte("2"), []byte("3"), nil}
	if err := s.Restore(keys, values); err != nil {
		t.Fatal(err)
	}
	wantEntries(t, "restored a", collect(t)(s.Fetch([]byte("a"))), "a@30-40=2")
	wantEntries(t, "restored b", collect(t)(s.Fetch([]byte("b"))))
	if err := s.Restore([][]byte{make([]byte, 15)}, [][]byte{nil}); !errors.Is(err, ErrInvalidWindow) {
		t.Fatalf("Restore of a short key: %v, want ErrInvalidWindow", err)
	}
}

func testSessionInvalidInput(t *testing.T, b windowBackend) {
	s := openSession(t, b, testSessionOpts)
	if err := s.Put(nil, sessionWin(0, 1), []byte("v")); !errors.Is(err, ErrNullKey) {
		t.Errorf("Put(nil key) = %v", err)
	}
	for _, w := range [][2]int64{{-1, 5}, {5, 4}} {
		if err := s.Put([]byte("k"), sessionWin(w[0], w[1]), []byte("v")); !errors.Is(err, ErrInvalidWindow) {
			t.Errorf("Put(%v) = %v, want ErrInvalidWindow", w, err)
		}
	}
	if _, err := s.FindSessions(nil, 0, 1); !errors.Is(err, ErrNullKey) {
		t.Errorf("FindSessions(nil key) = %v", err)
	}
	for _, o := range []struct {
		opts SessionStoreOptions
		want string
	}{
		{SessionStoreOptions{Retention: -time.Millisecond}, "Retention -1ms negative"},
		{SessionStoreOptions{Retention: time.Second, SegmentInterval: -time.Second}, "SegmentInterval -1s"},
	} {
		_, err := b.openSession("bad", t.TempDir(), o.opts)
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), o.want) {
			t.Errorf("open(%+v) = %v; want ErrInvalidOptions with %q", o.opts, err, o.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch([]byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("Fetch after Close = %v", err)
	}
}

package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// windowBackend opens window and session byte stores of one backend in
// directory dir (unused by memory stores).
type windowBackend struct {
	name        string
	openWindow  func(name, dir string, opts WindowStoreOptions) (WindowBytesStore, error)
	openSession func(name, dir string, opts SessionStoreOptions) (SessionBytesStore, error)
}

// windowBackends lists every backend of window and session stores; each
// test of the shared suite runs over all of them.
var windowBackends = []windowBackend{
	{
		name: "memory",
		openWindow: func(name, _ string, opts WindowStoreOptions) (WindowBytesStore, error) {
			return NewMemoryWindowStore(name, opts)
		},
		openSession: func(name, _ string, opts SessionStoreOptions) (SessionBytesStore, error) {
			return NewMemorySessionStore(name, opts)
		},
	},
	{
		name: "pebble",
		openWindow: func(name, dir string, opts WindowStoreOptions) (WindowBytesStore, error) {
			return OpenPebbleWindowStore(name, dir, opts, nil)
		},
		openSession: func(name, dir string, opts SessionStoreOptions) (SessionBytesStore, error) {
			return OpenPebbleSessionStore(name, dir, opts, nil)
		},
	},
}

// testOpts are window store options with small segments: 10 ms each,
// retention 30 ms, windows of 10 ms.
var testOpts = WindowStoreOptions{Retention: 30 * time.Millisecond, WindowSize: 10 * time.Millisecond, SegmentInterval: 10 * time.Millisecond}

func TestWindowStoreAllBackends(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b windowBackend)
	}{
		{"PutFetch", testWindowPutFetch},
		{"FetchTimeRange", testWindowFetchTimeRange},
		{"KeysNotDelimited", testWindowKeysNotDelimited},
		{"FetchKeyRange", testWindowFetchKeyRange},
		{"Retention", testWindowRetention},
		{"DroppedSegmentWhileIterating", testWindowDroppedWhileIterating},
		{"RetainDuplicates", testWindowDuplicates},
		{"Restore", testWindowRestore},
		{"InvalidInput", testWindowInvalidInput},
		{"Closed", testWindowClosed},
	}
	for _, b := range windowBackends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) { tt.fn(t, b) })
		}
	}
}

func openWindow(t testing.TB, b windowBackend, opts WindowStoreOptions) WindowBytesStore {
	t.Helper()
	s, err := b.openWindow("win", t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func putWindow(t *testing.T, s WindowBytesStore, key string, start int64, value string) {
	t.Helper()
	var v []byte
	if value != "<nil>" {
		v = []byte(value)
	}
	if err := s.Put([]byte(key), start, v); err != nil {
		t.Fatalf("Put(%q, %d): %v", key, start, err)
	}
}

// collect returns a function that drains an iterator into
// "key@start-end=value" strings; it takes a read's results as they are.
func collect(t *testing.T) func(it WindowIterator, err error) []string {
	return func(it WindowIterator, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		got := []string{}
		for it.Next() {
			w := it.Window()
			got = append(got, fmt.Sprintf("%s@%d-%d=%s", it.Key(), w.Start, w.End, it.Value()))
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
}

func wantEntries(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func wantFetch(t *testing.T, s WindowBytesStore, key string, start int64, want string) {
	t.Helper()
	got, err := s.Fetch([]byte(key), start)
	if err != nil {
		t.Fatal(err)
	}
	if (want == "<nil>") != (got == nil) || (got != nil && string(got) != want) {
		t.Fatalf("Fetch(%q, %d) = %q, want %q", key, start, got, want)
	}
}

func testWindowPutFetch(t *testing.T, b windowBackend) {
	s := openWindow(t, b, testOpts)
	wantFetch(t, s, "a", 0, "<nil>")
	putWindow(t, s, "a", 0, "1")
	putWindow(t, s, "a", 10, "2")
	putWindow(t, s, "b", 0, "3")
	wantFetch(t, s, "a", 0, "1")
	wantFetch(t, s, "a", 10, "2")
	wantFetch(t, s, "b", 0, "3")
	wantFetch(t, s, "a", 5, "<nil>")
	putWindow(t, s, "a", 0, "4")
	wantFetch(t, s, "a", 0, "4")
	putWindow(t, s, "a", 0, "<nil>")
	wantFetch(t, s, "a", 0, "<nil>")
	putWindow(t, s, "", 3, "")
	wantFetch(t, s, "", 3, "")
	wantEntries(t, "All", collect(t)(s.All()), "@3-13=", "b@0-10=3", "a@10-20=2")
}

func testWindowFetchTimeRange(t *testing.T, b windowBackend) {
	s := openWindow(t, b, WindowStoreOptions{Retention: time.Second, WindowSize: 10 * time.Millisecond, SegmentInterval: 10 * time.Millisecond})
	for _, start := range []int64{25, 5, 15, 12, 40} {
		putWindow(t, s, "a", start, fmt.Sprint("v", start))
		putWindow(t, s, "b", start, fmt.Sprint("w", start))
	}
	wantEntries(t, "forward", collect(t)(s.FetchTimeRange([]byte("a"), 0, 30)),
		"a@5-15=v5", "a@12-22=v12", "a@15-25=v15", "a@25-35=v25")
	wantEntries(t, "backward", collect(t)(s.BackwardFetchTimeRange([]byte("a"), 0, 30)),
		"a@25-35=v25", "a@15-25=v15", "a@12-22=v12", "a@5-15=v5")
	wantEntries(t, "inclusive bounds", collect(t)(s.FetchTimeRange([]byte("b"), 12, 25)),
		"b@12-22=w12", "b@15-25=w15", "b@25-35=w25")
	wantEntries(t, "negative from", collect(t)(s.FetchTimeRange([]byte("b"), -100, 5)), "b@5-15=w5")
	wantEntries(t, "to before from", collect(t)(s.FetchTimeRange([]byte("a"), 30, 20)))
	wantEntries(t, "absent key", collect(t)(s.FetchTimeRange([]byte("c"), 0, 100)))
	// Within a segment (12 and 15 share one) by key then start; segments
	// in time order.
	wantEntries(t, "FetchAll", collect(t)(s.FetchAll(5, 15)), "a@5-15=v5", "b@5-15=w5", "a@12-22=v12", "a@15-25=v15", "b@12-22=w12", "b@15-25=w15")
	wantEntries(t, "BackwardFetchAll", collect(t)(s.BackwardFetchAll(5, 15)), "b@15-25=w15", "b@12-22=w12", "a@15-25=v15", "a@12-22=v12", "b@5-15=w5", "a@5-15=v5")
	wantEntries(t, "BackwardAll", collect(t)(s.BackwardAll())[:3], "b@40-50=w40", "a@40-50=v40", "b@25-35=w25")
}

// Keys are not delimited from the timestamps: "a" must not see the windows
// of "a\x00" or "a\x00\x00..." and the other way round.
func testWindowKeysNotDelimited(t *testing.T, b windowBackend) {
	s := openWindow(t, b, WindowStoreOptions{Retention: time.Hour})
	keys := []string{"", "a", "a\x00", "a\x00\x00\x00\x00\x00\x00\x00\x00", "ab", "b"}
	for i, k := range keys {
		putWindow(t, s, k, 0, fmt.Sprint(i))
		putWindow(t, s, k, 1, fmt.Sprint(i))
	}
	for i, k := range keys {
		got := collect(t)(s.FetchTimeRange([]byte(k), 0, 1))
		wantEntries(t, fmt.Sprintf("FetchTimeRange(%q)", k), got, fmt.Sprintf("%s@0-0=%d", k, i), fmt.Sprintf("%s@1-1=%d", k, i))
	}
}

// FetchKeyRange must find every window of every key in the range, even
// keys that are prefixes of the upper bound and whose timestamps sort
// after it; the expected result is computed by brute force.
func testWindowFetchKeyRange(t *testing.T, b windowBackend) {
	s := openWindow(t, b, WindowStoreOptions{Retention: time.Hour})
	// Timestamps whose first byte is 0x01 sort after a key byte 0x00.
	const base = 1 << 56
	keys := []string{"", "\x00", "\x01", "a", "a\x00", "a\x01", "a\x02", "ab", "b", "\xff"}
	times := []int64{base, base + 7, base + 1<<20}
	type win struct {
		key   string
		start int64
	}
	var all []win
	for _, k := range keys {
		for _, ts := range times {
			putWindow(t, s, k, ts, "v")
			all = append(all, win{k, ts})
		}
	}
	bounds := append([]string{"<nil>"}, keys...)
	bounds = append(bounds, "a\x00\x00", "aa", "c")
	for _, from := range bounds {
		for _, to := range bounds {
			for _, tr := range [][2]int64{{0, math.MaxInt64}, {base + 7, base + 7}, {base + 1, base + 1<<20}} {
				kf, kt := boundBytes(from), boundBytes(to)
				want := []string{}
				for _, w := range all {
					if inKeyRange([]byte(w.key), kf, kt) && w.start >= tr[0] && w.start <= tr[1] &&
						(kf == nil || kt == nil || bytes.Compare(kf, kt) <= 0) {
						want = append(want, fmt.Sprintf("%s@%d-%d=v", w.key, w.start, w.start))
					}
				}
				got := collect(t)(s.FetchKeyRange(kf, kt, tr[0], tr[1]))
				slices.Sort(got)
				slices.Sort(want)
				wantEntries(t, fmt.Sprintf("FetchKeyRange(%q, %q, %d, %d)", from, to, tr[0], tr[1]), got, want...)
			}
		}
	}
	got := collect(t)(s.FetchKeyRange([]byte("a\x02"), []byte("b"), base, base+7))
	wantEntries(t, "ordered by key then time", got, "a\x02@72057594037927936-72057594037927936=v",
		"a\x02@72057594037927943-72057594037927943=v", "ab@72057594037927936-72057594037927936=v",
		"ab@72057594037927943-72057594037927943=v", "b@72057594037927936-72057594037927936=v",
		"b@72057594037927943-72057594037927943=v")
}

func boundBytes(s string) []byte {
	if s == "<nil>" {
		return nil
	}
	return []byte(s)
}

// Retention follows Java's segmented stores: with retention 30 and
// segments of 10, stream time 45 keeps segments 1 to 4 (times 10 to 49)
// and reads skip windows starting at or before 15.
func testWindowRetention(t *testing.T, b windowBackend) {
	s := openWindow(t, b, testOpts)
	for _, start := range []int64{0, 5, 10, 15, 16, 20, 30, 45} {
		putWindow(t, s, "k", start, fmt.Sprint(start))
	}
	wantEntries(t, "after stream time 45", collect(t)(s.FetchTimeRange([]byte("k"), 0, 100)),
		"k@16-26=16", "k@20-30=20", "k@30-40=30", "k@45-55=45")
	wantFetch(t, s, "k", 15, "<nil>")
	wantFetch(t, s, "k", 16, "16")
	if n := s.(*windowStore).seg.numSegments(); n != 4 {
		t.Fatalf("segments = %d, want 4 (ids 1 to 4)", n)
	}
	putWindow(t, s, "k", 3, "late")
	if got := s.ExpiredPuts(); got != 1 {
		t.Fatalf("ExpiredPuts = %d, want 1", got)
	}
	wantFetch(t, s, "k", 3, "<nil>")
	putWindow(t, s, "k", 100, "x")
	wantEntries(t, "after stream time 100", collect(t)(s.All()), "k@100-110=x")
	if n := s.(*windowStore).seg.numSegments(); n != 1 {
		t.Fatalf("segments = %d, want 1", n)
	}
}

func testWindowDroppedWhileIterating(t *testing.T, b windowBackend) {
	s := openWindow(t, b, testOpts)
	putWindow(t, s, "k", 0, "0")
	putWindow(t, s, "k", 10, "10")
	putWindow(t, s, "k", 20, "20")
	it, err := s.FetchTimeRange([]byte("k"), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || it.Window().Start != 0 {
		t.Fatalf("first Next: %v %v", it.Window(), it.Err())
	}
	putWindow(t, s, "k", 1000, "1000") // drops every segment read
	for it.Next() {
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Err = %v, want nil", err)
	}
	it.Close()
}

func testWindowDuplicates(t *testing.T, b windowBackend) {
	opts := testOpts
	opts.RetainDuplicates = true
	s := openWindow(t, b, opts)
	putWindow(t, s, "k", 5, "1")
	putWindow(t, s, "k", 5, "2")
	putWindow(t, s, "k", 5, "<nil>")
	putWindow(t, s, "k", 6, "3")
	wantEntries(t, "duplicates", collect(t)(s.FetchTimeRange([]byte("k"), 0, 10)), "k@5-15=1", "k@5-15=2", "k@6-16=3")
	wantFetch(t, s, "k", 5, "1")
}

func testWindowRestore(t *testing.T, b windowBackend) {
	s := openWindow(t, b, testOpts)
	keys := [][]byte{
		WindowStoreKey([]byte("a"), 0, 0), WindowStoreKey([]byte("a"), 12, 0),
		WindowStoreKey([]byte("b"), 40, 0), WindowStoreKey([]byte("a"), 12, 0),
		WindowStoreKey([]byte("c"), 25, 0),
	}
	values := [][]byte{[]byte("old"), []byte("1"), []byte("2"), []byte("3"), nil}
	if err := s.Restore(keys, values); err != nil {
		t.Fatal(err)
	}
	// Stream time is 40: the window at 0 is out of retention.
	wantEntries(t, "restored", collect(t)(s.All()), "a@12-22=3", "b@40-50=2")
	if err := s.Restore([][]byte{[]byte("short")}, [][]byte{nil}); !errors.Is(err, ErrInvalidWindow) {
		t.Fatalf("Restore of a short key: %v, want ErrInvalidWindow", err)
	}
}

func testWindowInvalidInput(t *testing.T, b windowBackend) {
	s := openWindow(t, b, testOpts)
	if err := s.Put(nil, 0, []byte("v")); !errors.Is(err, ErrNullKey) {
		t.Errorf("Put(nil key) = %v", err)
	}
	if err := s.Put([]byte("k"), -1, []byte("v")); !errors.Is(err, ErrInvalidWindow) {
		t.Errorf("Put(start -1) = %v", err)
	}
	if _, err := s.Fetch(nil, 0); !errors.Is(err, ErrNullKey) {
		t.Errorf("Fetch(nil key) = %v", err)
	}
	if _, err := s.FetchTimeRange(nil, 0, 1); !errors.Is(err, ErrNullKey) {
		t.Errorf("FetchTimeRange(nil key) = %v", err)
	}
	wantEntries(t, "keyFrom after keyTo", collect(t)(s.FetchKeyRange([]byte("b"), []byte("a"), 0, 10)))
	options := []struct {
		opts WindowStoreOptions
		want string
	}{
		{WindowStoreOptions{Retention: 10 * time.Millisecond, WindowSize: 10 * time.Millisecond, Grace: time.Millisecond},
			"Retention 10ms smaller than WindowSize 10ms plus Grace 1ms"},
		{WindowStoreOptions{Retention: -time.Second}, "Retention -1s negative"},
		{WindowStoreOptions{Retention: time.Second, WindowSize: time.Microsecond}, "WindowSize 1µs not a whole number"},
		{WindowStoreOptions{Retention: time.Second, SegmentInterval: time.Microsecond}, "SegmentInterval 1µs"},
	}
	for _, o := range options {
		_, err := b.openWindow("bad", t.TempDir(), o.opts)
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), o.want) {
			t.Errorf("open(%+v) = %v; want ErrInvalidOptions with %q", o.opts, err, o.want)
		}
	}
}

func testWindowClosed(t *testing.T, b windowBackend) {
	s := openWindow(t, b, testOpts)
	putWindow(t, s, "k", 5, "v")
	it, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Next() || !errors.Is(it.Err(), ErrClosed) {
		t.Errorf("iterator after Close: Err = %v, want ErrClosed", it.Err())
	}
	if err := s.Put([]byte("k"), 5, []byte("v")); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v", err)
	}
	if _, err := s.Fetch([]byte("k"), 5); !errors.Is(err, ErrClosed) {
		t.Errorf("Fetch after Close = %v", err)
	}
	if _, err := s.FetchAll(0, 10); !errors.Is(err, ErrClosed) {
		t.Errorf("FetchAll after Close = %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}

func TestUpperBound(t *testing.T) {
	suffix := []byte{0x10, 0xff}
	keys := []string{"", "\x00", "\x0f", "\x10", "\x10\xff", "\x11", "a", "a\x05", "a\x10", "a\x10\xff", "a\x11", "\xff", "\xff\xff\x01"}
	for _, keyTo := range keys {
		got := upperBound([]byte(keyTo), suffix)
		// Every k <= keyTo with a suffix s <= suffix must be <= the bound.
		for _, k := range keys {
			if k > keyTo {
				continue
			}
			for _, s := range [][]byte{{0x10, 0xff}, {0x00, 0x00}, {0x10, 0x00}} {
				raw := append([]byte(k), s...)
				if bytes.Compare(raw, got) > 0 {
					t.Errorf("upperBound(%q) = %q, below %q", keyTo, got, raw)
				}
			}
		}
	}
	if upperBound(nil, suffix) != nil {
		t.Error("upperBound(nil) != nil")
	}
}

func TestDefaultSegmentInterval(t *testing.T) {
	tests := []struct{ retention, want time.Duration }{
		{0, time.Minute},
		{time.Minute, time.Minute},
		{3 * time.Minute, 90 * time.Second},
		{24 * time.Hour, 12 * time.Hour},
		{1001 * time.Millisecond, time.Minute},
		{125*time.Second + time.Millisecond, 62500 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := defaultSegmentInterval(tt.retention); got != tt.want {
			t.Errorf("defaultSegmentInterval(%v) = %v, want %v", tt.retention, got, tt.want)
		}
	}
}

// A pebble window store reopened finds its segments and their windows.
func TestPebbleWindowStoreReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "task", "win")
	s, err := OpenPebbleWindowStore("win", dir, testOpts, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The directory exists before any segment: the runtime writes the
	// task's checkpoint next to it.
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("store directory after open: %v", err)
	}
	putWindow(t, s, "a", 5, "1")
	putWindow(t, s, "a", 25, "2")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err = OpenPebbleWindowStore("win", dir, testOpts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantEntries(t, "reopened", collect(t)(s.All()), "a@5-15=1", "a@25-35=2")
	if n := s.(*windowStore).seg.numSegments(); n != 2 {
		t.Fatalf("segments = %d, want 2", n)
	}
}

// A pebble window store written over many windows keeps a bounded number
// of segments and a bounded size on disk: expired segments are deleted.
func TestPebbleWindowStoreBounded(t *testing.T) {
	dir := t.TempDir()
	opts := WindowStoreOptions{Retention: 2 * time.Minute, WindowSize: time.Second}
	s, err := OpenPebbleWindowStore("win", dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	value := make([]byte, 100)
	random := rand.NewChaCha8([32]byte{1})
	var maxSize int64
	const hours = 2
	for ts := int64(0); ts < hours*3600_000; ts += 1000 {
		for k := range 10 {
			random.Read(value) // incompressible
			if err := s.Put([]byte(fmt.Sprint("key", k)), ts, value); err != nil {
				t.Fatal(err)
			}
		}
		if ts%600_000 == 0 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			maxSize = max(maxSize, dirSize(t, dir))
		}
	}
	// Retention 2 min, segments of 1 min: segment ids from
	// (now-2min)/1min to now/1min, at most 3.
	if n := s.(*windowStore).seg.numSegments(); n > 3 {
		t.Fatalf("segments = %d, want at most 3", n)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 3 {
		t.Fatalf("%d segment directories on disk, want at most 3", len(entries))
	}
	// 2 hours of windows are 72,000 entries of about 120 bytes, 8.6 MB;
	// three minutes of them are 1,800 entries.
	if maxSize > 1<<20 {
		t.Fatalf("store grew to %d bytes on disk", maxSize)
	}
	t.Logf("%d segments, %d directories, at most %d bytes on disk", s.(*windowStore).seg.numSegments(), len(entries), maxSize)
}

// dirSize returns the size of the files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sessionWin(start, end int64) serde.Window { return serde.Window{Start: start, End: end} }

package state

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// openFunc opens an empty store named name, closed when tb ends.
type openFunc func(tb testing.TB, name string) BytesStore

// storeBackends lists every BytesStore backend; each test of the shared
// suite runs over all of them.
var storeBackends = []struct {
	name string
	open openFunc
}{
	{"memory", openMemory},
	{"pebble", openPebble},
}

func openMemory(tb testing.TB, name string) BytesStore {
	s := NewMemoryStore(name)
	tb.Cleanup(func() { s.Close() })
	return s
}

func openPebble(tb testing.TB, name string) BytesStore {
	s, err := OpenPebbleStore(name, tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestBytesStoreAllBackends(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) { testBytesStore(t, b.open) })
	}
}

// testBytesStore is the store test suite every backend must pass.
func testBytesStore(t *testing.T, open openFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s BytesStore)
	}{
		{"GetPut", testGetPut},
		{"NullKey", testNullKey},
		{"PutIfAbsent", testPutIfAbsent},
		{"Delete", testDelete},
		{"Range", testRange},
		{"ReverseRange", testReverseRange},
		{"PrefixScan", testPrefixScan},
		{"All", testAll},
		{"ApproximateNumEntries", testApproximateNumEntries},
		{"IteratorSnapshot", testIteratorSnapshot},
		{"IteratorSlicesStable", testIteratorSlicesStable},
		{"CallerBuffersCopied", testCallerBuffersCopied},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t, "store-"+tt.name)) })
	}
}

func mustPut(t *testing.T, s BytesStore, kvs ...string) {
	t.Helper()
	for i := 0; i < len(kvs); i += 2 {
		if err := s.Put([]byte(kvs[i]), []byte(kvs[i+1])); err != nil {
			t.Fatalf("Put(%q): %v", kvs[i], err)
		}
	}
}

// wantGet checks that key holds want; a nil want means absent.
func wantGet(t *testing.T, s BytesStore, key string, want []byte) {
	t.Helper()
	got, err := s.Get([]byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("Get(%q) = %q (nil %v), want %q (nil %v)", key, got, got == nil, want, want == nil)
	}
}

// drain closes it and returns its keys; it checks each value is "v"+key.
func drain(t *testing.T, it Iterator, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	keys := []string{}
	for it.Next() {
		if want := "v" + string(it.Key()); string(it.Value()) != want {
			t.Errorf("value of %q = %q, want %q", it.Key(), it.Value(), want)
		}
		keys = append(keys, string(it.Key()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// putKeys puts each key with value "v"+key.
func putKeys(t *testing.T, s BytesStore, keys ...string) {
	t.Helper()
	for _, k := range keys {
		mustPut(t, s, k, "v"+k)
	}
}

func testGetPut(t *testing.T, s BytesStore) {
	wantGet(t, s, "a", nil)
	mustPut(t, s, "a", "1", "b", "2")
	wantGet(t, s, "a", []byte("1"))
	mustPut(t, s, "a", "3")
	wantGet(t, s, "a", []byte("3"))
	if err := s.Put([]byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "a", nil)
	wantGet(t, s, "b", []byte("2"))
	mustPut(t, s, "empty", "", "", "empty key")
	wantGet(t, s, "empty", []byte{})
	wantGet(t, s, "", []byte("empty key"))
	if err := s.Put([]byte("absent"), nil); err != nil {
		t.Fatalf("Put(absent, nil): %v", err)
	}
}

func testNullKey(t *testing.T, s BytesStore) {
	_, errGet := s.Get(nil)
	errPut := s.Put(nil, []byte("v"))
	_, errPIA := s.PutIfAbsent(nil, []byte("v"))
	_, errDel := s.Delete(nil)
	for i, err := range []error{errGet, errPut, errPIA, errDel} {
		if !errors.Is(err, ErrNullKey) {
			t.Errorf("op %d: err = %v, want ErrNullKey", i, err)
		}
	}
}

func testPutIfAbsent(t *testing.T, s BytesStore) {
	old, err := s.PutIfAbsent([]byte("k"), []byte("1"))
	if err != nil || old != nil {
		t.Fatalf("first PutIfAbsent = %q, %v; want nil, nil", old, err)
	}
	old, err = s.PutIfAbsent([]byte("k"), []byte("2"))
	if err != nil || string(old) != "1" {
		t.Fatalf("second PutIfAbsent = %q, %v; want 1, nil", old, err)
	}
	wantGet(t, s, "k", []byte("1"))
	if old, err = s.PutIfAbsent([]byte("n"), nil); err != nil || old != nil {
		t.Fatalf("PutIfAbsent(n, nil) = %q, %v", old, err)
	}
	wantGet(t, s, "n", nil)
}

func testDelete(t *testing.T, s BytesStore) {
	mustPut(t, s, "k", "1")
	old, err := s.Delete([]byte("k"))
	if err != nil || string(old) != "1" {
		t.Fatalf("Delete = %q, %v; want 1, nil", old, err)
	}
	wantGet(t, s, "k", nil)
	if old, err = s.Delete([]byte("k")); err != nil || old != nil {
		t.Fatalf("Delete again = %q, %v; want nil, nil", old, err)
	}
}

// rangeCases are Range bounds over rangeKeys, with the keys expected in
// ascending order. A nil bound is unbounded.
var (
	rangeKeys  = []string{"a", "b", "b\x00", "c", "d"}
	rangeCases = []struct {
		from, to []byte
		want     []string
	}{
		{[]byte("a"), []byte("c"), []string{"a", "b", "b\x00", "c"}},
		{[]byte("b"), []byte("b"), []string{"b"}},
		{[]byte("b\x00"), []byte("c"), []string{"b\x00", "c"}},
		{nil, []byte("b"), []string{"a", "b"}},
		{[]byte("c"), nil, []string{"c", "d"}},
		{nil, nil, []string{"a", "b", "b\x00", "c", "d"}},
		{[]byte("bb"), []byte("cc"), []string{"c"}},
		{[]byte(""), []byte("a"), []string{"a"}},
		{[]byte("d"), []byte("a"), []string{}},
		{[]byte("e"), nil, []string{}},
		{[]byte("x"), []byte("z"), []string{}},
	}
)

func testRange(t *testing.T, s BytesStore) {
	putKeys(t, s, rangeKeys...)
	for _, c := range rangeCases {
		it, err := s.Range(c.from, c.to)
		if got := drain(t, it, err); !slices.Equal(got, c.want) {
			t.Errorf("Range(%q, %q) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}

func testReverseRange(t *testing.T, s BytesStore) {
	putKeys(t, s, rangeKeys...)
	for _, c := range rangeCases {
		want := slices.Clone(c.want)
		slices.Reverse(want)
		it, err := s.ReverseRange(c.from, c.to)
		if got := drain(t, it, err); !slices.Equal(got, want) {
			t.Errorf("ReverseRange(%q, %q) = %q, want %q", c.from, c.to, got, want)
		}
	}
}

func testPrefixScan(t *testing.T, s BytesStore) {
	putKeys(t, s, "\xfe\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\x01", "a", "ab", "abc", "b")
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"a", []string{"a", "ab", "abc"}},
		{"ab", []string{"ab", "abc"}},
		{"abcd", []string{}},
		{"\xfe", []string{"\xfe\xff"}},
		{"\xff", []string{"\xff", "\xff\x00", "\xff\xff", "\xff\xff\x01"}},
		{"\xff\xff", []string{"\xff\xff", "\xff\xff\x01"}},
		{"\xff\xff\xff", []string{}},
		{"", []string{"a", "ab", "abc", "b", "\xfe\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\x01"}},
	} {
		it, err := s.PrefixScan([]byte(c.prefix))
		if got := drain(t, it, err); !slices.Equal(got, c.want) {
			t.Errorf("PrefixScan(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
}

func testAll(t *testing.T, s BytesStore) {
	it, err := s.All()
	if got := drain(t, it, err); len(got) != 0 {
		t.Fatalf("All on empty store = %q", got)
	}
	putKeys(t, s, "c", "a", "\x00", "b")
	want := []string{"\x00", "a", "b", "c"}
	it, err = s.All()
	if got := drain(t, it, err); !slices.Equal(got, want) {
		t.Fatalf("All = %q, want %q", got, want)
	}
}

func wantCount(t *testing.T, s BytesStore, want int64) {
	t.Helper()
	n, err := s.ApproximateNumEntries()
	if err != nil || n != want {
		t.Fatalf("ApproximateNumEntries = %d, %v; want %d", n, err, want)
	}
}

func testApproximateNumEntries(t *testing.T, s BytesStore) {
	wantCount(t, s, 0)
	putKeys(t, s, "a", "b", "c")
	wantCount(t, s, 3)
	mustFlush(t, s)
	wantCount(t, s, 3)
	if _, err := s.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete([]byte("absent")); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, 2)
	mustFlush(t, s)
	wantCount(t, s, 2)
}

func mustFlush(t *testing.T, s BytesStore) {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
}

// testIteratorSnapshot writes through the store while iterating it from
// the same goroutine: the iterator sees the store as it was.
func testIteratorSnapshot(t *testing.T, s BytesStore) {
	putKeys(t, s, "a", "b", "c", "d")
	it, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	for it.Next() {
		got = append(got, string(it.Key())+"="+string(it.Value()))
		mustPut(t, s, "b", "changed", "bb", "new", "e", "new")
		if _, err := s.Delete([]byte("c")); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"a=va", "b=vb", "c=vc", "d=vd"}
	if err := it.Err(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("iterated %q, %v; want %q", got, err, want)
	}
	wantGet(t, s, "b", []byte("changed"))
}

// testIteratorSlicesStable keeps every slice an iterator returned and
// checks them after the iteration and after Close.
func testIteratorSlicesStable(t *testing.T, s BytesStore) {
	putKeys(t, s, "k1", "k2", "k3")
	it, err := s.ReverseRange(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys, values [][]byte
	for it.Next() {
		keys, values = append(keys, it.Key()), append(values, it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("second iterator Close: %v", err)
	}
	mustPut(t, s, "k2", "overwritten")
	for i, want := range []string{"k3", "k2", "k1"} {
		if string(keys[i]) != want || string(values[i]) != "v"+want {
			t.Errorf("entry %d = %q=%q, want %q=v%s", i, keys[i], values[i], want, want)
		}
	}
}

// testCallerBuffersCopied reuses the buffers given to Put and Range.
func testCallerBuffersCopied(t *testing.T, s BytesStore) {
	key, value := []byte("key"), []byte("value")
	if err := s.Put(key, value); err != nil {
		t.Fatal(err)
	}
	copy(key, "KEY")
	copy(value, "VALUE")
	wantGet(t, s, "key", []byte("value"))
	from := []byte("a")
	it, err := s.Range(from, nil)
	if err != nil {
		t.Fatal(err)
	}
	from[0] = 'z'
	if got := drainRaw(t, it); !slices.Equal(got, []string{"key"}) {
		t.Fatalf("Range after changing from = %q", got)
	}
}

// drainRaw closes it and returns its keys.
func drainRaw(t *testing.T, it Iterator) []string {
	t.Helper()
	defer it.Close()
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func testClosed(t *testing.T, s BytesStore) {
	putKeys(t, s, "a", "b")
	open, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if !open.Next() {
		t.Fatal("open iterator: no first entry")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if open.Next() || !errors.Is(open.Err(), ErrClosed) {
		t.Errorf("iterator after store Close: Err = %v, want ErrClosed", open.Err())
	}
	if err := open.Close(); err != nil {
		t.Errorf("iterator Close after store Close: %v", err)
	}
	for name, err := range closedErrors(s) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
	if s.Name() != "store-Closed" {
		t.Errorf("Name after Close = %q", s.Name())
	}
}

// closedErrors calls every method of s and returns the errors by name.
func closedErrors(s BytesStore) map[string]error {
	k := []byte("a")
	errs := map[string]error{"Put": s.Put(k, k), "Flush": s.Flush(), "Close": s.Close()}
	_, errs["Get"] = s.Get(k)
	_, errs["PutIfAbsent"] = s.PutIfAbsent(k, k)
	_, errs["Delete"] = s.Delete(k)
	_, errs["Range"] = s.Range(k, k)
	_, errs["ReverseRange"] = s.ReverseRange(nil, nil)
	_, errs["PrefixScan"] = s.PrefixScan(k)
	_, errs["All"] = s.All()
	_, errs["ApproximateNumEntries"] = s.ApproximateNumEntries()
	return errs
}

// testConcurrent runs writers and readers at once, for the race detector:
// a stream thread writing while interactive queries read.
func testConcurrent(t *testing.T, s BytesStore) {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 2 {
		wg.Go(func() { errs <- concurrentWrites(s, w) })
		wg.Go(func() { errs <- concurrentReads(s) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func concurrentWrites(s BytesStore, writer int) error {
	for i := range 200 {
		key := []byte(fmt.Sprintf("w%d-%03d", writer, i))
		if err := s.Put(key, key); err != nil {
			return err
		}
		if _, err := s.PutIfAbsent(key, key); err != nil {
			return err
		}
		if i%3 == 0 {
			if _, err := s.Delete(key); err != nil {
				return err
			}
		}
	}
	return nil
}

func concurrentReads(s BytesStore) error {
	for i := range 50 {
		if _, err := s.Get([]byte(fmt.Sprintf("w0-%03d", i))); err != nil {
			return err
		}
		it, err := s.PrefixScan([]byte("w1-"))
		if err != nil {
			return err
		}
		for it.Next() {
			if !bytes.Equal(it.Key(), it.Value()) {
				return fmt.Errorf("key %q has value %q", it.Key(), it.Value())
			}
		}
		if err := errors.Join(it.Err(), it.Close()); err != nil {
			return err
		}
	}
	return nil
}

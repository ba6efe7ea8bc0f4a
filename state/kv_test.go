package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams/serde"
)

// failingSerde fails to serialize "bad" and to deserialize "bad".
func failingSerde() serde.Serde[string] {
	return serde.Func(
		func(_ string, v string) ([]byte, error) {
			if v == "bad" {
				return nil, errors.New("cannot serialize bad")
			}
			return []byte(v), nil
		},
		func(_ string, b []byte) (string, error) {
			if string(b) == "bad" {
				return "", errors.New("cannot deserialize bad")
			}
			return string(b), nil
		})
}

func TestKeyValueStoreAllBackends(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			testTypedReadWrite(t, NewKeyValueStore(b.open(t, "counts"), serde.String(), serde.Int64()))
			testTypedIterators(t, NewKeyValueStore(b.open(t, "counts"), serde.String(), serde.Int64()))
		})
	}
}

func testTypedReadWrite(t *testing.T, s KeyValueStore[string, int64]) {
	if v, ok, err := s.Get("alice"); v != 0 || ok || err != nil {
		t.Fatalf("Get(absent) = %d, %v, %v", v, ok, err)
	}
	if err := s.Put("alice", 1); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.PutIfAbsent("alice", 9); v != 1 || !ok || err != nil {
		t.Fatalf("PutIfAbsent(present) = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := s.PutIfAbsent("bob", 2); v != 0 || ok || err != nil {
		t.Fatalf("PutIfAbsent(absent) = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := s.Get("bob"); v != 2 || !ok || err != nil {
		t.Fatalf("Get(bob) = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := s.Delete("bob"); v != 2 || !ok || err != nil {
		t.Fatalf("Delete(bob) = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := s.Delete("bob"); v != 0 || ok || err != nil {
		t.Fatalf("Delete(absent) = %d, %v, %v", v, ok, err)
	}
	if s.Name() != "counts" {
		t.Fatalf("Name = %q", s.Name())
	}
}

func testTypedIterators(t *testing.T, s KeyValueStore[string, int64]) {
	for i, k := range []string{"a", "ab", "abc", "b", "c"} {
		if err := s.Put(k, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	open := func(it KeyValueIterator[string, int64], err error) KeyValueIterator[string, int64] {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	for _, c := range []struct {
		name string
		it   KeyValueIterator[string, int64]
		want []string
	}{
		{"Range", open(s.Range("ab", "b")), []string{"ab=1", "abc=2", "b=3"}},
		{"ReverseRange", open(s.ReverseRange("ab", "b")), []string{"b=3", "abc=2", "ab=1"}},
		{"PrefixScan", open(s.PrefixScan("ab")), []string{"ab=1", "abc=2"}},
		{"All", open(s.All()), []string{"a=0", "ab=1", "abc=2", "b=3", "c=4"}},
	} {
		if got := drainTyped(t, c.it); !slices.Equal(got, c.want) {
			t.Errorf("%s = %q, want %q", c.name, got, c.want)
		}
	}
	if n, err := s.ApproximateNumEntries(); n != 5 || err != nil {
		t.Errorf("ApproximateNumEntries = %d, %v", n, err)
	}
}

// drainTyped closes it and returns its entries as "key=value".
func drainTyped[K, V any](t *testing.T, it KeyValueIterator[K, V]) []string {
	t.Helper()
	defer it.Close()
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%v=%v", it.Key(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// wantStoreError checks that err is a *StoreError with op and key.
func wantStoreError(t *testing.T, err error, op string, key []byte) *StoreError {
	t.Helper()
	var se *StoreError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *StoreError", err, err)
	}
	if se.Store != "typed" || se.Op != op || string(se.Key) != string(key) || (se.Key == nil) != (key == nil) {
		t.Fatalf("StoreError = {%q %q %q}, want {typed %q %q}", se.Store, se.Op, se.Key, op, key)
	}
	if !strings.Contains(err.Error(), `store "typed"`) {
		t.Fatalf("message %q does not name the store", err)
	}
	return se
}

func TestKeyValueStoreSerdeErrors(t *testing.T) {
	bytes := NewMemoryStore("typed")
	s := NewKeyValueStore(bytes, failingSerde(), failingSerde())
	mustPut(t, bytes, "k", "bad", "bad", "v")

	_, _, err := s.Get("k")
	wantStoreError(t, err, "get", []byte("k"))
	if !strings.Contains(err.Error(), "deserialize value: cannot deserialize bad") {
		t.Errorf("Get error %q lacks the cause", err)
	}
	_, _, err = s.Get("bad")
	wantStoreError(t, err, "get", nil)
	err = s.Put("k2", "bad")
	wantStoreError(t, err, "put", []byte("k2"))
	_, _, err = s.PutIfAbsent("k3", "bad")
	wantStoreError(t, err, "put-if-absent", []byte("k3"))
	_, _, err = s.Delete("k")
	wantStoreError(t, err, "delete", []byte("k"))
	_, err = s.Range("a", "bad")
	wantStoreError(t, err, "range", nil)
	_, err = s.PrefixScan("bad")
	wantStoreError(t, err, "prefix-scan", nil)
}

func TestKeyValueIteratorDecodeError(t *testing.T) {
	bytes := NewMemoryStore("typed")
	s := NewKeyValueStore(bytes, serde.String(), serde.Int64())
	if err := s.Put("a", 1); err != nil {
		t.Fatal(err)
	}
	mustPut(t, bytes, "b", "not eight bytes")
	if err := s.Put("c", 3); err != nil {
		t.Fatal(err)
	}
	it, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() || it.Key() != "a" || it.Value() != 1 {
		t.Fatalf("first entry = %q=%d", it.Key(), it.Value())
	}
	if it.Next() || it.Next() {
		t.Fatal("Next went past an entry that does not decode")
	}
	wantStoreError(t, it.Err(), "all", []byte("b"))
	if !errors.Is(it.Err(), serde.ErrSize) {
		t.Fatalf("Err = %v, want it to wrap serde.ErrSize", it.Err())
	}
}

func TestKeyValueStoreNulls(t *testing.T) {
	bytes := NewMemoryStore("typed")
	s := NewKeyValueStore(bytes, serde.Bytes(), serde.JSON[*string]())
	_, _, err := s.Get(nil)
	if wantStoreError(t, err, "get", nil); !errors.Is(err, ErrNullKey) {
		t.Fatalf("Get(nil key) = %v, want ErrNullKey", err)
	}
	v := "x"
	if err := s.Put([]byte("k"), &v); err != nil {
		t.Fatal(err)
	}
	if err := s.Put([]byte("k"), nil); err != nil {
		t.Fatal(err)
	}
	wantGet(t, bytes, "k", nil)
}

func TestKeyValueStoreClosed(t *testing.T) {
	bytes := NewMemoryStore("typed")
	s := NewKeyValueStore(bytes, serde.String(), serde.String())
	if err := s.Put("k", "v"); err != nil {
		t.Fatal(err)
	}
	it, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, bytes)
	if it.Next() {
		t.Fatal("Next after Close")
	}
	wantStoreError(t, it.Err(), "all", nil)
	for _, err := range []error{it.Err(), s.Put("k", "v")} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
	}
	_, err = s.ApproximateNumEntries()
	wantStoreError(t, err, "approximate-num-entries", nil)
}

func ExampleNewKeyValueStore() {
	counts := NewKeyValueStore(NewMemoryStore("counts"), serde.String(), serde.Int64())
	for _, user := range []string{"bob", "alice", "bob"} {
		n, _, _ := counts.Get(user)
		_ = counts.Put(user, n+1)
	}
	it, _ := counts.All()
	defer it.Close()
	for it.Next() {
		fmt.Println(it.Key(), it.Value())
	}
	// Output:
	// alice 1
	// bob 2
}

package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func mustOpenPebble(t *testing.T, dir string, opts *PebbleOptions) BytesStore {
	t.Helper()
	s, err := OpenPebbleStore("persist", dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustClose(t *testing.T, s BytesStore) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPebbleReopenAfterFlush(t *testing.T) {
	dir := t.TempDir() + "/nested/store"
	s := mustOpenPebble(t, dir, nil)
	mustPut(t, s, "a", "1", "b", "2", "c", "3")
	mustFlush(t, s)
	if _, err := s.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, s)
	mustClose(t, s)

	s = mustOpenPebble(t, dir, nil)
	defer s.Close()
	wantGet(t, s, "a", []byte("1"))
	wantGet(t, s, "b", nil)
	wantGet(t, s, "c", []byte("3"))
	wantCount(t, s, 2)
}

func TestPebbleWALKeepsUnflushedWrites(t *testing.T) {
	dir := t.TempDir()
	opts := &PebbleOptions{WAL: true}
	s := mustOpenPebble(t, dir, opts)
	mustPut(t, s, "k", "v")
	mustClose(t, s)

	s = mustOpenPebble(t, dir, opts)
	defer s.Close()
	wantGet(t, s, "k", []byte("v"))
}

func TestPebbleDirInUse(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenPebble(t, dir, nil)
	defer s.Close()
	if _, err := OpenPebbleStore("again", dir, nil); err == nil || !strings.Contains(err.Error(), `"again"`) {
		t.Fatalf("second open of %s: err = %v, want an error naming the store", dir, err)
	}
}

func TestPebbleSharedCache(t *testing.T) {
	cache := pebble.NewCache(1 << 20)
	defer cache.Unref()
	opts := &PebbleOptions{Cache: cache}
	for _, name := range []string{"one", "two"} {
		s, err := OpenPebbleStore(name, t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, s, "k", name)
		wantGet(t, s, "k", []byte(name))
		mustClose(t, s)
	}
}

func TestPebbleOptionsDefaults(t *testing.T) {
	var nilOpts *PebbleOptions
	o := nilOpts.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	want := PebbleOptions{MemTableSize: 8 << 20, MemTableStopWritesThreshold: 4, CacheSize: 32 << 20, MaxOpenFiles: 64}
	o.Logger = nil
	if *o != want {
		t.Fatalf("defaults = %+v, want %+v", *o, want)
	}
	set := &PebbleOptions{MemTableSize: 8 << 20, MaxOpenFiles: 500}
	if set.EnsureDefaults(); set.MemTableSize != 8<<20 || set.MaxOpenFiles != 500 {
		t.Fatalf("EnsureDefaults overwrote set fields: %+v", set)
	}
}

func TestPebbleOptionsValidate(t *testing.T) {
	o := &PebbleOptions{MemTableSize: 1, MemTableStopWritesThreshold: 1, CacheSize: -1, MaxOpenFiles: 2}
	err := o.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
	}
	for _, field := range []string{"MemTableSize", "MemTableStopWritesThreshold", "CacheSize", "MaxOpenFiles"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate error %q does not report %s", err, field)
		}
	}
	if _, err := OpenPebbleStore("bad", t.TempDir(), o); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("OpenPebbleStore with bad options: %v", err)
	}
}

// TestPebbleCloseClosesIterators checks that Close succeeds with iterators
// left open, which pebble itself would report as leaked.
func TestPebbleCloseClosesIterators(t *testing.T) {
	s := mustOpenPebble(t, t.TempDir(), nil)
	mustPut(t, s, "a", "1")
	for range 3 {
		if _, err := s.All(); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, s)
}

// PutAll applies sets and deletes in order, in one batch; a nil key or
// mismatched lengths write nothing.
func TestPebblePutAll(t *testing.T) {
	s := mustOpenPebble(t, t.TempDir(), nil)
	defer s.Close()
	mustPut(t, s, "gone", "x")
	bw, ok := s.(BatchWriter)
	if !ok {
		t.Fatal("the Pebble store is not a BatchWriter")
	}
	b := func(v string) []byte { return []byte(v) }
	err := bw.PutAll([][]byte{b("a"), b("b"), b("a"), b("gone"), b("never")}, [][]byte{b("1"), b("2"), b("3"), nil, nil})
	if err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "a", b("3")) // the later write of a key wins
	wantGet(t, s, "b", b("2"))
	wantGet(t, s, "gone", nil)
	wantGet(t, s, "never", nil)

	if err := bw.PutAll([][]byte{b("c"), nil}, [][]byte{b("1"), b("2")}); !errors.Is(err, ErrNullKey) {
		t.Errorf("PutAll with a nil key: %v, want ErrNullKey", err)
	}
	if err := bw.PutAll([][]byte{b("c")}, nil); err == nil || !strings.Contains(err.Error(), "1 keys and 0 values") {
		t.Errorf("PutAll with mismatched lengths: %v", err)
	}
	wantGet(t, s, "c", nil)
	mustClose(t, s)
	if err := bw.PutAll([][]byte{b("c")}, [][]byte{b("1")}); !errors.Is(err, ErrClosed) {
		t.Errorf("PutAll on a closed store: %v, want ErrClosed", err)
	}
}

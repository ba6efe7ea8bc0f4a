package runtime

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/state"
)

// TestCacheViewReadsThroughTheCache: a query view of a cached store sees
// the cache's uncommitted writes and deletions over the store below, in
// Get and in every iterator.
func TestCacheViewReadsThroughTheCache(t *testing.T) {
	c, below, _, _ := listened(t, 1<<20)
	for _, k := range []string{"a", "c", "e", "g"} {
		mustPut(t, below, k, k+"0")
	}
	v := &cacheView{cache: c, below: below}
	mustPut(t, c, "b", "b1") // new key, cached only
	mustPut(t, c, "c", "c1") // update of a key below
	if _, err := c.Delete([]byte("e")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "h", "h1")
	if got := string(mustGet(t, below, "c")); got != "c0" {
		t.Fatalf("the store below has c=%q: the cache flushed early", got)
	}
	for k, want := range map[string]string{"a": "a0", "b": "b1", "c": "c1", "e": "", "g": "g0", "h": "h1", "z": ""} {
		if got := string(mustGet(t, v, k)); got != want {
			t.Errorf("Get(%q) = %q, want %q", k, got, want)
		}
	}
	tests := []struct {
		name string
		open func() (state.Iterator, error)
		want []string
	}{
		{"All", v.All, []string{"a=a0", "b=b1", "c=c1", "g=g0", "h=h1"}},
		{"Range", func() (state.Iterator, error) { return v.Range([]byte("b"), []byte("g")) }, []string{"b=b1", "c=c1", "g=g0"}},
		{"ReverseRange", func() (state.Iterator, error) { return v.ReverseRange([]byte("a"), []byte("e")) }, []string{"c=c1", "b=b1", "a=a0"}},
		{"ReverseRange open", func() (state.Iterator, error) { return v.ReverseRange(nil, nil) }, []string{"h=h1", "g=g0", "c=c1", "b=b1", "a=a0"}},
		{"PrefixScan", func() (state.Iterator, error) { return v.PrefixScan([]byte("h")) }, []string{"h=h1"}},
	}
	for _, tc := range tests {
		it, err := tc.open()
		if got := drain(t, it, err); !slices.Equal(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	if err := v.Put([]byte("x"), []byte("y")); err == nil {
		t.Error("Put through the query view succeeded")
	}
}

// TestCacheViewConcurrentFlush: while the task's goroutine writes and
// flushes, a query never sees a key go back to an older value (entries
// being flushed stay visible until written below). Run with -race.
func TestCacheViewConcurrentFlush(t *testing.T) {
	below := slowStore{state.NewMemoryStore("s")}
	c := newCachedStore(below, 256, func() int64 { return 0 })
	v := &cacheView{cache: c, below: below}
	const keys, rounds = 8, 200
	var wg sync.WaitGroup
	wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(done)
		for r := 1; r <= rounds; r++ {
			for k := range keys {
				if err := c.Put(fmt.Appendf(nil, "k%d", k), fmt.Appendf(nil, "%06d", r)); err != nil {
					t.Error(err)
					return
				}
			}
			if r%7 == 0 {
				if err := c.Flush(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	last := make([]string, keys)
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		for k := range keys {
			got, err := v.Get(fmt.Appendf(nil, "k%d", k))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) < last[k] {
				t.Fatalf("k%d went back from %s to %s", k, last[k], got)
			}
			last[k] = string(got)
		}
	}
	wg.Wait()
}

// slowStore widens the window of a flush: each write below takes a while.
type slowStore struct{ state.BytesStore }

func (s slowStore) Put(key, value []byte) error {
	time.Sleep(20 * time.Microsecond)
	return s.BytesStore.Put(key, value)
}

package state

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// drainWindowedIt returns "key@start-end=value" for each entry of it.
func drainWindowedIt[K, V any](t *testing.T, it KeyValueIterator[serde.Windowed[K], V], err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	got := []string{}
	for it.Next() {
		k := it.Key()
		got = append(got, fmt.Sprintf("%v@%d-%d=%v", k.Key, k.Window.Start, k.Window.End, it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestTypedWindowStore(t *testing.T) {
	bytes, err := NewMemoryWindowStore("counts", WindowStoreOptions{Retention: time.Hour, WindowSize: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bytes.Close()
	s := NewWindowStore(bytes, serde.String(), serde.Int64())
	for _, p := range []struct {
		key   string
		start int64
		count int64
	}{{"alice", 0, 1}, {"alice", 10, 2}, {"bob", 10, 3}, {"alice", 20, 4}} {
		if err := s.Put(p.key, p.count, p.start); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := s.Fetch("alice", 10); err != nil || !ok || v != 2 {
		t.Fatalf("Fetch(alice, 10) = %v, %v, %v", v, ok, err)
	}
	if v, ok, err := s.Fetch("alice", 5); err != nil || ok || v != 0 {
		t.Fatalf("Fetch(alice, 5) = %v, %v, %v", v, ok, err)
	}
	it, err := s.BackwardFetchTimeRange("alice", 0, 15)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%d=%d", it.Timestamp(), it.Value()))
	}
	if it.Err() != nil || !slices.Equal(got, []string{"10=2", "0=1"}) {
		t.Fatalf("BackwardFetchTimeRange = %v, %v", got, it.Err())
	}
	it.Close()
	wantEntries(t, "FetchAll", drainWindowed[string, int64](t)(s.FetchAll(10, 10)), "alice@10-20=2", "bob@10-20=3")
	wantEntries(t, "FetchKeyRange", drainWindowed[string, int64](t)(s.FetchKeyRange("b", "c", 0, 100)), "bob@10-20=3")
	wantEntries(t, "BackwardFetchKeyRange", drainWindowed[string, int64](t)(s.BackwardFetchKeyRange("a", "alice", 0, 100)),
		"alice@20-30=4", "alice@10-20=2", "alice@0-10=1")
	wantEntries(t, "All", drainWindowed[string, int64](t)(s.All()), "alice@0-10=1", "alice@10-20=2", "alice@20-30=4", "bob@10-20=3")
	wantEntries(t, "BackwardAll", drainWindowed[string, int64](t)(s.BackwardAll()), "bob@10-20=3", "alice@20-30=4", "alice@10-20=2", "alice@0-10=1")
	wantEntries(t, "BackwardFetchAll", drainWindowed[string, int64](t)(s.BackwardFetchAll(0, 10)), "bob@10-20=3", "alice@10-20=2", "alice@0-10=1")
}

func TestTypedWindowStoreErrors(t *testing.T) {
	bytes, err := NewMemoryWindowStore("w", WindowStoreOptions{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bytes.Close()
	if err := bytes.Put([]byte("k"), 0, []byte("not 8 bytes")); err != nil {
		t.Fatal(err)
	}
	s := NewWindowStore(bytes, serde.String(), serde.Int64())
	var se *StoreError
	_, _, err = s.Fetch("k", 0)
	if !errors.As(err, &se) || se.Op != "fetch" || string(se.Key) != "k" || !errors.Is(err, serde.ErrSize) {
		t.Fatalf("Fetch of a bad value: %v", err)
	}
	it, err := s.FetchAll(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if it.Next() || !errors.As(it.Err(), &se) || se.Op != "fetch-all" {
		t.Fatalf("FetchAll of a bad value: %v", it.Err())
	}
	it.Close()
	if err := s.Put("k", 1, -1); !errors.Is(err, ErrInvalidWindow) || !errors.As(err, &se) {
		t.Fatalf("Put at -1: %v", err)
	}
	nullKeys := NewWindowStore(bytes, serde.Bytes(), serde.Int64())
	if err := nullKeys.Put(nil, 1, 0); !errors.Is(err, ErrNullKey) {
		t.Fatalf("Put(nil key): %v", err)
	}
	bytes.Close()
	if _, err := s.All(); !errors.Is(err, ErrClosed) || !errors.As(err, &se) {
		t.Fatalf("All after Close: %v", err)
	}
}

func TestTypedSessionStore(t *testing.T) {
	bytes, err := NewMemorySessionStore("sessions", SessionStoreOptions{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bytes.Close()
	s := NewSessionStore(bytes, serde.String(), serde.Int64())
	put := func(key string, start, end, v int64) {
		t.Helper()
		if err := s.Put(serde.Windowed[string]{Key: key, Window: sessionWin(start, end)}, v); err != nil {
			t.Fatal(err)
		}
	}
	put("alice", 0, 10, 2)
	put("alice", 30, 30, 1)
	put("bob", 5, 5, 1)
	wantEntries(t, "FindSessions", drainWindowed[string, int64](t)(s.FindSessions("alice", 10, 40)), "alice@0-10=2", "alice@30-30=1")
	wantEntries(t, "BackwardFindSessions", drainWindowed[string, int64](t)(s.BackwardFindSessions("alice", 11, 40)), "alice@30-30=1")
	wantEntries(t, "FindSessionsKeyRange", drainWindowed[string, int64](t)(s.FindSessionsKeyRange("a", "z", 0, 5)), "alice@0-10=2", "bob@5-5=1")
	wantEntries(t, "BackwardFetch", drainWindowed[string, int64](t)(s.BackwardFetch("alice")), "alice@30-30=1", "alice@0-10=2")
	if v, ok, err := s.FetchSession("alice", sessionWin(0, 10)); err != nil || !ok || v != 2 {
		t.Fatalf("FetchSession = %v, %v, %v", v, ok, err)
	}
	if err := s.Remove(serde.Windowed[string]{Key: "alice", Window: sessionWin(0, 10)}); err != nil {
		t.Fatal(err)
	}
	wantEntries(t, "Fetch after Remove", drainWindowed[string, int64](t)(s.Fetch("alice")), "alice@30-30=1")
}

// drainWindowed returns a function draining a typed windowed iterator, so
// that it takes a read's two results as they are.
func drainWindowed[K, V any](t *testing.T) func(KeyValueIterator[serde.Windowed[K], V], error) []string {
	return func(it KeyValueIterator[serde.Windowed[K], V], err error) []string {
		t.Helper()
		return drainWindowedIt(t, it, err)
	}
}

// Readers iterate while a writer puts and drops segments; run with -race.
func TestWindowStoreConcurrent(t *testing.T) {
	for _, b := range windowBackends {
		t.Run(b.name, func(t *testing.T) {
			s := openWindow(t, b, WindowStoreOptions{Retention: 20 * time.Millisecond, SegmentInterval: 5 * time.Millisecond})
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						it, err := s.FetchAll(0, 1<<40)
						if err != nil {
							t.Error(err)
							return
						}
						for it.Next() {
						}
						if err := it.Err(); err != nil {
							t.Error(err)
						}
						it.Close()
					}
				}()
			}
			for ts := range int64(500) {
				putWindow(t, s, fmt.Sprint(ts%7), ts, "v")
			}
			close(stop)
			wg.Wait()
		})
	}
}

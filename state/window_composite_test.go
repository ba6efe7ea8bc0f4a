package state

import (
	"errors"
	"testing"
	"time"
)

// parts is a Partitioned over fixed byte stores.
type parts struct {
	BytesStore
	ps []BytesStore
}

func (p parts) Parts() ([]BytesStore, error) { return p.ps, nil }

func TestCompositeWindowStore(t *testing.T) {
	var views []BytesStore
	var stores []WindowBytesStore
	for range 2 {
		ws, err := NewMemoryWindowStore("w", WindowStoreOptions{Retention: time.Hour, WindowSize: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		v, err := WindowStoreBytes(ws)
		if err != nil {
			t.Fatal(err)
		}
		views, stores = append(views, v), append(stores, ws)
	}
	putWindow(t, stores[0], "a", 0, "a0")
	putWindow(t, stores[0], "c", 0, "c0")
	putWindow(t, stores[1], "b", 0, "b0")
	putWindow(t, stores[1], "b", 10, "b10")
	s, err := WindowStoreWritingTo(parts{BytesStore: views[0], ps: views})
	if err != nil {
		t.Fatal(err)
	}
	wantFetch(t, s, "b", 10, "b10")
	wantFetch(t, s, "a", 0, "a0")
	wantFetch(t, s, "z", 0, "<nil>")
	wantEntries(t, "FetchTimeRange", collect(t)(s.FetchTimeRange([]byte("b"), 0, 20)), "b@0-10=b0", "b@10-20=b10")
	wantEntries(t, "BackwardFetchTimeRange", collect(t)(s.BackwardFetchTimeRange([]byte("b"), 0, 20)), "b@10-20=b10", "b@0-10=b0")
	wantEntries(t, "absent key", collect(t)(s.FetchTimeRange([]byte("z"), 0, 20)))
	wantEntries(t, "All, partition after partition", collect(t)(s.All()), "a@0-10=a0", "c@0-10=c0", "b@0-10=b0", "b@10-20=b10")
	wantEntries(t, "FetchKeyRange", collect(t)(s.FetchKeyRange([]byte("b"), []byte("c"), 0, 5)), "c@0-10=c0", "b@0-10=b0")
	if err := s.Put([]byte("a"), 0, []byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Put = %v, want ErrReadOnly", err)
	}
}

func TestCompositeSessionStore(t *testing.T) {
	var views []BytesStore
	var stores []SessionBytesStore
	for range 2 {
		ss, err := NewMemorySessionStore("s", SessionStoreOptions{Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer ss.Close()
		v, err := SessionStoreBytes(ss)
		if err != nil {
			t.Fatal(err)
		}
		views, stores = append(views, v), append(stores, ss)
	}
	putSession(t, stores[0], "a", 0, 5, "a")
	putSession(t, stores[1], "b", 1, 2, "b1")
	putSession(t, stores[1], "b", 7, 9, "b2")
	s, err := SessionStoreWritingTo(parts{BytesStore: views[0], ps: views})
	if err != nil {
		t.Fatal(err)
	}
	wantSession(t, s, "b", 7, 9, "b2")
	wantEntries(t, "Fetch", collect(t)(s.Fetch([]byte("b"))), "b@1-2=b1", "b@7-9=b2")
	wantEntries(t, "BackwardFindSessions", collect(t)(s.BackwardFindSessions([]byte("b"), 3, 10)), "b@7-9=b2")
	wantEntries(t, "FindSessionsKeyRange", collect(t)(s.FindSessionsKeyRange(nil, nil, 0, 10)), "a@0-5=a", "b@1-2=b1", "b@7-9=b2")
	if err := s.Remove([]byte("a"), sessionWin(0, 5)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Remove = %v, want ErrReadOnly", err)
	}
}

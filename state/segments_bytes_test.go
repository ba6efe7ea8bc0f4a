package state

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// recordingStore is a layer that records the writes passing through it,
// as a changelogging layer would log them.
type recordingStore struct {
	BytesStore
	writes []string
}

func (r *recordingStore) Unwrap() BytesStore { return r.BytesStore }

func (r *recordingStore) Put(key, value []byte) error {
	r.writes = append(r.writes, fmt.Sprintf("%x=%s", key, value))
	return r.BytesStore.Put(key, value)
}

func (r *recordingStore) Delete(key []byte) ([]byte, error) {
	r.writes = append(r.writes, fmt.Sprintf("%x=<nil>", key))
	return r.BytesStore.Delete(key)
}

// Writes through a layer over the BytesStore view carry Kafka Streams'
// store keys: key, 8-byte start, 4-byte seqnum for windows; key, 8-byte
// end, 8-byte start for sessions.
func TestWindowStoreWritingTo(t *testing.T) {
	for _, b := range windowBackends {
		t.Run(b.name, func(t *testing.T) {
			opts := testOpts
			opts.RetainDuplicates = true
			ws, err := b.openWindow("win", t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			view, err := WindowStoreBytes(ws)
			if err != nil {
				t.Fatal(err)
			}
			layer := &recordingStore{BytesStore: view}
			s, err := WindowStoreWritingTo(layer)
			if err != nil {
				t.Fatal(err)
			}
			putWindow(t, s, "k", 5, "a")
			putWindow(t, s, "k", 5, "b")
			putWindow(t, ws, "k", 6, "c") // the store itself shares the sequence
			wantEntries(t, "writes", layer.writes, "6b000000000000000500000001=a", "6b000000000000000500000002=b")
			wantEntries(t, "read through the view's store", collect(t)(s.FetchTimeRange([]byte("k"), 0, 10)), "k@5-15=a", "k@5-15=b", "k@6-16=c")
			raw, _ := hex.DecodeString("6b000000000000000600000003")
			if v, err := view.Get(raw); err != nil || string(v) != "c" {
				t.Fatalf("view.Get = %q, %v", v, err)
			}
		})
	}
}

func TestSessionStoreWritingTo(t *testing.T) {
	ss, err := NewMemorySessionStore("s", SessionStoreOptions{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	view, err := SessionStoreBytes(ss)
	if err != nil {
		t.Fatal(err)
	}
	layer := &recordingStore{BytesStore: view}
	s, err := SessionStoreWritingTo(layer)
	if err != nil {
		t.Fatal(err)
	}
	putSession(t, s, "k", 1, 2, "v")
	if err := s.Remove([]byte("k"), sessionWin(1, 2)); err != nil {
		t.Fatal(err)
	}
	wantEntries(t, "writes", layer.writes, "6b00000000000000020000000000000001=v", "6b00000000000000020000000000000001=<nil>")
	wantEntries(t, "after remove", collect(t)(s.Fetch([]byte("k"))))
	if _, err := WindowStoreWritingTo(layer); err == nil {
		t.Error("WindowStoreWritingTo over a session store: no error")
	}
	if _, err := SessionStoreWritingTo(NewMemoryStore("kv")); err == nil {
		t.Error("SessionStoreWritingTo over a key-value store: no error")
	}
}

// The BytesStore view reads and writes by store key, visits segments by
// time, skips what is out of retention, and restores through PutAll.
func TestSegmentedBytesView(t *testing.T) {
	for _, b := range windowBackends {
		t.Run(b.name, func(t *testing.T) {
			ws, err := b.openWindow("win", t.TempDir(), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			view, err := WindowStoreBytes(ws)
			if err != nil {
				t.Fatal(err)
			}
			key := func(k string, start int64) []byte { return WindowStoreKey([]byte(k), start, 0) }
			bw, ok := view.(BatchWriter)
			if !ok {
				t.Fatal("the view is not a BatchWriter")
			}
			err = bw.PutAll([][]byte{key("b", 25), key("a", 12), key("a", 2), key("b", 12)}, [][]byte{[]byte("1"), []byte("2"), []byte("3"), nil})
			if err != nil {
				t.Fatal(err)
			}
			if err := view.Put(key("c", 40), []byte("4")); err != nil {
				t.Fatal(err)
			}
			var got []string
			it, err := view.All()
			if err != nil {
				t.Fatal(err)
			}
			for it.Next() {
				got = append(got, fmt.Sprintf("%x=%s", it.Key(), it.Value()))
			}
			it.Close()
			wantEntries(t, "All", got, "61000000000000000c00000000=2", "62000000000000001900000000=1", "63000000000000002800000000=4")
			got = got[:0]
			it, _ = view.ReverseRange(nil, key("b", 30))
			for it.Next() {
				got = append(got, fmt.Sprintf("%x", it.Key()))
			}
			it.Close()
			wantEntries(t, "ReverseRange", got, "62000000000000001900000000", "61000000000000000c00000000")
			// Pebble's estimate counts the delete of the absent b@12.
			if n, err := view.ApproximateNumEntries(); err != nil || n < 2 || n > 3 {
				t.Fatalf("ApproximateNumEntries = %d, %v", n, err)
			}
			if old, err := view.Delete(key("a", 12)); err != nil || string(old) != "2" {
				t.Fatalf("Delete = %q, %v", old, err)
			}
			if old, err := view.PutIfAbsent(key("c", 40), []byte("5")); err != nil || string(old) != "4" {
				t.Fatalf("PutIfAbsent = %q, %v", old, err)
			}
			if err := view.Put([]byte("short"), []byte("v")); !errors.Is(err, ErrInvalidWindow) {
				t.Fatalf("Put(short key) = %v", err)
			}
			if _, err := WindowStoreBytes(nil); err == nil {
				t.Fatal("WindowStoreBytes(nil): no error")
			}
			if !slices.Contains([]string{"win"}, view.Name()) {
				t.Fatalf("Name = %q", view.Name())
			}
		})
	}
}

// A store writing through a layer reads the store under the layer now: the
// runtime points its layers at a new store when it wipes one.
func TestWindowStoreWritingToFollowsTheLayer(t *testing.T) {
	open := func() BytesStore {
		ws, err := NewMemoryWindowStore("win", testOpts)
		if err != nil {
			t.Fatal(err)
		}
		view, err := WindowStoreBytes(ws)
		if err != nil {
			t.Fatal(err)
		}
		return view
	}
	layer := &recordingStore{BytesStore: open()}
	s, err := WindowStoreWritingTo(layer)
	if err != nil {
		t.Fatal(err)
	}
	putWindow(t, s, "k", 5, "old")
	layer.BytesStore = open()
	wantFetch(t, s, "k", 5, "<nil>")
	putWindow(t, s, "k", 5, "new")
	wantEntries(t, "after the switch", collect(t)(s.All()), "k@5-15=new")
}

package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// versionModel is the reference semantics of a versioned store, as Kafka
// Streams' VersionedKeyValueStore specifies them: each key's versions by
// timestamp, puts older than stream time minus the history retention
// dropped, reads as of a time older than that answering nothing unless the
// key's latest version is at or before it (the latest version never
// expires).
type versionModel struct {
	retention, observed int64
	keys                map[string][]modelVersion
}

type modelVersion struct {
	ts    int64
	value []byte
}

func (m *versionModel) put(key string, value []byte, ts int64) int64 {
	if ts < m.observed-m.retention {
		return PutNotPut
	}
	m.observed = max(m.observed, ts)
	vs := m.keys[key]
	i, found := slices.BinarySearchFunc(vs, ts, func(v modelVersion, t int64) int { return int(v.ts - t) })
	if found {
		vs[i].value = value
	} else {
		vs = slices.Insert(vs, i, modelVersion{ts, value})
	}
	m.keys[key] = vs
	if i+1 < len(vs) {
		return vs[i+1].ts
	}
	return PutValidToUndefined
}

func (m *versionModel) get(key string, asOf int64, latest bool) (VersionedRecord[[]byte], bool) {
	vs := m.keys[key]
	if latest {
		if len(vs) == 0 || vs[len(vs)-1].value == nil {
			return VersionedRecord[[]byte]{}, false
		}
		v := vs[len(vs)-1]
		return VersionedRecord[[]byte]{Value: v.value, Timestamp: v.ts, ValidTo: PutValidToUndefined}, true
	}
	// The latest version never expires (Kafka Streams'
	// RocksDBVersionedStore checks it before the history bound).
	if asOf < m.observed-m.retention && (len(vs) == 0 || vs[len(vs)-1].ts > asOf) {
		return VersionedRecord[[]byte]{}, false
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].ts <= asOf {
			if vs[i].value == nil {
				return VersionedRecord[[]byte]{}, false
			}
			validTo := PutValidToUndefined
			if i+1 < len(vs) {
				validTo = vs[i+1].ts
			}
			return VersionedRecord[[]byte]{Value: vs[i].value, Timestamp: vs[i].ts, ValidTo: validTo}, true
		}
	}
	return VersionedRecord[[]byte]{}, false
}

// Random puts (out of order, tombstones, empty values, same timestamps)
// and reads of the in-memory and Pebble versioned stores agree with the
// model; reopening the Pebble store keeps its versions and stream time.
func TestVersionedStoreModel(t *testing.T) {
	backends := map[string]func(t *testing.T, dir string) VersionedBytesStore{
		"memory": func(t *testing.T, _ string) VersionedBytesStore {
			s, err := NewMemoryVersionedStore("v", VersionedStoreOptions{HistoryRetention: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"pebble": func(t *testing.T, dir string) VersionedBytesStore {
			s, err := OpenPebbleVersionedStore("v", dir, VersionedStoreOptions{HistoryRetention: 20 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(20) {
				dir := t.TempDir()
				s := open(t, dir)
				r := rand.New(rand.NewPCG(seed, 7))
				m := &versionModel{retention: 20, observed: -1, keys: map[string][]modelVersion{}}
				base := int64(0)
				for op := range 300 {
					key := []string{"a", "b", "c"}[r.IntN(3)]
					ts := base + int64(r.IntN(40))
					if r.IntN(10) == 0 {
						base += 10
					}
					switch r.IntN(3) {
					case 0:
						var v []byte
						switch r.IntN(5) {
						case 0:
						case 1:
							v = []byte{}
						default:
							v = []byte(fmt.Sprintf("v%d", op))
						}
						got, err := s.Put([]byte(key), v, ts)
						if err != nil {
							t.Fatal(err)
						}
						if want := m.put(key, v, ts); got != want {
							t.Fatalf("seed %d op %d: put(%s, %q, %d) = %d, want %d", seed, op, key, v, ts, got, want)
						}
					case 1:
						got, ok, err := s.GetAsOf([]byte(key), ts)
						want, wok := m.get(key, ts, false)
						if err != nil || ok != wok || ok && (!slices.Equal(got.Value, want.Value) || got.Value == nil || got.Timestamp != want.Timestamp || got.ValidTo != want.ValidTo) {
							t.Fatalf("seed %d op %d: getAsOf(%s, %d) = %+v %v %v, want %+v %v", seed, op, key, ts, got, ok, err, want, wok)
						}
					default:
						got, ok, err := s.Get([]byte(key))
						want, wok := m.get(key, 0, true)
						if err != nil || ok != wok || ok && (!slices.Equal(got.Value, want.Value) || got.Value == nil || got.Timestamp != want.Timestamp) {
							t.Fatalf("seed %d op %d: get(%s) = %+v %v %v, want %+v %v", seed, op, key, got, ok, err, want, wok)
						}
					}
					if name == "pebble" && op%100 == 99 {
						if err := s.Flush(); err != nil {
							t.Fatal(err)
						}
						if err := s.Close(); err != nil {
							t.Fatal(err)
						}
						s = open(t, dir)
					}
				}
				s.Close()
			}
		})
	}
}

// Expired history is deleted, not only hidden.
func TestVersionedStoreExpiresHistory(t *testing.T) {
	s, err := NewMemoryVersionedStore("v", VersionedStoreOptions{HistoryRetention: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for ts := range int64(100) {
		if _, err := s.Put([]byte("k"), []byte("v"), ts); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := s.(*versionedStore).kv.ApproximateNumEntries()
	// latest, 'o', and at most retention+1 history entries with their index.
	if n > 2+2*11 {
		t.Errorf("%d entries after 100 versions with a retention of 10 ms", n)
	}
}

// The byte view and the typed store: puts through layers above the view
// (a changelog) reach the store; the typed store serializes and reports
// validTo; Delete returns the version it replaced.
func TestVersionedTypedStore(t *testing.T) {
	raw, err := NewMemoryVersionedStore("v", VersionedStoreOptions{HistoryRetention: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	view, err := VersionedStoreBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	writer, err := VersionedStoreWritingTo(view)
	if err != nil {
		t.Fatal(err)
	}
	st := NewVersionedKeyValueStore(writer, serde.String(), serde.String())
	steps := []struct {
		v    string
		ts   int64
		want int64
	}{{"a", 10, PutValidToUndefined}, {"c", 30, PutValidToUndefined}, {"b", 20, 30}, {"a2", 10, 20}}
	for _, s := range steps {
		if got, err := st.Put("k", s.v, s.ts); err != nil || got != s.want {
			t.Fatalf("Put(%s, %d) = %d, %v; want %d", s.v, s.ts, got, err, s.want)
		}
	}
	if r, ok, err := st.GetAsOf("k", 25); err != nil || !ok || r.Value != "b" || r.Timestamp != 20 || r.ValidTo != 30 {
		t.Fatalf("GetAsOf(25) = %+v %v %v", r, ok, err)
	}
	if r, ok, err := st.GetAsOf("k", 15); err != nil || !ok || r.Value != "a2" {
		t.Fatalf("GetAsOf(15) = %+v %v %v", r, ok, err)
	}
	if r, ok, err := st.Delete("k", 40); err != nil || !ok || r.Value != "c" {
		t.Fatalf("Delete(40) = %+v %v %v", r, ok, err)
	}
	if _, ok, err := st.Get("k"); err != nil || ok {
		t.Fatalf("Get after delete: %v %v", ok, err)
	}
	if r, ok, err := st.GetAsOf("k", 39); err != nil || !ok || r.Value != "c" || r.ValidTo != 40 {
		t.Fatalf("GetAsOf(39) = %+v %v %v", r, ok, err)
	}
	if b, err := view.Get([]byte("k")); err != nil || !slices.Equal(b, VersionedValue(40, nil)) {
		t.Fatalf("view Get = % x, %v", b, err)
	}
	if _, err := view.Range(nil, nil); !errors.Is(err, ErrVersionedNotSupported) {
		t.Fatalf("Range: %v", err)
	}
	if _, err := NewMemoryVersionedStore("v", VersionedStoreOptions{HistoryRetention: -time.Second}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("negative retention: %v", err)
	}
}

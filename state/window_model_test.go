package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// windowModel is the reference the window stores are checked against:
// Kafka Streams' segmented window store semantics written plainly.
type windowModel struct {
	retention, interval int64
	observed            int64
	entries             map[string][]byte // store key -> value
}

func (m *windowModel) segment(t int64) int64 { return t / m.interval }

func (m *windowModel) put(key []byte, start int64, value []byte) {
	m.observed = max(m.observed, start)
	minLive := m.segment(m.observed - m.retention)
	for raw := range m.entries {
		if t, _ := windowKeyStart([]byte(raw)); m.segment(t) < minLive {
			delete(m.entries, raw)
		}
	}
	if m.segment(start) < minLive {
		return
	}
	raw := string(WindowStoreKey(key, start, 0))
	if value == nil {
		delete(m.entries, raw)
	} else {
		m.entries[raw] = value
	}
}

// read returns "key@start=value" of the entries of the keys in
// [keyFrom, keyTo] starting in [from, to] and in retention, ordered by
// segment, then store key, reversed if backward.
func (m *windowModel) read(keyFrom, keyTo []byte, from, to int64, backward bool) []string {
	from = max(from, m.observed-m.retention+1, 0)
	var raws []string
	for raw := range m.entries {
		t, _ := windowKeyStart([]byte(raw))
		k := []byte(raw[:len(raw)-windowSuffixSize])
		if t >= from && t <= to && inKeyRange(k, keyFrom, keyTo) {
			raws = append(raws, raw)
		}
	}
	slices.SortFunc(raws, func(a, b string) int {
		ta, _ := windowKeyStart([]byte(a))
		tb, _ := windowKeyStart([]byte(b))
		if c := cmpInt64(m.segment(ta), m.segment(tb)); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a), []byte(b))
	})
	if backward {
		slices.Reverse(raws)
	}
	out := []string{}
	for _, raw := range raws {
		t, _ := windowKeyStart([]byte(raw))
		out = append(out, fmt.Sprintf("%s@%d-%d=%s", raw[:len(raw)-windowSuffixSize], t, t+5, m.entries[raw]))
	}
	return out
}

// TestWindowStoreAgainstModel runs random puts and reads on every backend
// and compares each read with the model.
func TestWindowStoreAgainstModel(t *testing.T) {
	keys := []string{"", "a", "a\x00", "a\x00\x00\x00\x00\x00\x00\x00\x00", "ab", "b", "\xff"}
	for _, b := range windowBackends {
		t.Run(b.name, func(t *testing.T) {
			ops := 3000
			if b.name == "pebble" {
				ops = 600 // each new segment is a new database
			}
			s := openWindow(t, b, WindowStoreOptions{Retention: 50 * time.Millisecond, WindowSize: 5 * time.Millisecond, SegmentInterval: 10 * time.Millisecond})
			m := &windowModel{retention: 50, interval: 10, observed: noTimestamp, entries: map[string][]byte{}}
			rng := rand.New(rand.NewPCG(1, 2))
			now := int64(0)
			key := func() []byte { return []byte(keys[rng.IntN(len(keys))]) }
			for i := range ops {
				now += int64(rng.IntN(3))
				start := max(0, now-int64(rng.IntN(70)))
				from, to := now-int64(rng.IntN(80)), now-int64(rng.IntN(80))+20
				switch op := rng.IntN(10); {
				case op < 5:
					v := []byte(fmt.Sprint(i))
					if rng.IntN(8) == 0 {
						v = nil
					}
					k := key()
					if err := s.Put(k, start, v); err != nil {
						t.Fatal(err)
					}
					m.put(k, start, v)
				case op < 7:
					k := key()
					backward := rng.IntN(2) == 0
					open := s.FetchTimeRange
					if backward {
						open = s.BackwardFetchTimeRange
					}
					wantEntries(t, fmt.Sprintf("op %d: fetch %q [%d, %d] backward %v", i, k, from, to, backward),
						collect(t)(open(k, from, to)), m.read(k, k, from, to, backward)...)
				case op < 9:
					kf, kt := key(), key()
					if rng.IntN(4) == 0 {
						kf = nil
					}
					if rng.IntN(4) == 0 {
						kt = nil
					}
					want := m.read(kf, kt, from, to, false)
					if kf != nil && kt != nil && bytes.Compare(kf, kt) > 0 {
						want = nil
					}
					wantEntries(t, fmt.Sprintf("op %d: fetch keys [%q, %q] [%d, %d]", i, kf, kt, from, to),
						collect(t)(s.FetchKeyRange(kf, kt, from, to)), want...)
				default:
					k := key()
					got, err := s.Fetch(k, start)
					if err != nil {
						t.Fatal(err)
					}
					var want []byte
					if start >= m.observed-m.retention+1 {
						want = m.entries[string(WindowStoreKey(k, start, 0))]
					}
					if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
						t.Fatalf("op %d: Fetch(%q, %d) = %q, want %q", i, k, start, got, want)
					}
				}
			}
		})
	}
}

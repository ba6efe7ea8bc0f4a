package runtime

import (
	"math"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/state"
)

func TestSampledStat(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type rec struct {
		at time.Duration
		v  float64
	}
	tests := []struct {
		name string
		recs []rec
		at   time.Duration
		want Stat
	}{
		{name: "nothing", at: time.Second, want: Stat{}},
		{name: "one window", recs: []rec{{0, 2}, {time.Second, 4}, {2 * time.Second, 6}}, at: 10 * time.Second,
			// Rates over at least one window (30s), as Kafka's Rate.
			want: Stat{Count: 3, Sum: 12, Avg: 4, Min: 2, Max: 6, CountRate: 3.0 / 30, SumRate: 12.0 / 30}},
		{name: "two windows", recs: []rec{{0, 10}, {40 * time.Second, 2}}, at: 50 * time.Second,
			want: Stat{Count: 2, Sum: 12, Avg: 6, Min: 2, Max: 10, CountRate: 2.0 / 50, SumRate: 12.0 / 50}},
		{name: "old sample expired", recs: []rec{{0, 10}, {40 * time.Second, 2}}, at: 61 * time.Second,
			want: Stat{Count: 2, Sum: 12, Avg: 2, Min: 2, Max: 2, CountRate: 1.0 / 30, SumRate: 2.0 / 30}},
		{name: "all expired", recs: []rec{{0, 10}}, at: 2 * time.Minute, want: Stat{Count: 1, Sum: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sampled
			for _, r := range tt.recs {
				s.record(r.v, t0.Add(r.at))
			}
			got := s.read(t0.Add(tt.at))
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"Count", float64(got.Count), float64(tt.want.Count)}, {"Sum", got.Sum, tt.want.Sum},
				{"Avg", got.Avg, tt.want.Avg}, {"Min", got.Min, tt.want.Min}, {"Max", got.Max, tt.want.Max},
				{"CountRate", got.CountRate, tt.want.CountRate}, {"SumRate", got.SumRate, tt.want.SumRate},
			} {
				if math.Abs(f.got-f.want) > 1e-9 {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
		})
	}
}

func TestRateTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := rateTracker{series: map[string]*rateSeries{}}
	steps := []struct {
		at    time.Duration
		total int64
		want  float64
	}{
		{at: 10 * time.Second, total: 100, want: 10}, // from 0 at t0
		{at: 20 * time.Second, total: 300, want: 15}, // still from t0
		{at: 70 * time.Second, total: 400, want: 5},  // t0 is past the horizon: from the 10s point
		{at: 200 * time.Second, total: 400, want: 0}, // nothing grew in the last minute
	}
	for _, s := range steps {
		if got := r.rateLocked("k", s.total, t0.Add(s.at), t0); math.Abs(got-s.want) > 1e-9 {
			t.Errorf("rate at %v = %v, want %v", s.at, got, s.want)
		}
	}
}

// The debug level puts a metered layer on top of a store, which still lets
// the DSL reach the cache (CachedStore) and the typed window stores reach
// the store below (Unwrap); the info level adds nothing.
func TestMeteredStoreLayer(t *testing.T) {
	for _, debug := range []bool{false, true} {
		ts := &taskStore{spec: &StoreSpec{Name: "s", Cached: true}, base: state.NewMemoryStore("s")}
		ts.cache = newCachedStore(ts.base, 1<<20, func() int64 { return 0 })
		ts.top = ts.cache
		task := &Task{cfg: TaskConfig{Sensors: NewSensors(debug)}}
		top := task.meter(ts)
		if _, ok := top.(CachedStore); !ok {
			t.Fatalf("debug=%v: %T is no CachedStore", debug, top)
		}
		if !debug {
			if top != state.BytesStore(ts.cache) {
				t.Errorf("info level: top is %T, want the cache", top)
			}
			continue
		}
		if u, ok := top.(interface{ Unwrap() state.BytesStore }); !ok || u.Unwrap() != state.BytesStore(ts.cache) {
			t.Errorf("metered store does not unwrap to the cache")
		}
		if err := top.Put([]byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := top.Get([]byte("k")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := top.Get([]byte("missing")); err != nil {
			t.Fatal(err)
		}
		it, err := top.All()
		if err != nil {
			t.Fatal(err)
		}
		_ = it.Close()
		_ = it.Close()
		st := task.cfg.Sensors.StoreStats(time.Now())
		if len(st) != 1 || st[0].Put.Count != 1 || st[0].Get.Count != 4 || st[0].Range.Count != 1 {
			t.Fatalf("store stats %+v", st)
		}
		// Hit ratio so far at each cache read: 1, 1, 1, 3/4.
		if h := st[0].HitRatio; h.Count != 4 || h.Max != 1 || h.Min != 0.75 || math.Abs(h.Avg-3.75/4) > 1e-9 {
			t.Errorf("hit ratio %+v", h)
		}
	}
}

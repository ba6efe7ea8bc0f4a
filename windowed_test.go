package kstreams_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// TestWindowedCountToWindowedTopic writes a hopping windowed count with
// the windowed key serde, reads it back, and checks the dropped count of
// a record late for one of its windows.
func TestWindowedCountToWindowedTopic(t *testing.T) {
	b := kstreams.NewBuilder()
	w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 2*time.Millisecond).AdvanceBy(5 * time.Millisecond)
	in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	counts := kstreams.WindowedBy(in.GroupByKey(), w).Count(kstreams.WindowedMaterialized[string, int64]{
		Materialized: kstreams.Materialized[string, int64]{Name: "counts"},
	})
	if counts.StoreName() != "counts" {
		t.Errorf("StoreName = %q, want counts", counts.StoreName())
	}
	wk := serde.TimeWindowed(serde.String(), 10*time.Millisecond)
	counts.ToStream().To("out", kstreams.ProducedWith(wk, serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := sfDriver(t, topo)
	pipe := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, r := range []struct {
		k  string
		ts int64
	}{{"a", 3}, {"a", 7}, {"b", 16}, {"a", 4}} {
		if err := pipe.PipeAt(r.k, "x", r.ts); err != nil {
			t.Fatal(err)
		}
	}
	got, err := kstreamstest.NewOutputTopic(d, "out", wk, serde.Int64()).ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	win := func(k string, start int64) kstreams.Windowed[string] {
		return kstreams.Windowed[string]{Key: k, Window: kstreams.Window{Start: start, End: start + 10}}
	}
	// The record at 4 falls into [0,10) alone (windows start at 0), closed
	// since stream time 16 reached 10 plus grace 2: it is dropped.
	want := []processor.Record[kstreams.Windowed[string], int64]{
		{Key: win("a", 0), Value: 1, Timestamp: 3},
		{Key: win("a", 0), Value: 2, Timestamp: 7},
		{Key: win("a", 5), Value: 1, Timestamp: 7},
		{Key: win("b", 10), Value: 1, Timestamp: 16},
		{Key: win("b", 15), Value: 1, Timestamp: 16},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i].Key != want[i].Key || got[i].Value != want[i].Value || got[i].Timestamp != want[i].Timestamp {
			t.Errorf("record %d = %v %d @%d, want %v %d @%d", i, got[i].Key, got[i].Value, got[i].Timestamp, want[i].Key, want[i].Value, want[i].Timestamp)
		}
	}
	if n := d.Metrics().Dropped; n != 1 {
		t.Errorf("Dropped = %d, want 1", n)
	}
}

// TestWindowedByBuildErrors checks that invalid windows and a retention
// shorter than size plus grace fail the build.
func TestWindowedByBuildErrors(t *testing.T) {
	tests := []struct {
		name      string
		w         kstreams.TimeWindows
		retention time.Duration
		want      string
	}{
		{"zero size", kstreams.TimeWindowsOfSizeWithNoGrace(0), 0, "size"},
		{"advance above size", kstreams.TimeWindowsOfSizeWithNoGrace(time.Second).AdvanceBy(2 * time.Second), 0, "advance"},
		{"short retention", kstreams.TimeWindowsOfSizeAndGrace(time.Second, time.Second), time.Second, "etention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			kstreams.WindowedBy(in.GroupByKey(), tt.w).Count(kstreams.WindowedMaterialized[string, int64]{Retention: tt.retention}).
				ToStream().To("out", kstreams.ProducedWith(serde.TimeWindowed(serde.String(), time.Second), serde.Int64()))
			_, err := b.Build()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want one mentioning %q", err, tt.want)
			}
			if tt.retention == 0 && !errors.Is(err, kstreams.ErrInvalidWindows) {
				t.Errorf("Build error = %v, want ErrInvalidWindows", err)
			}
		})
	}
}

// TestWindowedAggregations runs the cases of testdata/windowed.txt; see its
// header.
func TestWindowedAggregations(t *testing.T) {
	for _, c := range readChainCases(t, "testdata/windowed.txt") {
		t.Run(c.name[0], func(t *testing.T) {
			if len(c.ops) != 2 {
				t.Fatalf("line %d: want a window line and an aggregation line, got %q", c.line, c.ops)
			}
			b := kstreams.NewBuilder()
			in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).GroupByKey()
			out, err := windowedOps(in, c.ops[0], c.ops[1])
			if err != nil {
				t.Fatalf("line %d: %v", c.line, err)
			}
			kstreams.MapValues(kstreams.SelectKey(out.ToStream(), func(k kstreams.Windowed[string], _ *string) string {
				return fmt.Sprintf("%s@%d/%d", k.Key, k.Window.Start, k.Window.End)
			}), func(v *string) string {
				if v == nil {
					return "<null>"
				}
				return *v
			}).To("out", kstreams.ProducedWith(serde.String(), serde.String()))
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			d := sfDriver(t, topo)
			pipe := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for _, line := range c.in {
				if ms, ok := strings.CutPrefix(line, "advance "); ok {
					n, err := strconv.Atoi(ms)
					if err != nil {
						t.Fatalf("%q: %v", line, err)
					}
					if err := d.AdvanceWallClock(time.Duration(n) * time.Millisecond); err != nil {
						t.Fatal(err)
					}
					continue
				}
				r, err := parseRecord(line)
				if err != nil {
					t.Fatal(err)
				}
				if err := pipe.PipeAt(r.Key, r.Value, r.Timestamp); err != nil {
					t.Fatal(err)
				}
			}
			recs, err := strOut(d, "out").ReadRecords()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%s:%s@%d", r.Key, r.Value, r.Timestamp))
			}
			if !slices.Equal(got, c.out) {
				t.Errorf("line %d: got\n%s\nwant\n%s", c.line, strings.Join(got, "\n"), strings.Join(c.out, "\n"))
			}
		})
	}
}

// windowedOps builds the windowed aggregation of a case of
// testdata/windowed.txt: window is "tumbling SIZE GRACE", "hopping SIZE
// ADVANCE GRACE", "sliding DIFFERENCE GRACE" or "session GAP GRACE", with
// " close" appended to emit on window close; agg is "count" or "reduce" (values joined by "|").
func windowedOps(g kstreams.GroupedStream[string, string], window, agg string) (kstreams.Table[kstreams.Windowed[string], *string], error) {
	var none kstreams.Table[kstreams.Windowed[string], *string]
	f := strings.Fields(window)
	ms := make([]time.Duration, 0, 3)
	emit := kstreams.EmitOnWindowUpdate
	for _, s := range f[1:] {
		if s == "close" {
			emit = kstreams.EmitOnWindowClose
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return none, fmt.Errorf("window %q: %v", window, err)
		}
		ms = append(ms, time.Duration(n)*time.Millisecond)
	}
	count := func(c int64) *string { s := strconv.FormatInt(c, 10); return &s }
	reduce := func(a, v string) string { return a + "|" + v }
	toPtr := func(v string) *string { return &v }
	switch {
	case f[0] == "tumbling" && len(ms) == 2, f[0] == "hopping" && len(ms) == 3:
		w := kstreams.TimeWindowsOfSizeAndGrace(ms[0], ms[len(ms)-1])
		if len(ms) == 3 {
			w = w.AdvanceBy(ms[1])
		}
		tw := kstreams.WindowedBy(g, w).Emit(emit)
		if agg == "count" {
			return kstreams.MapTableValues(tw.Count(), count), nil
		}
		return kstreams.MapTableValues(tw.Reduce(reduce), toPtr), nil
	case f[0] == "sliding" && len(ms) == 2:
		tw := kstreams.WindowedBySliding(g, kstreams.SlidingWindowsOfTimeDifferenceAndGrace(ms[0], ms[1])).Emit(emit)
		if agg == "count" {
			return kstreams.MapTableValues(tw.Count(), count), nil
		}
		return kstreams.MapTableValues(tw.Reduce(reduce), toPtr), nil
	case f[0] == "session" && len(ms) == 2:
		sw := kstreams.WindowedBySession(g, kstreams.SessionWindowsOfInactivityGapAndGrace(ms[0], ms[1])).Emit(emit)
		if agg == "count" {
			return kstreams.MapTableValues(sw.Count(), count), nil
		}
		return kstreams.MapTableValues(sw.Reduce(reduce), toPtr), nil
	}
	return none, fmt.Errorf("unknown window %q", window)
}

// TestSessionCountDropsLateAndNullKeys checks the dropped count of a
// session count: a null key and a record whose session closed.
func TestSessionCountDropsLateAndNullKeys(t *testing.T) {
	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.JSON[*string](), serde.String()))
	w := kstreams.SessionWindowsOfInactivityGapWithNoGrace(10 * time.Millisecond)
	sk := serde.SessionWindowed(serde.JSON[*string]())
	kstreams.WindowedBySession(in.GroupByKey(), w).Count().ToStream().To("out", kstreams.ProducedWith(sk, serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := sfDriver(t, topo)
	pipe := kstreamstest.NewInputTopic(d, "in", serde.JSON[*string](), serde.String())
	a := "a"
	for _, r := range []struct {
		k  *string
		ts int64
	}{{&a, 1}, {nil, 2}, {&a, 40}, {&a, 15}, {&a, 35}} {
		if err := pipe.PipeAt(r.k, "x", r.ts); err != nil {
			t.Fatal(err)
		}
	}
	got, err := kstreamstest.NewOutputTopic(d, "out", sk, serde.Int64()).ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	// The record at 15 would end a session at 15 < 40-10: dropped. The
	// one at 35 merges into [40,40]: its tombstone (a null value, which
	// serde.Int64 reads as 0), then [35,40].
	var s []string
	for _, r := range got {
		s = append(s, fmt.Sprintf("%s@%d/%d=%d@%d", *r.Key.Key, r.Key.Window.Start, r.Key.Window.End, r.Value, r.Timestamp))
	}
	want := []string{"a@1/1=1@1", "a@40/40=1@40", "a@40/40=0@40", "a@35/40=2@40"}
	if !slices.Equal(s, want) {
		t.Errorf("got %q, want %q", s, want)
	}
	if n := d.Metrics().Dropped; n != 2 {
		t.Errorf("Dropped = %d, want 2", n)
	}
}

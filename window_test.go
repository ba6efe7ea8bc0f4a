package kstreams

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

// The expected windows follow Java's TimeWindows.windowsFor: starts are
// multiples of the advance, no start below 0, start <= ts < start+size.
func TestTimeWindowsWindowsFor(t *testing.T) {
	tests := []struct {
		name    string
		windows TimeWindows
		ts      int64
		want    []Window
	}{
		{"tumbling first ms", TimeWindowsOfSizeWithNoGrace(10 * ms), 0, []Window{win(0, 10)}},
		{"tumbling last ms", TimeWindowsOfSizeWithNoGrace(10 * ms), 9, []Window{win(0, 10)}},
		{"tumbling end is exclusive", TimeWindowsOfSizeWithNoGrace(10 * ms), 10, []Window{win(10, 20)}},
		{"tumbling grace does not widen", TimeWindowsOfSizeAndGrace(10*ms, time.Hour), 25, []Window{win(20, 30)}},
		{"hopping near 0 drops negative starts", TimeWindowsOfSizeWithNoGrace(10 * ms).AdvanceBy(5 * ms), 3, []Window{win(0, 10)}},
		{"hopping two windows", TimeWindowsOfSizeWithNoGrace(10 * ms).AdvanceBy(5 * ms), 7, []Window{win(0, 10), win(5, 15)}},
		{"hopping on a boundary", TimeWindowsOfSizeWithNoGrace(10 * ms).AdvanceBy(5 * ms), 10, []Window{win(5, 15), win(10, 20)}},
		{"hopping size not a multiple of advance", TimeWindowsOfSizeWithNoGrace(12 * ms).AdvanceBy(5 * ms), 21,
			[]Window{win(10, 22), win(15, 27), win(20, 32)}},
		{"hopping by 1 ms near 0", TimeWindowsOfSizeWithNoGrace(3 * ms).AdvanceBy(ms), 1, []Window{win(0, 3), win(1, 4)}},
		{"hopping by 1 ms", TimeWindowsOfSizeWithNoGrace(3 * ms).AdvanceBy(ms), 100, []Window{win(98, 101), win(99, 102), win(100, 103)}},
		{"one ms windows", TimeWindowsOfSizeWithNoGrace(ms), 5, []Window{win(5, 6)}},
		{"epoch milliseconds", TimeWindowsOfSizeWithNoGrace(time.Minute).AdvanceBy(30 * time.Second), 1_700_000_012_345,
			[]Window{win(1_699_999_980_000, 1_700_000_040_000), win(1_700_000_010_000, 1_700_000_070_000)}},
		{"negative timestamp", TimeWindowsOfSizeWithNoGrace(10 * ms), -1, nil},
		{"end capped at MaxInt64", TimeWindowsOfSizeWithNoGrace(10 * ms), math.MaxInt64,
			[]Window{win(math.MaxInt64-7, math.MaxInt64)}},
		{"hopping at MaxInt64", TimeWindowsOfSizeWithNoGrace(10 * ms).AdvanceBy(5 * ms), math.MaxInt64,
			[]Window{win(math.MaxInt64-7, math.MaxInt64), win(math.MaxInt64-2, math.MaxInt64)}},
		{"invalid windows", TimeWindowsOfSizeWithNoGrace(10 * ms).AdvanceBy(0), 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.windows.WindowsFor(tt.ts); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("WindowsFor(%d) = %v, want %v", tt.ts, got, tt.want)
			}
		})
	}
}

func TestTimeWindowsAccessors(t *testing.T) {
	w := TimeWindowsOfSizeAndGrace(time.Minute, 5*time.Second).AdvanceBy(10 * time.Second)
	if w.Size() != time.Minute || w.Advance() != 10*time.Second || w.Grace() != 5*time.Second {
		t.Fatalf("got size %v advance %v grace %v", w.Size(), w.Advance(), w.Grace())
	}
	if w := TimeWindowsOfSizeWithNoGrace(time.Minute); w.Advance() != time.Minute || w.Grace() != 0 {
		t.Fatalf("tumbling: advance %v grace %v", w.Advance(), w.Grace())
	}
	s := SlidingWindowsOfTimeDifferenceAndGrace(time.Second, 2*time.Second)
	if s.TimeDifference() != time.Second || s.Grace() != 2*time.Second {
		t.Fatalf("sliding: %v %v", s.TimeDifference(), s.Grace())
	}
	g := SessionWindowsOfInactivityGapAndGrace(time.Minute, time.Second)
	if g.InactivityGap() != time.Minute || g.Grace() != time.Second {
		t.Fatalf("session: %v %v", g.InactivityGap(), g.Grace())
	}
}

// Validation follows Java's constructors: TimeWindows (size > 0,
// 0 < advance <= size, grace >= 0), SlidingWindows (time difference >= 0,
// grace >= 0), SessionWindows (gap > 0, grace >= 0); kstreams also refuses
// sub-millisecond precision.
func TestWindowsValidate(t *testing.T) {
	tests := []struct {
		name    string
		windows interface{ Validate() error }
		want    []string // substrings of the error; nil for valid
	}{
		{"tumbling", TimeWindowsOfSizeWithNoGrace(time.Minute), nil},
		{"hopping", TimeWindowsOfSizeAndGrace(time.Minute, time.Hour).AdvanceBy(time.Second), nil},
		{"advance equal to size", TimeWindowsOfSizeWithNoGrace(time.Minute).AdvanceBy(time.Minute), nil},
		{"zero size", TimeWindowsOfSizeWithNoGrace(0), []string{"size 0s must be positive", "advance 0s"}},
		{"negative size", TimeWindowsOfSizeWithNoGrace(-time.Second), []string{"size -1s must be positive"}},
		{"advance above size", TimeWindowsOfSizeWithNoGrace(time.Second).AdvanceBy(2 * time.Second),
			[]string{"advance 2s must be positive and at most the size 1s"}},
		{"zero advance", TimeWindowsOfSizeWithNoGrace(time.Second).AdvanceBy(0), []string{"advance 0s"}},
		{"negative grace", TimeWindowsOfSizeAndGrace(time.Second, -ms), []string{"grace -1ms must not be negative"}},
		{"sub-millisecond", TimeWindowsOfSizeAndGrace(1500*time.Microsecond, time.Nanosecond),
			[]string{"size 1.5ms is not a whole number", "grace 1ns is not a whole number"}},
		{"sliding", SlidingWindowsOfTimeDifferenceWithNoGrace(time.Second), nil},
		{"sliding zero difference", SlidingWindowsOfTimeDifferenceWithNoGrace(0), nil},
		{"sliding negative", SlidingWindowsOfTimeDifferenceAndGrace(-ms, -ms),
			[]string{"SlidingWindows", "time difference -1ms must not be negative", "grace -1ms"}},
		{"sliding sub-millisecond", SlidingWindowsOfTimeDifferenceWithNoGrace(time.Microsecond), []string{"whole number"}},
		{"session", SessionWindowsOfInactivityGapAndGrace(time.Minute, 0), nil},
		{"session zero gap", SessionWindowsOfInactivityGapWithNoGrace(0), []string{"SessionWindows", "inactivity gap 0s must be positive"}},
		{"session negative grace", SessionWindowsOfInactivityGapAndGrace(time.Second, -time.Second), []string{"grace -1s"}},
		{"session sub-millisecond", SessionWindowsOfInactivityGapWithNoGrace(time.Microsecond), []string{"whole number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.windows.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidWindows) {
				t.Fatalf("Validate = %v, want ErrInvalidWindows", err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// win returns the window [start, end).
func win(start, end int64) Window { return Window{Start: start, End: end} }

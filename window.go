package kstreams

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// Window is an interval of event time in milliseconds since the Unix epoch:
// [Start, End) for time windows, [Start, End] for session windows. It is
// serde.Window, named here as the DSL's vocabulary.
type Window = serde.Window

// Windowed is a key with the window it is aggregated in, the key type of
// windowed aggregations, as Kafka Streams' Windowed. It is serde.Windowed;
// serde.TimeWindowed and serde.SessionWindowed write it with Kafka Streams'
// byte layouts.
type Windowed[K any] = serde.Windowed[K]

// ErrInvalidWindows is wrapped by the error of Validate on [TimeWindows],
// [SlidingWindows] and [SessionWindows] given impossible durations. Use
// errors.Is.
var ErrInvalidWindows = errors.New("kstreams: invalid windows")

// TimeWindows defines fixed-size windows of event time, as Kafka Streams'
// TimeWindows: tumbling windows (advance equal to size, no overlap) or
// hopping windows (advance smaller than size, so a record falls into
// size/advance windows). Windows are aligned to the epoch: their starts are
// multiples of the advance. A window [start, start+size) accepts records
// until stream time passes its end plus the grace period; later records are
// dropped.
//
//	tumbling := kstreams.TimeWindowsOfSizeWithNoGrace(5 * time.Minute)
//	hopping := kstreams.TimeWindowsOfSizeAndGrace(time.Minute, 10*time.Second).AdvanceBy(10 * time.Second)
//
// The constructors do not fail: [TimeWindows.Validate] reports impossible
// durations, and the DSL validates the windows it is given when the
// topology is built.
type TimeWindows struct {
	size, advance, grace time.Duration
}

// TimeWindowsOfSizeWithNoGrace returns tumbling windows of the given size
// without grace period: a record is late as soon as stream time reaches the
// end of its window. This corresponds to Java's
// TimeWindows.ofSizeWithNoGrace.
func TimeWindowsOfSizeWithNoGrace(size time.Duration) TimeWindows {
	return TimeWindowsOfSizeAndGrace(size, 0)
}

// TimeWindowsOfSizeAndGrace returns tumbling windows of the given size that
// accept out-of-order records until stream time passes a window's end plus
// grace. This corresponds to Java's TimeWindows.ofSizeAndGrace.
func TimeWindowsOfSizeAndGrace(size, grace time.Duration) TimeWindows {
	return TimeWindows{size: size, advance: size, grace: grace}
}

// AdvanceBy returns hopping windows: w with windows starting every advance
// instead of every size. advance must be positive and at most the size.
// This corresponds to Java's TimeWindows.advanceBy.
func (w TimeWindows) AdvanceBy(advance time.Duration) TimeWindows {
	w.advance = advance
	return w
}

// Size returns the size of each window.
func (w TimeWindows) Size() time.Duration { return w.size }

// Advance returns the interval between the starts of two consecutive
// windows: the size for tumbling windows.
func (w TimeWindows) Advance() time.Duration { return w.advance }

// Grace returns the grace period: how long after a window's end it still
// accepts out-of-order records.
func (w TimeWindows) Grace() time.Duration { return w.grace }

// Validate reports, in one error wrapping [ErrInvalidWindows], every rule
// w breaks: Kafka Streams' rules (size positive, advance positive and at
// most the size, grace not negative) and, since timestamps are
// milliseconds, durations that are whole milliseconds (Java truncates
// them; kstreams refuses them so that no precision is lost silently).
func (w TimeWindows) Validate() error {
	var p problems
	p.millis("size", w.size)
	p.millis("advance", w.advance)
	p.millis("grace", w.grace)
	if w.size <= 0 {
		p.addf("size %v must be positive", w.size)
	}
	if w.advance <= 0 || w.advance > w.size {
		p.addf("advance %v must be positive and at most the size %v", w.advance, w.size)
	}
	if w.grace < 0 {
		p.addf("grace %v must not be negative", w.grace)
	}
	return p.err("TimeWindows")
}

// WindowsFor returns the windows that a record with timestamp ts (in
// milliseconds) falls into, by ascending start, as Java's
// TimeWindows.windowsFor: every window [start, start+size) with start a
// multiple of the advance and start <= ts < start+size. Windows never start
// before 0, so a timestamp within the first size milliseconds of the epoch
// falls into fewer windows, and a negative one into none. A window end past
// math.MaxInt64 is capped there. WindowsFor returns nil if w does not
// Validate.
func (w TimeWindows) WindowsFor(ts int64) []Window {
	if ts < 0 || w.Validate() != nil {
		return nil
	}
	size, advance := w.size.Milliseconds(), w.advance.Milliseconds()
	start := max(0, ts-size+advance) / advance * advance
	windows := make([]Window, 0, (ts-start)/advance+1)
	for {
		end := start + size
		if end < start {
			end = math.MaxInt64
		}
		windows = append(windows, Window{Start: start, End: end})
		if start > ts-advance {
			return windows
		}
		start += advance
	}
}

// SlidingWindows defines windows of a fixed time difference that slide
// with the records, as Kafka Streams' SlidingWindows: two records fall into
// a common window when their timestamps differ by at most the time
// difference, and an aggregation creates only the windows that records
// start or end. Both bounds of a sliding window are inclusive.
type SlidingWindows struct {
	timeDifference, grace time.Duration
}

// SlidingWindowsOfTimeDifferenceWithNoGrace returns sliding windows of the
// given time difference without grace period. This corresponds to Java's
// SlidingWindows.ofTimeDifferenceWithNoGrace.
func SlidingWindowsOfTimeDifferenceWithNoGrace(timeDifference time.Duration) SlidingWindows {
	return SlidingWindowsOfTimeDifferenceAndGrace(timeDifference, 0)
}

// SlidingWindowsOfTimeDifferenceAndGrace returns sliding windows of the
// given time difference that accept out-of-order records until stream time
// passes a window's end plus grace. This corresponds to Java's
// SlidingWindows.ofTimeDifferenceAndGrace.
func SlidingWindowsOfTimeDifferenceAndGrace(timeDifference, grace time.Duration) SlidingWindows {
	return SlidingWindows{timeDifference: timeDifference, grace: grace}
}

// TimeDifference returns the largest difference between the timestamps of
// two records of one window.
func (w SlidingWindows) TimeDifference() time.Duration { return w.timeDifference }

// Grace returns the grace period.
func (w SlidingWindows) Grace() time.Duration { return w.grace }

// Validate reports, in one error wrapping [ErrInvalidWindows], every rule
// w breaks: Kafka Streams' rules (time difference and grace not negative)
// and whole milliseconds, as for [TimeWindows.Validate].
func (w SlidingWindows) Validate() error {
	var p problems
	p.millis("time difference", w.timeDifference)
	p.millis("grace", w.grace)
	if w.timeDifference < 0 {
		p.addf("time difference %v must not be negative", w.timeDifference)
	}
	if w.grace < 0 {
		p.addf("grace %v must not be negative", w.grace)
	}
	return p.err("SlidingWindows")
}

// SessionWindows defines session windows, as Kafka Streams'
// SessionWindows: the records of a key whose timestamps are at most the
// inactivity gap apart form one session, [first timestamp, last
// timestamp], both inclusive. A record that falls within the gap of two
// sessions merges them.
type SessionWindows struct {
	gap, grace time.Duration
}

// SessionWindowsOfInactivityGapWithNoGrace returns session windows closed
// by the given inactivity gap, without grace period. This corresponds to
// Java's SessionWindows.ofInactivityGapWithNoGrace.
func SessionWindowsOfInactivityGapWithNoGrace(gap time.Duration) SessionWindows {
	return SessionWindowsOfInactivityGapAndGrace(gap, 0)
}

// SessionWindowsOfInactivityGapAndGrace returns session windows closed by
// the given inactivity gap that accept out-of-order records until stream
// time passes a session's end plus grace. This corresponds to Java's
// SessionWindows.ofInactivityGapAndGrace.
func SessionWindowsOfInactivityGapAndGrace(gap, grace time.Duration) SessionWindows {
	return SessionWindows{gap: gap, grace: grace}
}

// InactivityGap returns the gap of inactivity that closes a session.
func (w SessionWindows) InactivityGap() time.Duration { return w.gap }

// Grace returns the grace period.
func (w SessionWindows) Grace() time.Duration { return w.grace }

// Validate reports, in one error wrapping [ErrInvalidWindows], every rule
// w breaks: Kafka Streams' rules (gap positive, grace not negative) and
// whole milliseconds, as for [TimeWindows.Validate].
func (w SessionWindows) Validate() error {
	var p problems
	p.millis("inactivity gap", w.gap)
	p.millis("grace", w.grace)
	if w.gap <= 0 {
		p.addf("inactivity gap %v must be positive", w.gap)
	}
	if w.grace < 0 {
		p.addf("grace %v must not be negative", w.grace)
	}
	return p.err("SessionWindows")
}

// problems collects the rules a window definition breaks.
type problems []string

func (p *problems) addf(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// millis records d if it is not a whole number of milliseconds.
func (p *problems) millis(name string, d time.Duration) {
	if d%time.Millisecond != 0 {
		p.addf("%s %v is not a whole number of milliseconds", name, d)
	}
}

// err returns the error of the problems of windows kind, nil if none.
func (p problems) err(kind string) error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalidWindows, kind, strings.Join(p, "; "))
}

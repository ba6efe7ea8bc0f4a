package kstreams

import "time"

// JoinWindows defines which records of two streams a stream-stream join
// pairs, as Kafka Streams' JoinWindows: a record of the left stream with
// timestamp t joins the records of the right stream with the same key and
// a timestamp in [t-before, t+after]. The constructors make the window
// symmetric (before = after = the time difference); [JoinWindows.Before]
// and [JoinWindows.After] change one bound. The grace period is how long
// after a window's end out-of-order records are still joined, and how long
// a left or outer join waits before it emits a record that found no
// partner.
//
//	w := kstreams.JoinWindowsOfTimeDifferenceAndGrace(10*time.Second, 2*time.Second)
//
// The constructors do not fail: [JoinWindows.Validate] reports impossible
// durations, and the joins validate the windows they are given when the
// topology is built.
type JoinWindows struct {
	before, after, grace time.Duration
}

// JoinWindowsOfTimeDifferenceWithNoGrace returns join windows pairing the
// records whose timestamps differ by at most timeDifference, without grace
// period. This corresponds to Java's JoinWindows.ofTimeDifferenceWithNoGrace.
func JoinWindowsOfTimeDifferenceWithNoGrace(timeDifference time.Duration) JoinWindows {
	return JoinWindowsOfTimeDifferenceAndGrace(timeDifference, 0)
}

// JoinWindowsOfTimeDifferenceAndGrace returns join windows pairing the
// records whose timestamps differ by at most timeDifference, with a grace
// period. This corresponds to Java's JoinWindows.ofTimeDifferenceAndGrace.
func JoinWindowsOfTimeDifferenceAndGrace(timeDifference, grace time.Duration) JoinWindows {
	return JoinWindows{before: timeDifference, after: timeDifference, grace: grace}
}

// Before returns w with a left record joining right records at most
// timeDifference earlier than itself (it may be negative, to require a
// right record later than the left one, as long as Before plus After is
// not). This corresponds to Java's JoinWindows.before.
func (w JoinWindows) Before(timeDifference time.Duration) JoinWindows {
	w.before = timeDifference
	return w
}

// After returns w with a left record joining right records at most
// timeDifference later than itself. This corresponds to Java's
// JoinWindows.after.
func (w JoinWindows) After(timeDifference time.Duration) JoinWindows {
	w.after = timeDifference
	return w
}

// BeforeDuration returns how much earlier than a left record a right record
// may be.
func (w JoinWindows) BeforeDuration() time.Duration { return w.before }

// AfterDuration returns how much later than a left record a right record
// may be.
func (w JoinWindows) AfterDuration() time.Duration { return w.after }

// Size returns the size of the window, before plus after (Java's
// JoinWindows.size).
func (w JoinWindows) Size() time.Duration { return w.before + w.after }

// Grace returns the grace period.
func (w JoinWindows) Grace() time.Duration { return w.grace }

// Validate reports, in one error wrapping [ErrInvalidWindows], every rule
// w breaks: Kafka Streams' rules (before plus after not negative, grace not
// negative) and whole milliseconds, as for [TimeWindows.Validate].
func (w JoinWindows) Validate() error {
	var p problems
	p.millis("before", w.before)
	p.millis("after", w.after)
	p.millis("grace", w.grace)
	if w.before+w.after < 0 {
		p.addf("before %v plus after %v must not be negative", w.before, w.after)
	}
	if w.grace < 0 {
		p.addf("grace %v must not be negative", w.grace)
	}
	return p.err("JoinWindows")
}

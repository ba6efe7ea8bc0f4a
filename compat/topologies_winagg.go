package compat

import (
	"time"

	"github.com/kstreams-go/kstreams"
)

// The topologies of sliding windows, emit-on-close for sessions and
// cogroup, the same as in java/src/main/java/TopologiesWinagg.java.
func init() {
	for name, t := range map[string]topology{
		// --- sliding windows (keys written as "key@start/end", both inclusive)
		"slide-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			w := kstreams.SlidingWindowsOfTimeDifferenceWithNoGrace(10 * time.Millisecond)
			toSI(windowKeys(kstreams.WindowedBySliding(in(b).GroupByKey(grouped), w).Count().ToStream()))
		}},
		"slide-count-grace": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			w := kstreams.SlidingWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)
			toSI(windowKeys(kstreams.WindowedBySliding(in(b).GroupByKey(grouped), w).Count().ToStream()))
		}},
		"slide-reduce": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			w := kstreams.SlidingWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)
			toSS(windowKeys(kstreams.WindowedBySliding(in(b).GroupByKey(grouped), w).Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream()))
		}},
		"slide-aggregate": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			w := kstreams.SlidingWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)
			toSS(windowKeys(kstreams.WindowedAggregate(kstreams.WindowedBySliding(in(b).GroupByKey(grouped), w), func() str { return s("") },
				func(_, v, a str) str { return appendTo(a, "+", v) }, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
		}},
		"slide-count-close": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			w := kstreams.SlidingWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)
			toSI(windowKeys(kstreams.WindowedBySliding(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose).Count().ToStream()))
		}},
		"slide-suppress": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			w := kstreams.SlidingWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)
			toSS(windowKeys(kstreams.WindowedBySliding(in(b).GroupByKey(grouped), w).Reduce(func(a, v str) str { return appendTo(a, "|", v) }).
				Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer())).ToStream()))
		}},

		// --- session windows emitting on close
		"session-count-close": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			w := kstreams.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 5*time.Millisecond)
			toSI(windowKeys(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose).Count().ToStream()))
		}},
		"session-reduce-close": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			w := kstreams.SessionWindowsOfInactivityGapWithNoGrace(10 * time.Millisecond)
			toSS(windowKeys(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose).
				Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream()))
		}},
	} {
		if _, dup := topologies[name]; dup {
			panic("compat: topology " + name + " defined twice")
		}
		topologies[name] = t
	}
}

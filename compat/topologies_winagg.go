package compat

import (
	"time"

	"github.com/kstreams-go/kstreams"
)

// streamOf reads topic as a stream of strings.
func streamOf(b *kstreams.Builder, topic string) kstreams.Stream[str, str] {
	return kstreams.StreamFrom(b, topic, kstreams.ConsumedWith(ss, ss))
}

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

		// --- cogroup
		"cogroup-two": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			c := kstreams.Cogroup(streamOf(b, "left").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+l:", v) })
			c = kstreams.CogroupWith(c, streamOf(b, "right").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+r:", v) })
			toSS(c.Aggregate(func() str { return s("") }, matSS).ToStream())
		}},
		"cogroup-three-repartition": {"left:S:S,right:S:S,third:S:S", "out:S:S", func(b *kstreams.Builder) {
			c := kstreams.Cogroup(streamOf(b, "left").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+l:", v) })
			c = kstreams.CogroupWith(c, streamOf(b, "right").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+r:", v) })
			byFirst := kstreams.GroupBy(streamOf(b, "third"), func(_, v str) str { return first(v) }, grouped)
			c = kstreams.CogroupWith(c, byFirst, func(_, v, a str) str { return appendTo(a, "+t:", v) })
			toSS(c.Aggregate(func() str { return s("") }, matSS).ToStream())
		}},
		"cogroup-mixed-types": {"left:S:S,right:S:L", "out:S:L", func(b *kstreams.Builder) {
			left := streamOf(b, "left").GroupByKey(grouped) // built first, as in Java
			right := kstreams.StreamFrom(b, "right", kstreams.ConsumedWith(ss, ls)).GroupByKey(kstreams.Grouped[str, long]{Key: ss, Value: ls})
			c := kstreams.Cogroup(left, func(_, _ str, a long) long { return l(*a + 1) })
			c = kstreams.CogroupWith(c, right, func(_ str, v long, a long) long { return l(*a + *v*100) })
			toSL(c.Aggregate(func() long { return l(0) }, kstreams.Materialized[str, long]{Key: ss, Value: ls}).ToStream())
		}},
		"cogroup-tumbling": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			c := kstreams.Cogroup(streamOf(b, "left").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+l:", v) })
			c = kstreams.CogroupWith(c, streamOf(b, "right").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+r:", v) })
			w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)
			toSS(windowKeys(c.WindowedBy(w).Aggregate(func() str { return s("") }, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
		}},
		"cogroup-sliding": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			c := kstreams.Cogroup(streamOf(b, "left").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+l:", v) })
			c = kstreams.CogroupWith(c, streamOf(b, "right").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+r:", v) })
			w := kstreams.SlidingWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)
			toSS(windowKeys(c.WindowedBySliding(w).Aggregate(func() str { return s("") }, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
		}},
		"cogroup-session": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			c := kstreams.Cogroup(streamOf(b, "left").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+l:", v) })
			c = kstreams.CogroupWith(c, streamOf(b, "right").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+r:", v) })
			w := kstreams.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 5*time.Millisecond)
			toSS(windowKeys(c.WindowedBySession(w).Aggregate(func() str { return s("") },
				func(_, a, b str) str { return appendTo(a, "&", b) }, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
		}},
	} {
		if _, dup := topologies[name]; dup {
			panic("compat: topology " + name + " defined twice")
		}
		topologies[name] = t
	}
}

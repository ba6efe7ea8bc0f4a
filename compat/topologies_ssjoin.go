package compat

import (
	"time"

	"github.com/kstreams-go/kstreams"
)

// The stream-stream join and versioned-table topologies (issue 11), the same as those of
// java/src/main/java/TopologiesSsjoin.java. The left stream is "in", the
// right one "other".

func other(b *kstreams.Builder) kstreams.Stream[str, str] {
	return kstreams.StreamFrom(b, "other", kstreams.ConsumedWith(ss, ss))
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// guideWindows are the developer guide's join windows: 15 (seconds there,
// milliseconds here) with a grace of 5.
var guideWindows = kstreams.JoinWindowsOfTimeDifferenceAndGrace(ms(15), ms(5))

var sj = kstreams.StreamJoined[str, str, str]{Key: ss, Value: ss, OtherValue: ss}

func firstKey(_, v str) str { return first(v) }

// versioned is the table "tab" in a versioned store "vt" with a history
// retention of 10 ms.
func versioned(b *kstreams.Builder) kstreams.Table[str, str] {
	return kstreams.TableFrom(b, "tab", kstreams.ConsumedWith(ss, ss),
		kstreams.Materialized[str, str]{Name: "vt", Key: ss, Value: ss, Versioned: &kstreams.Versioning{HistoryRetention: ms(10)}})
}

func init() {
	for name, t := range map[string]topology{
		"versioned-table": {"tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(versioned(b).ToStream())
		}},
		"versioned-stream-table-join": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableJoin(in(b), versioned(b), joined))
		}},
		"versioned-stream-table-join-grace": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableJoin(in(b), versioned(b), joined, kstreams.Joined[str, str]{Key: ss, Value: ss, GracePeriod: ms(5)}))
		}},
		"versioned-stream-table-left-join-grace": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableLeftJoin(in(b), versioned(b), joined, kstreams.Joined[str, str]{Key: ss, Value: ss, GracePeriod: ms(5)}))
		}},
		"versioned-stream-table-left-join": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableLeftJoin(in(b), versioned(b), joined))
		}},
		"ss-join": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(in(b), other(b), joined, guideWindows, sj))
		}},
		"ss-left-join": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamLeftJoin(in(b), other(b), joined, guideWindows, sj))
		}},
		"ss-outer-join": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamOuterJoin(in(b), other(b), joined, guideWindows, sj))
		}},
		"ss-join-no-grace": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(in(b), other(b), joined, kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(ms(10)), sj))
		}},
		"ss-left-join-no-grace": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamLeftJoin(in(b), other(b), joined, kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(ms(10)), sj))
		}},
		"ss-outer-join-no-grace": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamOuterJoin(in(b), other(b), joined, kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(ms(10)), sj))
		}},
		"ss-join-before": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(in(b), other(b), joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(ms(10), ms(5)).Before(0), sj))
		}},
		"ss-left-join-after": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamLeftJoin(in(b), other(b), joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(ms(10), ms(5)).After(0), sj))
		}},
		"ss-outer-join-asymmetric": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamOuterJoin(in(b), other(b), joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(ms(10), ms(3)).Before(ms(2)).After(ms(6)), sj))
		}},
		"ss-join-rekey": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(kstreams.SelectKey(in(b), firstKey), other(b), joined, guideWindows, sj))
		}},
		"ss-left-join-named": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			named := sj
			named.Name, named.StoreName = "j", "s"
			toSS(kstreams.StreamStreamLeftJoin(kstreams.SelectKey(in(b), firstKey), kstreams.SelectKey(other(b), firstKey), joined, guideWindows, named))
		}},
		"ss-outer-join-in-memory": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			mem := sj
			mem.StoreName, mem.InMemory, mem.DisableLogging = "s", true, true
			toSS(kstreams.StreamStreamOuterJoin(in(b), other(b), joined, guideWindows, mem))
		}},
	} {
		if _, dup := topologies[name]; dup {
			panic("compat: topology " + name + " defined twice")
		}
		topologies[name] = t
	}
}

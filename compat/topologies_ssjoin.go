package compat

import (
	"time"

	"github.com/kstreams-go/kstreams"
)

// The stream-stream join and versioned-table topologies (issue 11), the same as those of
// java/src/main/java/TopologiesSsjoin.java. The left stream is "in", the
// right one "other".

func ssOther(b *kstreams.Builder) kstreams.Stream[str, str] {
	return kstreams.StreamFrom(b, "other", kstreams.ConsumedWith(ss, ss))
}

func ssMs(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// guideWindows are the developer guide's join windows: 15 (seconds there,
// milliseconds here) with a grace of 5.
var guideWindows = kstreams.JoinWindowsOfTimeDifferenceAndGrace(ssMs(15), ssMs(5))

var ssJoined = kstreams.StreamJoined[str, str, str]{Key: ss, Value: ss, OtherValue: ss}

func ssFirstKey(_, v str) str { return first(v) }

// versionedTab is the table "tab" in a versioned store "vt" with a history
// retention of 10 ms.
func versionedTab(b *kstreams.Builder) kstreams.Table[str, str] {
	return kstreams.TableFrom(b, "tab", kstreams.ConsumedWith(ss, ss),
		kstreams.Materialized[str, str]{Name: "vt", Key: ss, Value: ss, Versioned: &kstreams.Versioning{HistoryRetention: ssMs(10)}})
}

func init() {
	for name, t := range map[string]topology{
		"versioned-table": {"tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(versionedTab(b).ToStream())
		}},
		"versioned-stream-table-join": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableJoin(in(b), versionedTab(b), joined))
		}},
		"versioned-stream-table-join-grace": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableJoin(in(b), versionedTab(b), joined, kstreams.Joined[str, str]{Key: ss, Value: ss, GracePeriod: ssMs(5)}))
		}},
		"versioned-stream-table-left-join-grace": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableLeftJoin(in(b), versionedTab(b), joined, kstreams.Joined[str, str]{Key: ss, Value: ss, GracePeriod: ssMs(5)}))
		}},
		"versioned-stream-table-left-join": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamTableLeftJoin(in(b), versionedTab(b), joined))
		}},
		"ss-join": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(in(b), ssOther(b), joined, guideWindows, ssJoined))
		}},
		"ss-left-join": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamLeftJoin(in(b), ssOther(b), joined, guideWindows, ssJoined))
		}},
		"ss-outer-join": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamOuterJoin(in(b), ssOther(b), joined, guideWindows, ssJoined))
		}},
		"ss-join-no-grace": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(in(b), ssOther(b), joined, kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(ssMs(10)), ssJoined))
		}},
		"ss-left-join-no-grace": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamLeftJoin(in(b), ssOther(b), joined, kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(ssMs(10)), ssJoined))
		}},
		"ss-outer-join-no-grace": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamOuterJoin(in(b), ssOther(b), joined, kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(ssMs(10)), ssJoined))
		}},
		"ss-join-before": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(in(b), ssOther(b), joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(ssMs(10), ssMs(5)).Before(0), ssJoined))
		}},
		"ss-left-join-after": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamLeftJoin(in(b), ssOther(b), joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(ssMs(10), ssMs(5)).After(0), ssJoined))
		}},
		"ss-outer-join-asymmetric": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamOuterJoin(in(b), ssOther(b), joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(ssMs(10), ssMs(3)).Before(ssMs(2)).After(ssMs(6)), ssJoined))
		}},
		"ss-join-rekey": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.StreamStreamJoin(kstreams.SelectKey(in(b), ssFirstKey), ssOther(b), joined, guideWindows, ssJoined))
		}},
		"ss-left-join-named": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			named := ssJoined
			named.Name, named.StoreName = "j", "s"
			toSS(kstreams.StreamStreamLeftJoin(kstreams.SelectKey(in(b), ssFirstKey), kstreams.SelectKey(ssOther(b), ssFirstKey), joined, guideWindows, named))
		}},
		"ss-outer-join-in-memory": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			mem := ssJoined
			mem.StoreName, mem.InMemory, mem.DisableLogging = "s", true, true
			toSS(kstreams.StreamStreamOuterJoin(in(b), ssOther(b), joined, guideWindows, mem))
		}},
	} {
		if _, dup := topologies[name]; dup {
			panic("compat: topology " + name + " defined twice")
		}
		topologies[name] = t
	}
}

package compat

import (
	"strconv"
	"time"

	"github.com/kstreams-go/kstreams"
)

// The fidelity topologies: combinations of operators the other files do
// not chain (joins of joins, old values through joins and mapValues into
// table aggregations, suppression of filtered and re-grouped tables,
// self-joins, hopping windows emitting on close, aggregations of join
// results), the same as java/src/main/java/TopologiesFidelity.java.

// fidMs is n milliseconds.
func fidMs(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// byFirst groups a table row under the first letter of its value.
func byFirst(_, v str) kstreams.KeyValue[str, str] { return kv(first(v), v) }

// byValue groups a table row under its value.
func byValue(_, v str) kstreams.KeyValue[str, str] { return kv(v, v) }

// plus and minus are the adder and subtractor of the table aggregations
// that show what they folded.
func plus(_, v, a str) str { return appendTo(a, "+", v) }

func minus(_, v, a str) str { return appendTo(a, "-", v) }

func emptyStr() str { return s("") }

func init() {
	for name, t := range map[string]topology{
		// --- table-table joins of joins, and what flows out of them
		"tt-join-chain": {"left:S:S,right:S:S,third:S:S", "out:S:S", func(b *kstreams.Builder) {
			j := kstreams.TableJoin(tableOf(b, "left"), tableOf(b, "right"), joined2)
			toSS(kstreams.TableLeftJoin(j, tableOf(b, "third"), joined2).ToStream())
		}},
		"tt-left-join-map-group-aggregate": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			j := kstreams.MapTableValues(kstreams.TableLeftJoin(tableOf(b, "left"), tableOf(b, "right"), joined2), upper)
			toSS(kstreams.AggregateTable(kstreams.GroupTableBy(j, byFirst, grouped), emptyStr, plus, minus, matSS).ToStream())
		}},
		"tt-outer-join-materialized-filter": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			j := kstreams.TableOuterJoin(tableOf(b, "left"), tableOf(b, "right"), joined2, kstreams.Materialized[str, str]{Name: "j", Key: ss, Value: ss})
			toSS(j.Filter(func(_, v str) bool { return !startsWith(v, "-") }).ToStream())
		}},
		"tt-join-materialized-group-by-count": {"left:S:S,right:S:S", "out:S:L", func(b *kstreams.Builder) {
			j := kstreams.TableJoin(tableOf(b, "left"), tableOf(b, "right"), joined2, kstreams.Materialized[str, str]{Name: "j", Key: ss, Value: ss})
			toSI(kstreams.GroupTableBy(j, byFirst, grouped).Count().ToStream())
		}},
		"table-filter-materialized-join": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			l := tableOf(b, "left").FilterMaterialized(func(_, v str) bool { return longer(v, 1) }, kstreams.Materialized[str, str]{Name: "f", Key: ss, Value: ss})
			toSS(kstreams.TableJoin(l, tableOf(b, "right"), joined2).ToStream())
		}},
		"table-map-values-left-join-filtered": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			l := kstreams.MapTableValues(tableOf(b, "left"), upper)
			r := tableOf(b, "right").Filter(func(_, v str) bool { return longer(v, 1) })
			toSS(kstreams.TableLeftJoin(l, r, joined2).ToStream())
		}},
		"table-self-join": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			t := table(b)
			toSS(kstreams.TableJoin(t, t, joined2).ToStream())
		}},
		"to-table-stream-join": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			st := in(b) // built first, as in Java
			toSS(kstreams.StreamTableJoin(st, streamOf(b, "tab").ToTable(), joined))
		}},
		"table-joined-then-filtered": {"left:S:S,right:S:S", "out-j:S:S,out-f:S:S", func(b *kstreams.Builder) {
			t := tableOf(b, "left")
			kstreams.TableJoin(t, tableOf(b, "right"), joined2).ToStream().To("out-j", kstreams.ProducedWith(ss, ss))
			t.Filter(func(_, v str) bool { return longer(v, 1) }).ToStream().To("out-f", kstreams.ProducedWith(ss, ss))
		}},
		"table-filtered-then-joined": {"left:S:S,right:S:S", "out-j:S:S,out-f:S:S", func(b *kstreams.Builder) {
			t := tableOf(b, "left")
			f := t.Filter(func(_, v str) bool { return longer(v, 1) })
			kstreams.TableJoin(t, tableOf(b, "right"), joined2).ToStream().To("out-j", kstreams.ProducedWith(ss, ss))
			f.ToStream().To("out-f", kstreams.ProducedWith(ss, ss))
		}},
		"merge-tables": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(tableOf(b, "left").ToStream().Merge(tableOf(b, "right").ToStream()))
		}},

		// --- table aggregations
		"table-group-by-reduce-str": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			g := kstreams.GroupTableBy(table(b), byFirst, grouped)
			toSS(g.Reduce(func(a, v str) str { return appendTo(a, "|", v) }, func(a, v str) str { return appendTo(a, "-", v) }).ToStream())
		}},
		"table-filter-materialized-group-by-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			f := table(b).FilterMaterialized(func(_, v str) bool { return longer(v, 1) }, kstreams.Materialized[str, str]{Name: "f", Key: ss, Value: ss})
			toSI(kstreams.GroupTableBy(f, byValue, grouped).Count().ToStream())
		}},
		"table-to-stream-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			toSI(table(b).ToStream().GroupByKey(grouped).Count().ToStream())
		}},

		// --- foreign-key joins feeding other operators
		"fk-join-group-by-count": {"left:S:S,right:S:S", "out:S:L", func(b *kstreams.Builder) {
			j := kstreams.ForeignKeyJoin(tableOf(b, "left"), tableOf(b, "right"), first, fkJoined, kstreams.TableJoined[str, str]{}, matSS)
			toSI(kstreams.GroupTableBy(j, byValue, grouped).Count().ToStream())
		}},
		"fk-left-join-group-by-count": {"left:S:S,right:S:S", "out:S:L", func(b *kstreams.Builder) {
			j := kstreams.ForeignKeyLeftJoin(tableOf(b, "left"), tableOf(b, "right"), first, fkJoined, kstreams.TableJoined[str, str]{}, matSS)
			toSI(kstreams.GroupTableBy(j, byValue, grouped).Count().ToStream())
		}},
		"fk-join-then-join": {"left:S:S,right:S:S,third:S:S", "out:S:S", func(b *kstreams.Builder) {
			j := kstreams.ForeignKeyJoin(tableOf(b, "left"), tableOf(b, "right"), first, fkJoined, kstreams.TableJoined[str, str]{}, matSS)
			toSS(kstreams.TableLeftJoin(j, tableOf(b, "third"), joined2).ToStream())
		}},

		// --- windows
		"cogroup-hopping": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			c := kstreams.Cogroup(streamOf(b, "left").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+l:", v) })
			c = kstreams.CogroupWith(c, streamOf(b, "right").GroupByKey(grouped), func(_, v, a str) str { return appendTo(a, "+r:", v) })
			w := kstreams.TimeWindowsOfSizeAndGrace(fidMs(10), fidMs(5)).AdvanceBy(fidMs(5))
			toSS(windowKeys(c.WindowedBy(w).Aggregate(emptyStr, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
		}},
		"win-reduce-hopping-close": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			w := kstreams.TimeWindowsOfSizeAndGrace(fidMs(10), fidMs(3)).AdvanceBy(fidMs(5))
			toSS(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose).
				Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream()))
		}},
		"suppress-win-close-hopping-grace": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			w := kstreams.TimeWindowsOfSizeAndGrace(fidMs(10), fidMs(3)).AdvanceBy(fidMs(5))
			toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Count().Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer())).ToStream()))
		}},
		"session-aggregate-close": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			w := kstreams.SessionWindowsOfInactivityGapAndGrace(fidMs(5), fidMs(5))
			toSS(windowKeys(kstreams.SessionAggregate(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose), emptyStr,
				func(_, v, a str) str { return appendTo(a, "+", v) },
				func(_, a, b str) str { return appendTo(a, "&", b) }, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
		}},
		"slide-reduce-close": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			w := kstreams.SlidingWindowsOfTimeDifferenceAndGrace(fidMs(10), fidMs(5))
			toSS(windowKeys(kstreams.WindowedBySliding(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose).
				Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream()))
		}},

		// --- suppression of derived tables
		"suppress-time-limit-group-table": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
			c := kstreams.GroupTableBy(table(b), byFirst, grouped).Count()
			toSI(c.Suppress(kstreams.UntilTimeLimit(fidMs(10), kstreams.UnboundedBuffer())).ToStream())
		}},
		"suppress-time-limit-filter": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			f := in(b).ToTable().Filter(func(_, v str) bool { return longer(v, 1) })
			toSS(f.Suppress(kstreams.UntilTimeLimit(fidMs(10), kstreams.UnboundedBuffer())).ToStream())
		}},

		// --- stream-stream joins feeding other operators
		"ss-self-join": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
			st := in(b)
			toSS(kstreams.StreamStreamJoin(st, st, joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(fidMs(5), fidMs(2)), ssJoined))
		}},
		"ss-join-count": {"in:S:S,other:S:S", "out:S:L", func(b *kstreams.Builder) {
			j := kstreams.StreamStreamJoin(in(b), ssOther(b), joined, guideWindows, ssJoined)
			toSI(j.GroupByKey(grouped).Count().ToStream())
		}},
		"ss-outer-join-rekey-both": {"in:S:S,other:S:S", "out:S:S", func(b *kstreams.Builder) {
			l := kstreams.SelectKey(in(b), ssFirstKey)
			r := kstreams.SelectKey(ssOther(b), ssFirstKey)
			toSS(kstreams.StreamStreamOuterJoin(l, r, joined, kstreams.JoinWindowsOfTimeDifferenceAndGrace(fidMs(10), fidMs(2)), ssJoined))
		}},
		"stream-table-join-count-table": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
			st := in(b) // built first, as in Java
			counts := streamOf(b, "tab").GroupByKey(grouped).Count()
			toSS(kstreams.StreamTableJoin(st, counts, func(k, l str, c int64) str {
				return s(orDash(k) + "=" + orDash(l) + "/" + strconv.FormatInt(c, 10))
			}))
		}},
	} {
		if _, dup := topologies[name]; dup {
			panic("compat: topology " + name + " defined twice")
		}
		topologies[name] = t
	}
}

package compat

import "github.com/kstreams-go/kstreams"

// The foreign-key join topologies: the rows of "left" refer to the rows of
// "right" by the first letter of their value (no letter: a null foreign
// key).
func init() {
	for name, t := range map[string]topology{
		"fk-join": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.ForeignKeyJoin(tableOf(b, "left"), tableOf(b, "right"), first, fkJoined, kstreams.TableJoined[str, str]{}).ToStream())
		}},
		"fk-left-join": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.ForeignKeyLeftJoin(tableOf(b, "left"), tableOf(b, "right"), first, fkJoined, kstreams.TableJoined[str, str]{}).ToStream())
		}},
		"fk-join-named": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			toSS(kstreams.ForeignKeyJoin(tableOf(b, "left"), tableOf(b, "right"), first, fkJoined,
				kstreams.TableJoined[str, str]{Name: "fk"}, kstreams.Materialized[str, str]{Name: "fk-result", Key: ss, Value: ss}).ToStream())
		}},
		"fk-left-join-filtered": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
			l := tableOf(b, "left").Filter(func(_, v str) bool { return !startsWith(v, "x") })
			toSS(kstreams.ForeignKeyLeftJoin(l, tableOf(b, "right"), first, fkJoined, kstreams.TableJoined[str, str]{}).ToStream())
		}},
	} {
		if _, dup := topologies[name]; dup {
			panic("compat: topology " + name + " defined twice")
		}
		topologies[name] = t
	}
}

// fkJoined is the joiner of the foreign-key joins: "left/right", "-" for a
// missing foreign row.
func fkJoined(l, r str) str { return s(orDash(l) + "/" + orDash(r)) }

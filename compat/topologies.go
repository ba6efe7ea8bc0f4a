package compat

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// The topologies use *string and *int64 for keys and values so that a Kafka
// null (nil) can flow as Java's null does.
type (
	str  = *string
	long = *int64
)

// nullable is the serde of *T over a serde of T: nil is a Kafka null.
type nullable[T any] struct{ inner serde.Serde[T] }

func (s nullable[T]) Serialize(topic string, v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return s.inner.Serialize(topic, *v)
}

func (s nullable[T]) Deserialize(topic string, data []byte) (*T, error) {
	if data == nil {
		return nil, nil
	}
	v, err := s.inner.Deserialize(topic, data)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

var (
	ss serde.Serde[str]   = nullable[string]{serde.String()}
	ls serde.Serde[long]  = nullable[int64]{serde.Int64()}
	is serde.Serde[int64] = serde.Int64()
)

// topology is a named topology of the suite, the same as the Java one of the
// same name in java/src/main/java/Topologies.java.
type topology struct {
	inputs, outputs string // topic specs, "in:S:S,..."
	build           func(b *kstreams.Builder)
}

// Null-safe helpers, the same as in Topologies.java.

func s(v string) str { return &v }

func l(v int64) long { return &v }

func longer(v str, n int) bool { return v != nil && len(*v) > n }

func startsWith(v str, p string) bool { return v != nil && strings.HasPrefix(*v, p) }

func upper(v str) str {
	if v == nil {
		return nil
	}
	return s(strings.ToUpper(*v))
}

func first(v str) str {
	if v == nil || *v == "" {
		return nil
	}
	return s((*v)[:1])
}

func length(v str) int64 {
	if v == nil {
		return 0
	}
	return int64(len(*v))
}

func text(v str) string {
	if v == nil {
		return nullToken
	}
	return *v
}

func parts(v str) []str {
	if v == nil {
		return nil
	}
	var out []str
	for _, p := range strings.Split(*v, ",") {
		out = append(out, s(p))
	}
	return out
}

func in(b *kstreams.Builder) kstreams.Stream[str, str] {
	return kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(ss, ss))
}

func table(b *kstreams.Builder) kstreams.Table[str, str] {
	return kstreams.TableFrom(b, "in", kstreams.ConsumedWith(ss, ss))
}

func tableOf(b *kstreams.Builder, topic string) kstreams.Table[str, str] {
	return kstreams.TableFrom(b, topic, kstreams.ConsumedWith(ss, ss))
}

// orDash is v, or "-" for null.
func orDash(v str) string {
	if v == nil {
		return "-"
	}
	return *v
}

// joined is the joiner of the stream-table joins: "key=left/right", "-"
// for a null side.
func joined(k, l, r str) str { return s(orDash(k) + "=" + orDash(l) + "/" + orDash(r)) }

// joined2 is the joiner of the table-table joins (Kafka Streams' table
// joiners do not get the key): "left/right".
func joined2(_, l, r str) str { return s(orDash(l) + "/" + orDash(r)) }

func toSS(st kstreams.Stream[str, str]) { st.To("out", kstreams.ProducedWith(ss, ss)) }

func toSL(st kstreams.Stream[str, long]) { st.To("out", kstreams.ProducedWith(ss, ls)) }

func toSI(st kstreams.Stream[str, int64]) { st.To("out", kstreams.ProducedWith(ss, is)) }

var grouped = kstreams.Grouped[str, str]{Key: ss, Value: ss}

var matSS = kstreams.Materialized[str, str]{Key: ss, Value: ss}

// schedule is one punctuator a punctuating processor schedules in Init.
type schedule struct {
	name     string
	interval time.Duration
	typ      processor.PunctuationType
	max      int // cancel after this many firings; 0: never
}

// punctuating forwards every record and schedules its punctuators in order;
// each firing forwards ("tick", "NAME@TIME") stamped with the time.
type punctuating struct {
	schedules []schedule
	ctx       processor.Context[str, str]
}

func punctuators(sc ...schedule) processor.Supplier[str, str, str, str] {
	return func() processor.Processor[str, str, str, str] { return &punctuating{schedules: sc} }
}

func (p *punctuating) Init(ctx processor.Context[str, str]) error {
	p.ctx = ctx
	for _, sc := range p.schedules {
		fired := 0
		var handle processor.Cancellable
		handle = ctx.Schedule(sc.interval, sc.typ, func(ts int64) error {
			ctx.Forward(processor.Record[str, str]{Key: s("tick"), Value: s(sc.name + "@" + strconv.FormatInt(ts, 10)), Timestamp: ts})
			if fired++; sc.max > 0 && fired == sc.max {
				handle.Cancel()
			}
			return nil
		})
	}
	return nil
}

func (p *punctuating) Process(r processor.Record[str, str]) error {
	p.ctx.Forward(r)
	return nil
}

func (p *punctuating) Close() error { return nil }

// clocks forwards each record with its value suffixed by the task's stream
// time and wall-clock time.
type clocks struct{ ctx processor.Context[str, str] }

func (p *clocks) Init(ctx processor.Context[str, str]) error {
	p.ctx = ctx
	return nil
}

func (p *clocks) Process(r processor.Record[str, str]) error {
	r.Value = s(fmt.Sprintf("%s@%d/%d", text(r.Value), p.ctx.StreamTime(), p.ctx.WallClockTime()))
	p.ctx.Forward(r)
	return nil
}

func (p *clocks) Close() error { return nil }

// shift forwards each record 5 ms earlier than it came.
type shift struct{ ctx processor.Context[str, str] }

func (p *shift) Init(ctx processor.Context[str, str]) error {
	p.ctx = ctx
	return nil
}

func (p *shift) Process(r processor.Record[str, str]) error {
	r.Timestamp -= 5
	p.ctx.Forward(r)
	return nil
}

func (p *shift) Close() error { return nil }

// kv is the key-value pair of a table group-by.
func kv(k, v str) kstreams.KeyValue[str, str] { return kstreams.KV(k, v) }

// appendTo returns a+sep+v, for aggregators that show what they folded.
func appendTo(a str, sep string, v str) str { return s(text(a) + sep + text(v)) }

// windowKeys writes each windowed key as "key@start/end".
func windowKeys[V any](st kstreams.Stream[kstreams.Windowed[str], V]) kstreams.Stream[str, V] {
	return kstreams.SelectKey(st, func(k kstreams.Windowed[str], _ V) str {
		return s(fmt.Sprintf("%s@%d/%d", text(k.Key), k.Window.Start, k.Window.End))
	})
}

// topologies are the suite's topologies by name.
var topologies = map[string]topology{
	// --- stateless
	"filter": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).Filter(func(_, v str) bool { return longer(v, 1) }))
	}},
	"filter-not": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).FilterNot(func(_, v str) bool { return longer(v, 1) }))
	}},
	"map-swap": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Map(in(b), func(k, v str) (str, str) { return v, k }))
	}},
	"map-values": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.MapValues(in(b), upper))
	}},
	"map-values-long": {"in:S:L", "out:S:L", func(b *kstreams.Builder) {
		st := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(ss, ls))
		toSL(kstreams.MapValues(st, func(v long) long {
			if v == nil {
				return nil
			}
			return l(*v * 2)
		}))
	}},
	"flat-map": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.FlatMap(in(b), func(k, v str) []kstreams.KeyValue[str, str] {
			var out []kstreams.KeyValue[str, str]
			for _, p := range parts(v) {
				out = append(out, kv(p, k))
			}
			return out
		}))
	}},
	"flat-map-values": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.FlatMapValues(in(b), parts))
	}},
	"select-key": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.SelectKey(in(b), func(_, v str) str { return v }))
	}},
	"peek-foreach": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		st := in(b)
		st.Foreach(func(_, _ str) {})
		toSS(kstreams.MapValues(st.Peek(func(_, _ str) {}), upper))
	}},
	"split": {"in:S:S", "out-a:S:S,out-b:S:S,out-other:S:S", func(b *kstreams.Builder) {
		m := in(b).Split("s-").
			Branch("a", func(_, v str) bool { return startsWith(v, "a") }).
			Branch("b", func(_, v str) bool { return longer(v, 3) }).
			DefaultBranch("other")
		m.Get("s-a").To("out-a", kstreams.ProducedWith(ss, ss))
		m.Get("s-b").To("out-b", kstreams.ProducedWith(ss, ss))
		m.Get("s-other").To("out-other", kstreams.ProducedWith(ss, ss))
	}},
	"split-no-default": {"in:S:S", "out-a:S:S,out-b:S:S", func(b *kstreams.Builder) {
		m := in(b).Split("s-").
			Branch("a", func(_, v str) bool { return startsWith(v, "a") }).
			Branch("b", func(_, v str) bool { return longer(v, 3) }).
			NoDefaultBranch()
		m.Get("s-a").To("out-a", kstreams.ProducedWith(ss, ss))
		m.Get("s-b").To("out-b", kstreams.ProducedWith(ss, ss))
	}},
	"merge": {"in1:S:S,in2:S:S", "out:S:S", func(b *kstreams.Builder) {
		one := kstreams.StreamFrom(b, "in1", kstreams.ConsumedWith(ss, ss))
		two := kstreams.StreamFrom(b, "in2", kstreams.ConsumedWith(ss, ss))
		toSS(one.Merge(two))
	}},
	"merge-self": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		st := in(b)
		toSS(st.Merge(st))
	}},
	"merge-branches": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		st := in(b)
		toSS(st.Filter(func(_, v str) bool { return longer(v, 1) }).Merge(kstreams.MapValues(st, upper)))
	}},
	"repartition": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		rekeyed := kstreams.SelectKey(in(b), func(_, v str) str { return v })
		toSS(kstreams.MapValues(rekeyed.Repartition(kstreams.Repartitioned[str, str]{Key: ss, Value: ss}), upper))
	}},
	"repartition-same-key": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).Repartition(kstreams.Repartitioned[str, str]{Key: ss, Value: ss}))
	}},
	"repartition-merge-shifted": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		st := in(b)
		byValue := func(_, v str) str { return v }
		one := kstreams.SelectKey(st, byValue).Repartition(kstreams.Repartitioned[str, str]{Name: "r1", Key: ss, Value: ss})
		shifted := kstreams.Process(st, func() processor.Processor[str, str, str, str] { return &shift{} })
		two := kstreams.SelectKey(shifted, byValue).Repartition(kstreams.Repartitioned[str, str]{Name: "r2", Key: ss, Value: ss})
		toSS(one.Merge(kstreams.MapValues(two, upper)))
	}},
	"repartition-clocks": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		rp := in(b).Filter(func(_, v str) bool { return longer(v, 1) }).Repartition(kstreams.Repartitioned[str, str]{Key: ss, Value: ss})
		toSS(kstreams.Process(rp, func() processor.Processor[str, str, str, str] { return &clocks{} }))
	}},
	"split-merge": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		m := in(b).Split("m-").
			Branch("a", func(_, v str) bool { return startsWith(v, "a") }).
			DefaultBranch("rest")
		toSS(kstreams.MapValues(m.Get("m-a"), upper).Merge(m.Get("m-rest")))
	}},
	"to-func": {"in:S:S", "out-x:S:S,out-y:S:S", func(b *kstreams.Builder) {
		in(b).ToFunc(func(r processor.Record[str, str]) string {
			if startsWith(r.Value, "x") {
				return "out-x"
			}
			return "out-y"
		}, kstreams.ProducedWith(ss, ss))
	}},

	// --- Processor API and punctuation
	"process-clocks": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Process(in(b), func() processor.Processor[str, str, str, str] { return &clocks{} }))
	}},
	"punct-stream": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Process(in(b), punctuators(schedule{"p10", 10 * time.Millisecond, processor.StreamTime, 0})))
	}},
	"punct-wall": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Process(in(b), punctuators(schedule{"w10", 10 * time.Millisecond, processor.WallClockTime, 0})))
	}},
	"punct-multi-stream": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Process(in(b), punctuators(
			schedule{"a10", 10 * time.Millisecond, processor.StreamTime, 0},
			schedule{"b4", 4 * time.Millisecond, processor.StreamTime, 0},
			schedule{"c6", 6 * time.Millisecond, processor.StreamTime, 0})))
	}},
	"punct-multi-wall": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Process(in(b), punctuators(
			schedule{"a10", 10 * time.Millisecond, processor.WallClockTime, 0},
			schedule{"b4", 4 * time.Millisecond, processor.WallClockTime, 0},
			schedule{"c6", 6 * time.Millisecond, processor.WallClockTime, 0})))
	}},
	"punct-mixed": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Process(in(b), punctuators(
			schedule{"s10", 10 * time.Millisecond, processor.StreamTime, 0},
			schedule{"w10", 10 * time.Millisecond, processor.WallClockTime, 0})))
	}},
	"punct-cancel": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Process(in(b), punctuators(
			schedule{"once5", 5 * time.Millisecond, processor.StreamTime, 2},
			schedule{"w5", 5 * time.Millisecond, processor.WallClockTime, 2})))
	}},

	// --- tables
	"table": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(table(b).ToStream())
	}},
	"table-filter": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(table(b).Filter(func(_, v str) bool { return longer(v, 1) }).ToStream())
	}},
	"table-filter-not": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(table(b).FilterNot(func(_, v str) bool { return longer(v, 1) }).ToStream())
	}},
	"table-named-filter": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		src := kstreams.TableFrom(b, "in", kstreams.ConsumedWith(ss, ss), kstreams.Materialized[str, str]{Name: "src", Key: ss, Value: ss})
		toSS(src.Filter(func(_, v str) bool { return longer(v, 1) }).ToStream())
	}},
	"table-filter-materialized": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		f := table(b).FilterMaterialized(func(_, v str) bool { return longer(v, 1) }, kstreams.Materialized[str, str]{Name: "f", Key: ss, Value: ss})
		toSS(f.ToStream())
	}},
	"table-named-filter-materialized": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		src := kstreams.TableFrom(b, "in", kstreams.ConsumedWith(ss, ss), kstreams.Materialized[str, str]{Name: "src", Key: ss, Value: ss})
		f := src.FilterMaterialized(func(_, v str) bool { return longer(v, 1) }, kstreams.Materialized[str, str]{Name: "f", Key: ss, Value: ss})
		toSS(f.ToStream())
	}},
	"table-map-values-materialized-group-by": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		m := kstreams.MapTableValuesMaterialized(table(b), upper, kstreams.Materialized[str, str]{Name: "m", Key: ss, Value: ss})
		f := m.Filter(func(_, v str) bool { return longer(v, 1) })
		g := kstreams.GroupTableBy(f, func(_, v str) kstreams.KeyValue[str, str] { return kstreams.KV(v, v) }, grouped)
		toSL(kstreams.MapTableValues(g.Count(), func(c int64) long { return l(c) }).ToStream())
	}},
	"table-map-values": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.MapTableValues(table(b), upper).ToStream())
	}},
	"table-map-values-filter": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.MapTableValues(table(b), upper).Filter(func(_, v str) bool { return startsWith(v, "A") }).ToStream())
	}},
	"to-table": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).ToTable().ToStream())
	}},
	"to-table-filter": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).ToTable().Filter(func(_, v str) bool { return longer(v, 1) }).ToStream())
	}},
	"to-table-select-key": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.SelectKey(in(b), func(_, v str) str { return first(v) }).ToTable(matSS).ToStream())
	}},

	// --- windowed aggregations (keys written as "key@start/end")
	"win-count-tumbling": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeWithNoGrace(10 * time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Count().ToStream()))
	}},
	"win-count-grace": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Count().ToStream()))
	}},
	"win-count-hopping": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 3*time.Millisecond).AdvanceBy(5 * time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Count().ToStream()))
	}},
	"win-reduce": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)
		toSS(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream()))
	}},
	"win-aggregate-hopping": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond).AdvanceBy(5 * time.Millisecond)
		toSS(windowKeys(kstreams.WindowedAggregate(kstreams.WindowedBy(in(b).GroupByKey(grouped), w), func() str { return s("") },
			func(_, v, a str) str { return appendTo(a, "+", v) }, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
	}},

	"win-count-close": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose).Count().ToStream()))
	}},
	"win-count-hopping-close": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeWithNoGrace(10 * time.Millisecond).AdvanceBy(5 * time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Emit(kstreams.EmitOnWindowClose).Count().ToStream()))
	}},
	"session-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.SessionWindowsOfInactivityGapWithNoGrace(10 * time.Millisecond)
		// The deletes of merged sessions are written as nulls: int64 counts
		// have no nil, ToStream marks them.
		toSI(windowKeys(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w).Count().ToStream()))
	}},
	"session-count-grace": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 5*time.Millisecond)
		// The deletes of merged sessions are written as nulls: int64 counts
		// have no nil, ToStream marks them.
		toSI(windowKeys(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w).Count().ToStream()))
	}},
	"session-reduce": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		w := kstreams.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 5*time.Millisecond)
		toSS(windowKeys(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w).Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream()))
	}},
	"session-aggregate": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		w := kstreams.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 5*time.Millisecond)
		toSS(windowKeys(kstreams.SessionAggregate(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w), func() str { return s("") },
			func(_, v, a str) str { return appendTo(a, "+", v) },
			func(_, a, b str) str { return appendTo(a, "&", b) }, kstreams.WindowedMaterialized[str, str]{Materialized: matSS}).ToStream()))
	}},

	// --- suppression
	"suppress-win-close": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Count().Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer())).ToStream()))
	}},
	"suppress-win-close-hopping": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeWithNoGrace(10 * time.Millisecond).AdvanceBy(5 * time.Millisecond)
		toSS(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Reduce(func(a, v str) str { return appendTo(a, "|", v) }).
			Filter(func(_ kstreams.Windowed[str], v str) bool { return !startsWith(v, "x") }).
			Suppress(kstreams.UntilWindowCloses(kstreams.BufferConfig{})).ToStream()))
	}},
	"suppress-session-close": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.SessionWindowsOfInactivityGapAndGrace(5*time.Millisecond, 5*time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBySession(in(b).GroupByKey(grouped), w).Count().Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer())).ToStream()))
	}},
	"suppress-time-limit": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).ToTable().Suppress(kstreams.UntilTimeLimit(10*time.Millisecond, kstreams.UnboundedBuffer())).ToStream())
	}},
	"suppress-time-limit-records": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).ToTable().Suppress(kstreams.UntilTimeLimit(100*time.Millisecond, kstreams.MaxRecords(2))).ToStream())
	}},
	"suppress-count-time-limit": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		toSI(in(b).GroupByKey(grouped).Count().Suppress(kstreams.UntilTimeLimit(10*time.Millisecond, kstreams.BufferConfig{})).ToStream())
	}},

	// --- stream aggregations
	"count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		toSI(in(b).GroupByKey(grouped).Count().ToStream())
	}},
	"count-filter": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		even := in(b).GroupByKey(grouped).Count().Filter(func(_ str, c int64) bool { return c%2 == 0 })
		toSL(kstreams.MapTableValues(even, func(c int64) long { return l(c) }).ToStream())
	}},
	"count-and-reduce": {"in:S:S", "out-count:S:L,out-reduce:S:S", func(b *kstreams.Builder) {
		g := in(b).GroupByKey(grouped)
		g.Count().ToStream().To("out-count", kstreams.ProducedWith(ss, is))
		g.Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream().To("out-reduce", kstreams.ProducedWith(ss, ss))
	}},
	"reduce": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).GroupByKey(grouped).Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream())
	}},
	"reduce-long": {"in:S:L", "out:S:L", func(b *kstreams.Builder) {
		st := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(ss, ls))
		toSL(st.GroupByKey(kstreams.Grouped[str, long]{Key: ss, Value: ls}).Reduce(func(a, v long) long {
			var x, y int64
			if a != nil {
				x = *a
			}
			if v != nil {
				y = *v
			}
			return l(x + y)
		}).ToStream())
	}},
	"aggregate": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Aggregate(in(b).GroupByKey(grouped), func() str { return s("") },
			func(_, v, a str) str { return appendTo(a, "+", v) }, matSS).ToStream())
	}},
	"aggregate-null": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.Aggregate(in(b).GroupByKey(grouped), func() str { return s("") },
			func(_, v, a str) str {
				if v != nil && *v == "del" {
					return nil
				}
				return appendTo(a, "+", v)
			}, matSS).ToStream())
	}},
	"aggregate-long": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		toSI(kstreams.Aggregate(in(b).GroupByKey(grouped), func() int64 { return 0 },
			func(_, v str, a int64) int64 { return a + length(v) },
			kstreams.Materialized[str, int64]{Key: ss, Value: is}).ToStream())
	}},
	"group-by-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		toSI(kstreams.GroupBy(in(b), func(_, v str) str { return v }, grouped).Count().ToStream())
	}},
	"group-by-reduce": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.GroupBy(in(b), func(_, v str) str { return first(v) }, grouped).
			Reduce(func(a, v str) str { return appendTo(a, "|", v) }).ToStream())
	}},
	"group-by-aggregate": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		g := kstreams.GroupBy(in(b), func(k, _ str) str { return first(k) }, grouped)
		toSS(kstreams.Aggregate(g, func() str { return s("") },
			func(_, v, a str) str { return appendTo(a, "+", v) }, matSS).ToStream())
	}},
	"flat-map-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		flat := kstreams.FlatMap(in(b), func(k, v str) []kstreams.KeyValue[str, str] {
			var out []kstreams.KeyValue[str, str]
			for _, p := range parts(v) {
				out = append(out, kv(p, k))
			}
			return out
		})
		toSI(flat.GroupByKey(grouped).Count().ToStream())
	}},
	"map-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		swapped := kstreams.Map(in(b), func(k, v str) (str, str) { return v, k })
		toSI(swapped.GroupByKey(grouped).Count().ToStream())
	}},
	"repartition-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		rp := in(b).Repartition(kstreams.Repartitioned[str, str]{Key: ss, Value: ss})
		toSI(rp.GroupByKey(grouped).Count().ToStream())
	}},

	"count-recount": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		counts := in(b).GroupByKey(grouped).Count().ToStream()
		byCount := kstreams.GroupBy(counts, func(_ str, c int64) str { return s(strconv.FormatInt(c, 10)) },
			kstreams.Grouped[str, int64]{Key: ss, Value: is})
		toSI(byCount.Count().ToStream())
	}},
	"punct-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		ticked := kstreams.Process(in(b), punctuators(schedule{"p10", 10 * time.Millisecond, processor.StreamTime, 0}))
		toSI(ticked.GroupByKey(grouped).Count().ToStream())
	}},

	// --- table aggregations
	"table-count-filter": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		counts := kstreams.GroupTableBy(table(b), func(_, v str) kstreams.KeyValue[str, str] { return kv(v, v) }, grouped).Count()
		toSL(kstreams.MapTableValues(counts.Filter(func(_ str, c int64) bool { return c >= 2 }), l).ToStream())
	}},
	"table-group-by-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		toSI(kstreams.GroupTableBy(table(b), func(_, v str) kstreams.KeyValue[str, str] { return kv(v, v) }, grouped).Count().ToStream())
	}},
	"table-group-by-reduce-null-subtract": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		g := kstreams.GroupTableBy(table(b), func(_, v str) kstreams.KeyValue[str, str] {
			return kstreams.KV(first(v), v)
		}, grouped)
		toSS(g.Reduce(func(a, v str) str { return appendTo(a, "|", v) }, func(str, str) str { return nil }).ToStream())
	}},
	"aggregate-null-start": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		agg := kstreams.Aggregate(in(b).GroupByKey(grouped), func() str { return nil }, func(_, v, a str) str {
			if text(v) == "clear" {
				return nil
			}
			return appendTo(a, "|", v)
		}, matSS)
		toSS(agg.ToStream())
	}},
	"table-group-by-reduce": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		g := kstreams.GroupTableBy(table(b), func(_, v str) kstreams.KeyValue[str, long] {
			return kstreams.KV(first(v), l(length(v)))
		}, kstreams.Grouped[str, long]{Key: ss, Value: ls})
		toSL(g.Reduce(func(a, v long) long { return l(*a + *v) }, func(a, v long) long { return l(*a - *v) }).ToStream())
	}},
	"table-group-by-aggregate": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		g := kstreams.GroupTableBy(table(b), func(_, v str) kstreams.KeyValue[str, str] { return kv(first(v), v) }, grouped)
		toSS(kstreams.AggregateTable(g, func() str { return s("") },
			func(_, v, a str) str { return appendTo(a, "+", v) },
			func(_, v, a str) str { return appendTo(a, "-", v) }, matSS).ToStream())
	}},
	"table-group-by-same-key": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		g := kstreams.GroupTableBy(table(b), func(k, v str) kstreams.KeyValue[str, str] { return kv(k, v) }, grouped)
		toSS(kstreams.AggregateTable(g, func() str { return s("") },
			func(_, v, a str) str { return appendTo(a, "+", v) },
			func(_, v, a str) str { return appendTo(a, "-", v) }, matSS).ToStream())
	}},
	"table-filter-group-by-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		kept := table(b).Filter(func(_, v str) bool { return longer(v, 1) })
		toSI(kstreams.GroupTableBy(kept, func(_, v str) kstreams.KeyValue[str, str] { return kv(v, v) }, grouped).Count().ToStream())
	}},
	"table-map-values-group-by-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		firsts := kstreams.MapTableValues(table(b), first)
		toSI(kstreams.GroupTableBy(firsts, func(_, v str) kstreams.KeyValue[str, str] { return kv(v, v) }, grouped).Count().ToStream())
	}},
	"table-group-by-null-value": {"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		g := kstreams.GroupTableBy(table(b), func(_, v str) kstreams.KeyValue[str, str] {
			if startsWith(v, "n") {
				return kv(first(v), nil)
			}
			return kv(first(v), v)
		}, grouped)
		toSS(kstreams.AggregateTable(g, func() str { return s("") },
			func(_, v, a str) str { return appendTo(a, "+", v) },
			func(_, v, a str) str { return appendTo(a, "-", v) }, matSS).ToStream())
	}},
	"to-table-group-by-count": {"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		t := in(b).ToTable()
		toSI(kstreams.GroupTableBy(t, func(_, v str) kstreams.KeyValue[str, str] { return kv(v, v) }, grouped).Count().ToStream())
	}},
	// --- joins
	"stream-table-join": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.StreamTableJoin(in(b), tableOf(b, "tab"), joined))
	}},
	"stream-table-left-join": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.StreamTableLeftJoin(in(b), tableOf(b, "tab"), joined))
	}},
	"global-join": {"in:S:S,glob:S:S", "out:S:S", func(b *kstreams.Builder) {
		s := in(b) // built first, as in Java
		g := kstreams.GlobalTableFrom(b, "glob", kstreams.ConsumedWith(ss, ss))
		toSS(kstreams.StreamGlobalTableJoin(s, g, func(_, v str) str { return first(v) }, joined))
	}},
	"global-left-join": {"in:S:S,glob:S:S", "out:S:S", func(b *kstreams.Builder) {
		s := in(b) // built first, as in Java
		g := kstreams.GlobalTableFrom(b, "glob", kstreams.ConsumedWith(ss, ss))
		toSS(kstreams.StreamGlobalTableLeftJoin(s, g, func(_, v str) str { return first(v) }, joined))
	}},
	"global-left-join-by-key": {"in:S:S,glob:S:S", "out:S:S", func(b *kstreams.Builder) {
		s := in(b).Filter(func(_, v str) bool { return v == nil || text(v) != "drop" }) // built first, as in Java
		g := kstreams.GlobalTableFrom(b, "glob", kstreams.ConsumedWith(ss, ss), kstreams.Materialized[str, str]{Name: "g"})
		toSS(kstreams.StreamGlobalTableLeftJoin(s, g, func(k, _ str) str { return k }, joined))
	}},
	"stream-table-join-rekey": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
		st := kstreams.SelectKey(in(b), func(_, v str) str { return first(v) })
		toSS(kstreams.StreamTableJoin(st, tableOf(b, "tab"), joined, kstreams.Joined[str, str]{Key: ss, Value: ss}))
	}},
	"stream-table-left-join-rekey": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
		st := kstreams.SelectKey(in(b), func(_, v str) str { return first(v) })
		toSS(kstreams.StreamTableLeftJoin(st, tableOf(b, "tab"), joined, kstreams.Joined[str, str]{Key: ss, Value: ss}))
	}},
	"stream-table-join-filtered": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
		s := in(b) // built first, as in Java
		t := tableOf(b, "tab").Filter(func(_, v str) bool { return longer(v, 1) })
		toSS(kstreams.StreamTableLeftJoin(s, t, joined))
	}},
	"table-table-join": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.TableJoin(tableOf(b, "left"), tableOf(b, "right"), joined2).ToStream())
	}},
	"table-table-left-join": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.TableLeftJoin(tableOf(b, "left"), tableOf(b, "right"), joined2).ToStream())
	}},
	"table-table-outer-join": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.TableOuterJoin(tableOf(b, "left"), tableOf(b, "right"), joined2).ToStream())
	}},
	"table-table-left-join-materialized": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.TableLeftJoin(tableOf(b, "left"), tableOf(b, "right"), joined2, kstreams.Materialized[str, str]{Name: "j", Key: ss, Value: ss}).ToStream())
	}},
	"table-table-join-group-by-count": {"left:S:S,right:S:S", "out:S:L", func(b *kstreams.Builder) {
		j := kstreams.TableJoin(tableOf(b, "left"), tableOf(b, "right"), joined2)
		toSI(kstreams.GroupTableBy(j, func(_, v str) kstreams.KeyValue[str, str] { return kv(first(v), v) }, grouped).Count().ToStream())
	}},
	"table-table-outer-join-group-by-count": {"left:S:S,right:S:S", "out:S:L", func(b *kstreams.Builder) {
		j := kstreams.TableOuterJoin(tableOf(b, "left"), tableOf(b, "right"), joined2)
		toSI(kstreams.GroupTableBy(j, func(_, v str) kstreams.KeyValue[str, str] { return kv(first(v), v) }, grouped).Count().ToStream())
	}},
	"stream-table-left-join-joined-table": {"in:S:S,left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
		s := in(b) // built first, as in Java
		t := kstreams.TableOuterJoin(tableOf(b, "left"), tableOf(b, "right"), joined2)
		toSS(kstreams.StreamTableLeftJoin(s, t, joined))
	}},
	"stream-table-join-mapped": {"in:S:S,tab:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(kstreams.StreamTableJoin(in(b), kstreams.MapTableValues(tableOf(b, "tab"), upper), joined))
	}},
	"table-table-outer-join-filtered": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
		l := tableOf(b, "left").Filter(func(_, v str) bool { return longer(v, 1) })
		r := kstreams.MapTableValues(tableOf(b, "right"), upper)
		toSS(kstreams.TableOuterJoin(l, r, joined2).ToStream())
	}},
	"table-table-left-join-filtered-group-by-count": {"left:S:S,right:S:S", "out:S:L", func(b *kstreams.Builder) {
		l := tableOf(b, "left").Filter(func(_, v str) bool { return longer(v, 1) })
		j := kstreams.TableLeftJoin(l, tableOf(b, "right"), joined2)
		toSI(kstreams.GroupTableBy(j, func(_, v str) kstreams.KeyValue[str, str] { return kv(first(v), v) }, grouped).Count().ToStream())
	}},
	"table-table-left-join-filter": {"left:S:S,right:S:S", "out:S:S", func(b *kstreams.Builder) {
		j := kstreams.TableLeftJoin(tableOf(b, "left"), tableOf(b, "right"), joined2)
		toSS(j.Filter(func(_, v str) bool { return !strings.HasSuffix(text(v), "/-") }).ToStream())
	}},
}

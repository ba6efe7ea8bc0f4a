package harness

import (
	"fmt"
	"strconv"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// Output names the outputs of the test application; each is written to the
// topic "<prefix>-<output>".
type Output string

// The outputs of the test application.
const (
	Echo      Output = "echo"       // the input, unchanged
	Min       Output = "min"        // per-key minimum
	Max       Output = "max"        // per-key maximum
	Sum       Output = "sum"        // per-key sum
	Count     Output = "cnt"        // per-key count
	WSum      Output = "wsum"       // per-key sum per tumbling window, key "<key>@<window start>"
	WSumFinal Output = "wsum-final" // the same, suppressed until the window closes
	Dif       Output = "dif"        // table-table join of max and min: max minus min
	Avg       Output = "avg"        // table-table join of sum and count: sum over count (float64)
	TAgg      Output = "tagg"       // count of keys per current maximum, over the max table regrouped
)

// Outputs lists every output, in verification order.
var Outputs = []Output{Echo, Min, Max, Sum, Count, WSum, WSumFinal, Dif, Avg, TAgg}

// Topics names a run's topics.
type Topics struct{ Prefix string }

// Input is the input topic.
func (t Topics) Input() string { return t.Prefix + "-data" }

// Output is the topic of output o.
func (t Topics) Output(o Output) string { return t.Prefix + "-" + string(o) }

// All lists the input and every output topic.
func (t Topics) All() []string {
	all := []string{t.Input()}
	for _, o := range Outputs {
		all = append(all, t.Output(o))
	}
	return all
}

// WindowKey is the output key of a window of key k starting at start.
func WindowKey(k string, start int64) string { return k + "@" + strconv.FormatInt(start, 10) }

// Topology builds the test application reading t.Input(); spec gives the
// windows. Every store has caching off, so that every update is an output.
func Topology(t Topics, spec Spec) (*kstreams.Topology, error) {
	str, i64 := serde.String(), serde.Int64()
	mat := func(name string) kstreams.Materialized[string, int64] {
		return kstreams.Materialized[string, int64]{Name: name, Key: str, Value: i64, DisableCaching: true}
	}
	to := func(s kstreams.Stream[string, int64], o Output) {
		s.To(t.Output(o), kstreams.ProducedWith(str, i64))
	}
	b := kstreams.NewBuilder()
	data := kstreams.StreamFrom(b, t.Input(), kstreams.ConsumedWith(str, i64))
	to(data, Echo)

	g := data.GroupByKey(kstreams.Grouped[string, int64]{Key: str, Value: i64})
	minT := g.Reduce(func(a, v int64) int64 { return min(a, v) }, mat("min"))
	maxT := g.Reduce(func(a, v int64) int64 { return max(a, v) }, mat("max"))
	sumT := g.Reduce(func(a, v int64) int64 { return a + v }, mat("sum"))
	cntT := g.Count(mat("cnt"))
	to(minT.ToStream(), Min)
	to(maxT.ToStream(), Max)
	to(sumT.ToStream(), Sum)
	to(cntT.ToStream(), Count)

	windows := kstreams.TimeWindowsOfSizeAndGrace(spec.Window, spec.Grace)
	wsum := kstreams.WindowedBy(g, windows).Reduce(func(a, v int64) int64 { return a + v },
		kstreams.WindowedMaterialized[string, int64]{Materialized: mat("wsum")})
	windowKey := func(w kstreams.Windowed[string], v int64) (string, int64) {
		return WindowKey(w.Key, w.Window.Start), v
	}
	to(kstreams.Map(wsum.ToStream(), windowKey), WSum)
	final := wsum.Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer()))
	to(kstreams.Map(final.ToStream(), windowKey), WSumFinal)

	dif := kstreams.TableJoin(maxT, minT, func(_ string, mx, mn int64) int64 { return mx - mn }, mat("dif"))
	to(dif.ToStream(), Dif)
	avg := kstreams.TableJoin(sumT, cntT, func(_ string, s, c int64) float64 { return float64(s) / float64(c) },
		kstreams.Materialized[string, float64]{Name: "avg", Key: str, Value: serde.Float64(), DisableCaching: true})
	avg.ToStream().To(t.Output(Avg), kstreams.ProducedWith(str, serde.Float64()))

	byMax := kstreams.GroupTableBy(maxT, func(_ string, mx int64) kstreams.KeyValue[string, int64] {
		return kstreams.KV(strconv.FormatInt(mx, 10), int64(1))
	}, kstreams.Grouped[string, int64]{Name: "bymax", Key: str, Value: i64})
	tagg := kstreams.AggregateTable(byMax, func() int64 { return 0 },
		func(_ string, v, agg int64) int64 { return agg + v },
		func(_ string, v, agg int64) int64 { return agg - v }, mat("tagg"))
	to(tagg.ToStream(), TAgg)

	topo, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("kstreams: harness: building the test application: %w", err)
	}
	return topo, nil
}

package kstreams_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// The tests of this file pin behaviors where kstreams follows Kafka Streams
// record for record; compat/ checks the same against Java itself.

// pipeTimed pipes key=value@ts records given as "key value ts" strings
// ("<nil>" a null value) into topic, with string keys and []byte values.
func pipeTimed(t *testing.T, d *kstreamstest.Driver, topic string, recs ...string) {
	t.Helper()
	in := kstreamstest.NewInputTopic(d, topic, serde.String(), serde.Bytes())
	for _, r := range recs {
		var k, v string
		var ts int64
		if _, err := fmt.Sscan(r, &k, &v, &ts); err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		value := []byte(v)
		if v == "<nil>" {
			value = nil
		}
		if err := in.PipeAt(k, value, ts); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStreamAggregationTimestamps(t *testing.T) {
	// An aggregate is stamped with the largest timestamp of the records
	// folded into it, not with the timestamp of the last one.
	concat := func(agg, v []byte) []byte { return append(append(slices.Clip(agg), '+'), v...) }
	ops := map[string]func(kstreams.GroupedStream[string, []byte]) kstreams.Table[string, []byte]{
		"count": func(g kstreams.GroupedStream[string, []byte]) kstreams.Table[string, []byte] {
			return kstreams.MapTableValues(g.Count(), func(n int64) []byte { return fmt.Appendf(nil, "%d", n) })
		},
		"reduce": func(g kstreams.GroupedStream[string, []byte]) kstreams.Table[string, []byte] {
			return g.Reduce(concat)
		},
		"aggregate": func(g kstreams.GroupedStream[string, []byte]) kstreams.Table[string, []byte] {
			return kstreams.Aggregate(g, func() []byte { return []byte("0") },
				func(_ string, v, agg []byte) []byte { return concat(agg, v) },
				kstreams.Materialized[string, []byte]{Value: serde.Bytes()})
		},
	}
	want := map[string][]string{
		"count":     {"a=1@10", "a=2@10", "a=3@20", "b=1@7"},
		"reduce":    {"a=x@10", "a=x+y@10", "a=x+y+z@20", "b=w@7"},
		"aggregate": {"a=0+x@10", "a=0+x+y@10", "a=0+x+y+z@20", "b=0+w@7"},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.Bytes()))
			op(s.GroupByKey()).ToStream().To("out", kstreams.ProducedWith(serde.String(), serde.Bytes()))
			d := sfDriver(t, sfBuild(t, b))
			pipeTimed(t, d, "in", "a x 10", "a y 5", "a z 20", "b w 7")
			sfCheck(t, 0, "out", sfRaw(t, rawOut(d, "out")), want[name])
		})
	}
}

func TestStreamAggregationsDropNullValues(t *testing.T) {
	// A grouped stream ignores records with a null value, as it does
	// those with a null key, and counts them as dropped.
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	s.GroupByKey().Count().ToStream().To("counts")
	s.GroupByKey().Reduce(func(agg, v []byte) []byte { return append(slices.Clip(agg), v...) }).
		ToStream().To("reduced", kstreams.ProducedWith(serde.String(), serde.Bytes()))
	d := sfDriver(t, sfBuild(t, b))
	pipeTimed(t, d, "in", "a x 1", "a <nil> 2", "b <nil> 3", "a y 4")
	sfCheck(t, 0, "counts", sfKVs(t, intOut(d, "counts")), []string{"a=1", "a=2"})
	sfCheck(t, 0, "reduced", sfRaw(t, rawOut(d, "reduced")), []string{"a=x@1", "a=xy@4"})
	if m := d.Metrics(); m.Dropped != 4 {
		t.Errorf("Dropped = %d, want 4 (two null values, each seen by two aggregations)", m.Dropped)
	}
}

func TestTableAggregationTimestamps(t *testing.T) {
	// Kafka Streams' KTableAggregate: the result of a subtract or an add to
	// an existing group is stamped with the larger of the record's and the
	// group's timestamps; a new group with the record's.
	b := kstreams.NewBuilder()
	tb := kstreams.TableFrom(b, "members", kstreams.ConsumedWith(serde.String(), serde.String()))
	byGroup := kstreams.GroupTableBy(tb, func(member, group string) kstreams.KeyValue[string, string] {
		return kstreams.KV(group, member)
	}, kstreams.Grouped[string, string]{Key: serde.String(), Value: serde.String()})
	byGroup.Count().ToStream().To("sizes")
	byGroup.Reduce(func(agg, v string) string { return agg + "+" + v }, func(agg, v string) string {
		return strings.Join(slices.DeleteFunc(strings.Split(agg, "+"), func(m string) bool { return m == v }), "+")
	}).ToStream().To("lists", kstreams.ProducedWith(serde.String(), serde.String()))
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "members", serde.String(), serde.String())
	for _, r := range []struct {
		k, v string
		ts   int64
	}{{"m1", "g", 10}, {"m2", "g", 5}, {"m1", "h", 3}} {
		if err := in.PipeAt(r.k, r.v, r.ts); err != nil {
			t.Fatal(err)
		}
	}
	var sizes []string
	recs, err := intOut(d, "sizes").ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		sizes = append(sizes, fmt.Sprintf("%s=%d@%d", r.Key, r.Value, r.Timestamp))
	}
	sfCheck(t, 0, "sizes", sizes, []string{"g=1@10", "g=2@10", "g=1@10", "h=1@3"})
	lists, err := strOut(d, "lists").ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range lists {
		got = append(got, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp))
	}
	sfCheck(t, 0, "lists", got, []string{"g=m1@10", "g=m1+m2@10", "g=m2@10", "h=m1@3"})
}

func TestRepartitionDropsNullKeys(t *testing.T) {
	// Kafka Streams 4 drops records with a null key before a repartition
	// topic (a left or outer join would keep them).
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	keyed := kstreams.SelectKey(s, func(_, v string) []byte {
		if v == "" {
			return nil
		}
		return []byte(v)
	})
	keyed.Repartition(kstreams.Repartitioned[[]byte, string]{Key: serde.Bytes()}).
		To("out", kstreams.ProducedWith(serde.Bytes(), serde.String()))
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, v := range []string{"x", "", "y"} {
		if err := in.Pipe("k", v); err != nil {
			t.Fatal(err)
		}
	}
	got := sfKVs(t, kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String()))
	sfCheck(t, 0, "out", got, []string{"x=x", "y=y"})
	if m := d.Metrics(); m.Dropped != 1 {
		t.Errorf("Dropped = %d, want 1", m.Dropped)
	}
}

func TestMergeWithItself(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	s.Merge(s).To("out")
	d := sfDriver(t, sfBuild(t, b))
	if err := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()).Pipe("k", "v"); err != nil {
		t.Fatal(err)
	}
	sfCheck(t, 0, "out", sfKVs(t, strOut(d, "out")), []string{"k=v"})
}

// userID is a key type with no default serde.
type userID struct{ N uint32 }

var userIDSerde = serde.Func(
	func(_ string, u userID) ([]byte, error) { return binary.BigEndian.AppendUint32(nil, u.N), nil },
	func(_ string, b []byte) (userID, error) {
		if len(b) != 4 {
			return userID{}, fmt.Errorf("user id of %d bytes", len(b))
		}
		return userID{binary.BigEndian.Uint32(b)}, nil
	})

func TestToTableRepartitionsWithMaterializedSerdes(t *testing.T) {
	// After a key change, ToTable's implicit repartition writes with the
	// serdes of its Materialized, as Kafka Streams' toTable does.
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	byUser := kstreams.SelectKey(s, func(k, _ string) userID { return userID{uint32(len(k))} })
	byUser.ToTable(kstreams.Materialized[userID, string]{Name: "latest", Key: userIDSerde}).
		ToStream().To("out", kstreams.ProducedWith(userIDSerde, serde.String()))
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, kv := range [][2]string{{"ab", "x"}, {"abc", "y"}, {"cd", "z"}} {
		if err := in.Pipe(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := kstreamstest.NewOutputTopic(d, "out", userIDSerde, serde.String()).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	want := []kstreams.KeyValue[userID, string]{{userID{2}, "x"}, {userID{3}, "y"}, {userID{2}, "z"}}
	if !slices.Equal(got, want) {
		t.Errorf("out = %v, want %v", got, want)
	}
}

func TestMaterializedTableOperations(t *testing.T) {
	// A filter or a value mapper given a named Materialized keeps its result
	// in a store that can be read, with each row's timestamp.
	b := kstreams.NewBuilder()
	tb := kstreams.TableFrom(b, "prices", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	cheap := tb.FilterMaterialized(func(_ string, p int64) bool { return p < 100 },
		kstreams.Materialized[string, int64]{Name: "cheap"})
	labels := kstreams.MapTableValuesMaterialized(cheap, func(p int64) string { return fmt.Sprintf("$%d", p) },
		kstreams.Materialized[string, string]{Name: "labels", Value: serde.String()})
	labels.ToStream().To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	if cheap.StoreName() != "cheap" || labels.StoreName() != "labels" {
		t.Errorf("StoreName = %q, %q; want cheap, labels", cheap.StoreName(), labels.StoreName())
	}
	if plain := tb.Filter(func(string, int64) bool { return true }); plain.StoreName() != "" {
		t.Errorf("unmaterialized filter StoreName = %q, want none", plain.StoreName())
	}
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "prices", serde.String(), serde.Int64())
	for _, r := range []struct {
		k  string
		p  int64
		ts int64
	}{{"a", 50, 10}, {"b", 500, 11}, {"c", 70, 12}, {"c", 700, 13}} {
		if err := in.PipeAt(r.k, r.p, r.ts); err != nil {
			t.Fatal(err)
		}
	}
	st, err := kstreamstest.Store[state.TimestampedKeyValueStore[string, string]](d, "labels")
	if err != nil {
		t.Fatal(err)
	}
	it, err := st.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var rows []string
	for it.Next() {
		rows = append(rows, fmt.Sprintf("%s=%s@%d", it.Key(), it.Value().Value, it.Value().Timestamp))
	}
	sfCheck(t, 0, "labels store", rows, []string{"a=$50@10"})
	// b never entered the cheap table, yet its rejection is forwarded as a
	// delete: the filter has a store, but as in Kafka Streams it uses old
	// values only when its parent sends them (this source, not named,
	// does not).
	sfCheck(t, 0, "out", sfKVs(t, strOut(d, "out")), []string{"a=$50", "b=", "c=$70", "c="})
}

func TestDriverTakesSmallestTimestampFirst(t *testing.T) {
	// Two repartition topics: the driver feeds back the pending record with
	// the smallest timestamp first, as a task picks among its partitions.
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	fan := kstreams.Process(s, func() processor.Processor[string, string, string, string] { return &fanOut{} })
	branches := fan.Split("by-").Branch("late", func(_, v string) bool { return v == "late" }).DefaultBranch("early")
	late := branches.Get("by-late").Repartition(kstreams.Repartitioned[string, string]{Name: "late"})
	early := branches.Get("by-early").Repartition(kstreams.Repartitioned[string, string]{Name: "early"})
	late.Merge(early).To("out")
	d := sfDriver(t, sfBuild(t, b))
	if err := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeAt("k", "v", 10); err != nil {
		t.Fatal(err)
	}
	recs, err := strOut(d, "out").ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s@%d", r.Value, r.Timestamp))
	}
	sfCheck(t, 0, "out", got, []string{"early@20", "late@30"})
}

// fanOut forwards a "late" record at 30 and then an "early" one at 20.
type fanOut struct {
	ctx processor.Context[string, string]
}

func (f *fanOut) Init(ctx processor.Context[string, string]) error { f.ctx = ctx; return nil }
func (f *fanOut) Close() error                                     { return nil }
func (f *fanOut) Process(r processor.Record[string, string]) error {
	f.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: "late", Timestamp: 30})
	f.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: "early", Timestamp: 20})
	return nil
}

func TestPunctuatorsDueTogether(t *testing.T) {
	// Stream-time punctuators due at the same time fire in the order of
	// Kafka Streams' punctuation queue; otherwise by due time.
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	var log []string
	kstreams.Process(s, func() processor.Processor[string, string, string, string] {
		return &ticker{log: &log, every: []int64{10, 4, 6}}
	})
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, ts := range []int64{0, 12} {
		if err := in.PipeAt("k", "v", ts); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"10@0", "6@0", "4@0", "4@12", "6@12", "10@12"}
	sfCheck(t, 0, "punctuations", log, want)
}

// ticker schedules one stream-time punctuator per interval in every, in
// that order, each logging "interval@time".
type ticker struct {
	log   *[]string
	every []int64
}

func (p *ticker) Init(ctx processor.Context[string, string]) error {
	for _, ms := range p.every {
		ctx.Schedule(time.Duration(ms)*time.Millisecond, processor.StreamTime, func(ts int64) error {
			*p.log = append(*p.log, fmt.Sprintf("%d@%d", ms, ts))
			return nil
		})
	}
	return nil
}
func (p *ticker) Process(processor.Record[string, string]) error { return nil }
func (p *ticker) Close() error                                   { return nil }

// plainReader asks for a DSL store as a plain key-value store.
type plainReader struct{}

func (plainReader) Init(ctx processor.Context[string, string]) error {
	_, err := processor.Store[state.KeyValueStore[string, int64]](ctx, "counts")
	return err
}
func (plainReader) Process(processor.Record[string, string]) error { return nil }
func (plainReader) Close() error                                   { return nil }

func TestDSLStoreIsTimestamped(t *testing.T) {
	// A processor asking for a DSL store as a plain store is told what the
	// store is.
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	s.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: "counts"})
	kstreams.ProcessWithStores(s, func() processor.Processor[string, string, string, string] { return plainReader{} }, []string{"counts"})
	_, err := kstreamstest.New(sfBuild(t, b))
	if err == nil || !strings.Contains(err.Error(), "ValueAndTimestamp[int64]") || !strings.Contains(err.Error(), "DSL table") {
		t.Errorf("New = %v, want an error saying the store is timestamped", err)
	}
}

package kstreams_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

type sfListing struct{ Exchange string }

type sfUser struct{ Region, Name string }

type sfAccount struct {
	Branch  string
	Balance int64
}

func sfBuild(t *testing.T, b *kstreams.Builder) *kstreams.Topology {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func sfDriver(t *testing.T, topo *kstreams.Topology, opts ...kstreamstest.Option) *kstreamstest.Driver {
	t.Helper()
	d, err := kstreamstest.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// sfNodeNamed returns the one node of topo whose name starts with prefix.
func sfNodeNamed(t *testing.T, topo *kstreams.Topology, prefix string) string {
	t.Helper()
	desc, err := topo.Describe()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, st := range desc.Subtopologies {
		for _, n := range st.Nodes {
			if strings.HasPrefix(n.Name, prefix) {
				found = append(found, n.Name)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("nodes named %s*: %v, want one", prefix, found)
	}
	return found[0]
}

// sfRepartitionTopics returns the repartition topics topo writes, without
// the application id.
func sfRepartitionTopics(t *testing.T, topo *kstreams.Topology) []string {
	t.Helper()
	desc, err := topo.Describe()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, st := range desc.Subtopologies {
		for _, n := range st.Nodes {
			if n.Kind == "sink" && len(n.Topics) == 1 && strings.HasSuffix(n.Topics[0], "-repartition") {
				out = append(out, n.Topics[0])
			}
		}
	}
	return out
}

// changeWatch forwards each change it sees as "new<-old", "-" standing for
// an absent side.
type changeWatch[V any] struct {
	ctx  processor.Context[string, string]
	show func(V) string
}

func (w *changeWatch[V]) Init(ctx processor.Context[string, string]) error { w.ctx = ctx; return nil }
func (w *changeWatch[V]) Close() error                                     { return nil }

func (w *changeWatch[V]) Process(r processor.Record[string, kstreams.Change[V]]) error {
	nw, old := "-", "-"
	if r.Value.HasNew {
		nw = w.show(r.Value.New)
	}
	if r.Value.HasOld {
		old = w.show(r.Value.Old)
	}
	w.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: nw + "<-" + old, Timestamp: r.Timestamp})
	return nil
}

// sfWatch writes the changes the table node parent forwards to topic.
func sfWatch[V any](topo *kstreams.Topology, parent, topic string, show func(V) string) {
	name := "watch-" + parent
	kstreams.AddProcessor(topo, name, func() processor.Processor[string, kstreams.Change[V], string, string] {
		return &changeWatch[V]{show: show}
	}, parent)
	kstreams.AddSink(topo, name+"-sink", topic, kstreams.ProducedWith(serde.String(), serde.String()), name)
}

func exchange(l *sfListing) string { return l.Exchange }

// sfRaw reads the unread records of o as "key=value@ts", a null value
// showing as <nil>.
func sfRaw(t *testing.T, o *kstreamstest.OutputTopic[string, []byte]) []string {
	t.Helper()
	recs, err := o.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		v := string(r.Value)
		if r.Value == nil {
			v = "<nil>"
		}
		out = append(out, fmt.Sprintf("%s=%s@%d", r.Key, v, r.Timestamp))
	}
	return out
}

// sfKVs reads the unread records of o as "key=value".
func sfKVs[K, V any](t *testing.T, o *kstreamstest.OutputTopic[K, V]) []string {
	t.Helper()
	kvs, err := o.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range kvs {
		out = append(out, fmt.Sprintf("%v=%v", kv.Key, kv.Value))
	}
	return out
}

func sfCheck(t *testing.T, step int, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("step %d: %s = %q, want %q", step, what, got, want)
	}
}

func rawOut(d *kstreamstest.Driver, topic string) *kstreamstest.OutputTopic[string, []byte] {
	return kstreamstest.NewOutputTopic(d, topic, serde.String(), serde.Bytes())
}

func strOut(d *kstreamstest.Driver, topic string) *kstreamstest.OutputTopic[string, string] {
	return kstreamstest.NewOutputTopic(d, topic, serde.String(), serde.String())
}

func intOut(d *kstreamstest.Driver, topic string) *kstreamstest.OutputTopic[string, int64] {
	return kstreamstest.NewOutputTopic(d, topic, serde.String(), serde.Int64())
}

var listings = kstreams.ConsumedWith(serde.String(), serde.JSON[*sfListing]())

func TestTableFromForwardsChanges(t *testing.T) {
	b := kstreams.NewBuilder()
	quotes := kstreams.TableFrom(b, "quotes", listings, kstreams.Materialized[string, *sfListing]{Name: "quotes-store"})
	if quotes.StoreName() != "quotes-store" {
		t.Errorf("StoreName = %q, want quotes-store", quotes.StoreName())
	}
	quotes.ToStream().To("quote-updates")
	topo := sfBuild(t, b)
	sfWatch(topo, sfNodeNamed(t, topo, "KTABLE-SOURCE-"), "quote-changes", exchange)
	d := sfDriver(t, topo)
	in := kstreamstest.NewInputTopic(d, "quotes", serde.String(), serde.JSON[*sfListing]())
	updates, changes := rawOut(d, "quote-updates"), strOut(d, "quote-changes")
	steps := []struct {
		key     string
		value   *sfListing // nil: a tombstone
		ts      int64
		updates []string
		changes []string
	}{
		{"AAPL", &sfListing{"NASDAQ"}, 10, []string{`AAPL={"Exchange":"NASDAQ"}@10`}, []string{"AAPL=NASDAQ<--"}},
		// nothing downstream asks for old values: updates carry none
		{"AAPL", &sfListing{"LON"}, 20, []string{`AAPL={"Exchange":"LON"}@20`}, []string{"AAPL=LON<--"}},
		{"MSFT", &sfListing{"NASDAQ"}, 15, []string{`MSFT={"Exchange":"NASDAQ"}@15`}, []string{"MSFT=NASDAQ<--"}},
		{"AAPL", nil, 30, []string{"AAPL=<nil>@30"}, []string{"AAPL=-<--"}},
		// deleting a key the table does not hold is forwarded all the
		// same, as Kafka Streams does
		{"GOOG", nil, 31, []string{"GOOG=<nil>@31"}, []string{"GOOG=-<--"}},
		{"AAPL", nil, 32, []string{"AAPL=<nil>@32"}, []string{"AAPL=-<--"}},
		{"AAPL", &sfListing{"NYSE"}, 40, []string{`AAPL={"Exchange":"NYSE"}@40`}, []string{"AAPL=NYSE<--"}},
	}
	for i, s := range steps {
		if err := in.PipeAt(s.key, s.value, s.ts); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "ToStream", sfRaw(t, updates), s.updates)
		sfCheck(t, i, "changes", sfKVs(t, changes), s.changes)
	}
	// The store is logged: every write is in its changelog, deletes of
	// absent keys included.
	if n := rawOut(d, "kstreamstest-quotes-store-changelog").QueueSize(); n != 7 {
		t.Errorf("changelog holds %d records, want 7", n)
	}
}

func TestTableFromDropsNullKeys(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.TableFrom(b, "t", kstreams.ConsumedWith(serde.Bytes(), serde.String())).ToStream().To("out")
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "t", serde.Bytes(), serde.String())
	for _, k := range [][]byte{nil, []byte("k"), nil} {
		if err := in.Pipe(k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if got := sfKVs(t, strOut(d, "out")); !slices.Equal(got, []string{"k=v"}) {
		t.Errorf("out = %q, want [k=v]", got)
	}
	if m := d.Metrics(); m.Dropped != 2 {
		t.Errorf("Dropped = %d, want 2", m.Dropped)
	}
}

func TestTableFilterTurnsUpdatesIntoDeletes(t *testing.T) {
	nasdaq := func(_ string, l *sfListing) bool { return l.Exchange == "NASDAQ" }
	filters := map[string]func(kstreams.Table[string, *sfListing]) kstreams.Table[string, *sfListing]{
		"Filter": func(tb kstreams.Table[string, *sfListing]) kstreams.Table[string, *sfListing] {
			return tb.Filter(nasdaq, "us-only")
		},
		"FilterNot": func(tb kstreams.Table[string, *sfListing]) kstreams.Table[string, *sfListing] {
			return tb.FilterNot(func(k string, l *sfListing) bool { return !nasdaq(k, l) }, "us-only")
		},
	}
	// As Kafka Streams: a filter whose parent sends old values (here a
	// table materialized by name) forwards only real changes; one whose
	// parent does not forwards a delete for every row it rejects.
	withOld := []filterStep{
		{"AAPL", &sfListing{"NASDAQ"}, []string{`AAPL={"Exchange":"NASDAQ"}@0`}, []string{"AAPL=NASDAQ<--"}},
		{"VOD", &sfListing{"LON"}, nil, nil},
		// AAPL moves to London: it leaves the filtered table
		{"AAPL", &sfListing{"LON"}, []string{"AAPL=<nil>@0"}, []string{"AAPL=-<-NASDAQ"}},
		{"VOD", &sfListing{"NASDAQ"}, []string{`VOD={"Exchange":"NASDAQ"}@0`}, []string{"VOD=NASDAQ<--"}},
		{"VOD", &sfListing{"NASDAQ"}, []string{`VOD={"Exchange":"NASDAQ"}@0`}, []string{"VOD=NASDAQ<-NASDAQ"}},
		// deleting a row the filter had dropped: nothing to say
		{"AAPL", nil, nil, nil},
		{"VOD", nil, []string{"VOD=<nil>@0"}, []string{"VOD=-<-NASDAQ"}},
	}
	withoutOld := []filterStep{
		{"AAPL", &sfListing{"NASDAQ"}, []string{`AAPL={"Exchange":"NASDAQ"}@0`}, []string{"AAPL=NASDAQ<--"}},
		{"VOD", &sfListing{"LON"}, []string{"VOD=<nil>@0"}, []string{"VOD=-<--"}},
		{"AAPL", &sfListing{"LON"}, []string{"AAPL=<nil>@0"}, []string{"AAPL=-<--"}},
		{"VOD", &sfListing{"NASDAQ"}, []string{`VOD={"Exchange":"NASDAQ"}@0`}, []string{"VOD=NASDAQ<--"}},
		{"VOD", &sfListing{"NASDAQ"}, []string{`VOD={"Exchange":"NASDAQ"}@0`}, []string{"VOD=NASDAQ<--"}},
		{"AAPL", nil, []string{"AAPL=<nil>@0"}, []string{"AAPL=-<--"}},
		{"VOD", nil, []string{"VOD=<nil>@0"}, []string{"VOD=-<--"}},
	}
	for _, src := range []struct {
		name  string
		m     []kstreams.Materialized[string, *sfListing]
		steps []filterStep
	}{
		{"named-source", []kstreams.Materialized[string, *sfListing]{{Name: "quotes-store"}}, withOld},
		{"unnamed-source", nil, withoutOld},
	} {
		for name, filter := range filters {
			t.Run(src.name+"/"+name, func(t *testing.T) {
				testTableFilter(t, filter, src.m, src.steps)
			})
		}
	}
}

// filterStep is an input record of a table filter test and what it should
// cause.
type filterStep struct {
	key     string
	value   *sfListing
	updates []string
	changes []string
}

func testTableFilter(t *testing.T, filter func(kstreams.Table[string, *sfListing]) kstreams.Table[string, *sfListing], m []kstreams.Materialized[string, *sfListing], steps []filterStep) {
	t.Helper()
	b := kstreams.NewBuilder()
	us := filter(kstreams.TableFrom(b, "quotes", listings, m...))
	if us.StoreName() != "" {
		t.Errorf("filtered table store = %q, want none", us.StoreName())
	}
	us.ToStream().To("us-quotes")
	topo := sfBuild(t, b)
	sfWatch(topo, "us-only", "us-changes", exchange)
	d := sfDriver(t, topo)
	in := kstreamstest.NewInputTopic(d, "quotes", serde.String(), serde.JSON[*sfListing]())
	updates, changes := rawOut(d, "us-quotes"), strOut(d, "us-changes")
	for i, s := range steps {
		if err := in.Pipe(s.key, s.value); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "ToStream", sfRaw(t, updates), s.updates)
		sfCheck(t, i, "changes", sfKVs(t, changes), s.changes)
	}
}

func TestMapTableValues(t *testing.T) {
	b := kstreams.NewBuilder()
	calls := 0
	lower := kstreams.MapTableValues(kstreams.TableFrom(b, "quotes", listings), func(l *sfListing) string {
		calls++
		return strings.ToLower(l.Exchange) // a nil l (an absent side) would panic
	}, "lower")
	lower.ToStream().To("lower-out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo := sfBuild(t, b)
	sfWatch(topo, "lower", "lower-changes", func(s string) string { return s })
	d := sfDriver(t, topo)
	in := kstreamstest.NewInputTopic(d, "quotes", serde.String(), serde.JSON[*sfListing]())
	out, changes := strOut(d, "lower-out"), strOut(d, "lower-changes")
	steps := []struct {
		value   *sfListing
		out     []string
		changes []string
	}{
		{&sfListing{"NASDAQ"}, []string{"AAPL=nasdaq"}, []string{"AAPL=nasdaq<--"}},
		// nothing downstream asks for old values: updates carry none
		{&sfListing{"LON"}, []string{"AAPL=lon"}, []string{"AAPL=lon<--"}},
		{nil, []string{"AAPL="}, []string{"AAPL=-<--"}},
	}
	for i, s := range steps {
		if err := in.Pipe("AAPL", s.value); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "out", sfKVs(t, out), s.out)
		sfCheck(t, i, "changes", sfKVs(t, changes), s.changes)
	}
	if calls != 2 {
		t.Errorf("the mapper ran %d times, want 2 (once per new value)", calls)
	}
}

func TestStreamToTable(t *testing.T) {
	t.Run("deletes", func(t *testing.T) {
		b := kstreams.NewBuilder()
		kstreams.StreamFrom(b, "events", listings).
			ToTable(kstreams.Materialized[string, *sfListing]{Name: "latest"}).ToStream().To("latest-out")
		topo := sfBuild(t, b)
		if got := sfRepartitionTopics(t, topo); len(got) != 0 {
			t.Errorf("repartition topics %v for an unchanged key", got)
		}
		d := sfDriver(t, topo)
		in := kstreamstest.NewInputTopic(d, "events", serde.String(), serde.JSON[*sfListing]())
		for _, kv := range []kstreams.KeyValue[string, *sfListing]{
			{"a", &sfListing{"X"}}, {"a", nil}, {"b", nil}, {"a", &sfListing{"Y"}},
		} {
			if err := in.PipeAt(kv.Key, kv.Value, 7); err != nil {
				t.Fatal(err)
			}
		}
		// b's tombstone is forwarded although b was never there, as Kafka
		// Streams does
		want := []string{`a={"Exchange":"X"}@7`, "a=<nil>@7", "b=<nil>@7", `a={"Exchange":"Y"}@7`}
		sfCheck(t, 0, "latest-out", sfRaw(t, rawOut(d, "latest-out")), want)
	})
	t.Run("re-keyed", func(t *testing.T) {
		b := kstreams.NewBuilder()
		s := kstreams.StreamFrom(b, "pairs", kstreams.ConsumedWith(serde.String(), serde.String()))
		kstreams.SelectKey(s, func(_, v string) string { return v[:1] }).ToTable().ToStream().To("by-value")
		topo := sfBuild(t, b)
		reps := sfRepartitionTopics(t, topo)
		if len(reps) != 1 {
			t.Fatalf("repartition topics %v, want one", reps)
		}
		d := sfDriver(t, topo)
		in := kstreamstest.NewInputTopic(d, "pairs", serde.String(), serde.String())
		for _, v := range []string{"v1", "v2"} {
			if err := in.Pipe("k", v); err != nil {
				t.Fatal(err)
			}
		}
		if n := strOut(d, "kstreamstest-"+reps[0]).QueueSize(); n != 2 {
			t.Errorf("%s holds %d records, want 2", reps[0], n)
		}
		sfCheck(t, 0, "by-value", sfKVs(t, strOut(d, "by-value")), []string{"v=v1", "v=v2"})
	})
}

func TestGroupedStreamCount(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.String(), serde.String()))
	counts := s.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: "click-counts"})
	if counts.StoreName() != "click-counts" {
		t.Errorf("StoreName = %q", counts.StoreName())
	}
	counts.ToStream().To("counts")
	topo := sfBuild(t, b)
	if got := sfRepartitionTopics(t, topo); len(got) != 0 {
		t.Errorf("GroupByKey of an unchanged key repartitions through %v", got)
	}
	d := sfDriver(t, topo)
	in := kstreamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	for _, k := range []string{"a", "b", "a", "a"} {
		if err := in.Pipe(k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	sfCheck(t, 0, "counts", sfKVs(t, intOut(d, "counts")), []string{"a=1", "b=1", "a=2", "a=3"})
}

func TestGroupByReduceRepartitions(t *testing.T) {
	b := kstreams.NewBuilder()
	sales := kstreams.StreamFrom(b, "sales", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	byRegion := kstreams.GroupBy(sales, func(id string, _ int64) string { return id[:2] },
		kstreams.Grouped[string, int64]{Name: "by-region", Key: serde.String(), Value: serde.Int64()})
	byRegion.Reduce(func(agg, v int64) int64 { return max(agg, v) }).ToStream().To("biggest")
	d := sfDriver(t, sfBuild(t, b), kstreamstest.ApplicationID("shop"))
	in := kstreamstest.NewInputTopic(d, "sales", serde.String(), serde.Int64())
	for _, s := range []struct {
		id string
		v  int64
	}{{"eu-1", 5}, {"us-1", 3}, {"eu-2", 2}, {"eu-3", 9}} {
		if err := in.Pipe(s.id, s.v); err != nil {
			t.Fatal(err)
		}
	}
	sfCheck(t, 0, "repartition", sfKVs(t, intOut(d, "shop-by-region-repartition")), []string{"eu=5", "us=3", "eu=2", "eu=9"})
	sfCheck(t, 0, "biggest", sfKVs(t, intOut(d, "biggest")), []string{"eu=5", "us=3", "eu=5", "eu=9"})
}

func TestMapThenGroupByKeyRepartitions(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "visits", kstreams.ConsumedWith(serde.String(), serde.String()))
	swapped := kstreams.Map(s, func(user, page string) (string, string) { return page, user })
	swapped.GroupByKey().Count().ToStream().To("page-views")
	topo := sfBuild(t, b)
	reps := sfRepartitionTopics(t, topo)
	if len(reps) != 1 {
		t.Fatalf("repartition topics %v, want one after Map", reps)
	}
	d := sfDriver(t, topo)
	in := kstreamstest.NewInputTopic(d, "visits", serde.String(), serde.String())
	for _, v := range [][2]string{{"u1", "home"}, {"u2", "home"}, {"u1", "cart"}} {
		if err := in.Pipe(v[0], v[1]); err != nil {
			t.Fatal(err)
		}
	}
	sfCheck(t, 0, "repartition", sfKVs(t, strOut(d, "kstreamstest-"+reps[0])), []string{"home=u1", "home=u2", "cart=u1"})
	sfCheck(t, 0, "page-views", sfKVs(t, intOut(d, "page-views")), []string{"home=1", "home=2", "cart=1"})
}

func TestAggregateToNullDeletes(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "tags", kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.Aggregate(s.GroupByKey(), func() []string { return nil },
		func(_ string, tag string, agg []string) []string {
			if tag == "clear" {
				return nil
			}
			if slices.Contains(agg, tag) {
				return agg
			}
			return append(agg, tag)
		}, kstreams.Materialized[string, []string]{Value: serde.JSON[[]string]()}).
		ToStream().To("tag-sets", kstreams.ProducedWith(serde.String(), serde.JSON[[]string]()))
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "tags", serde.String(), serde.String())
	out := rawOut(d, "tag-sets")
	steps := []struct {
		key, tag string
		want     []string
	}{
		{"k", "a", []string{`k=["a"]@0`}},
		{"k", "b", []string{`k=["a","b"]@0`}},
		{"k", "a", []string{`k=["a","b"]@0`}},
		{"k", "clear", []string{"k=<nil>@0"}},
		// a cleared key starts again from the initializer
		{"k", "c", []string{`k=["c"]@0`}},
		// clearing a key that has no aggregate forwards a delete all the
		// same, as Kafka Streams does
		{"j", "clear", []string{"j=<nil>@0"}},
	}
	for i, s := range steps {
		if err := in.Pipe(s.key, s.tag); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "tag-sets", sfRaw(t, out), s.want)
	}
}

func TestGroupByDropsNullKeys(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "events", kstreams.ConsumedWith(serde.String(), serde.String()))
	byOwner := kstreams.GroupBy(s, func(_, v string) []byte {
		if v == "" {
			return nil
		}
		return []byte(v)
	}, kstreams.Grouped[[]byte, string]{Name: "by-owner", Key: serde.Bytes()})
	byOwner.Count().ToStream().To("owners", kstreams.ProducedWith(serde.Bytes(), serde.Int64()))
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "events", serde.String(), serde.String())
	for _, v := range []string{"o1", "", "o1", "", "", "o2"} {
		if err := in.Pipe("e", v); err != nil {
			t.Fatal(err)
		}
	}
	sfCheck(t, 0, "owners", sfKVs(t, intOut(d, "owners")), []string{"o1=1", "o1=2", "o2=1"})
	if m := d.Metrics(); m.Dropped != 3 {
		t.Errorf("Dropped = %d, want 3", m.Dropped)
	}
}

var users = kstreams.ConsumedWith(serde.String(), serde.JSON[*sfUser]())

// regionCounts counts users by region through a repartition topic named
// "by-region".
func regionCounts(t *testing.T) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	byRegion := kstreams.GroupTableBy(kstreams.TableFrom(b, "users", users),
		func(_ string, u *sfUser) kstreams.KeyValue[string, string] { return kstreams.KV(u.Region, u.Name) },
		kstreams.Grouped[string, string]{Name: "by-region", Key: serde.String(), Value: serde.String()})
	byRegion.Count(kstreams.Materialized[string, int64]{Name: "region-counts"}).ToStream().To("region-counts")
	return sfBuild(t, b)
}

func TestGroupTableByCount(t *testing.T) {
	d := sfDriver(t, regionCounts(t))
	in := kstreamstest.NewInputTopic(d, "users", serde.String(), serde.JSON[*sfUser]())
	out := intOut(d, "region-counts")
	steps := []struct {
		id   string
		u    *sfUser
		want []string
	}{
		{"u1", &sfUser{"EU", "Ann"}, []string{"EU=1"}},
		{"u2", &sfUser{"EU", "Bob"}, []string{"EU=2"}},
		// u1 moves: out of EU first, then into US
		{"u1", &sfUser{"US", "Ann"}, []string{"EU=1", "US=1"}},
		{"u1", nil, []string{"US=0"}},
		{"u3", &sfUser{"US", "Cy"}, []string{"US=1"}},
	}
	for i, s := range steps {
		if err := in.Pipe(s.id, s.u); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "region-counts", sfKVs(t, out), s.want)
	}
	// The repartition topic carries each subtraction and each addition.
	if n := rawOut(d, "kstreamstest-by-region-repartition").QueueSize(); n != 6 {
		t.Errorf("repartition topic holds %d records, want 6", n)
	}
}

func TestGroupTableByUpdateWithinGroup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []kstreamstest.Option
		exact bool
	}{
		{"cached", []kstreamstest.Option{kstreamstest.CacheMaxBytes(1 << 20)}, true},
		// Uncached too: the rename stays in its group, so the select sends
		// one record and the count is updated once.
		{"uncached", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := sfDriver(t, regionCounts(t), tc.opts...)
			in := kstreamstest.NewInputTopic(d, "users", serde.String(), serde.JSON[*sfUser]())
			out := intOut(d, "region-counts")
			for _, u := range []kstreams.KeyValue[string, *sfUser]{{"u1", &sfUser{"EU", "Ann"}}, {"u2", &sfUser{"EU", "Bob"}}} {
				if err := in.Pipe(u.Key, u.Value); err != nil {
					t.Fatal(err)
				}
			}
			sfCheck(t, 0, "region-counts", sfKVs(t, out), []string{"EU=1", "EU=2"})
			if err := in.Pipe("u2", &sfUser{"EU", "Bobby"}); err != nil {
				t.Fatal(err)
			}
			got := sfKVs(t, out)
			if len(got) == 0 || got[len(got)-1] != "EU=2" {
				t.Errorf("after renaming u2 region-counts = %q, want EU=2 last", got)
			}
			if tc.exact && len(got) != 1 {
				t.Errorf("the rename forwarded %q, want one update", got)
			}
		})
	}
}

func TestGroupTableByReduce(t *testing.T) {
	b := kstreams.NewBuilder()
	accounts := kstreams.TableFrom(b, "accounts", kstreams.ConsumedWith(serde.String(), serde.JSON[*sfAccount]()))
	byBranch := kstreams.GroupTableBy(accounts,
		func(_ string, a *sfAccount) kstreams.KeyValue[string, int64] { return kstreams.KV(a.Branch, a.Balance) },
		kstreams.Grouped[string, int64]{Key: serde.String(), Value: serde.Int64()})
	byBranch.Reduce(func(agg, v int64) int64 { return agg + v }, func(agg, v int64) int64 { return agg - v }).
		ToStream().To("branch-totals")
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "accounts", serde.String(), serde.JSON[*sfAccount]())
	out := intOut(d, "branch-totals")
	steps := []struct {
		id   string
		a    *sfAccount
		want []string
	}{
		{"a1", &sfAccount{"X", 10}, []string{"X=10"}},
		{"a2", &sfAccount{"X", 5}, []string{"X=15"}},
		{"a1", &sfAccount{"Y", 10}, []string{"X=5", "Y=10"}},
		{"a2", nil, []string{"X=0"}},
		{"a3", &sfAccount{"Y", 1}, []string{"Y=11"}},
		// Same group: one record carries the old and the new balance, so
		// no intermediate Y=1 is forwarded (Kafka Streams >= 3.5).
		{"a1", &sfAccount{"Y", 4}, []string{"Y=5"}},
	}
	for i, s := range steps {
		if err := in.Pipe(s.id, s.a); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "branch-totals", sfKVs(t, out), s.want)
	}
}

// A group key of a type without == ([]byte) is compared by its serialized
// bytes: an update within the group is one record, a move is two.
func TestGroupTableByUncomparableKey(t *testing.T) {
	b := kstreams.NewBuilder()
	accounts := kstreams.TableFrom(b, "accounts", kstreams.ConsumedWith(serde.String(), serde.JSON[*sfAccount]()))
	kstreams.GroupTableBy(accounts,
		func(_ string, a *sfAccount) kstreams.KeyValue[[]byte, int64] {
			return kstreams.KV([]byte(a.Branch), a.Balance)
		},
		kstreams.Grouped[[]byte, int64]{Key: serde.Bytes(), Value: serde.Int64()}).
		Reduce(func(agg, v int64) int64 { return agg + v }, func(agg, v int64) int64 { return agg - v }).
		ToStream().To("branch-totals", kstreams.ProducedWith(serde.Bytes(), serde.Int64()))
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "accounts", serde.String(), serde.JSON[*sfAccount]())
	out := kstreamstest.NewOutputTopic(d, "branch-totals", serde.String(), serde.Int64())
	for i, s := range []struct {
		id   string
		a    *sfAccount
		want []string
	}{
		{"a1", &sfAccount{"X", 10}, []string{"X=10"}},
		{"a1", &sfAccount{"X", 7}, []string{"X=7"}},
		{"a1", &sfAccount{"Y", 7}, []string{"X=0", "Y=7"}},
	} {
		if err := in.Pipe(s.id, s.a); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "branch-totals", sfKVs(t, out), s.want)
	}
}

func TestAggregateTableShareholders(t *testing.T) {
	b := kstreams.NewBuilder()
	positions := kstreams.TableFrom(b, "positions", users) // Region: the client
	byClient := kstreams.GroupTableBy(positions,
		func(id string, p *sfUser) kstreams.KeyValue[string, string] { return kstreams.KV(p.Region, id) },
		kstreams.Grouped[string, string]{Key: serde.String(), Value: serde.String()})
	add := func(_ string, id string, set []string) []string { return append(set, id) }
	remove := func(_ string, id string, set []string) []string {
		var out []string
		for _, x := range set {
			if x != id {
				out = append(out, x)
			}
		}
		return out
	}
	kstreams.AggregateTable(byClient, func() []string { return nil }, add, remove,
		kstreams.Materialized[string, []string]{Name: "holdings", Value: serde.JSON[[]string]()}).
		ToStream().To("holdings-out", kstreams.ProducedWith(serde.String(), serde.JSON[[]string]()))
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "positions", serde.String(), serde.JSON[*sfUser]())
	out := rawOut(d, "holdings-out")
	steps := []struct {
		id   string
		p    *sfUser
		want []string
	}{
		{"p1", &sfUser{Region: "c1"}, []string{`c1=["p1"]@0`}},
		{"p2", &sfUser{Region: "c1"}, []string{`c1=["p1","p2"]@0`}},
		{"p1", &sfUser{Region: "c2"}, []string{`c1=["p2"]@0`, `c2=["p1"]@0`}},
		// the last position of c1 closes: the empty set is a null, the group goes
		{"p2", nil, []string{"c1=<nil>@0"}},
		{"p3", &sfUser{Region: "c1"}, []string{`c1=["p3"]@0`}},
		{"p1", nil, []string{"c2=<nil>@0"}},
	}
	for i, s := range steps {
		if err := in.Pipe(s.id, s.p); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		sfCheck(t, i, "holdings", sfRaw(t, out), s.want)
	}
}

// A group-by mapper may give a value that serializes to null: it counts as
// no value, as in Kafka Streams, instead of failing on the repartition topic.
func TestGroupTableByNullMappedValue(t *testing.T) {
	b := kstreams.NewBuilder()
	byRegion := kstreams.GroupTableBy(kstreams.TableFrom(b, "users", users),
		func(_ string, u *sfUser) kstreams.KeyValue[string, *string] {
			if u.Name == "" {
				return kstreams.KV[string, *string](u.Region, nil)
			}
			return kstreams.KV(u.Region, &u.Name)
		}, kstreams.Grouped[string, *string]{Key: serde.String(), Value: serde.JSON[*string]()})
	byRegion.Count().ToStream().To("named")
	d := sfDriver(t, sfBuild(t, b))
	in := kstreamstest.NewInputTopic(d, "users", serde.String(), serde.JSON[*sfUser]())
	out := intOut(d, "named")
	for i, u := range []kstreams.KeyValue[string, *sfUser]{
		{"u1", &sfUser{"EU", ""}}, {"u2", &sfUser{"EU", "Bob"}}, {"u1", &sfUser{"EU", "Ann"}},
	} {
		if err := in.Pipe(u.Key, u.Value); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// u1 counts once it has a name; nothing is said about it before.
	sfCheck(t, 0, "named", sfKVs(t, out), []string{"EU=1", "EU=2"})
}

// countFanOut counts the three records FlatMapValues makes of each input
// record, keeping its key.
func countFanOut(t *testing.T, m kstreams.Materialized[string, int64]) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	// The key stays: a key change would put the updates behind a
	// repartition topic, each of whose records is a commit of its own in
	// the test driver (as in Kafka Streams' TopologyTestDriver).
	fan := kstreams.FlatMapValues(s, func(v string) []string { return []string{v, v, v} })
	fan.GroupByKey().Count(m).ToStream().To("out")
	return sfBuild(t, b)
}

func TestRecordCache(t *testing.T) {
	tests := []struct {
		name string
		m    kstreams.Materialized[string, int64]
		opts []kstreamstest.Option
		// want is what each of two pipes forwards.
		want [2][]string
	}{
		{"cached", kstreams.Materialized[string, int64]{}, []kstreamstest.Option{kstreamstest.CacheMaxBytes(1 << 20)},
			[2][]string{{"k=3"}, {"k=6"}}},
		{"caching disabled", kstreams.Materialized[string, int64]{DisableCaching: true}, []kstreamstest.Option{kstreamstest.CacheMaxBytes(1 << 20)},
			[2][]string{{"k=1", "k=2", "k=3"}, {"k=4", "k=5", "k=6"}}},
		{"cache size 0", kstreams.Materialized[string, int64]{}, nil,
			[2][]string{{"k=1", "k=2", "k=3"}, {"k=4", "k=5", "k=6"}}},
		{"tiny cache", kstreams.Materialized[string, int64]{}, []kstreamstest.Option{kstreamstest.CacheMaxBytes(1)},
			[2][]string{{"k=1", "k=2", "k=3"}, {"k=4", "k=5", "k=6"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := sfDriver(t, countFanOut(t, tc.m), tc.opts...)
			in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			out := intOut(d, "out")
			for i, want := range tc.want {
				if err := in.Pipe("k", "v"); err != nil {
					t.Fatal(err)
				}
				sfCheck(t, i, "out", sfKVs(t, out), want)
			}
		})
	}
}

func TestRecordCacheForwardsEachPipedRecord(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	s.GroupByKey().Count().ToStream().To("out")
	d := sfDriver(t, sfBuild(t, b), kstreamstest.CacheMaxBytes(1<<20))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	out := intOut(d, "out")
	for i, s := range []struct{ key, want string }{{"a", "a=1"}, {"a", "a=2"}, {"b", "b=1"}, {"a", "a=3"}} {
		if err := in.PipeAt(s.key, "x", int64(i)); err != nil {
			t.Fatal(err)
		}
		sfCheck(t, i, "out", sfKVs(t, out), []string{s.want})
	}
}

package kstreams_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// buildErr builds b and returns the error text, failing the test when
// Build succeeds.
func buildErr(t *testing.T, b *kstreams.Builder) string {
	t.Helper()
	_, err := b.Build()
	if err == nil {
		t.Fatal("Build succeeded")
	}
	if !errors.Is(err, kstreams.ErrInvalidTopology) {
		t.Errorf("error does not match ErrInvalidTopology: %v", err)
	}
	return err.Error()
}

func checkMentions(t *testing.T, msg string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
}

// A stream made by another builder is refused: its node name would name a
// node of this builder, or none.
func TestMergeRefusesStreamOfAnotherBuilder(t *testing.T) {
	a := kstreams.NewBuilder()
	fromA := kstreams.StreamFrom(a, "topic-a", strs)
	b := kstreams.NewBuilder()
	fromB := kstreams.StreamFrom(b, "topic-b", strs)
	fromB.Merge(fromA).To("out")
	checkMentions(t, buildErr(t, b), "Merge", "made by another Builder", "KSTREAM-SOURCE-0000000000")

	// A zero Stream is refused too.
	c := kstreams.NewBuilder()
	kstreams.StreamFrom(c, "in", strs).Merge(kstreams.Stream[string, string]{}).To("out")
	checkMentions(t, buildErr(t, c), "zero value")
}

// A nil function is refused by Build, naming the operation and the node.
func TestBuildRefusesNilFunctions(t *testing.T) {
	tests := []struct {
		name  string
		build func(s kstreams.Stream[string, string])
		want  []string
	}{
		{"Filter", func(s kstreams.Stream[string, string]) { s.Filter(nil, "keep").To("out") }, []string{`Filter "keep" after node "src": nil function`}},
		{"FilterNot", func(s kstreams.Stream[string, string]) { s.FilterNot(nil).To("out") }, []string{"FilterNot", "nil function"}},
		{"Peek", func(s kstreams.Stream[string, string]) { s.Peek(nil).To("out") }, []string{"Peek", "nil function"}},
		{"Foreach", func(s kstreams.Stream[string, string]) { s.Foreach(nil) }, []string{"Foreach", "nil function"}},
		{"MapValues", func(s kstreams.Stream[string, string]) {
			kstreams.MapValues[string, string, string](s, nil).To("out")
		}, []string{"MapValues", `after node "src"`}},
		{"Map", func(s kstreams.Stream[string, string]) {
			kstreams.Map[string, string, string, string](s, nil).To("out")
		}, []string{"Map", "nil function"}},
		{"FlatMap", func(s kstreams.Stream[string, string]) {
			kstreams.FlatMap[string, string, string, string](s, nil).To("out")
		}, []string{"FlatMap", "nil function"}},
		{"FlatMapValues", func(s kstreams.Stream[string, string]) {
			kstreams.FlatMapValues[string, string, string](s, nil).To("out")
		}, []string{"FlatMapValues", "nil function"}},
		{"SelectKey", func(s kstreams.Stream[string, string]) {
			kstreams.SelectKey[string, string, string](s, nil).To("out")
		}, []string{"SelectKey", "nil function"}},
		{"GroupBy", func(s kstreams.Stream[string, string]) {
			kstreams.GroupBy[string, string, string](s, nil).Count()
		}, []string{`GroupBy "KSTREAM-KEY-SELECT`, `after node "src": nil function`}},
		{"Reduce", func(s kstreams.Stream[string, string]) { s.GroupByKey().Reduce(nil) }, []string{"Reduce", "nil reducer"}},
		{"Aggregate", func(s kstreams.Stream[string, string]) {
			kstreams.Aggregate[string, string, int64](s.GroupByKey(), nil, nil)
		}, []string{"nil initializer", "nil adder"}},
		{"ToFunc", func(s kstreams.Stream[string, string]) { s.ToFunc(nil) }, []string{"ToFunc", "nil topic function"}},
		{"Split branch", func(s kstreams.Stream[string, string]) {
			s.Split("s-").Branch("a", nil).DefaultBranch("rest").Get("s-a").To("out")
		}, []string{`Branch "s-a"`, "nil predicate"}},
		{"Process", func(s kstreams.Stream[string, string]) {
			kstreams.Process[string, string, string, string](s, nil, "proc").To("out")
		}, []string{`processor "proc": nil supplier`}},
		{"ProcessValues", func(s kstreams.Stream[string, string]) {
			kstreams.ProcessValues[string, string, string](s, nil, "pv").To("out")
		}, []string{`processor "pv": nil supplier`}},
		{"table Filter", func(s kstreams.Stream[string, string]) { s.ToTable().Filter(nil) }, []string{"Filter", "nil function"}},
		{"MapTableValues", func(s kstreams.Stream[string, string]) {
			kstreams.MapTableValues[string, string, string](s.ToTable(), nil)
		}, []string{"MapTableValues", "nil function"}},
		{"GroupTableBy", func(s kstreams.Stream[string, string]) {
			kstreams.GroupTableBy[string, string, string, string](s.ToTable(), nil).Count()
		}, []string{"GroupTableBy", "nil function"}},
		{"AggregateTable", func(s kstreams.Stream[string, string]) {
			g := kstreams.GroupTableBy(s.ToTable(), func(k, v string) kstreams.KeyValue[string, string] { return kstreams.KV(v, k) })
			kstreams.AggregateTable[string, string, int64](g, nil, nil, nil)
		}, []string{"nil initializer", "nil adder", "nil subtractor"}},
		{"table Reduce", func(s kstreams.Stream[string, string]) {
			g := kstreams.GroupTableBy(s.ToTable(), func(k, v string) kstreams.KeyValue[string, string] { return kstreams.KV(v, k) })
			g.Reduce(nil, nil)
		}, []string{"nil adder", "nil subtractor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tt.build(kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"}))
			checkMentions(t, buildErr(t, b), tt.want...)
		})
	}
}

// A nil Option is refused by New, naming its position.
func TestNewRefusesNilOption(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", strs).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var unset kstreams.Option
	_, err = kstreams.New(topo, kstreams.ApplicationID("app"), unset, kstreams.Brokers("127.0.0.1:1"))
	if err == nil || !strings.Contains(err.Error(), "option 2 of 3 is nil") {
		t.Fatalf("New with a nil option: %v", err)
	}
	_, err = kstreams.New(topo, kstreams.ApplicationID("app"), kstreams.Brokers("127.0.0.1:1"), kstreams.ClientOptions(nil))
	if err == nil || !strings.Contains(err.Error(), "ClientOptions: option 1 of 1 is nil") {
		t.Fatalf("New with a nil client option: %v", err)
	}
	var unsetDriverOpt kstreamstest.Option
	if _, err := kstreamstest.New(topo, unsetDriverOpt); err == nil || !strings.Contains(err.Error(), "option 1 of 1 is nil") {
		t.Fatalf("kstreamstest.New with a nil option: %v", err)
	}
	// A nil logger means no logging, not a panic later.
	if _, err := kstreams.New(topo, kstreams.ApplicationID("app"), kstreams.Brokers("127.0.0.1:1"), kstreams.Logger(nil)); err != nil {
		t.Fatalf("New with Logger(nil): %v", err)
	}
}

func TestGuaranteeString(t *testing.T) {
	tests := []struct {
		g    kstreams.Guarantee
		want string
	}{
		{kstreams.AtLeastOnce, "at_least_once"},
		{kstreams.ExactlyOnce, "exactly_once_v2"},
		{kstreams.Guarantee(7), "Guarantee(7)"},
		{kstreams.Guarantee(-1), "Guarantee(-1)"},
	}
	for _, tt := range tests {
		if got := tt.g.String(); got != tt.want {
			t.Errorf("Guarantee(%d).String() = %q, want %q", int(tt.g), got, tt.want)
		}
	}
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", strs).To("out")
	topo, _ := b.Build()
	_, err := kstreams.New(topo, kstreams.ApplicationID("app"), kstreams.Brokers("127.0.0.1:1"), kstreams.ProcessingGuarantee(7))
	if err == nil || !strings.Contains(err.Error(), "unknown processing guarantee Guarantee(7)") {
		t.Errorf("New with guarantee 7: %v", err)
	}
}

// A lookup of a branch that does not exist is a Build error naming the
// branches that do.
func TestSplitUnknownBranch(t *testing.T) {
	b := kstreams.NewBuilder()
	branches := kstreams.StreamFrom(b, "in", strs).Split("s-").
		Branch("a", func(k, _ string) bool { return k == "a" }).
		DefaultBranch("rest")
	branches.Get("s-a").To("a")
	branches.Get("a").To("typo") // the prefix is missing
	msg := buildErr(t, b)
	checkMentions(t, msg, `split "s-": no branch named "a"`, `["s-a" "s-rest"]`)
	if strings.Count(msg, "\n  - ") != 1 {
		t.Errorf("want exactly one problem:\n%s", msg)
	}
}

// Missing serdes name the parameter struct that supplies them and the
// node the user called the operation on.
func TestMissingSerdeHints(t *testing.T) {
	type order struct{ Total int }
	tests := []struct {
		name  string
		build func(b *kstreams.Builder)
		want  []string
	}{
		{"source", func(b *kstreams.Builder) {
			kstreams.StreamFrom(b, "orders", kstreams.Consumed[string, order]{Key: serde.String()}).To("out")
		}, []string{`reading ["orders"]`, "set Consumed.Value"}},
		{"GroupBy", func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"})
			kstreams.GroupBy(s, func(_, v string) order { return order{} }).Count()
		}, []string{`GroupBy after node "src"`, "set Grouped.Key"}},
		{"GroupByKey after Map", func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"})
			m := kstreams.Map(s, func(k, v string) (string, order) { return k, order{} }, "to-order")
			m.GroupByKey().Count()
		}, []string{`GroupByKey after node "to-order"`, "set Grouped.Value"}},
		{"Aggregate", func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"})
			kstreams.Aggregate(s.GroupByKey(), func() order { return order{} }, func(string, string, order) order { return order{} })
		}, []string{`after node "src"`, "set Materialized.Value"}},
		{"Aggregate after GroupBy", func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"})
			g := kstreams.GroupBy(s, func(_, v string) string { return v })
			kstreams.Aggregate(g, func() order { return order{} }, func(string, string, order) order { return order{} })
		}, []string{`after node "src"`, "set Materialized.Value"}},
		{"AggregateTable", func(b *kstreams.Builder) {
			t := kstreams.TableFrom(b, "t", kstreams.Consumed[string, string]{Name: "tsrc"})
			g := kstreams.GroupTableBy(t, func(k, v string) kstreams.KeyValue[string, string] { return kstreams.KV(v, k) })
			kstreams.AggregateTable(g, func() order { return order{} },
				func(string, string, order) order { return order{} }, func(string, string, order) order { return order{} })
		}, []string{`after node "tsrc"`, "set Materialized.Value"}},
		{"GroupTableBy", func(b *kstreams.Builder) {
			t := kstreams.TableFrom(b, "t", kstreams.Consumed[string, string]{Name: "tsrc"})
			kstreams.GroupTableBy(t, func(k, v string) kstreams.KeyValue[string, order] { return kstreams.KV(k, order{}) }).Count()
		}, []string{"GroupTableBy after node", "set Grouped.Value"}},
		{"ToTable after Map", func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"})
			kstreams.Map(s, func(k, v string) (string, order) { return k, order{} }, "to-order").ToTable()
		}, []string{`ToTable after node "to-order"`, "set Materialized.Value"}},
		{"sink", func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"})
			kstreams.MapValues(s, func(string) order { return order{} }, "mv").To("out")
		}, []string{`to topic "out" after node "mv"`, "set Produced.Value"}},
		{"Repartition", func(b *kstreams.Builder) {
			s := kstreams.StreamFrom(b, "in", kstreams.Consumed[string, string]{Name: "src"})
			kstreams.MapValues(s, func(string) order { return order{} }, "mv").Repartition().To("out", kstreams.Produced[string, order]{Value: serde.JSON[order]()})
		}, []string{`Repartition after node "mv"`, "set Repartitioned.Value"}},
		{"AddStateStore", func(b *kstreams.Builder) {
			kstreams.StreamFrom(b, "in", strs).To("out")
			kstreams.AddStateStore(b, kstreams.StoreBuilder[string, order]{Name: "st"})
		}, []string{`state store "st"`, "set StoreBuilder.Value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tt.build(b)
			msg := buildErr(t, b)
			checkMentions(t, msg, tt.want...)
			if strings.Contains(msg, "Consumed, Produced or Repartitioned") {
				t.Errorf("generic hint:\n%s", msg)
			}
		})
	}
}

// keyChanger is a processor that tries to change the key.
type keyChanger struct {
	ctx processor.Context[string, int]
}

func (p *keyChanger) Init(ctx processor.Context[string, int]) error { p.ctx = ctx; return nil }
func (p *keyChanger) Close() error                                  { return nil }
func (p *keyChanger) Process(r processor.Record[string, string]) error {
	p.ctx.Forward(processor.Record[string, int]{Key: "changed", Value: len(r.Value), Timestamp: r.Timestamp})
	return nil
}

// ProcessValues keeps the key, so a grouping after it does not
// repartition; Process may change it, so one after it does.
func TestProcessValuesKeepsKey(t *testing.T) {
	build := func(values bool) *kstreams.Topology {
		b := kstreams.NewBuilder()
		s := kstreams.StreamFrom(b, "in", strs)
		supplier := func() processor.Processor[string, string, string, int] { return &keyChanger{} }
		var lens kstreams.Stream[string, int]
		if values {
			lens = kstreams.ProcessValues(s, supplier)
		} else {
			lens = kstreams.Process(s, supplier)
		}
		lens.To("lens", kstreams.Produced[string, int]{Value: serde.JSON[int]()})
		lens.GroupByKey(kstreams.Grouped[string, int]{Value: serde.JSON[int]()}).Count().ToStream().To("counts")
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	describe := func(topo *kstreams.Topology) string {
		d, err := topo.Describe()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	if desc := describe(build(false)); !strings.Contains(desc, "-repartition") {
		t.Errorf("Process then GroupByKey: no repartition topic:\n%s", desc)
	}
	topo := build(true)
	if desc := describe(topo); strings.Contains(desc, "-repartition") {
		t.Errorf("ProcessValues then GroupByKey: a repartition topic:\n%s", desc)
	}
	d := drive(t, topo)
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, kv := range [][2]string{{"a", "x"}, {"b", "yy"}, {"a", "zzz"}} {
		if err := in.Pipe(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	lens, err := kstreamstest.NewOutputTopic(d, "lens", serde.String(), serde.JSON[int]()).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if want := []kstreams.KeyValue[string, int]{{"a", 1}, {"b", 2}, {"a", 3}}; !equalKVs(lens, want) {
		t.Errorf("lens: got %v, want %v", lens, want)
	}
	counts, err := kstreamstest.NewOutputTopic(d, "counts", serde.String(), serde.Int64()).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if want := []kstreams.KeyValue[string, int64]{{"a", 1}, {"b", 1}, {"a", 2}}; !equalKVs(counts, want) {
		t.Errorf("counts: got %v, want %v", counts, want)
	}
}

func equalKVs[K, V comparable](a, b []kstreams.KeyValue[K, V]) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// panicky builds in -> MapValues(panics on "boom", named "explode") -> out.
func panicky(t *testing.T) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	kstreams.MapValues(s, func(v string) string {
		if v == "boom" {
			panic("user function failed on " + v)
		}
		return strings.ToUpper(v)
	}, "explode").To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// checkPanicError checks that err is a RecordError of node "explode" at
// topic "in" offset 1 wrapping the panic value and its stack.
func checkPanicError(t *testing.T, err error, topic string) {
	t.Helper()
	var re *kstreams.RecordError
	var pe *kstreams.PanicError
	if !errors.As(err, &re) || !errors.As(err, &pe) {
		t.Fatalf("error is not a RecordError wrapping a PanicError: %v", err)
	}
	if re.Node != "explode" || re.Topic != topic || re.Offset != 1 || re.Stage != "processing" {
		t.Errorf("RecordError: node %q topic %q offset %d stage %q, want explode, %q, 1, processing", re.Node, re.Topic, re.Offset, re.Stage, topic)
	}
	if pe.Value != "user function failed on boom" {
		t.Errorf("panic value %v", pe.Value)
	}
	checkMentions(t, err.Error(), "panic: user function failed on boom", "newuser_test.go", `in node "explode"`)
}

// A panic in a user function stops the task with a RecordError, on the
// test driver.
func TestPanicInUserFunctionDriver(t *testing.T) {
	d := drive(t, panicky(t))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	if err := in.Pipe("k", "fine"); err != nil {
		t.Fatal(err)
	}
	err := in.Pipe("k", "boom")
	checkPanicError(t, err, "in")
	if m := d.Metrics(); m.Processed != 1 {
		t.Errorf("Processed %d, want 1", m.Processed)
	}
}

// On a broker, the panic stops the task and Run returns the error: the
// process lives on.
func TestPanicInUserFunctionRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, err := embedded.Start(embedded.Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.CreateTopics(ctx, 1, "in", "out"); err != nil {
		t.Fatal(err)
	}
	if err := embedded.Produce(ctx, br, "in", serde.String(), serde.String(),
		processor.Record[string, string]{Key: "k", Value: "fine"},
		processor.Record[string, string]{Key: "k", Value: "boom"}); err != nil {
		t.Fatal(err)
	}
	app, err := kstreams.New(panicky(t), kstreams.ApplicationID("panicky"), kstreams.Brokers(br.Addrs()...),
		kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(ctx)
	checkPanicError(t, err, "in")
	if app.State() != kstreams.Error {
		t.Errorf("state %v, want Error", app.State())
	}
	got, err := embedded.Consume(ctx, br, "out", 1, serde.String(), serde.String())
	if err != nil || got[0].Value != "FINE" {
		t.Errorf("out: %v, %v", got, err)
	}
}

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Aggregating a merge of topics with 3 and 2 partitions is legal but
// splits the count of a key over tasks: the app warns at start, once,
// naming the topics and the fix.
func TestWarnsAboutStateOverTopicsOfDifferentPartitionCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.CreateTopics(ctx, 3, "clicks-a"); err != nil {
		t.Fatal(err)
	}
	if err := br.CreateTopics(ctx, 2, "clicks-b"); err != nil {
		t.Fatal(err)
	}
	b := kstreams.NewBuilder()
	merged := kstreams.StreamFrom(b, "clicks-a", strs).Merge(kstreams.StreamFrom(b, "clicks-b", strs))
	merged.GroupByKey().Count().ToStream().To("counts", kstreams.ProducedWith(serde.String(), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var logged syncBuffer
	app, err := kstreams.New(topo, kstreams.ApplicationID("split-state"), kstreams.Brokers(br.Addrs()...),
		kstreams.StateDir(t.TempDir()), kstreams.Logger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	for app.State() != kstreams.Running && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logged.String()
	if n := strings.Count(out, "different partition counts"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, out)
	}
	checkMentions(t, out, `\"clicks-a\" (3), \"clicks-b\" (2)`, "Repartition")
}

// panicOnRead is a string serde whose Deserialize panics on "boom".
type panicOnRead struct{}

func (panicOnRead) Serialize(_ string, v string) ([]byte, error) { return []byte(v), nil }
func (panicOnRead) Deserialize(_ string, b []byte) (string, error) {
	if string(b) == "boom" {
		panic("cannot read boom")
	}
	return string(b), nil
}

// A serde that panics while a store's cache is flushed (at a commit) stops
// the task with an error naming the store.
func TestPanicWhileFlushingACache(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", strs).ToTable(kstreams.Materialized[string, string]{Name: "latest", Value: panicOnRead{}}).
		ToStream().To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	d := build(t, b, kstreamstest.CacheMaxBytes(1<<20))
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	if err := in.Pipe("k", "fine"); err != nil {
		t.Fatal(err)
	}
	err := in.Pipe("k", "boom")
	var pe *kstreams.PanicError
	if !errors.As(err, &pe) || pe.Value != "cannot read boom" {
		t.Fatalf("error is not the panic: %v", err)
	}
	checkMentions(t, err.Error(), `store "latest"`)
}

package kstreams_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// rec returns a string record stamped ts whose one header, "id", is id:
// every input record carries one, so that tests can check that timestamps
// and headers reach the outputs.
func rec(k, v string, ts int64, id string) processor.Record[string, string] {
	return processor.Record[string, string]{Key: k, Value: v, Timestamp: ts, Headers: []processor.Header{{Key: "id", Value: []byte(id)}}}
}

// strs are the string serdes most tests use.
var strs = kstreams.ConsumedWith(serde.String(), serde.String())

// build builds b, runs it in a driver closed at the end of the test, and
// returns the driver.
func build(t *testing.T, b *kstreams.Builder, opts ...kstreamstest.Option) *kstreamstest.Driver {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return drive(t, topo, opts...)
}

// drive runs topo in a driver closed at the end of the test.
func drive(t *testing.T, topo *kstreams.Topology, opts ...kstreamstest.Option) *kstreamstest.Driver {
	t.Helper()
	d, err := kstreamstest.New(topo, opts...)
	if err != nil {
		t.Fatalf("kstreamstest.New: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// pipeAll pipes recs into topic and fails the test on the first error.
func pipeAll(t *testing.T, d *kstreamstest.Driver, topic string, recs ...processor.Record[string, string]) {
	t.Helper()
	in := kstreamstest.NewInputTopic(d, topic, serde.String(), serde.String())
	for _, r := range recs {
		if err := in.PipeRecord(r); err != nil {
			t.Fatalf("pipe %s/%s into %q: %v", r.Key, r.Value, topic, err)
		}
	}
}

// readAll returns every unread string record of topic.
func readAll(t *testing.T, d *kstreamstest.Driver, topic string) []processor.Record[string, string] {
	t.Helper()
	got, err := kstreamstest.NewOutputTopic(d, topic, serde.String(), serde.String()).ReadRecords()
	if err != nil {
		t.Fatalf("read %q: %v", topic, err)
	}
	return got
}

// checkTopic checks that topic holds exactly want (keys, values,
// timestamps and headers).
func checkTopic(t *testing.T, d *kstreamstest.Driver, topic string, want []processor.Record[string, string]) {
	t.Helper()
	got := readAll(t, d, topic)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("topic %q:\n got  %s\n want %s", topic, fmtRecs(got), fmtRecs(want))
	}
}

func fmtRecs(rs []processor.Record[string, string]) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		parts[i] = fmt.Sprintf("%s:%s@%d%v", r.Key, r.Value, r.Timestamp, hs)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// upperProcessor is a user processor: it forwards each record with the
// value upper-cased and the key suffixed with the input topic and offset.
type upperProcessor struct {
	ctx processor.Context[string, string]
}

func (p *upperProcessor) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	return nil
}

func (p *upperProcessor) Process(r processor.Record[string, string]) error {
	meta, ok := p.ctx.RecordMetadata()
	if !ok {
		return errors.New("no record metadata while processing")
	}
	r.Key = fmt.Sprintf("%s@%s/%d", r.Key, meta.Topic, meta.Offset)
	r.Value = strings.ToUpper(r.Value)
	p.ctx.Forward(r)
	return nil
}

func (p *upperProcessor) Close() error { return nil }

func TestStatelessOperations(t *testing.T) {
	input := []processor.Record[string, string]{
		rec("a", "x", 100, "r0"),
		rec("b", "yy", 200, "r1"),
		rec("c", "zzz", 300, "r2"),
	}
	length := func(_, v string) bool { return len(v) > 1 }
	tests := []struct {
		name string
		// build reads "in" from s and writes outputs; it may note what
		// side effects it sees in seen.
		build func(b *kstreams.Builder, s kstreams.Stream[string, string], seen *[]string)
		want  map[string][]processor.Record[string, string]
		seen  []string
	}{{
		name:  "Filter",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) { s.Filter(length).To("out") },
		want:  map[string][]processor.Record[string, string]{"out": {input[1], input[2]}},
	}, {
		name: "FilterNot",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			s.FilterNot(length).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {input[0]}},
	}, {
		name: "Map",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			kstreams.Map(s, func(k, v string) (string, string) { return v, k }).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {
			rec("x", "a", 100, "r0"), rec("yy", "b", 200, "r1"), rec("zzz", "c", 300, "r2"),
		}},
	}, {
		name: "MapValues",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			kstreams.MapValues(s, strings.ToUpper).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {
			rec("a", "X", 100, "r0"), rec("b", "YY", 200, "r1"), rec("c", "ZZZ", 300, "r2"),
		}},
	}, {
		name: "FlatMap",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			// One record per character after the first: none for "x".
			kstreams.FlatMap(s, func(k, v string) []kstreams.KeyValue[string, string] {
				var out []kstreams.KeyValue[string, string]
				for i := 1; i < len(v); i++ {
					out = append(out, kstreams.KV(k+strconv.Itoa(i), v[i:i+1]))
				}
				return out
			}).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {
			rec("b1", "y", 200, "r1"), rec("c1", "z", 300, "r2"), rec("c2", "z", 300, "r2"),
		}},
	}, {
		name: "FlatMapValues",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			kstreams.FlatMapValues(s, func(v string) []string {
				return strings.Split(v, "")[1:]
			}).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {
			rec("b", "y", 200, "r1"), rec("c", "z", 300, "r2"), rec("c", "z", 300, "r2"),
		}},
	}, {
		name: "SelectKey",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			kstreams.SelectKey(s, func(k, v string) string { return v + k }).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {
			rec("xa", "x", 100, "r0"), rec("yyb", "yy", 200, "r1"), rec("zzzc", "zzz", 300, "r2"),
		}},
	}, {
		name: "Peek",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], seen *[]string) {
			s.Peek(func(k, v string) { *seen = append(*seen, k+"="+v) }).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": input},
		seen: []string{"a=x", "b=yy", "c=zzz"},
	}, {
		name: "Foreach",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], seen *[]string) {
			s.Foreach(func(k, v string) { *seen = append(*seen, k+"="+v) })
		},
		seen: []string{"a=x", "b=yy", "c=zzz"},
	}, {
		name: "Split with default branch: first match wins",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			branches := s.Split("s-").
				Branch("one", func(_, v string) bool { return len(v) == 1 }).
				Branch("short", func(_, v string) bool { return len(v) <= 2 }).
				DefaultBranch("long")
			if len(branches.Names()) != 3 {
				panic(fmt.Sprintf("branches: %v", branches))
			}
			branches.Get("s-one").To("one")
			branches.Get("s-short").To("short")
			branches.Get("s-long").To("long")
		},
		want: map[string][]processor.Record[string, string]{
			"one": {input[0]}, "short": {input[1]}, "long": {input[2]},
		},
	}, {
		name: "Split without default branch drops the rest",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			branches := s.Split("s-").
				Branch("one", func(_, v string) bool { return len(v) == 1 }).
				Branch("long", func(_, v string) bool { return len(v) == 3 }).
				NoDefaultBranch()
			branches.Get("s-one").To("one")
			branches.Get("s-long").To("long")
		},
		want: map[string][]processor.Record[string, string]{"one": {input[0]}, "long": {input[2]}},
	}, {
		name: "Merge",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			short := s.Filter(func(_, v string) bool { return len(v) == 1 })
			long := s.Filter(func(_, v string) bool { return len(v) == 3 })
			short.Merge(long).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {input[0], input[2]}},
	}, {
		name: "To with Produced serdes",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			s.To("out", kstreams.Produced[string, string]{Key: serde.String(), Value: serde.String(), Name: "sink"})
		},
		want: map[string][]processor.Record[string, string]{"out": input},
	}, {
		name: "ToFunc picks the topic per record",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			s.ToFunc(func(r processor.Record[string, string]) string {
				if len(r.Value) == 2 {
					return "short"
				}
				return "out"
			})
		},
		want: map[string][]processor.Record[string, string]{"out": {input[0], input[2]}, "short": {input[1]}},
	}, {
		name: "Repartition goes through the internal topic",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			keyed := kstreams.SelectKey(s, func(_, v string) string { return v })
			kstreams.MapValues(keyed.Repartition(kstreams.Repartitioned[string, string]{Name: "rk"}), strings.ToUpper).To("out")
		},
		want: map[string][]processor.Record[string, string]{
			"kstreamstest-rk-repartition": {rec("x", "x", 100, "r0"), rec("yy", "yy", 200, "r1"), rec("zzz", "zzz", 300, "r2")},
			"out":                         {rec("x", "X", 100, "r0"), rec("yy", "YY", 200, "r1"), rec("zzz", "ZZZ", 300, "r2")},
		},
	}, {
		name: "Process with a user processor",
		build: func(_ *kstreams.Builder, s kstreams.Stream[string, string], _ *[]string) {
			kstreams.Process(s, func() processor.Processor[string, string, string, string] {
				return &upperProcessor{}
			}).To("out")
		},
		want: map[string][]processor.Record[string, string]{"out": {
			rec("a@in/0", "X", 100, "r0"), rec("b@in/1", "YY", 200, "r1"), rec("c@in/2", "ZZZ", 300, "r2"),
		}},
	}}
	// Every topic any case writes: each case checks the ones it does not
	// expect stay empty.
	topics := map[string]bool{}
	for _, tt := range tests {
		for topic := range tt.want {
			topics[topic] = true
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			var seen []string
			tt.build(b, kstreams.StreamFrom(b, "in", strs), &seen)
			d := build(t, b)
			pipeAll(t, d, "in", input...)
			for _, topic := range slices.Sorted(maps.Keys(topics)) {
				checkTopic(t, d, topic, tt.want[topic])
			}
			if !slices.Equal(seen, tt.seen) {
				t.Errorf("side effects: got %q, want %q", seen, tt.seen)
			}
		})
	}
}

// chainCase is one case of testdata/stateless.txt.
type chainCase struct {
	name, ops, in, out []string
	line               int
}

// readChainCases parses testdata/stateless.txt; see its header.
func readChainCases(t *testing.T, path string) []chainCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []chainCase
	var c *chainCase
	section := 0
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "case "):
			cases = append(cases, chainCase{name: []string{strings.TrimPrefix(line, "case ")}, line: i + 1})
			c, section = &cases[len(cases)-1], 0
		case c == nil:
			t.Fatalf("%s:%d: %q before the first case", path, i+1, line)
		case line == "----":
			section++
		case section == 0:
			c.ops = append(c.ops, line)
		case section == 1:
			c.in = append(c.in, line)
		case section == 2:
			c.out = append(c.out, line)
		default:
			t.Fatalf("%s:%d: a third ---- in case %q", path, i+1, c.name[0])
		}
	}
	return cases
}

// parseRecord parses "key:value@ts" and an optional " n=N" header.
func parseRecord(s string) (processor.Record[string, string], error) {
	var r processor.Record[string, string]
	body, n, hasN := strings.Cut(s, " n=")
	kv, ts, ok := strings.Cut(body, "@")
	if !ok {
		return r, fmt.Errorf("record %q: no @timestamp", s)
	}
	var err error
	if r.Timestamp, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return r, fmt.Errorf("record %q: %w", s, err)
	}
	if r.Key, r.Value, ok = strings.Cut(kv, ":"); !ok {
		return r, fmt.Errorf("record %q: no key:value", s)
	}
	if hasN {
		r.Headers = []processor.Header{{Key: "n", Value: []byte(n)}}
	}
	return r, nil
}

// applyOp adds the operation op of testdata/stateless.txt to s.
func applyOp(s kstreams.Stream[string, string], op string) (kstreams.Stream[string, string], error) {
	verb, arg, _ := strings.Cut(op, " ")
	lengthOver := func(arg string) (func(_, v string) bool, error) {
		if len(arg) < 5 || !strings.HasPrefix(arg, "len") {
			return nil, fmt.Errorf("want len>N or len<N, got %q", arg)
		}
		n, err := strconv.Atoi(arg[4:])
		if err != nil {
			return nil, err
		}
		if arg[3] == '<' {
			return func(_, v string) bool { return len(v) < n }, nil
		}
		return func(_, v string) bool { return len(v) > n }, nil
	}
	switch op {
	case "mapvalues upper":
		return kstreams.MapValues(s, strings.ToUpper), nil
	case "mapvalues double":
		return kstreams.MapValues(s, func(v string) string { return v + v }), nil
	case "flatmapvalues chars":
		return kstreams.FlatMapValues(s, func(v string) []string { return strings.Split(v, "") }), nil
	case "selectkey value":
		return kstreams.SelectKey(s, func(_, v string) string { return v }), nil
	case "map swap":
		return kstreams.Map(s, func(k, v string) (string, string) { return v, k }), nil
	}
	switch verb {
	case "filter", "filternot":
		pred, err := lengthOver(arg)
		if err != nil {
			return s, err
		}
		if verb == "filter" {
			return s.Filter(pred), nil
		}
		return s.FilterNot(pred), nil
	case "repartition":
		return s.Repartition(kstreams.Repartitioned[string, string]{Name: kstreams.Named(arg)}), nil
	}
	return s, fmt.Errorf("unknown operation %q", op)
}

func TestStatelessChains(t *testing.T) {
	const path = "testdata/stateless.txt"
	for _, c := range readChainCases(t, path) {
		t.Run(c.name[0], func(t *testing.T) {
			b := kstreams.NewBuilder()
			s := kstreams.StreamFrom(b, "in", strs)
			for _, op := range c.ops {
				var err error
				if s, err = applyOp(s, op); err != nil {
					t.Fatalf("%s:%d: %v", path, c.line, err)
				}
			}
			s.To("out")
			d := build(t, b)
			var in, want []processor.Record[string, string]
			for i, line := range c.in {
				r, err := parseRecord(line)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, c.line, err)
				}
				r.Headers = []processor.Header{{Key: "n", Value: []byte(strconv.Itoa(i))}}
				in = append(in, r)
			}
			for _, line := range c.out {
				r, err := parseRecord(line)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, c.line, err)
				}
				want = append(want, r)
			}
			pipeAll(t, d, "in", in...)
			checkTopic(t, d, "out", want)
		})
	}
}

func TestMapChangesTypes(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	// The new types have default serdes, so To needs no Produced.
	lengths := kstreams.Map(s, func(k, v string) (int64, string) { return int64(len(v)), k })
	lengths.To("out")
	d := build(t, b)
	pipeAll(t, d, "in", rec("a", "xyz", 7, "r0"))
	got, err := kstreamstest.NewOutputTopic(d, "out", serde.Int64(), serde.String()).ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	want := []processor.Record[int64, string]{{Key: 3, Value: "a", Timestamp: 7, Headers: []processor.Header{{Key: "id", Value: []byte("r0")}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMergeKeepsOrderPerInput(t *testing.T) {
	b := kstreams.NewBuilder()
	left := kstreams.StreamFrom(b, "left", strs)
	right := kstreams.StreamFrom(b, "right", strs)
	left.Merge(right).To("out")
	d := build(t, b)
	pipeAll(t, d, "left", rec("l", "1", 10, "l1"))
	pipeAll(t, d, "right", rec("r", "1", 5, "r1"))
	pipeAll(t, d, "left", rec("l", "2", 20, "l2"))
	pipeAll(t, d, "right", rec("r", "2", 30, "r2"))
	checkTopic(t, d, "out", []processor.Record[string, string]{
		rec("l", "1", 10, "l1"), rec("r", "1", 5, "r1"), rec("l", "2", 20, "l2"), rec("r", "2", 30, "r2"),
	})
}

func TestStreamFromTopics(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.StreamFromTopics(b, []string{"a", "b"}, strs).To("out")
	d := build(t, b)
	pipeAll(t, d, "b", rec("k", "from-b", 1, "b"))
	pipeAll(t, d, "a", rec("k", "from-a", 2, "a"))
	checkTopic(t, d, "out", []processor.Record[string, string]{rec("k", "from-b", 1, "b"), rec("k", "from-a", 2, "a")})
}

func TestRepartitionAutomaticName(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs) // KSTREAM-SOURCE-0000000000
	s.Repartition().To("out")               // KSTREAM-REPARTITION-0000000001
	d := build(t, b, kstreamstest.ApplicationID("app"))
	pipeAll(t, d, "in", rec("k", "v", 1, "r0"))
	checkTopic(t, d, "app-KSTREAM-REPARTITION-0000000001-repartition", []processor.Record[string, string]{rec("k", "v", 1, "r0")})
	checkTopic(t, d, "out", []processor.Record[string, string]{rec("k", "v", 1, "r0")})
}

func TestRepartitionWithOwnSerdes(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	n := kstreams.MapValues(s, func(v string) int64 { return int64(len(v)) })
	n.Repartition(kstreams.Repartitioned[string, int64]{Name: "n", Value: serde.Int64()}).
		To("out", kstreams.ProducedWith(serde.String(), serde.Int64()))
	d := build(t, b)
	pipeAll(t, d, "in", rec("k", "four", 1, "r0"))
	raw, err := kstreamstest.NewOutputTopic(d, "kstreamstest-n-repartition", serde.String(), serde.Bytes()).ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 0, 0, 0, 0, 0, 0, 4}; !slices.Equal(raw.Value, want) {
		t.Errorf("repartition value bytes: got %v, want %v", raw.Value, want)
	}
	got, err := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if want := []kstreams.KeyValue[string, int64]{kstreams.KV("k", int64(4))}; !slices.Equal(got, want) {
		t.Errorf("out: got %v, want %v", got, want)
	}
}

func TestSplitBranchNames(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	branches := s.Split("route-").
		Branch("a", func(k, _ string) bool { return k == "a" }).
		DefaultBranch("other")
	got := slices.Sorted(slices.Values(branches.Names()))
	if want := []string{"route-a", "route-other"}; !slices.Equal(got, want) {
		t.Fatalf("branch names: got %q, want %q", got, want)
	}
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := topo.Describe()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range desc.Subtopologies[0].Nodes {
		names = append(names, n.Name)
	}
	if want := []string{"KSTREAM-SOURCE-0000000000", "route-", "route-a", "route-other"}; !slices.Equal(names, want) {
		t.Errorf("nodes: got %q, want %q", names, want)
	}
}

func TestPeekSeesEveryBranch(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", strs)
	var order []string
	s.Peek(func(k, _ string) { order = append(order, "first:"+k) }).To("one")
	s.Peek(func(k, _ string) { order = append(order, "second:"+k) }).To("two")
	d := build(t, b)
	pipeAll(t, d, "in", rec("a", "1", 1, "r0"), rec("b", "2", 2, "r1"))
	// A record goes through every child of a node, in the order the
	// children were added, before the next record.
	if want := []string{"first:a", "second:a", "first:b", "second:b"}; !slices.Equal(order, want) {
		t.Errorf("order: got %q, want %q", order, want)
	}
	checkTopic(t, d, "one", []processor.Record[string, string]{rec("a", "1", 1, "r0"), rec("b", "2", 2, "r1")})
	checkTopic(t, d, "two", []processor.Record[string, string]{rec("a", "1", 1, "r0"), rec("b", "2", 2, "r1")})
}

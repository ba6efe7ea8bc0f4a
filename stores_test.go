package kstreams_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// keyCounter counts records per key in store and forwards each new count.
type keyCounter struct {
	store  string
	ctx    processor.Context[string, int64]
	counts state.KeyValueStore[string, int64]
}

func (c *keyCounter) Init(ctx processor.Context[string, int64]) (err error) {
	c.ctx = ctx
	c.counts, err = processor.Store[state.KeyValueStore[string, int64]](ctx, c.store)
	return err
}

func (c *keyCounter) Process(r processor.Record[string, string]) error {
	n, _, err := c.counts.Get(r.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.counts.Put(r.Key, n); err != nil {
		return err
	}
	c.ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n, Timestamp: r.Timestamp})
	return nil
}

func (c *keyCounter) Close() error { return nil }

func TestProcessorStoreCounts(t *testing.T) {
	tests := []struct {
		name      string
		sb        kstreams.StoreBuilder[string, int64]
		changelog int
	}{
		{"pebble", kstreams.StoreBuilder[string, int64]{Name: "counts"}, 4},
		{"memory", kstreams.StoreBuilder[string, int64]{Name: "counts", InMemory: true}, 4},
		{"unlogged", kstreams.StoreBuilder[string, int64]{Name: "counts", DisableLogging: true}, 0},
		{"serdes", kstreams.StoreBuilder[string, int64]{Name: "counts", Key: serde.String(), Value: serde.Int64()}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			kstreams.AddStateStore(b, tc.sb)
			s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			counted := kstreams.ProcessWithStores(s, func() processor.Processor[string, string, string, int64] {
				return &keyCounter{store: "counts"}
			}, []string{"counts"})
			counted.To("out", kstreams.ProducedWith(serde.String(), serde.Int64()))
			d := sfDriver(t, sfBuild(t, b))
			in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for _, k := range []string{"a", "b", "a", "a"} {
				if err := in.Pipe(k, "x"); err != nil {
					t.Fatal(err)
				}
			}
			sfCheck(t, 0, "out", sfKVs(t, intOut(d, "out")), []string{"a=1", "b=1", "a=2", "a=3"})
			cl := intOut(d, "kstreamstest-counts-changelog")
			if n := cl.QueueSize(); n != tc.changelog {
				t.Errorf("changelog holds %d records, want %d", n, tc.changelog)
			}
			if tc.changelog > 0 {
				sfCheck(t, 0, "changelog", sfKVs(t, cl), []string{"a=1", "b=1", "a=2", "a=3"})
			}
		})
	}
}

// scanner runs commands on its store: "put k v", "del k", "get k",
// "range from to", "rrange from to", "prefix p", "all". It forwards what a
// read finds as "k=v,k=v".
type scanner struct {
	ctx processor.Context[string, string]
	st  state.KeyValueStore[string, string]
}

func (s *scanner) Init(ctx processor.Context[string, string]) (err error) {
	s.ctx = ctx
	s.st, err = processor.Store[state.KeyValueStore[string, string]](ctx, "kv")
	return err
}

func (s *scanner) Close() error { return nil }

func (s *scanner) Process(r processor.Record[string, string]) error {
	f := strings.Fields(r.Value)
	var it state.KeyValueIterator[string, string]
	var err error
	switch f[0] {
	case "put":
		return s.st.Put(f[1], f[2])
	case "del":
		_, _, err = s.st.Delete(f[1])
		return err
	case "get":
		v, ok, err := s.st.Get(f[1])
		s.forward(r, fmt.Sprintf("%s=%s/%v", f[1], v, ok))
		return err
	case "range":
		it, err = s.st.Range(f[1], f[2])
	case "rrange":
		it, err = s.st.ReverseRange(f[1], f[2])
	case "prefix":
		it, err = s.st.PrefixScan(f[1])
	case "all":
		it, err = s.st.All()
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	if err != nil {
		return err
	}
	defer it.Close()
	var kvs []string
	for it.Next() {
		kvs = append(kvs, it.Key()+"="+it.Value())
	}
	s.forward(r, strings.Join(kvs, ","))
	return it.Err()
}

func (s *scanner) forward(r processor.Record[string, string], v string) {
	s.ctx.Forward(processor.Record[string, string]{Key: r.Value, Value: v, Timestamp: r.Timestamp})
}

func scannerTopology(t *testing.T, inMemory bool) *kstreams.Topology {
	t.Helper()
	topo := kstreams.NewTopology()
	kstreams.AddSource(topo, "cmds", kstreams.ConsumedWith(serde.String(), serde.String()), "cmds")
	kstreams.AddProcessor(topo, "scan", func() processor.Processor[string, string, string, string] { return &scanner{} }, "cmds")
	kstreams.AddSink(topo, "results", "results", kstreams.ProducedWith(serde.String(), serde.String()), "scan")
	kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, string]{Name: "kv", Key: serde.String(), Value: serde.String(), InMemory: inMemory}, "scan")
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestProcessorStoreScans(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		t.Run("inMemory="+strconv.FormatBool(inMemory), func(t *testing.T) {
			d := sfDriver(t, scannerTopology(t, inMemory))
			in := kstreamstest.NewInputTopic(d, "cmds", serde.String(), serde.String())
			for _, kv := range []string{"apple 1", "apricot 2", "banana 3", "cherry 4", "avocado 5"} {
				if err := in.Pipe("", "put "+kv); err != nil {
					t.Fatal(err)
				}
			}
			tests := []struct{ cmd, want string }{
				{"all", "apple=1,apricot=2,avocado=5,banana=3,cherry=4"},
				{"range apricot banana", "apricot=2,avocado=5,banana=3"},
				{"range b a", ""},
				{"rrange apricot banana", "banana=3,avocado=5,apricot=2"},
				{"prefix ap", "apple=1,apricot=2"},
				{"prefix z", ""},
				{"get banana", "banana=3/true"},
				{"get kiwi", "kiwi=/false"},
			}
			out := strOut(d, "results")
			for i, tc := range tests {
				if err := in.Pipe("", tc.cmd); err != nil {
					t.Fatal(err)
				}
				sfCheck(t, i, tc.cmd, sfKVs(t, out), []string{tc.cmd + "=" + tc.want})
			}
			if err := in.Pipe("", "del apricot"); err != nil {
				t.Fatal(err)
			}
			if err := in.Pipe("", "prefix ap"); err != nil {
				t.Fatal(err)
			}
			sfCheck(t, len(tests), "after delete", sfKVs(t, out), []string{"prefix ap=apple=1"})
		})
	}
}

// storeGrabber asks for a store in Init and fails with what it got.
type storeGrabber[S any] struct{ store string }

func (g *storeGrabber[S]) Init(ctx processor.Context[string, string]) error {
	_, err := processor.Store[S](ctx, g.store)
	return err
}
func (g *storeGrabber[S]) Process(processor.Record[string, string]) error { return nil }
func (g *storeGrabber[S]) Close() error                                   { return nil }

func TestProcessorStoreAccessErrors(t *testing.T) {
	tests := []struct {
		name    string
		grabber func() processor.Processor[string, string, string, string]
		connect bool
		want    string
	}{
		{
			name: "not connected",
			grabber: func() processor.Processor[string, string, string, string] {
				return &storeGrabber[state.KeyValueStore[string, int64]]{store: "counts"}
			},
			want: `processor "grab" is not connected to state store "counts"`,
		},
		{
			name: "unknown store",
			grabber: func() processor.Processor[string, string, string, string] {
				return &storeGrabber[state.KeyValueStore[string, int64]]{store: "nope"}
			},
			connect: true,
			want:    `not connected to state store "nope"`,
		},
		{
			name: "wrong type",
			grabber: func() processor.Processor[string, string, string, string] {
				return &storeGrabber[state.KeyValueStore[string, string]]{store: "counts"}
			},
			connect: true,
			want:    `state store "counts" is a`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topo := kstreams.NewTopology()
			kstreams.AddSource(topo, "src", kstreams.ConsumedWith(serde.String(), serde.String()), "in")
			kstreams.AddProcessor(topo, "count", func() processor.Processor[string, string, string, int64] {
				return &keyCounter{store: "counts"}
			}, "src")
			kstreams.AddProcessor(topo, "grab", tc.grabber, "src")
			procs := []string{"count"}
			if tc.connect {
				procs = append(procs, "grab")
			}
			kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, int64]{Name: "counts", InMemory: true}, procs...)
			d, err := kstreamstest.New(topo)
			if err == nil {
				d.Close()
				t.Fatal("the driver started")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"grab"`) {
				t.Errorf("error = %v, want it to name processor \"grab\" and say %s", err, tc.want)
			}
		})
	}
}

func TestAddStateStoreProblems(t *testing.T) {
	tests := []struct {
		name  string
		add   func(topo *kstreams.Topology)
		wants []string
	}{
		{
			name: "unknown processor",
			add: func(topo *kstreams.Topology) {
				kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, int64]{Name: "counts"}, "count", "ghost")
			},
			wants: []string{`state store "counts": unknown processor "ghost"`},
		},
		{
			name: "empty name",
			add: func(topo *kstreams.Topology) {
				kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, int64]{}, "count")
			},
			wants: []string{"empty name"},
		},
		{
			name: "declared twice",
			add: func(topo *kstreams.Topology) {
				kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, int64]{Name: "counts"}, "count")
				kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, int64]{Name: "counts"})
			},
			wants: []string{`state store "counts" declared twice`},
		},
		{
			name: "no serde",
			add: func(topo *kstreams.Topology) {
				kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, int64]{Name: "counts"}, "count")
				kstreams.AddStateStore(topo, kstreams.StoreBuilder[string, sfUser]{Name: "users"}, "count")
			},
			wants: []string{`store "users"`, "value serde"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topo := kstreams.NewTopology()
			kstreams.AddSource(topo, "src", kstreams.ConsumedWith(serde.String(), serde.String()), "in")
			kstreams.AddProcessor(topo, "count", func() processor.Processor[string, string, string, int64] {
				return &keyCounter{store: "counts"}
			}, "src")
			tc.add(topo)
			err := topo.Validate()
			if !errors.Is(err, kstreams.ErrInvalidTopology) {
				t.Fatalf("Validate = %v, want a topology error", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// lookup answers each record with the count its value names in the store
// of a DSL table.
type lookup struct {
	ctx    processor.Context[string, string]
	counts state.ReadOnlyTimestampedKeyValueStore[string, int64]
}

func (l *lookup) Init(ctx processor.Context[string, string]) (err error) {
	l.ctx = ctx
	l.counts, err = processor.Store[state.TimestampedKeyValueStore[string, int64]](ctx, "click-counts")
	return err
}

func (l *lookup) Process(r processor.Record[string, string]) error {
	n, ok, err := l.counts.Get(r.Value)
	l.ctx.Forward(processor.Record[string, string]{Key: r.Value, Value: fmt.Sprintf("%d/%v", n.Value, ok), Timestamp: r.Timestamp})
	return err
}

func (l *lookup) Close() error { return nil }

func TestProcessorReadsTableStore(t *testing.T) {
	b := kstreams.NewBuilder()
	clicks := kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.String(), serde.String()))
	clicks.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: "click-counts"})
	asks := kstreams.StreamFrom(b, "asks", kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.ProcessWithStores(asks, func() processor.Processor[string, string, string, string] { return &lookup{} },
		[]string{"click-counts"}).To("answers", kstreams.ProducedWith(serde.String(), serde.String()))
	topo := sfBuild(t, b)
	desc, err := topo.Describe()
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Subtopologies) != 1 {
		t.Errorf("%d sub-topologies, want one: a shared store puts its users in one task", len(desc.Subtopologies))
	}
	d := sfDriver(t, topo, kstreamstest.CacheMaxBytes(1<<20))
	clickIn := kstreamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	askIn := kstreamstest.NewInputTopic(d, "asks", serde.String(), serde.String())
	for _, k := range []string{"a", "a", "b"} {
		if err := clickIn.Pipe(k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := askIn.Pipe("", k); err != nil {
			t.Fatal(err)
		}
	}
	sfCheck(t, 0, "answers", sfKVs(t, strOut(d, "answers")), []string{"a=2/true", "b=1/true", "c=0/false"})
}

// stamper writes each record's value, with the record's timestamp minus
// one, into a timestamped Processor API store.
type stamper struct {
	st state.TimestampedKeyValueStore[string, string]
}

func (p *stamper) Init(ctx processor.Context[string, string]) (err error) {
	p.st, err = processor.Store[state.TimestampedKeyValueStore[string, string]](ctx, "stamped")
	return err
}

func (p *stamper) Process(r processor.Record[string, string]) error {
	return p.st.Put(r.Key, state.ValueAndTimestamp[string]{Value: r.Value, Timestamp: r.Timestamp - 1})
}

func (p *stamper) Close() error { return nil }

func TestTimestampedProcessorStore(t *testing.T) {
	// A Processor API store declared Timestamped: its changelog carries
	// plain values, each stamped with the timestamp stored with it.
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.AddStateStore(b, kstreams.StoreBuilder[string, string]{Name: "stamped", Timestamped: true})
	kstreams.ProcessWithStores(s, func() processor.Processor[string, string, string, string] { return &stamper{} }, []string{"stamped"})
	d := sfDriver(t, sfBuild(t, b))
	if err := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeAt("k", "v", 50); err != nil {
		t.Fatal(err)
	}
	recs, err := kstreamstest.NewOutputTopic(d, "kstreamstest-stamped-changelog", serde.String(), serde.String()).ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Key != "k" || recs[0].Value != "v" || recs[0].Timestamp != 49 {
		t.Errorf("changelog = %+v, want k=v at 49", recs)
	}
	st, err := kstreamstest.Store[state.TimestampedKeyValueStore[string, string]](d, "stamped")
	if err != nil {
		t.Fatal(err)
	}
	if vt, ok, err := st.Get("k"); err != nil || !ok || vt.Value != "v" || vt.Timestamp != 49 {
		t.Errorf("Get(k) = %+v, %v, %v; want v at 49", vt, ok, err)
	}
}

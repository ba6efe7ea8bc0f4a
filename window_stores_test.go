package kstreams_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// windowCounter counts records per key in tumbling windows of 10 ms kept
// in window store "counts", and forwards "start=count" for each update.
type windowCounter struct {
	ctx    processor.Context[string, string]
	counts state.WindowStore[string, int64]
}

func (c *windowCounter) Init(ctx processor.Context[string, string]) (err error) {
	c.ctx = ctx
	c.counts, err = processor.Store[state.WindowStore[string, int64]](ctx, "counts")
	return err
}

func (c *windowCounter) Process(r processor.Record[string, string]) error {
	for _, w := range kstreams.TimeWindowsOfSizeWithNoGrace(10 * time.Millisecond).WindowsFor(r.Timestamp) {
		n, _, err := c.counts.Fetch(r.Key, w.Start)
		if err != nil {
			return err
		}
		if err := c.counts.Put(r.Key, n+1, w.Start); err != nil {
			return err
		}
		c.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: fmt.Sprintf("%d=%d", w.Start, n+1), Timestamp: r.Timestamp})
	}
	return nil
}

func (c *windowCounter) Close() error { return nil }

func TestProcessorWindowStore(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		t.Run(fmt.Sprint("inMemory=", inMemory), func(t *testing.T) {
			b := kstreams.NewBuilder()
			kstreams.AddWindowStore(b, kstreams.WindowStoreBuilder[string, int64]{
				Name: "counts", Retention: time.Minute, WindowSize: 10 * time.Millisecond, InMemory: inMemory,
			})
			s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
			counted := kstreams.ProcessWithStores(s, func() processor.Processor[string, string, string, string] {
				return &windowCounter{}
			}, []string{"counts"})
			counted.To("out", kstreams.ProducedWith(serde.String(), serde.String()))
			d := sfDriver(t, sfBuild(t, b))
			in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for _, r := range []struct {
				key string
				ts  int64
			}{{"a", 1}, {"a", 9}, {"b", 5}, {"a", 10}, {"a", 3}} {
				if err := in.PipeAt(r.key, "x", r.ts); err != nil {
					t.Fatal(err)
				}
			}
			sfCheck(t, 0, "out", sfKVs(t, strOut(d, "out")), []string{"a=0=1", "a=0=2", "b=0=1", "a=10=1", "a=0=3"})
			cl := kstreamstest.NewOutputTopic(d, "kstreamstest-counts-changelog", serde.Bytes(), serde.Int64())
			recs, err := cl.ReadRecords()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%s=%d@%d", hex.EncodeToString(r.Key), r.Value, r.Timestamp))
			}
			// Kafka Streams' windowed changelog keys: key, 8-byte start, 4-byte seqnum.
			sfCheck(t, 0, "changelog", got, []string{
				"61" + "0000000000000000" + "00000000=1@1",
				"61" + "0000000000000000" + "00000000=2@9",
				"62" + "0000000000000000" + "00000000=1@5",
				"61" + "000000000000000a" + "00000000=1@10",
				"61" + "0000000000000000" + "00000000=3@3",
			})
		})
	}
}

// sessionRecorder puts each record into session store "sessions" as a
// session of its own timestamp, and forwards the sessions of its key
// within 5 ms.
type sessionRecorder struct {
	ctx      processor.Context[string, string]
	sessions state.SessionStore[string, string]
}

func (s *sessionRecorder) Init(ctx processor.Context[string, string]) (err error) {
	s.ctx = ctx
	s.sessions, err = processor.Store[state.SessionStore[string, string]](ctx, "sessions")
	return err
}

func (s *sessionRecorder) Process(r processor.Record[string, string]) error {
	w := kstreams.Window{Start: r.Timestamp, End: r.Timestamp}
	if err := s.sessions.Put(kstreams.Windowed[string]{Key: r.Key, Window: w}, r.Value); err != nil {
		return err
	}
	it, err := s.sessions.FindSessions(r.Key, r.Timestamp-5, r.Timestamp+5)
	if err != nil {
		return err
	}
	defer it.Close()
	var found []string
	for it.Next() {
		found = append(found, fmt.Sprintf("%d:%s", it.Key().Window.Start, it.Value()))
	}
	s.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: strings.Join(found, ","), Timestamp: r.Timestamp})
	return it.Err()
}

func (s *sessionRecorder) Close() error { return nil }

func TestProcessorSessionStore(t *testing.T) {
	topo := kstreams.NewTopology()
	kstreams.AddSource(topo, "src", kstreams.ConsumedWith(serde.String(), serde.String()), "in")
	kstreams.AddProcessor(topo, "rec", func() processor.Processor[string, string, string, string] { return &sessionRecorder{} }, "src")
	kstreams.AddSink(topo, "sink", "out", kstreams.ProducedWith(serde.String(), serde.String()), "rec")
	kstreams.AddSessionStore(topo, kstreams.SessionStoreBuilder[string, string]{Name: "sessions", Retention: time.Minute}, "rec")
	d := sfDriver(t, topo)
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, r := range []struct {
		v  string
		ts int64
	}{{"x", 100}, {"y", 103}, {"z", 110}} {
		if err := in.PipeAt("k", r.v, r.ts); err != nil {
			t.Fatal(err)
		}
	}
	sfCheck(t, 0, "out", sfKVs(t, strOut(d, "out")), []string{"k=100:x", "k=100:x,103:y", "k=110:z"})
	if n := kstreamstest.NewOutputTopic(d, "kstreamstest-sessions-changelog", serde.Bytes(), serde.String()).QueueSize(); n != 3 {
		t.Errorf("changelog holds %d records, want 3", n)
	}
}

func TestAddWindowStoreProblems(t *testing.T) {
	tests := []struct {
		name string
		add  func(b *kstreams.Builder)
		want string
	}{
		{"retention below size", func(b *kstreams.Builder) {
			kstreams.AddWindowStore(b, kstreams.WindowStoreBuilder[string, int64]{Name: "w", Retention: time.Second, WindowSize: time.Minute})
		}, `state store "w": state: invalid options: Retention 1s smaller than WindowSize 1m0s plus Grace 0s`},
		{"empty name", func(b *kstreams.Builder) {
			kstreams.AddWindowStore(b, kstreams.WindowStoreBuilder[string, int64]{Retention: time.Second})
		}, "empty name"},
		{"no serde", func(b *kstreams.Builder) {
			kstreams.AddWindowStore(b, kstreams.WindowStoreBuilder[string, chan int]{Name: "w", Retention: time.Second})
		}, `window store "w": missing serde for type chan int (set WindowStoreBuilder.Value)`},
		{"negative session retention", func(b *kstreams.Builder) {
			kstreams.AddSessionStore(b, kstreams.SessionStoreBuilder[string, int64]{Name: "s", Retention: -time.Second})
		}, `state store "s": state: invalid options: Retention -1s negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tt.add(b)
			kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).To("out", kstreams.ProducedWith(serde.String(), serde.String()))
			_, err := b.Build()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want %q", err, tt.want)
			}
		})
	}
}

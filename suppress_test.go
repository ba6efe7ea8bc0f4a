package kstreams_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// TestSuppressBuildProblems checks the suppressions Build refuses.
func TestSuppressBuildProblems(t *testing.T) {
	windowed := func(b *kstreams.Builder) kstreams.Table[kstreams.Windowed[string], int64] {
		in := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
		return kstreams.WindowedBy(in.GroupByKey(), kstreams.TimeWindowsOfSizeWithNoGrace(time.Second)).Count()
	}
	plain := func(b *kstreams.Builder) kstreams.Table[string, string] {
		return kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).ToTable()
	}
	for _, tc := range []struct {
		name  string
		build func(b *kstreams.Builder)
		want  string // "" for no problem
	}{
		{"window closes on a windowed table", func(b *kstreams.Builder) {
			windowed(b).Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer()))
		}, ""},
		{"window closes, bounded, shut down", func(b *kstreams.Builder) {
			windowed(b).Suppress(kstreams.UntilWindowCloses(kstreams.MaxRecords(5).ShutDownWhenFull()))
		}, ""},
		{"window closes on a plain table", func(b *kstreams.Builder) {
			plain(b).Suppress(kstreams.UntilWindowCloses(kstreams.UnboundedBuffer()))
		}, "UntilWindowCloses needs a windowed table"},
		{"window closes emitting early", func(b *kstreams.Builder) {
			windowed(b).Suppress(kstreams.UntilWindowCloses(kstreams.MaxBytes(100)))
		}, "UntilWindowCloses cannot emit early"},
		{"negative buffer limit", func(b *kstreams.Builder) {
			plain(b).Suppress(kstreams.UntilTimeLimit(time.Second, kstreams.MaxRecords(-1)))
		}, "negative buffer limit"},
		{"no value serde", func(b *kstreams.Builder) {
			type point struct{ X, Y int }
			kstreams.MapTableValues(plain(b), func(string) point { return point{} }).
				Suppress(kstreams.UntilTimeLimit(time.Second, kstreams.UnboundedBuffer()))
		}, "the table has no value serde"},
		{"negative time limit", func(b *kstreams.Builder) {
			plain(b).Suppress(kstreams.UntilTimeLimit(-time.Second, kstreams.BufferConfig{}))
		}, "negative time limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tc.build(b)
			_, err := b.Build()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Build: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Build error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// suppressDriver pipes records of keys at timestamps 0, 1, ... into a
// table suppressed by s and returns the input and the output.
func suppressDriver(t *testing.T, s kstreams.Suppressed) (*kstreamstest.InputTopic[string, string], *kstreamstest.OutputTopic[string, string]) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).ToTable().
		Suppress(s, "sup").ToStream().To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := sfDriver(t, topo)
	return kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()), kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
}

// TestSuppressShutDownWhenFull checks the error of a full buffer that
// shuts down, over its record or its byte limit: it names the node, the
// buffer store and the limit, as Kafka Streams' StreamsException does.
func TestSuppressShutDownWhenFull(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer kstreams.BufferConfig
		// want are the fields of the error after the fourth record.
		wantRecords, wantBytes int64
		wantText               string
	}{
		// Rows of one-byte keys and values from topic "in": 32 bytes, and
		// the update of a, 33 (its old value too).
		{"records", kstreams.MaxRecords(2).ShutDownWhenFull(), 3, 32 + 33 + 32, "3 records (max 2)"},
		{"bytes", kstreams.MaxBytes(90).ShutDownWhenFull(), 3, 32 + 33 + 32, "97 bytes (max 90)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := suppressDriver(t, kstreams.UntilTimeLimit(time.Hour, tc.buffer))
			for i, k := range []string{"a", "b", "a"} {
				if err := in.PipeAt(k, "v", int64(i)); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}
			err := in.PipeAt("c", "v", 3)
			var full *kstreams.BufferFullError
			if !errors.Is(err, kstreams.ErrBufferFull) || !errors.As(err, &full) {
				t.Fatalf("error = %v, want a BufferFullError", err)
			}
			if full.Node != "sup" || full.Store != "sup-store" || full.Records != tc.wantRecords || full.Bytes != tc.wantBytes {
				t.Errorf("error = %+v, want node sup, store sup-store, %d records, %d bytes", full, tc.wantRecords, tc.wantBytes)
			}
			for _, want := range []string{`"sup"`, `"sup-store"`, tc.wantText} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error text %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestSuppressMaxBytesEmitsEarly checks that a buffer bounded by bytes
// forwards its oldest rows when over: a row of a one-byte key and value
// from topic "in" counts 32 bytes (8 buffer time, 1 key, 1 value, 20
// record context, 2 topic), as Kafka Streams counts it, and the update of
// a 33 (its old value too), which takes the buffer over 64 at once.
func TestSuppressMaxBytesEmitsEarly(t *testing.T) {
	in, out := suppressDriver(t, kstreams.UntilTimeLimit(time.Hour, kstreams.MaxBytes(64)))
	for i, kv := range [][2]string{{"a", "1"}, {"b", "1"}, {"a", "2"}, {"c", "1"}, {"d", "1"}} {
		if err := in.PipeAt(kv[0], kv[1], int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	want := []kstreams.KeyValue[string, string]{kstreams.KV("a", "2"), kstreams.KV("b", "1")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("forwarded %v, want %v", got, want)
	}
}

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
)

// timestampPipeline passes "in" to "out" unchanged: the output record's
// timestamp is the extracted one.
func timestampPipeline(t *testing.T, opts ...kstreamstest.Option) (*kstreamstest.Driver, *kstreamstest.InputTopic[string, string], *kstreamstest.OutputTopic[string, string]) {
	t.Helper()
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).
		To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String()),
		kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
}

// Each of Kafka Streams' extractors over the same input: records with a
// valid timestamp, then a negative one, then a valid one. Outputs are
// "key@timestamp"; err is the substring of the error that stops the task at
// the negative record (then nothing after it is processed).
func TestTimestampExtractors(t *testing.T) {
	byValue := kstreams.TimestampFromKeyValue(serde.String(), serde.String(),
		func(k, v string, _ int64) (int64, error) { return strconv.ParseInt(v, 10, 64) })
	cases := []struct {
		name      string
		extractor kstreams.TimestampExtractor
		skipBad   bool
		want      []string
		dropped   int64
		skipped   int64
		err       string
	}{
		{name: "default", want: []string{"a@10", "b@30"}, err: `extracting timestamp failed at topic "in" partition 0 offset 2`},
		{name: "fail on invalid", extractor: kstreams.FailOnInvalidTimestamp, want: []string{"a@10", "b@30"}, err: "invalid (negative) timestamp -1"},
		{name: "fail on invalid, skip policy", extractor: kstreams.FailOnInvalidTimestamp, skipBad: true,
			want: []string{"a@10", "b@30", "d@20"}, skipped: 1},
		{name: "log and skip", extractor: kstreams.LogAndSkipOnInvalidTimestamp, want: []string{"a@10", "b@30", "d@20"}, dropped: 1},
		{name: "partition time", extractor: kstreams.UsePartitionTimeOnInvalidTimestamp, want: []string{"a@10", "b@30", "c@30", "d@20"}},
		{name: "from value", extractor: byValue, want: []string{"a@1", "b@2", "c@3", "d@4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kstreamstest.Option{kstreamstest.TimestampExtractor(tc.extractor)}
			if tc.skipBad {
				opts = append(opts, kstreamstest.SkipBadRecords())
			}
			d, in, out := timestampPipeline(t, opts...)
			var err error
			for i, r := range []struct {
				k  string
				ts int64
			}{{"a", 10}, {"b", 30}, {"c", -1}, {"d", 20}} {
				if err = in.PipeAt(r.k, strconv.Itoa(i+1), r.ts); err != nil {
					break
				}
			}
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("pipe: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, kstreams.ErrInvalidTimestamp)):
				t.Fatalf("pipe: %v, want an ErrInvalidTimestamp containing %q", err, tc.err)
			}
			recs, rerr := out.ReadRecords()
			if rerr != nil {
				t.Fatal(rerr)
			}
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%s@%d", r.Key, r.Timestamp))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("outputs %v, want %v", got, tc.want)
			}
			if m := d.Metrics(); m.Dropped != tc.dropped || m.Skipped != tc.skipped {
				t.Errorf("dropped %d skipped %d, want %d and %d", m.Dropped, m.Skipped, tc.dropped, tc.skipped)
			}
		})
	}
}

// UsePartitionTimeOnInvalidTimestamp has nothing to use before the
// partition's first valid timestamp: the record fails, as in Kafka Streams.
func TestUsePartitionTimeWithoutPartitionTime(t *testing.T) {
	_, in, _ := timestampPipeline(t, kstreamstest.TimestampExtractor(kstreams.UsePartitionTimeOnInvalidTimestamp))
	err := in.PipeAt("a", "1", -5)
	if !errors.Is(err, kstreams.ErrInvalidTimestamp) || !strings.Contains(err.Error(), "no valid partition time") {
		t.Fatalf("pipe: %v, want ErrInvalidTimestamp: no valid partition time", err)
	}
}

// The wall-clock extractor stamps records with the time they are read, not
// theirs.
func TestWallclockTimestampExtractor(t *testing.T) {
	_, in, out := timestampPipeline(t, kstreamstest.TimestampExtractor(kstreams.WallclockTimestampExtractor))
	if err := in.PipeAt("a", "1", 5); err != nil {
		t.Fatal(err)
	}
	r, err := out.ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if r.Timestamp < 1_600_000_000_000 {
		t.Errorf("timestamp %d, want the wall clock", r.Timestamp)
	}
}

// A processor sees the task's stream time: the largest timestamp processed,
// which an out-of-order record does not move back.
func TestStreamTimeInProcessor(t *testing.T) {
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.Process(s, func() processor.Processor[string, string, string, string] {
		return &streamTimeProc{}
	}, kstreams.Named("stream-time")).To("out", kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	out := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
	for _, ts := range []int64{10, 30, 20} {
		if err := in.PipeAt("k", "v", ts); err != nil {
			t.Fatal(err)
		}
	}
	kvs, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(kvs); got != "[{k 10} {k 30} {k 30}]" {
		t.Errorf("stream times %s, want 10, 30, 30", got)
	}
}

type streamTimeProc struct {
	ctx processor.Context[string, string]
}

func (p *streamTimeProc) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	return nil
}

func (p *streamTimeProc) Process(r processor.Record[string, string]) error {
	r.Value = strconv.FormatInt(p.ctx.StreamTime(), 10)
	p.ctx.Forward(r)
	return nil
}

func (p *streamTimeProc) Close() error { return nil }

package kstreamstest_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// halver builds in -> MapValues "halve" -> out, failing on odd values.
func halver(t *testing.T) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.Int64()))
	kstreams.MapValues(s, func(v int64) int64 {
		if v%2 != 0 {
			panic(errors.New("odd value"))
		}
		return v / 2
	}, "halve").To("out", kstreams.ProducedWith(serde.String(), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// The driver applies the processing-error options like an App.
func TestProcessingErrorOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  kstreamstest.Option
		dlq  int
	}{
		{name: "skip", opt: kstreamstest.SkipProcessingErrors()},
		{name: "dead letter", opt: kstreamstest.DeadLetterProcessingErrors("dlq"), dlq: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := kstreamstest.New(halver(t), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
			for i, v := range []int64{4, 3, 8} {
				if err := in.PipeAt("k", v, int64(i)); err != nil {
					t.Fatalf("pipe %d: %v", v, err)
				}
			}
			kvs, err := kstreamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadKeyValues()
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, kv := range kvs {
				got = append(got, kv.Value)
			}
			if !slices.Equal(got, []int64{2, 4}) {
				t.Errorf("out %v, want [2 4]", got)
			}
			dl, err := kstreamstest.NewOutputTopic(d, "dlq", serde.String(), serde.Bytes()).ReadRecords()
			if err != nil {
				t.Fatal(err)
			}
			if len(dl) != tt.dlq {
				t.Fatalf("%d dead letters, want %d", len(dl), tt.dlq)
			}
			if tt.dlq == 1 {
				hs := map[string]string{}
				for _, h := range dl[0].Headers {
					hs[h.Key] = string(h.Value)
				}
				if hs[kstreams.HeaderStreamsErrorMessage] != "odd value" || hs[kstreams.HeaderStreamsErrorOffset] != "1" ||
					hs[kstreams.HeaderStreamsErrorException] != "*errors.errorString" {
					t.Errorf("dead letter headers %v", hs)
				}
			}
			if m := d.Metrics(); m.Dropped != 1 {
				t.Errorf("Dropped %d, want 1", m.Dropped)
			}
		})
	}
}

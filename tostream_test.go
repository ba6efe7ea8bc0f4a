package kstreams_test

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// TestToStreamDeleteIsTombstone checks that a table's delete leaves
// ToStream as Kafka Streams' null even when the value type has no nil: the
// sink writes a tombstone, while a real zero value is written as a value,
// and a delete whose zero value is changed on the way is written as that
// value.
func TestToStreamDeleteIsTombstone(t *testing.T) {
	for _, tc := range []struct {
		name string
		// plusOne maps the values between ToStream and the sink.
		plusOne bool
		want    []string // values written to "out" as "<null>" or the long
	}{
		{"sink right after ToStream", false, []string{"5", "0", "<null>", "<null>"}},
		{"value changed on the way", true, []string{"6", "1", "1", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tab := kstreams.TableFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.Int64()))
			s := tab.ToStream()
			if tc.plusOne {
				s = kstreams.MapValues(s, func(v int64) int64 { return v + 1 })
			}
			s.To("out", kstreams.ProducedWith(serde.String(), serde.Int64()))
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			d, err := kstreamstest.New(topo)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			long := func(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
			for i, v := range [][]byte{long(5), long(0), nil, nil} { // set, zero, delete, delete of an absent key
				if err := d.PipeBytes("in", []byte("k"), v, int64(i)); err != nil {
					t.Fatal(err)
				}
			}
			recs, err := kstreamstest.NewOutputTopic(d, "out", serde.Bytes(), serde.Bytes()).ReadRecords()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				switch {
				case r.Value == nil:
					got = append(got, "<null>")
				case len(r.Value) == 8:
					got = append(got, strconv.FormatInt(int64(binary.BigEndian.Uint64(r.Value)), 10))
				default:
					got = append(got, "bad")
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("out: %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("out: %q, want %q", got, tc.want)
					break
				}
			}
		})
	}
}

package kstreams

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/kstreams-go/kstreams/processor"
)

// TestBufferRowLayout checks the changelog layout of buffer rows, Kafka
// Streams' version 3 (BufferValue after ProcessorRecordContext, then the
// buffer time), byte for byte, and that rows decode to what was encoded.
func TestBufferRowLayout(t *testing.T) {
	be := func(n int, v int64) []byte {
		b := make([]byte, n)
		for i := n - 1; i >= 0; i-- {
			b[i] = byte(v)
			v >>= 8
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	context := cat(be(8, 5), be(8, 42), be(4, 2), []byte("in"), be(4, 1), be(4, 2),
		be(4, 1), []byte("h"), be(4, 1), []byte("x"),
		be(4, 1), []byte("n"), be(4, -1))
	headers := []processor.Header{{Key: "h", Value: []byte("x")}, {Key: "n"}}
	for _, tc := range []struct {
		name string
		row  bufferRow
		want []byte
		size int64
	}{
		{"first update", bufferRow{timestamp: 5, offset: 42, topic: "in", partition: 1, headers: headers,
			prior: []byte("o"), old: []byte("o"), new: []byte("nn"), oldIsPrior: true, time: 1000},
			cat(context, be(4, 1), []byte("o"), be(4, -2), be(4, 2), []byte("nn"), be(8, 1000)),
			// time 8, key 3, prior 1, new 2, context 20 + topic 2 + headers 3
			8 + 3 + 1 + 2 + 20 + 2 + 3},
		{"later update", bufferRow{timestamp: 5, offset: 42, topic: "in", partition: 1, headers: headers,
			prior: nil, old: []byte("o"), new: nil, time: 1000},
			cat(context, be(4, -1), be(4, 1), []byte("o"), be(4, -1), be(8, 1000)),
			8 + 3 + 1 + 20 + 2 + 3},
		{"equal old and prior counted twice", bufferRow{timestamp: 5, offset: 42, topic: "in", partition: 1, headers: headers,
			prior: []byte("o"), old: []byte("o"), new: []byte("nn"), time: 1000},
			cat(context, be(4, 1), []byte("o"), be(4, -2), be(4, 2), []byte("nn"), be(8, 1000)),
			8 + 3 + 1 + 1 + 2 + 20 + 2 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.row.encode(nil)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("encoded\n%x\nwant\n%x", got, tc.want)
			}
			if s := tc.row.size([]byte("key")); s != tc.size {
				t.Errorf("size = %d, want %d", s, tc.size)
			}
			back, err := decodeRow(got)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.row
			if bytes.Equal(want.old, want.prior) && want.old != nil {
				// Restored, an old value equal to the prior one is the
				// prior one, counted once, as in Kafka Streams.
				want.oldIsPrior = true
			}
			if !reflect.DeepEqual(*back, want) {
				t.Errorf("decoded %+v, want %+v", *back, want)
			}
		})
	}
}

// TestBufferRowMalformed checks that truncated or padded rows are errors.
func TestBufferRowMalformed(t *testing.T) {
	good := (&bufferRow{topic: "t", new: []byte("v"), time: 7}).encode(nil)
	for _, b := range [][]byte{nil, good[:10], good[:len(good)-1], append(append([]byte{}, good...), 0)} {
		if _, err := decodeRow(b); !errors.Is(err, errCorruptRow) {
			t.Errorf("decodeRow(%x) error = %v, want errCorruptRow", b, err)
		}
	}
	huge := append([]byte{}, good...)
	copy(huge[16:20], []byte{0x7f, 0xff, 0xff, 0xff}) // topic length
	if _, err := decodeRow(huge); !errors.Is(err, errCorruptRow) {
		t.Errorf("a row with a topic length past its end: error = %v, want errCorruptRow", err)
	}
}

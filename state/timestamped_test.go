package state_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

func TestTimestampedSerde(t *testing.T) {
	s := state.TimestampedSerde(serde.JSON[*string]())
	v := "v"
	tests := []struct {
		name string
		in   state.ValueAndTimestamp[*string]
		want []byte
	}{
		{"value", state.ValueAndTimestamp[*string]{Value: &v, Timestamp: 258}, append([]byte{0, 0, 0, 0, 0, 0, 1, 2}, `"v"`...)},
		{"negative timestamp", state.ValueAndTimestamp[*string]{Value: &v, Timestamp: -1}, append(bytes.Repeat([]byte{0xff}, 8), `"v"`...)},
		// a null value is a tombstone, whatever its timestamp
		{"null", state.ValueAndTimestamp[*string]{Timestamp: 5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := s.Serialize("t", tt.in)
			if err != nil || !bytes.Equal(b, tt.want) || (b == nil) != (tt.want == nil) {
				t.Fatalf("Serialize = %q, %v; want %q", b, err, tt.want)
			}
			back, err := s.Deserialize("t", b)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && (back.Timestamp != tt.in.Timestamp || *back.Value != *tt.in.Value) {
				t.Errorf("round trip = %+v, want %+v", back, tt.in)
			}
			if tt.want == nil && (back.Value != nil || back.Timestamp != 0) {
				t.Errorf("Deserialize(nil) = %+v, want the zero value", back)
			}
		})
	}
	if _, err := s.Deserialize("t", []byte{1, 2, 3}); !errors.Is(err, serde.ErrSize) {
		t.Errorf("Deserialize(3 bytes) = %v, want serde.ErrSize", err)
	}
}

func TestTimestampedKeyValueStore(t *testing.T) {
	bs := state.NewMemoryStore("s")
	s := state.NewTimestampedKeyValueStore(bs, serde.String(), serde.Int64())
	if err := s.Put("a", state.ValueAndTimestamp[int64]{Value: 3, Timestamp: 7}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get("a")
	if err != nil || !ok || got.Value != 3 || got.Timestamp != 7 {
		t.Errorf("Get(a) = %+v, %v, %v; want 3@7", got, ok, err)
	}
	raw, _ := bs.Get([]byte("a"))
	if want := []byte{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 3}; !bytes.Equal(raw, want) {
		t.Errorf("bytes = %v, want the timestamp then the value, big-endian: %v", raw, want)
	}
}

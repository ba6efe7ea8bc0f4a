package serde

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// unhex decodes hex written with spaces between groups.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The golden bytes follow Kafka Streams' WindowKeySchema.toBinary (key bytes,
// then the 8-byte big-endian start) and SessionKeySchema.toBinary (key
// bytes, then the 8-byte end, then the 8-byte start).
func TestTimeWindowedGolden(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		start int64
		size  time.Duration
		bytes string
		end   int64
	}{
		{"one byte key", "a", 1000, time.Second, "61 00000000000003e8", 2000},
		{"empty key", "", 0, time.Millisecond, "0000000000000000", 1},
		{"epoch ms", "user-1", 1_700_000_000_000, 5 * time.Minute, "757365722d31 0000018bcfe56800", 1_700_000_300_000},
		{"end capped", "k", math.MaxInt64 - 10, time.Hour, "6b 7ffffffffffffff5", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := TimeWindowed(String(), tt.size)
			got, err := s.Serialize("t", Windowed[string]{Key: tt.key, Window: Window{Start: tt.start, End: tt.end}})
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.bytes); !bytes.Equal(got, want) {
				t.Fatalf("Serialize = % x, want % x", got, want)
			}
			w, err := s.Deserialize("t", got)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Windowed[string]{Key: tt.key, Window: Window{Start: tt.start, End: tt.end}}); w != want {
				t.Fatalf("Deserialize = %+v, want %+v", w, want)
			}
		})
	}
}

func TestSessionWindowedGolden(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		start, end int64
		bytes      string
	}{
		{"one byte key", "a", 5, 10, "61 000000000000000a 0000000000000005"},
		{"single record session", "key", 1000, 1000, "6b6579 00000000000003e8 00000000000003e8"},
		{"empty key", "", 0, 1, "0000000000000001 0000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SessionWindowed(String())
			in := Windowed[string]{Key: tt.key, Window: Window{Start: tt.start, End: tt.end}}
			got, err := s.Serialize("t", in)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.bytes); !bytes.Equal(got, want) {
				t.Fatalf("Serialize = % x, want % x", got, want)
			}
			w, err := s.Deserialize("t", got)
			if err != nil || w != in {
				t.Fatalf("Deserialize = %+v, %v; want %+v", w, err, in)
			}
		})
	}
}

func TestWindowedRoundTripInt64Key(t *testing.T) {
	tw := TimeWindowed(Int64(), 10*time.Second)
	in := Windowed[int64]{Key: -7, Window: Window{Start: 20_000, End: 30_000}}
	b, err := tw.Serialize("t", in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 16 {
		t.Fatalf("len = %d, want 16", len(b))
	}
	if out, err := tw.Deserialize("t", b); err != nil || out != in {
		t.Fatalf("time round trip = %+v, %v; want %+v", out, err, in)
	}
	sw := SessionWindowed(Int64())
	in.Window = Window{Start: 3, End: 99}
	b, err = sw.Serialize("t", in)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := sw.Deserialize("t", b); err != nil || out != in {
		t.Fatalf("session round trip = %+v, %v; want %+v", out, err, in)
	}
}

func TestWindowedNull(t *testing.T) {
	for _, data := range [][]byte{nil, {}} {
		if w, err := TimeWindowed(String(), time.Second).Deserialize("t", data); err != nil || w != (Windowed[string]{}) {
			t.Errorf("time Deserialize(%v) = %+v, %v", data, w, err)
		}
		if w, err := SessionWindowed(String()).Deserialize("t", data); err != nil || w != (Windowed[string]{}) {
			t.Errorf("session Deserialize(%v) = %+v, %v", data, w, err)
		}
	}
}

func TestWindowedErrors(t *testing.T) {
	tw := TimeWindowed(String(), time.Second)
	sw := SessionWindowed(String())
	decode := []struct {
		name string
		s    Serde[Windowed[string]]
		data string
	}{
		{"time too short", tw, "00000001"},
		{"time negative start", tw, "61 ffffffffffffffff"},
		{"time zero size", TimeWindowed(String(), 0), "61 0000000000000001"},
		{"time sub-millisecond size", TimeWindowed(String(), time.Microsecond), "61 0000000000000001"},
		{"session too short", sw, "0000000000000001 00000000"},
		{"session end before start", sw, "61 0000000000000001 0000000000000002"},
		{"session negative start", sw, "61 0000000000000001 ffffffffffffffff"},
	}
	for _, tt := range decode {
		_, err := tt.s.Deserialize("t", unhex(t, tt.data))
		var de *DecodeError
		if !errors.Is(err, ErrWindow) || !errors.As(err, &de) {
			t.Errorf("%s: err = %v; want a *DecodeError wrapping ErrWindow", tt.name, err)
		}
	}
	encode := []struct {
		name string
		s    Serde[Windowed[string]]
		w    Window
	}{
		{"time negative start", tw, Window{Start: -1, End: 5}},
		{"session negative start", sw, Window{Start: -1, End: 5}},
		{"session end before start", sw, Window{Start: 6, End: 5}},
	}
	for _, tt := range encode {
		if _, err := tt.s.Serialize("t", Windowed[string]{Key: "k", Window: tt.w}); !errors.Is(err, ErrWindow) {
			t.Errorf("%s: err = %v; want ErrWindow", tt.name, err)
		}
	}
	if _, err := TimeWindowed(Bytes(), time.Second).Serialize("t", Windowed[[]byte]{}); err == nil {
		t.Error("time-windowed null key: no error")
	}
	if _, err := TimeWindowed(Int32(), time.Second).Deserialize("t", unhex(t, "0102 0000000000000001")); !errors.Is(err, ErrSize) {
		t.Errorf("inner key error = %v; want ErrSize", err)
	}
}

// fuzzWindowed checks that a windowed decoder never panics, fails only with
// a *DecodeError, and round-trips what it decodes.
func fuzzWindowed(f *testing.F, s Serde[Windowed[[]byte]]) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0}, 16))
	f.Add(bytes.Repeat([]byte{0x7f}, 20))
	f.Add(bytes.Repeat([]byte{0xff}, 17))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := s.Deserialize("t", data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Len != len(data) {
				t.Fatalf("Deserialize(% x) error = %#v; want *DecodeError", data, err)
			}
			_ = err.Error()
			return
		}
		if len(data) == 0 {
			return
		}
		b, err := s.Serialize("t", w)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("round trip % x -> % x, %v", data, b, err)
		}
	})
}

func FuzzTimeWindowed(f *testing.F) { fuzzWindowed(f, TimeWindowed(Bytes(), time.Minute)) }

func FuzzSessionWindowed(f *testing.F) { fuzzWindowed(f, SessionWindowed(Bytes())) }

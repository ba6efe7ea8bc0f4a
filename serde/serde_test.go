package serde

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	s := String()
	for _, tc := range []struct {
		name string
		in   string
		want []byte
	}{
		{"empty", "", []byte{}},
		{"ascii", "hello", []byte("hello")},
		{"utf8", "héllo, 世界", []byte("héllo, 世界")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := s.Serialize("t", tc.in)
			if err != nil || b == nil || !bytes.Equal(b, tc.want) {
				t.Fatalf("Serialize(%q) = %q (nil=%v), %v; want %q non-nil", tc.in, b, b == nil, err, tc.want)
			}
			got, err := s.Deserialize("t", b)
			if err != nil || got != tc.in {
				t.Fatalf("Deserialize(%q) = %q, %v; want %q", b, got, err, tc.in)
			}
		})
	}
	got, err := s.Deserialize("t", nil)
	if err != nil || got != "" {
		t.Fatalf("Deserialize(nil) = %q, %v; want \"\", nil", got, err)
	}
}

func TestStringDeserializeCopies(t *testing.T) {
	b := []byte("abc")
	got, _ := String().Deserialize("t", b)
	b[0] = 'x'
	if got != "abc" {
		t.Fatalf("Deserialize result changed with its input: %q", got)
	}
}

func TestBytes(t *testing.T) {
	s := Bytes()
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"data", []byte{0, 1, 2, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := s.Serialize("t", tc.in)
			if err != nil || !bytes.Equal(b, tc.in) || (b == nil) != (tc.in == nil) {
				t.Fatalf("Serialize(%v) = %v, %v", tc.in, b, err)
			}
			got, err := s.Deserialize("t", b)
			if err != nil || !bytes.Equal(got, tc.in) || (got == nil) != (tc.in == nil) {
				t.Fatalf("Deserialize(%v) = %v, %v", b, got, err)
			}
		})
	}
}

func TestInt32(t *testing.T) {
	testFixed(t, Int32(), []fixedCase[int32]{
		{"zero", 0, []byte{0, 0, 0, 0}},
		{"one", 1, []byte{0, 0, 0, 1}},
		{"minus one", -1, []byte{0xff, 0xff, 0xff, 0xff}},
		{"max", math.MaxInt32, []byte{0x7f, 0xff, 0xff, 0xff}},
		{"min", math.MinInt32, []byte{0x80, 0, 0, 0}},
		{"java 258", 258, []byte{0, 0, 1, 2}},
	})
}

func TestInt64(t *testing.T) {
	testFixed(t, Int64(), []fixedCase[int64]{
		{"zero", 0, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{"one", 1, []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{"minus one", -1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"max", math.MaxInt64, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"min", math.MinInt64, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"java 1<<32", 1 << 32, []byte{0, 0, 0, 1, 0, 0, 0, 0}},
	})
}

func TestFloat64(t *testing.T) {
	testFixed(t, Float64(), []fixedCase[float64]{
		{"zero", 0, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{"negative zero", math.Copysign(0, -1), []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"one", 1, []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"minus 2.5", -2.5, []byte{0xc0, 0x04, 0, 0, 0, 0, 0, 0}},
		{"+inf", math.Inf(1), []byte{0x7f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"-inf", math.Inf(-1), []byte{0xff, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"max", math.MaxFloat64, []byte{0x7f, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	})
}

func TestFloat64NaN(t *testing.T) {
	s := Float64()
	for _, nan := range []float64{math.NaN(), math.Float64frombits(0x7ff0000000000001), math.Float64frombits(0xfff8000000000123)} {
		b, err := s.Serialize("t", nan)
		want := []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 0}
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("Serialize(NaN %#x) = % x, %v; want canonical % x", math.Float64bits(nan), b, err, want)
		}
		got, err := s.Deserialize("t", b)
		if err != nil || !math.IsNaN(got) {
			t.Fatalf("Deserialize(% x) = %v, %v; want NaN", b, got, err)
		}
	}
}

type fixedCase[T comparable] struct {
	name string
	v    T
	b    []byte
}

// testFixed checks a fixed-size serde: encodings, round trips, nil and wrong sizes.
func testFixed[T comparable](t *testing.T, s Serde[T], cases []fixedCase[T]) {
	t.Helper()
	size := len(cases[0].b)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := s.Serialize("t", tc.v)
			if err != nil || !bytes.Equal(b, tc.b) {
				t.Fatalf("Serialize(%v) = % x, %v; want % x", tc.v, b, err, tc.b)
			}
			got, err := s.Deserialize("t", tc.b)
			if err != nil || got != tc.v {
				t.Fatalf("Deserialize(% x) = %v, %v; want %v", tc.b, got, err, tc.v)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		var zero T
		got, err := s.Deserialize("t", nil)
		if err != nil || got != zero {
			t.Fatalf("Deserialize(nil) = %v, %v; want %v, nil", got, err, zero)
		}
	})
	for _, n := range []int{0, 1, size - 1, size + 1, 100} {
		data := make([]byte, n)
		got, err := s.Deserialize("my-topic", data)
		if !errors.Is(err, ErrSize) {
			t.Fatalf("Deserialize(%d bytes) error = %v; want ErrSize", n, err)
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Len != n || de.Want != size || de.Topic != "my-topic" {
			t.Fatalf("Deserialize(%d bytes) error = %#v; want *DecodeError with Len %d, Want %d", n, err, n, size)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "serde: "+de.Serde+`: topic "my-topic": wrong size: got `) {
			t.Fatalf("error message %q", msg)
		}
		var zero T
		if got != zero {
			t.Fatalf("Deserialize(%d bytes) value = %v; want zero", n, got)
		}
	}
}

type record struct {
	Name  string            `json:"name"`
	Count int64             `json:"count"`
	Score float64           `json:"score,omitempty"`
	Tags  []string          `json:"tags,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Next  *record           `json:"next,omitempty"`
	Extra any               `json:"extra,omitempty"`
}

func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    record
		want string
	}{
		{"zero", record{}, `{"name":"","count":0}`},
		{"full", record{
			Name: "a", Count: 3, Score: 1.5, Tags: []string{"x"},
			Attrs: map[string]string{"k": "v"}, Next: &record{Name: "b"}, Extra: true,
		}, `{"name":"a","count":3,"score":1.5,"tags":["x"],"attrs":{"k":"v"},"next":{"name":"b","count":0},"extra":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := JSON[record]()
			b, err := s.Serialize("t", tc.v)
			if err != nil || string(b) != tc.want {
				t.Fatalf("Serialize = %s, %v; want %s", b, err, tc.want)
			}
			got, err := s.Deserialize("t", b)
			if err != nil || !reflect.DeepEqual(got, tc.v) {
				t.Fatalf("Deserialize(%s) = %+v, %v; want %+v", b, got, err, tc.v)
			}
		})
	}
}

func TestJSONNil(t *testing.T) {
	var nilIface error
	for _, tc := range []struct {
		name string
		ser  func() ([]byte, error)
	}{
		{"nil pointer", func() ([]byte, error) { return JSON[*record]().Serialize("t", nil) }},
		{"nil map", func() ([]byte, error) { return JSON[map[string]int]().Serialize("t", nil) }},
		{"nil slice", func() ([]byte, error) { return JSON[[]int]().Serialize("t", nil) }},
		{"nil any", func() ([]byte, error) { return JSON[any]().Serialize("t", nil) }},
		{"any holding nil pointer", func() ([]byte, error) { return JSON[any]().Serialize("t", (*record)(nil)) }},
		{"nil error interface", func() ([]byte, error) { return JSON[error]().Serialize("t", nilIface) }},
		{"raw null", func() ([]byte, error) { return JSON[json.RawMessage]().Serialize("t", json.RawMessage("null")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.ser()
			if err != nil || b != nil {
				t.Fatalf("Serialize = %q (nil=%v), %v; want nil, nil", b, b == nil, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		de   func() (any, error)
		want any
	}{
		{"struct", func() (any, error) { return JSON[record]().Deserialize("t", nil) }, record{}},
		{"pointer", func() (any, error) { return JSON[*record]().Deserialize("t", nil) }, (*record)(nil)},
		{"map", func() (any, error) { return JSON[map[string]int]().Deserialize("t", nil) }, map[string]int(nil)},
		{"int", func() (any, error) { return JSON[int]().Deserialize("t", nil) }, 0},
	} {
		t.Run("deserialize "+tc.name, func(t *testing.T) {
			got, err := tc.de()
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Deserialize(nil) = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
	// Empty but non-nil values are not nulls.
	b, err := JSON[[]int]().Serialize("t", []int{})
	if err != nil || string(b) != "[]" {
		t.Fatalf("Serialize([]int{}) = %q, %v; want []", b, err)
	}
}

func TestJSONErrors(t *testing.T) {
	s := JSON[record]()
	for _, tc := range []struct {
		name    string
		data    string
		wantAs  func(error) bool
		wantMsg string
	}{
		{"empty", "", nil, `serde: json: topic "t\n": 0 bytes: unexpected end of JSON input`},
		{"syntax", "{x", func(err error) bool { var e *json.SyntaxError; return errors.As(err, &e) },
			`serde: json: topic "t\n": 2 bytes: invalid character 'x' looking for beginning of object key string`},
		{"type", `{"count":"x"}`, func(err error) bool { var e *json.UnmarshalTypeError; return errors.As(err, &e) },
			`serde: json: topic "t\n": 13 bytes: json: cannot unmarshal string into Go struct field record.count of type int64`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Deserialize("t\n", []byte(tc.data))
			var de *DecodeError
			if !errors.As(err, &de) || de.Serde != "json" || de.Len != len(tc.data) {
				t.Fatalf("Deserialize(%q) error = %#v; want *DecodeError", tc.data, err)
			}
			if tc.wantAs != nil && !tc.wantAs(err) {
				t.Fatalf("errors.As failed on %v", err)
			}
			if err.Error() != tc.wantMsg {
				t.Fatalf("message\n got %s\nwant %s", err, tc.wantMsg)
			}
			if !reflect.DeepEqual(got, record{}) {
				t.Fatalf("value on error = %+v; want zero", got)
			}
		})
	}

	_, err := JSON[any]().Serialize("t", func() {})
	var ue *json.UnsupportedTypeError
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), `serde: json: topic "t": `) {
		t.Fatalf("Serialize(func) error = %v; want wrapped *json.UnsupportedTypeError", err)
	}
	_, err = JSON[float64]().Serialize("t", math.NaN())
	var ve *json.UnsupportedValueError
	if !errors.As(err, &ve) {
		t.Fatalf("Serialize(NaN) error = %v; want wrapped *json.UnsupportedValueError", err)
	}
}

func TestFunc(t *testing.T) {
	errBoom := errors.New("boom")
	s := Func(
		func(topic string, v int) ([]byte, error) {
			if v < 0 {
				return nil, errBoom
			}
			return []byte(topic + ":" + strings.Repeat("x", v)), nil
		},
		func(_ string, data []byte) (int, error) { return len(data), nil },
	)
	b, err := s.Serialize("t", 3)
	if err != nil || string(b) != "t:xxx" {
		t.Fatalf("Serialize = %q, %v", b, err)
	}
	if _, err := s.Serialize("t", -1); err != errBoom {
		t.Fatalf("Serialize error = %v; want the function's error unchanged", err)
	}
	if n, err := s.Deserialize("t", b); err != nil || n != 5 {
		t.Fatalf("Deserialize = %d, %v", n, err)
	}

	readOnly := Func[int](nil, nil)
	if _, err := readOnly.Serialize("t", 1); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("nil ser: error = %v; want ErrUnsupported", err)
	}
	if _, err := readOnly.Deserialize("t", nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("nil de: error = %v; want ErrUnsupported", err)
	}
}

func TestDefault(t *testing.T) {
	type userID string
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"string", Default[string](), String()},
		{"bytes", Default[[]byte](), Bytes()},
		{"int32", Default[int32](), Int32()},
		{"int64", Default[int64](), Int64()},
		{"float64", Default[float64](), Float64()},
	} {
		if tc.got != tc.want {
			t.Errorf("Default[%s]() = %T; want %T", tc.name, tc.got, tc.want)
		}
	}
	for name, got := range map[string]bool{
		"int":     Default[int]() == nil,
		"uint32":  Default[uint32]() == nil,
		"userID":  Default[userID]() == nil,
		"*string": Default[*string]() == nil,
		"record":  Default[record]() == nil,
		"any":     Default[any]() == nil,
	} {
		if !got {
			t.Errorf("Default[%s]() != nil; want nil", name)
		}
	}
}

func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("alloc counts")
	}
	str, i32, i64, f64 := String(), Int32(), Int64(), Float64()
	b4, b8, sb := []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte("hello, world")
	for _, tc := range []struct {
		name string
		fn   func()
		want float64
	}{
		{"string serialize", func() { sinkBytes, _ = str.Serialize("t", "hello, world") }, 1},
		{"string deserialize", func() { sinkString, _ = str.Deserialize("t", sb) }, 1},
		{"string deserialize nil", func() { sinkString, _ = str.Deserialize("t", nil) }, 0},
		{"int32 serialize", func() { sinkBytes, _ = i32.Serialize("t", 7) }, 1},
		{"int32 deserialize", func() { sinkInt32, _ = i32.Deserialize("t", b4) }, 0},
		{"int64 serialize", func() { sinkBytes, _ = i64.Serialize("t", 7) }, 1},
		{"int64 deserialize", func() { sinkInt64, _ = i64.Deserialize("t", b8) }, 0},
		{"float64 serialize", func() { sinkBytes, _ = f64.Serialize("t", 7) }, 1},
		{"float64 deserialize", func() { sinkFloat64, _ = f64.Deserialize("t", b8) }, 0},
	} {
		if got := testing.AllocsPerRun(100, tc.fn); got > tc.want {
			t.Errorf("%s: %v allocs; want at most %v", tc.name, got, tc.want)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte{0xff, 0xfe})
	s := String()
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := s.Deserialize("t", data)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Serialize("t", v)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("round trip % x -> % x, %v", data, b, err)
		}
	})
}

// fuzzFixed checks that a fixed-size decoder never panics, fails exactly on a
// wrong non-nil length, and round-trips what it decodes.
func fuzzFixed[T any](f *testing.F, s Serde[T], size int, same func(a, b []byte) bool) {
	f.Add(make([]byte, size))
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0xff}, size))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := s.Deserialize("t", data)
		if len(data) != size {
			if !errors.Is(err, ErrSize) {
				t.Fatalf("Deserialize(%d bytes) error = %v; want ErrSize", len(data), err)
			}
			_ = err.Error()
			return
		}
		if err != nil {
			t.Fatalf("Deserialize(% x): %v", data, err)
		}
		b, err := s.Serialize("t", v)
		if err != nil || !same(b, data) {
			t.Fatalf("round trip % x -> % x, %v", data, b, err)
		}
	})
}

func FuzzInt32(f *testing.F) { fuzzFixed(f, Int32(), 4, bytes.Equal) }

func FuzzInt64(f *testing.F) { fuzzFixed(f, Int64(), 8, bytes.Equal) }

func FuzzFloat64(f *testing.F) {
	f.Add([]byte{0x7f, 0xf0, 0, 0, 0, 0, 0, 1}) // a non-canonical NaN
	fuzzFixed(f, Float64(), 8, func(a, b []byte) bool {
		if bytes.Equal(a, b) {
			return true
		}
		x, _ := Float64().Deserialize("t", a)
		y, _ := Float64().Deserialize("t", b)
		return math.IsNaN(x) && math.IsNaN(y)
	})
}

func FuzzJSON(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `1e400`, `"\ud800"`, `{"name":"a","count":1,"tags":["x"],"next":{"name":"b"}}`,
		`{"extra":{"a":[1,2.5,"s",null,true]}}`, `{"count":1.5}`, `{"Name":"x","name":"y"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzJSONRoundTrip[record](t, data)
		fuzzJSONRoundTrip[*record](t, data)
		fuzzJSONRoundTrip[any](t, data)
		fuzzJSONRoundTrip[map[string]any](t, data)
	})
}

// fuzzJSONRoundTrip checks that JSON[T] either rejects data with a
// *DecodeError or decodes it to a value whose encoding is stable.
func fuzzJSONRoundTrip[T any](t *testing.T, data []byte) {
	t.Helper()
	s := JSON[T]()
	v, err := s.Deserialize("t", data)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || de.Len != len(data) {
			t.Fatalf("Deserialize(%q) error = %#v; want *DecodeError", data, err)
		}
		_ = err.Error()
		return
	}
	b, err := s.Serialize("t", v)
	if err != nil {
		t.Fatalf("Serialize(%#v) from %q: %v", v, data, err)
	}
	// Values may differ (omitempty turns an empty slice into nil), so compare
	// encodings: once decoded, a value must encode the same way every time.
	v2, err := s.Deserialize("t", b)
	if err != nil {
		t.Fatalf("Deserialize(%q), encoded from %q: %v", b, data, err)
	}
	b2, err := s.Serialize("t", v2)
	if err != nil || !bytes.Equal(b, b2) || (b == nil) != (b2 == nil) {
		t.Fatalf("round trip %q -> %q -> %q, %v", data, b, b2, err)
	}
}

// Benchmark sinks keep results alive, as a caller's would be.
var (
	sinkBytes   []byte
	sinkString  string
	sinkInt32   int32
	sinkInt64   int64
	sinkFloat64 float64
	sinkRecord  record
)

func BenchmarkString(b *testing.B) {
	s := String()
	v := strings.Repeat("x", 64)
	data := []byte(v)
	b.Run("Serialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBytes, _ = s.Serialize("t", v)
		}
	})
	b.Run("Deserialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkString, _ = s.Deserialize("t", data)
		}
	})
}

func BenchmarkInt64(b *testing.B) {
	s := Int64()
	data := []byte{0, 0, 0, 0, 0, 0, 1, 2}
	b.Run("Serialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBytes, _ = s.Serialize("t", 258)
		}
	})
	b.Run("Deserialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkInt64, _ = s.Deserialize("t", data)
		}
	})
}

func BenchmarkInt32(b *testing.B) {
	s := Int32()
	data := []byte{0, 0, 1, 2}
	b.Run("Serialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBytes, _ = s.Serialize("t", 258)
		}
	})
	b.Run("Deserialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkInt32, _ = s.Deserialize("t", data)
		}
	})
}

func BenchmarkJSON(b *testing.B) {
	s := JSON[record]()
	v := record{Name: "user-1", Count: 42, Tags: []string{"a", "b"}}
	data, _ := s.Serialize("t", v)
	b.Run("Serialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBytes, _ = s.Serialize("t", v)
		}
	})
	b.Run("Deserialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkRecord, _ = s.Deserialize("t", data)
		}
	})
}

package serde

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// Serde turns values of T into bytes and back. Topic is the topic the bytes
// are written to or read from.
//
// A nil byte slice is Kafka's null. Deserialize(topic, nil) must not fail: it
// returns the zero value of T (or nil). A Serialize that returns nil bytes
// writes a Kafka null: a tombstone when used for a value, a null key when
// used for a key.
type Serde[T any] interface {
	Serialize(topic string, v T) ([]byte, error)
	Deserialize(topic string, data []byte) (T, error)
}

// ErrSize is the cause of a [DecodeError] when a fixed-size serde (Int32,
// Int64, Float64) is given a non-nil slice of the wrong length. Use errors.Is.
var ErrSize = errors.New("serde: wrong size")

// DecodeError reports bytes that a serde could not deserialize. Its Err is
// [ErrSize] for a fixed-size serde given the wrong length, or the decoder's
// own error (for example a *json.SyntaxError); errors.Is and errors.As see
// through it.
type DecodeError struct {
	Serde string // serde name: "int32", "int64", "float64", "json"
	Topic string // topic the bytes were read from
	Len   int    // length of the bytes given
	Want  int    // length the serde needs; 0 when any length is allowed
	Err   error  // cause
}

// Error implements error.
func (e *DecodeError) Error() string {
	if e.Err == ErrSize {
		return fmt.Sprintf("serde: %s: topic %q: wrong size: got %d bytes, want %d",
			e.Serde, e.Topic, e.Len, e.Want)
	}
	return fmt.Sprintf("serde: %s: topic %q: %d bytes: %v", e.Serde, e.Topic, e.Len, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// sizeError returns the error for n bytes given to a serde that needs want.
func sizeError(name, topic string, n, want int) error {
	return &DecodeError{Serde: name, Topic: topic, Len: n, Want: want, Err: ErrSize}
}

// String returns the serde for UTF-8 strings, like Java's StringSerializer.
// Serialize("") returns an empty, non-nil slice (not a Kafka null);
// Deserialize(nil) returns "". Bytes are not checked for valid UTF-8.
func String() Serde[string] { return stringSerde{} }

type stringSerde struct{}

func (stringSerde) Serialize(_ string, v string) ([]byte, error) {
	if v == "" {
		return []byte{}, nil
	}
	return []byte(v), nil
}

func (stringSerde) Deserialize(_ string, data []byte) (string, error) {
	return string(data), nil
}

// Bytes returns the identity serde, like Java's ByteArraySerializer. Neither
// direction copies: Serialize returns v and Deserialize returns data, so nil
// stays nil (a Kafka null).
func Bytes() Serde[[]byte] { return bytesSerde{} }

type bytesSerde struct{}

func (bytesSerde) Serialize(_ string, v []byte) ([]byte, error) { return v, nil }

func (bytesSerde) Deserialize(_ string, data []byte) ([]byte, error) { return data, nil }

// Int32 returns the serde for int32 as 4 big-endian bytes, like Java's
// IntegerSerializer. Deserialize(nil) returns 0; any other length than 4 is a
// [*DecodeError] wrapping [ErrSize].
func Int32() Serde[int32] { return int32Serde{} }

type int32Serde struct{}

func (int32Serde) Serialize(_ string, v int32) ([]byte, error) {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(v))
	return b, nil
}

func (int32Serde) Deserialize(topic string, data []byte) (int32, error) {
	if data == nil {
		return 0, nil
	}
	if len(data) != 4 {
		return 0, sizeError("int32", topic, len(data), 4)
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}

// Int64 returns the serde for int64 as 8 big-endian bytes, like Java's
// LongSerializer. Deserialize(nil) returns 0; any other length than 8 is a
// [*DecodeError] wrapping [ErrSize].
func Int64() Serde[int64] { return int64Serde{} }

type int64Serde struct{}

func (int64Serde) Serialize(_ string, v int64) ([]byte, error) {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return b, nil
}

func (int64Serde) Deserialize(topic string, data []byte) (int64, error) {
	if data == nil {
		return 0, nil
	}
	if len(data) != 8 {
		return 0, sizeError("int64", topic, len(data), 8)
	}
	return int64(binary.BigEndian.Uint64(data)), nil
}

// canonicalNaN is the bit pattern Java's Double.doubleToLongBits gives every NaN.
const canonicalNaN = 0x7ff8000000000000

// Float64 returns the serde for float64 as 8 big-endian IEEE 754 bytes, like
// Java's DoubleSerializer. As in Java, every NaN is written as the canonical
// NaN 0x7ff8000000000000, so equal keys give equal bytes. Deserialize(nil)
// returns 0; any other length than 8 is a [*DecodeError] wrapping [ErrSize].
func Float64() Serde[float64] { return float64Serde{} }

type float64Serde struct{}

func (float64Serde) Serialize(_ string, v float64) ([]byte, error) {
	bits := math.Float64bits(v)
	if math.IsNaN(v) {
		bits = canonicalNaN
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, bits)
	return b, nil
}

func (float64Serde) Deserialize(topic string, data []byte) (float64, error) {
	if data == nil {
		return 0, nil
	}
	if len(data) != 8 {
		return 0, sizeError("float64", topic, len(data), 8)
	}
	return math.Float64frombits(binary.BigEndian.Uint64(data)), nil
}

// JSON returns a serde that encodes T with encoding/json.
//
// Serialize returns nil bytes (a Kafka null) for a nil pointer, map, slice,
// interface, channel or function, and for any value that encodes as the JSON
// literal null, so a nil value becomes a tombstone. Deserialize(nil) returns
// the zero T without calling encoding/json. Decoding errors are
// [*DecodeError] values wrapping the encoding/json error; encoding errors
// wrap the encoding/json error too, so errors.As finds either.
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

func (jsonSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	x := any(v)
	if isNil(x) {
		return nil, nil
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("serde: json: topic %q: %w", topic, err)
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

// isNil reports whether x is nil or holds a nil pointer, map, slice, channel
// or function.
func isNil(x any) bool {
	if x == nil {
		return true
	}
	switch rv := reflect.ValueOf(x); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func:
		return rv.IsNil()
	}
	return false
}

func (jsonSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	if err := json.Unmarshal(data, &v); err != nil {
		var zero T
		return zero, &DecodeError{Serde: "json", Topic: topic, Len: len(data), Err: err}
	}
	return v, nil
}

// Func returns a serde made of two functions, for formats this package does
// not provide. The functions should follow the [Serde] rules for nil bytes.
// A nil ser or de makes that direction return an error wrapping
// errors.ErrUnsupported, which suits a serde used only for reading or only
// for writing.
func Func[T any](ser func(topic string, v T) ([]byte, error), de func(topic string, data []byte) (T, error)) Serde[T] {
	return funcSerde[T]{ser: ser, de: de}
}

type funcSerde[T any] struct {
	ser func(topic string, v T) ([]byte, error)
	de  func(topic string, data []byte) (T, error)
}

func (f funcSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	if f.ser == nil {
		return nil, fmt.Errorf("serde: func: topic %q: no serialize function: %w", topic, errors.ErrUnsupported)
	}
	return f.ser(topic, v)
}

func (f funcSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	if f.de == nil {
		var zero T
		return zero, fmt.Errorf("serde: func: topic %q: no deserialize function: %w", topic, errors.ErrUnsupported)
	}
	return f.de(topic, data)
}

// Default returns the built-in serde for T when T is exactly string, []byte,
// int32, int64 or float64, and nil for any other T, including named types
// such as `type UserID string`. Callers treat nil as a missing serde.
func Default[T any]() Serde[T] {
	var s any
	switch any((*T)(nil)).(type) {
	case *string:
		s = String()
	case *[]byte:
		s = Bytes()
	case *int32:
		s = Int32()
	case *int64:
		s = Int64()
	case *float64:
		s = Float64()
	default:
		return nil
	}
	return s.(Serde[T])
}

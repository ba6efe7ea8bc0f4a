package serde

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Window is a time interval of event time, in milliseconds since the Unix
// epoch, as Kafka Streams' Window. A time window (tumbling, hopping or
// sliding) covers [Start, End): Start inclusive, End exclusive. A session
// window covers [Start, End], both inclusive: a session of a single record
// has Start == End.
type Window struct {
	Start int64 // first millisecond of the window
	End   int64 // end of the window: exclusive for time windows, inclusive for sessions
}

// Windowed is a key together with the window it is aggregated in, as Kafka
// Streams' Windowed: the key type of windowed aggregations.
type Windowed[K any] struct {
	Key    K
	Window Window
}

// ErrWindow is the cause of a [DecodeError] for windowed bytes too short to
// hold their window, or holding an impossible window (a negative start, an
// end before the start), and of the error returned when serializing such a
// window. Use errors.Is.
var ErrWindow = errors.New("serde: invalid window")

// timestampSize is the size of a timestamp in a windowed key.
const timestampSize = 8

// TimeWindowed returns the serde of keys of time windows (tumbling, hopping
// and sliding), with Kafka Streams' layout (TimeWindowedSerializer): the
// bytes of the key by inner, then the window start as 8 big-endian bytes.
// A Java consumer using WindowedSerdes.timeWindowedSerdeFrom reads its
// output, and the other way round.
//
// The layout does not hold the window end: Deserialize computes it as start
// plus windowSize (truncated to milliseconds), capped at math.MaxInt64 as
// Java does. windowSize must be at least one millisecond, or Deserialize
// fails. Deserialize of nil or empty bytes returns the zero Windowed, as
// Java returns null.
func TimeWindowed[K any](inner Serde[K], windowSize time.Duration) Serde[Windowed[K]] {
	return timeWindowed[K]{inner: inner, size: windowSize.Milliseconds()}
}

type timeWindowed[K any] struct {
	inner Serde[K]
	size  int64
}

func (s timeWindowed[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	if w.Window.Start < 0 {
		return nil, fmt.Errorf("serde: time-windowed: topic %q: window start %d: %w", topic, w.Window.Start, ErrWindow)
	}
	key, err := serializeInner(s.inner, "time-windowed", topic, w.Key)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(key, uint64(w.Window.Start)), nil
}

func (s timeWindowed[K]) Deserialize(topic string, data []byte) (Windowed[K], error) {
	const name = "time-windowed"
	var w Windowed[K]
	if len(data) == 0 {
		return w, nil
	}
	if s.size <= 0 {
		return w, windowError(name, topic, data, fmt.Errorf("window size %d ms not positive: %w", s.size, ErrWindow))
	}
	if len(data) < timestampSize {
		return w, windowError(name, topic, data, fmt.Errorf("shorter than a timestamp: %w", ErrWindow))
	}
	n := len(data) - timestampSize
	start := int64(binary.BigEndian.Uint64(data[n:]))
	if start < 0 {
		return w, windowError(name, topic, data, fmt.Errorf("window start %d: %w", start, ErrWindow))
	}
	end := start + s.size
	if end < start {
		end = math.MaxInt64
	}
	key, err := s.inner.Deserialize(topic, data[:n:n])
	if err != nil {
		return w, windowError(name, topic, data, fmt.Errorf("key: %w", err))
	}
	return Windowed[K]{Key: key, Window: Window{Start: start, End: end}}, nil
}

// SessionWindowed returns the serde of keys of session windows, with Kafka
// Streams' layout (SessionWindowedSerializer): the bytes of the key by
// inner, then the window end, then the window start, each as 8 big-endian
// bytes. A Java consumer using WindowedSerdes.sessionWindowedSerdeFrom reads
// its output, and the other way round. Deserialize of nil or empty bytes
// returns the zero Windowed, as Java returns null.
func SessionWindowed[K any](inner Serde[K]) Serde[Windowed[K]] {
	return sessionWindowed[K]{inner: inner}
}

type sessionWindowed[K any] struct{ inner Serde[K] }

func (s sessionWindowed[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	if w.Window.Start < 0 || w.Window.End < w.Window.Start {
		return nil, fmt.Errorf("serde: session-windowed: topic %q: window [%d, %d]: %w",
			topic, w.Window.Start, w.Window.End, ErrWindow)
	}
	key, err := serializeInner(s.inner, "session-windowed", topic, w.Key)
	if err != nil {
		return nil, err
	}
	key = binary.BigEndian.AppendUint64(key, uint64(w.Window.End))
	return binary.BigEndian.AppendUint64(key, uint64(w.Window.Start)), nil
}

func (s sessionWindowed[K]) Deserialize(topic string, data []byte) (Windowed[K], error) {
	const name = "session-windowed"
	var w Windowed[K]
	if len(data) == 0 {
		return w, nil
	}
	if len(data) < 2*timestampSize {
		return w, windowError(name, topic, data, fmt.Errorf("shorter than two timestamps: %w", ErrWindow))
	}
	n := len(data) - 2*timestampSize
	end := int64(binary.BigEndian.Uint64(data[n:]))
	start := int64(binary.BigEndian.Uint64(data[n+timestampSize:]))
	if start < 0 || end < start {
		return w, windowError(name, topic, data, fmt.Errorf("window [%d, %d]: %w", start, end, ErrWindow))
	}
	key, err := s.inner.Deserialize(topic, data[:n:n])
	if err != nil {
		return w, windowError(name, topic, data, fmt.Errorf("key: %w", err))
	}
	return Windowed[K]{Key: key, Window: Window{Start: start, End: end}}, nil
}

// serializeInner serializes key with inner into a slice with room for the
// window's timestamps. A nil result is an error: a windowed key cannot hold
// a null key (Java fails there too).
func serializeInner[K any](inner Serde[K], name, topic string, key K) ([]byte, error) {
	b, err := inner.Serialize(topic, key)
	if err != nil {
		return nil, fmt.Errorf("serde: %s: topic %q: key: %w", name, topic, err)
	}
	if b == nil {
		return nil, fmt.Errorf("serde: %s: topic %q: the key serializes to null", name, topic)
	}
	out := make([]byte, len(b), len(b)+2*timestampSize)
	copy(out, b)
	return out, nil
}

// windowError returns the DecodeError of data for serde name.
func windowError(name, topic string, data []byte, err error) error {
	return &DecodeError{Serde: name, Topic: topic, Len: len(data), Err: err}
}

package harness

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Spec describes the generated input and the windows of the application.
// The zero value is not valid; start from [DefaultSpec].
type Spec struct {
	// Keys is the number of keys, named "k0", "k1", ...
	Keys int `json:"keys"`
	// Values is the size of each key's range: key k carries every integer
	// of [0, Values) exactly once.
	Values int `json:"values"`
	// Shuffle is the block size of the shuffle: each key's values are
	// produced block by block ([0, Shuffle), [Shuffle, 2*Shuffle), ...),
	// in random order within a block. 1 keeps them in order.
	Shuffle int `json:"shuffle"`
	// Base is the timestamp (ms) of value 0: the record with value v has
	// timestamp Base+v.
	Base int64 `json:"base"`
	// Seed seeds the shuffle.
	Seed uint64 `json:"seed"`
	// Window is the size of the windowed sum's tumbling windows, Grace
	// their grace period. Grace must cover the disorder of the input
	// (2*Shuffle ms) or records would be dropped as late.
	Window time.Duration `json:"window"`
	Grace  time.Duration `json:"grace"`
}

// DefaultSpec returns a small spec: 10 keys of 1000 values, shuffled in
// blocks of 10, 100 ms windows with 50 ms grace, Base the current time
// rounded down to the second.
func DefaultSpec() Spec {
	return Spec{
		Keys: 10, Values: 1000, Shuffle: 10,
		Base:   time.Now().Truncate(time.Second).UnixMilli(),
		Seed:   rand.Uint64(),
		Window: 100 * time.Millisecond, Grace: 50 * time.Millisecond,
	}
}

// ErrSpec is the error of an invalid spec; use errors.Is.
var ErrSpec = errors.New("kstreams: harness: invalid spec")

// Validate reports every problem of the spec at once.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrSpec}, args...)...))
	}
	if s.Keys < 1 {
		bad("Keys %d: need at least 1", s.Keys)
	}
	if s.Values < 1 {
		bad("Values %d: need at least 1", s.Values)
	}
	if s.Shuffle < 1 {
		bad("Shuffle %d: need at least 1", s.Shuffle)
	}
	if s.Window < time.Millisecond {
		bad("Window %v: need at least 1ms", s.Window)
	}
	if s.Grace < 2*time.Duration(s.Shuffle)*time.Millisecond {
		bad("Grace %v: must cover the input's disorder (2*Shuffle = %dms)", s.Grace, 2*s.Shuffle)
	}
	return errors.Join(errs...)
}

// Key returns the name of key i.
func Key(i int) string { return "k" + strconv.Itoa(i) }

// Input is one generated record: a key and its value.
type Input struct {
	Key   string
	Value int64
}

// Sequence returns the input in production order: round after round, one
// value of each key per round, each key's values shuffled within blocks of
// Shuffle. It is deterministic for a given spec.
func (s Spec) Sequence() []Input {
	rng := rand.New(rand.NewPCG(s.Seed, uint64(s.Keys)))
	perKey := make([][]int64, s.Keys)
	for k := range perKey {
		vs := make([]int64, s.Values)
		for v := range vs {
			vs[v] = int64(v)
		}
		for lo := 0; lo < len(vs); lo += s.Shuffle {
			block := vs[lo:min(lo+s.Shuffle, len(vs))]
			rng.Shuffle(len(block), func(i, j int) { block[i], block[j] = block[j], block[i] })
		}
		perKey[k] = vs
	}
	out := make([]Input, 0, s.Keys*s.Values)
	for v := 0; v < s.Values; v++ {
		for k := range perKey {
			out = append(out, Input{Key: Key(k), Value: perKey[k][v]})
		}
	}
	return out
}

// Timestamp is the timestamp of the record with value v.
func (s Spec) Timestamp(v int64) int64 { return s.Base + v }

// WindowStart is the start of the tumbling window holding timestamp ts.
func (s Spec) WindowStart(ts int64) int64 {
	size := s.Window.Milliseconds()
	return ts - ((ts%size)+size)%size
}

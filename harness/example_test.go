package harness_test

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/harness"
)

// The input of a run: every key carries every value of its range once,
// one value of each key per round (Shuffle 1 keeps each key's values in
// order); the record with value v has timestamp Base+v.
func ExampleSpec_Sequence() {
	spec := harness.Spec{Keys: 2, Values: 3, Shuffle: 1, Base: 1000, Window: time.Second, Grace: time.Second}
	for _, in := range spec.Sequence() {
		fmt.Printf("%s=%d@%d ", in.Key, in.Value, spec.Timestamp(in.Value))
	}
	fmt.Println()
	// Output: k0=0@1000 k1=0@1000 k0=1@1001 k1=1@1001 k0=2@1002 k1=2@1002
}

// Verification compares a run's outputs with the closed form: here an
// input whose echo output holds one record twice passes at-least-once
// (the duplicate is reported) and fails exactly-once.
func ExampleVerify() {
	spec := harness.Spec{Keys: 1, Values: 2, Shuffle: 1, Base: 0, Window: time.Second, Grace: time.Second}
	v0, v1 := []byte{0, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 0, 0, 0, 0, 0, 0, 1}
	ds := &harness.Dataset{
		Spec:  spec,
		Input: []harness.Record{{Offset: 0, Key: "k0", Value: v0}, {Offset: 1, Key: "k0", Value: v1}},
		Outputs: map[harness.Output][]harness.Record{
			harness.Echo: {{Offset: 0, Key: "k0", Value: v0}, {Offset: 1, Key: "k0", Value: v0}, {Offset: 2, Key: "k0", Value: v1}},
		},
	}
	for _, g := range []harness.Guarantee{harness.AtLeastOnce, harness.ExactlyOnce} {
		r := harness.Verify(ds, g)
		fmt.Printf("%s: echo ok=%v lost=%d duplicated=%d\n", g, r.Outputs[harness.Echo].Problems == 0, r.Lost, r.Duplicated)
	}
	// Output:
	// alos: echo ok=true lost=0 duplicated=1
	// eos: echo ok=false lost=0 duplicated=1
}

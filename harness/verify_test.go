package harness

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

func testSpec() Spec {
	return Spec{Keys: 4, Values: 300, Shuffle: 5, Base: 1_700_000_000_000, Seed: 7,
		Window: 50 * time.Millisecond, Grace: 20 * time.Millisecond}
}

// driven runs the test application over spec's input in the topology test
// driver (one partition) and returns what a broker would hold afterwards.
func driven(t *testing.T, spec Spec) *Dataset {
	t.Helper()
	topics := Topics{Prefix: "t"}
	topo, err := Topology(topics, spec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, topics.Input(), serde.String(), serde.Int64())
	ds := &Dataset{Spec: spec, Outputs: map[Output][]Record{}}
	for i, r := range spec.Sequence() {
		if err := in.PipeAt(r.Key, r.Value, spec.Timestamp(r.Value)); err != nil {
			t.Fatal(err)
		}
		raw, _ := serde.Int64().Serialize("", r.Value)
		ds.Input = append(ds.Input, Record{Offset: int64(i), Key: r.Key, Value: raw})
	}
	for _, o := range Outputs {
		recs, err := kstreamstest.NewOutputTopic(d, topics.Output(o), serde.String(), serde.Bytes()).ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			ds.Outputs[o] = append(ds.Outputs[o], Record{Offset: int64(i), Key: r.Key, Value: r.Value})
		}
	}
	return ds
}

func TestSequence(t *testing.T) {
	spec := testSpec()
	seq := spec.Sequence()
	if len(seq) != spec.Keys*spec.Values {
		t.Fatalf("%d records, want %d", len(seq), spec.Keys*spec.Values)
	}
	per := map[string][]int64{}
	for _, r := range seq {
		per[r.Key] = append(per[r.Key], r.Value)
	}
	for k, vs := range per {
		for i, v := range vs {
			if d := v - int64(i); d <= -int64(spec.Shuffle) || d >= int64(spec.Shuffle) {
				t.Fatalf("key %s: value %d at position %d: displaced more than the shuffle block", k, v, i)
			}
		}
		sorted := slices.Sorted(slices.Values(vs))
		for i, v := range sorted {
			if v != int64(i) {
				t.Fatalf("key %s does not carry every value of [0, %d)", k, spec.Values)
			}
		}
	}
	if !slices.Equal(seq, spec.Sequence()) {
		t.Fatal("the sequence is not deterministic")
	}
}

func TestSpecValidate(t *testing.T) {
	bad := Spec{Keys: 0, Values: 1, Shuffle: 10, Window: time.Second, Grace: time.Millisecond}
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "Keys 0") || !strings.Contains(err.Error(), "Grace") {
		t.Fatalf("Validate() = %v, want the Keys and Grace problems", err)
	}
	if err := testSpec().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyApplication: the test application's own outputs, run without a
// fault, pass the exactly-once verification (and so the at-least-once one):
// the closed forms describe what the topology computes.
func TestVerifyApplication(t *testing.T) {
	ds := driven(t, testSpec())
	for _, g := range []Guarantee{ExactlyOnce, AtLeastOnce} {
		r := Verify(ds, g)
		if !r.OK() {
			t.Fatalf("%s:\n%s", g, r)
		}
		if r.Processed != len(ds.Input) || r.Lost != 0 || r.Duplicated != 0 {
			t.Fatalf("%s: %+v", g, r)
		}
		for _, o := range Outputs {
			if r.Outputs[o].Records == 0 {
				t.Fatalf("%s: output %s is empty", g, o)
			}
		}
	}
}

// replay makes what at-least-once leaves after a crash: the outputs of the
// input records [from, to) of key k written twice, the second time on top
// of the state that already counted them (sum and count overcount).
func replayEcho(ds *Dataset, k string, n int) {
	var again []Record
	for _, r := range ds.Outputs[Echo] {
		if r.Key == k && len(again) < n {
			again = append(again, r)
		}
	}
	ds.Outputs[Echo] = append(ds.Outputs[Echo], again...)
}

func TestVerifyFaults(t *testing.T) {
	base := driven(t, testSpec())
	type want struct {
		ok               bool
		lost, duplicated int
		problem          string
	}
	cases := []struct {
		name   string
		mutate func(ds *Dataset)
		eos    want
		alos   want
	}{
		{
			name:   "duplicated echo records",
			mutate: func(ds *Dataset) { replayEcho(ds, "k1", 3) },
			eos:    want{duplicated: 3, problem: "echo: key k1: 303 outputs, want 300"},
			alos:   want{ok: true, duplicated: 3},
		},
		{
			name: "lost echo record",
			mutate: func(ds *Dataset) {
				ds.Outputs[Echo] = slices.Delete(ds.Outputs[Echo], 10, 11)
			},
			eos:  want{lost: 1, problem: "echo: key k2: output 2 is"},
			alos: want{lost: 1, problem: "echo: key k2: value"},
		},
		{
			name: "sum counted twice",
			mutate: func(ds *Dataset) {
				recs := ds.Outputs[Sum]
				last := recs[len(recs)-1]
				v, _ := serde.Int64().Deserialize("", last.Value)
				extra, _ := serde.Int64().Serialize("", v+5)
				ds.Outputs[Sum] = append(recs, Record{Offset: last.Offset + 1, Key: last.Key, Value: extra})
			},
			eos:  want{problem: "sum: key k3: 301 outputs, want 300"},
			alos: want{ok: true},
		},
		{
			name: "suppressed window emitted twice",
			mutate: func(ds *Dataset) {
				ds.Outputs[WSumFinal] = append(ds.Outputs[WSumFinal], ds.Outputs[WSumFinal][0])
			},
			eos:  want{problem: "wsum-final: key k0@"},
			alos: want{ok: true},
		},
		{
			name: "suppressed window lost",
			mutate: func(ds *Dataset) {
				ds.Outputs[WSumFinal] = ds.Outputs[WSumFinal][1:]
			},
			eos:  want{problem: "wsum-final: key k0@"},
			alos: want{problem: "wsum-final: key k0@"},
		},
		{
			name: "wrong join result",
			mutate: func(ds *Dataset) {
				recs := ds.Outputs[Dif]
				bad, _ := serde.Int64().Serialize("", 1)
				recs[len(recs)-1].Value = bad
			},
			eos:  want{problem: "dif: key k3: final 1"},
			alos: want{problem: "dif: key k3: final 1"},
		},
		{
			name: "window sum regressed by a replay",
			mutate: func(ds *Dataset) {
				recs := ds.Outputs[WSum]
				last := recs[len(recs)-1]
				part, _ := serde.Int64().Serialize("", 599)
				ds.Outputs[WSum] = append(recs, Record{Offset: last.Offset + 1, Key: recs[0].Key, Value: part})
			},
			eos:  want{problem: "wsum: key k0@1700000000000: 51 outputs, want 50"},
			alos: want{ok: true, problem: "re-emitted a partial sum after a replay"},
		},
		{
			name:   "transaction left open",
			mutate: func(ds *Dataset) { ds.OpenTransactions = []string{"app-0 (Ongoing)"} },
			eos:    want{problem: "transaction left open"},
			alos:   want{problem: "transaction left open"},
		},
		{
			name: "committed offset below the end",
			mutate: func(ds *Dataset) {
				ds.Committed = map[int32]int64{0: int64(len(ds.Input) - 4)}
			},
			// the outputs hold one more record for each of the 4 keys than the committed input
			eos:  want{duplicated: 4, problem: "the application committed 1196 of 1200"},
			alos: want{duplicated: 4, problem: "the application committed 1196 of 1200"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for g, w := range map[Guarantee]want{ExactlyOnce: tc.eos, AtLeastOnce: tc.alos} {
				ds := clone(base)
				tc.mutate(ds)
				r := Verify(ds, g)
				if r.OK() != w.ok || r.Lost != w.lost || r.Duplicated != w.duplicated {
					t.Errorf("%s: ok %v lost %d duplicated %d, want %+v\n%s", g, r.OK(), r.Lost, r.Duplicated, w, r)
				}
				if w.problem != "" && !strings.Contains(r.String(), w.problem) {
					t.Errorf("%s: no problem %q in\n%s", g, w.problem, r)
				}
			}
		})
	}
}

func clone(ds *Dataset) *Dataset {
	c := *ds
	c.Input = slices.Clone(ds.Input)
	c.Outputs = map[Output][]Record{}
	for o, recs := range ds.Outputs {
		c.Outputs[o] = slices.Clone(recs)
	}
	return &c
}

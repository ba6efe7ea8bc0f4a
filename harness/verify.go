package harness

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kstreams-go/kstreams/serde"
)

// Guarantee is the processing guarantee a run is verified under.
type Guarantee string

// The guarantees, spelt as the -guarantee flag takes them.
const (
	AtLeastOnce Guarantee = "alos"
	ExactlyOnce Guarantee = "eos"
)

// ParseGuarantee parses "alos" or "eos".
func ParseGuarantee(s string) (Guarantee, error) {
	switch g := Guarantee(s); g {
	case AtLeastOnce, ExactlyOnce:
		return g, nil
	}
	return "", fmt.Errorf("kstreams: harness: unknown guarantee %q: use alos or eos", s)
}

// Record is a record as read back: where it is, its key and raw value.
type Record struct {
	Partition int32
	Offset    int64
	Key       string
	Value     []byte
}

// Dataset is everything verification looks at, read from a broker by
// [Read] or made up by a test.
type Dataset struct {
	Spec Spec
	// Input is the input topic, each partition in offset order.
	Input []Record
	// Committed is the application's committed offset (the next offset to
	// process) of each input partition; nil means the whole input.
	Committed map[int32]int64
	// Outputs are the output topics, each partition in offset order.
	Outputs map[Output][]Record
	// OpenTransactions lists transactions of the application that are
	// neither committed nor aborted; Unstable lists topic partitions whose
	// last stable offset is below their high watermark.
	OpenTransactions []string
	Unstable         []string
}

// OutputReport is the verdict on one output.
type OutputReport struct {
	Records    int // records read
	Lost       int // expected records (or their effect) missing
	Duplicated int // records (or effects) beyond the expected ones
	Wrong      int // keys or records whose value is wrong
	Problems   int // problems found in this output
	// Tolerated, when set, is why this output's problems do not fail the
	// run (see [Report.Tolerate]).
	Tolerated string `json:",omitempty"`
	// Note says what was checked when the guarantee allows inexact values.
	Note string `json:",omitempty"`
}

// maxProblems bounds the problems a report lists.
const maxProblems = 40

// Report is the result of a verification (and of a run: the driver fills
// in the fault counts).
type Report struct {
	Guarantee Guarantee
	Generated int // input records read back
	Committed int // input records below the committed offsets
	Processed int // records of the echo output (each input at least once)
	Lost      int // input records missing from the echo output
	// Duplicated counts echo records beyond one per input record.
	Duplicated int
	Outputs    map[Output]*OutputReport
	// Problems lists the first problems found; ProblemCount counts all.
	Problems     []string
	ProblemCount int
	// Filled in by [Run].
	InstanceKills int
	BrokerKills   int
	LeaderMoves   int
}

// OK reports whether the run passed: no problem but those of tolerated
// outputs. Under at-least-once duplicates are not problems.
func (r *Report) OK() bool {
	n := r.ProblemCount
	for _, or := range r.Outputs {
		if or.Tolerated != "" {
			n -= or.Problems
		}
	}
	return n == 0
}

// Tolerate makes the problems of output o not fail the run, for the given
// reason (a known limitation under repair); they are still reported.
func (r *Report) Tolerate(o Output, reason string) {
	if or := r.Outputs[o]; or != nil {
		or.Tolerated = reason
	}
}

func (r *Report) problem(format string, args ...any) {
	r.ProblemCount++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// String prints the report as the command does.
func (r *Report) String() string {
	var b strings.Builder
	verdict := "PASSED"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "harness: %s (%s)\n", verdict, r.Guarantee)
	fmt.Fprintf(&b, "  generated %d, committed %d, processed %d, lost %d, duplicated %d\n",
		r.Generated, r.Committed, r.Processed, r.Lost, r.Duplicated)
	fmt.Fprintf(&b, "  kills survived: %d instances, %d brokers; %d leader moves\n",
		r.InstanceKills, r.BrokerKills, r.LeaderMoves)
	for _, o := range Outputs {
		or := r.Outputs[o]
		if or == nil {
			continue
		}
		fmt.Fprintf(&b, "  %-10s records %7d  lost %5d  duplicated %5d  wrong %4d", o, or.Records, or.Lost, or.Duplicated, or.Wrong)
		if or.Note != "" {
			fmt.Fprintf(&b, "  (%s)", or.Note)
		}
		if or.Tolerated != "" && or.Problems > 0 {
			fmt.Fprintf(&b, "  [%d problems tolerated: %s]", or.Problems, or.Tolerated)
		}
		b.WriteByte('\n')
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	if r.ProblemCount > len(r.Problems) {
		fmt.Fprintf(&b, "  ... and %d more problems\n", r.ProblemCount-len(r.Problems))
	}
	return b.String()
}

// expected is the closed form: per key, its committed input values in
// order, and per input partition, its stream time.
type expected struct {
	spec       Spec
	values     map[string][]int64
	partition  map[string]int32
	streamTime map[int32]int64
	keys       []string
}

// Verify checks every output of ds against the closed form over the input
// up to the committed offsets, under guarantee g.
func Verify(ds *Dataset, g Guarantee) *Report {
	r := &Report{Guarantee: g, Outputs: map[Output]*OutputReport{}}
	exp := r.expect(ds)
	for _, t := range ds.OpenTransactions {
		r.problem("transaction left open: %s", t)
	}
	for _, u := range ds.Unstable {
		r.problem("last stable offset below the high watermark (a transaction left open): %s", u)
	}
	for _, o := range Outputs {
		or := &OutputReport{Records: len(ds.Outputs[o])}
		r.Outputs[o] = or
		c := &checker{r: r, o: o, or: or, g: g, exp: exp}
		c.check(ds.Outputs[o])
	}
	r.Processed = r.Outputs[Echo].Records
	r.Lost, r.Duplicated = r.Outputs[Echo].Lost, r.Outputs[Echo].Duplicated
	return r
}

var i64 = serde.Int64()

func (r *Report) expect(ds *Dataset) *expected {
	exp := &expected{spec: ds.Spec, values: map[string][]int64{}, partition: map[string]int32{}, streamTime: map[int32]int64{}}
	for _, rec := range ds.Input {
		r.Generated++
		if end, ok := ds.Committed[rec.Partition]; ds.Committed != nil && (!ok || rec.Offset >= end) {
			continue
		}
		v, err := i64.Deserialize("", rec.Value)
		if err != nil {
			r.problem("input %d@%d: %v", rec.Partition, rec.Offset, err)
			continue
		}
		r.Committed++
		if _, ok := exp.values[rec.Key]; !ok {
			exp.keys = append(exp.keys, rec.Key)
		}
		exp.values[rec.Key] = append(exp.values[rec.Key], v)
		exp.partition[rec.Key] = rec.Partition
		exp.streamTime[rec.Partition] = max(exp.streamTime[rec.Partition], ds.Spec.Timestamp(v))
	}
	if r.Committed < r.Generated && ds.Committed != nil {
		r.problem("the application committed %d of %d input records", r.Committed, r.Generated)
	}
	sort.Strings(exp.keys)
	return exp
}

// checker verifies one output.
type checker struct {
	r   *Report
	o   Output
	or  *OutputReport
	g   Guarantee
	exp *expected
	// replayed counts windows whose last output is a partial sum left by a
	// replay (at-least-once; see atLeast).
	replayed int
}

func (c *checker) problem(format string, args ...any) {
	c.or.Problems++
	c.r.problem(string(c.o)+": "+format, args...)
}

func (c *checker) check(recs []Record) {
	got, ok := c.decode(recs)
	if !ok {
		return
	}
	switch c.o {
	case Echo:
		c.echo(got)
	case Min, Max, Sum, Count:
		c.running(got)
	case WSum:
		c.windows(got)
	case WSumFinal:
		c.final(got)
	case Dif:
		c.dif(got)
	case Avg:
		c.avg(got)
	case TAgg:
		c.tagg(got)
	}
}

// decode groups the output's values by key, in output order.
func (c *checker) decode(recs []Record) (map[string][]float64, bool) {
	got := map[string][]float64{}
	for _, rec := range recs {
		var v float64
		if c.o == Avg {
			f, err := serde.Float64().Deserialize("", rec.Value)
			if err != nil {
				c.problem("record %d@%d: %v", rec.Partition, rec.Offset, err)
				return nil, false
			}
			v = f
		} else {
			n, err := i64.Deserialize("", rec.Value)
			if err != nil {
				c.problem("record %d@%d: %v", rec.Partition, rec.Offset, err)
				return nil, false
			}
			v = float64(n)
		}
		got[rec.Key] = append(got[rec.Key], v)
	}
	return got, true
}

func floats(vs []int64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = float64(v)
	}
	return out
}

// echo: under exactly-once each key's output is its input; under
// at-least-once each input is there at least once.
func (c *checker) echo(got map[string][]float64) {
	if c.g == ExactlyOnce {
		for _, k := range c.exp.keys {
			c.sequence(k, got[k], floats(c.exp.values[k]))
		}
		c.unexpectedKeys(got)
		return
	}
	for _, k := range c.exp.keys {
		seen := map[float64]int{}
		for _, v := range got[k] {
			seen[v]++
		}
		for _, v := range c.exp.values[k] {
			if seen[float64(v)] == 0 {
				c.or.Lost++
				c.problem("key %s: value %d lost", k, v)
				continue
			}
			seen[float64(v)]--
		}
		for v, n := range seen {
			c.or.Duplicated += n
			if n > 0 && !slices.Contains(c.exp.values[k], int64(v)) {
				c.or.Wrong++
				c.problem("key %s: value %v was never input", k, v)
			}
		}
	}
	c.unexpectedKeys(got)
}

// sequence compares an output sequence with the expected one exactly.
func (c *checker) sequence(k string, got, want []float64) {
	for i := range min(len(got), len(want)) {
		if !same(got[i], want[i]) {
			c.or.Wrong++
			c.problem("key %s: output %d is %v, the running aggregate is %v (a duplicate or a gap)", k, i, got[i], want[i])
			break
		}
	}
	switch {
	case len(got) < len(want):
		c.or.Lost += len(want) - len(got)
		c.problem("key %s: %d outputs, want %d (lost %d)", k, len(got), len(want), len(want)-len(got))
	case len(got) > len(want):
		c.or.Duplicated += len(got) - len(want)
		c.problem("key %s: %d outputs, want %d (%d extra)", k, len(got), len(want), len(got)-len(want))
	}
}

func same(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func (c *checker) unexpectedKeys(got map[string][]float64) {
	for k, vs := range got {
		if _, ok := c.exp.values[k]; !ok {
			c.or.Wrong += len(vs)
			c.problem("key %s was never input (%d records)", k, len(vs))
		}
	}
}

// aggregate returns the running aggregate of vs for output o.
func aggregate(o Output, vs []int64) []int64 {
	out := make([]int64, len(vs))
	var acc int64
	for i, v := range vs {
		switch {
		case i == 0 && o != Count:
			acc = v
		case o == Min:
			acc = min(acc, v)
		case o == Max:
			acc = max(acc, v)
		case o == Sum:
			acc += v
		case o == Count:
			acc++
		}
		out[i] = acc
	}
	return out
}

// running checks min, max, sum and count: the whole running aggregate
// under exactly-once; under at-least-once the final value, exact for min
// and max (idempotent), at least the closed form for sum and count (a
// record processed again is counted again).
func (c *checker) running(got map[string][]float64) {
	defer c.unexpectedKeys(got)
	if c.g == ExactlyOnce {
		for _, k := range c.exp.keys {
			c.sequence(k, got[k], floats(aggregate(c.o, c.exp.values[k])))
		}
		return
	}
	c.or.Note = "final values; sum and count at least the closed form"
	for _, k := range c.exp.keys {
		want := aggregate(c.o, c.exp.values[k])
		last, ok := lastOf(got[k])
		if !ok {
			c.or.Lost += len(want)
			c.problem("key %s: no output", k)
			continue
		}
		final := float64(want[len(want)-1])
		switch {
		case (c.o == Min || c.o == Max) && !same(last, final):
			c.or.Wrong++
			c.problem("key %s: final %v, want %v", k, last, final)
		case last < final:
			c.or.Lost++
			c.problem("key %s: final %v below the closed form %v (input lost)", k, last, final)
		case last > final && c.o == Count:
			c.or.Duplicated += int(last - final)
		case last > final:
			c.or.Duplicated++
		}
	}
}

func lastOf(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	return vs[len(vs)-1], true
}

// windowSums returns, per window key, the running sums of key k's values
// in that window, in input order.
func (e *expected) windowSums(k string) (map[string][]int64, []string) {
	out := map[string][]int64{}
	var order []string
	for _, v := range e.values[k] {
		wk := WindowKey(k, e.spec.WindowStart(e.spec.Timestamp(v)))
		sums := out[wk]
		if sums == nil {
			order = append(order, wk)
		}
		var prev int64
		if len(sums) > 0 {
			prev = sums[len(sums)-1]
		}
		out[wk] = append(sums, prev+v)
	}
	return out, order
}

// windows checks the unsuppressed windowed sum: every update under
// exactly-once, the final sum of every window under at-least-once.
func (c *checker) windows(got map[string][]float64) {
	all := map[string]bool{}
	for _, k := range c.exp.keys {
		sums, order := c.exp.windowSums(k)
		for _, wk := range order {
			all[wk] = true
			want := sums[wk]
			if c.g == ExactlyOnce {
				c.sequence(wk, got[wk], floats(want))
				continue
			}
			c.atLeast(wk, got[wk], want[len(want)-1])
		}
	}
	if c.g == AtLeastOnce {
		c.or.Note = "final sum of each window at least the closed form"
		if c.replayed > 0 {
			c.or.Note += fmt.Sprintf("; %d windows re-emitted a partial sum after a replay into a closed window "+
				"(as Kafka Streams does under at-least-once), counted as duplicated", c.replayed)
		}
	}
	c.strays(got, all)
}

// atLeast checks a final value under at-least-once.
func (c *checker) atLeast(k string, got []float64, want int64) {
	last, ok := lastOf(got)
	switch {
	case !ok:
		c.or.Lost++
		c.problem("key %s: no output, want %d", k, want)
	case last < float64(want) && slices.Max(got) >= float64(want):
		// A record processed again after a restart, into a window whose
		// segment the store has already dropped: the aggregation's own
		// stream time starts over at a restart (as Kafka Streams'
		// windowed aggregation's does), so the record is not late to it,
		// the store has no sum, and a partial sum is forwarded. Nothing is
		// lost (an earlier output had the whole sum); under at-least-once
		// this is a duplicate's doing, as it is in Kafka Streams.
		c.or.Duplicated++
		c.replayed++
	case last < float64(want):
		c.or.Lost++
		c.problem("key %s: final %v below the closed form %d (input lost)", k, last, want)
	case last > float64(want):
		c.or.Duplicated++
	}
}

func (c *checker) strays(got map[string][]float64, known map[string]bool) {
	for k, vs := range got {
		if !known[k] {
			c.or.Wrong += len(vs)
			c.problem("key %s: no input falls in this window (%d records)", k, len(vs))
		}
	}
}

// final checks the suppressed windowed sum: exactly one record, the
// window's whole sum, for each window closed by the stream time of its
// partition (end plus grace at most the stream time), and none for an open
// window. Under at-least-once a closed window may come more than once.
func (c *checker) final(got map[string][]float64) {
	size, grace := c.exp.spec.Window.Milliseconds(), c.exp.spec.Grace.Milliseconds()
	all := map[string]bool{}
	for _, k := range c.exp.keys {
		st := c.exp.streamTime[c.exp.partition[k]]
		sums, order := c.exp.windowSums(k)
		for _, wk := range order {
			all[wk] = true
			start, _ := strconv.ParseInt(wk[strings.LastIndexByte(wk, '@')+1:], 10, 64)
			total := sums[wk][len(sums[wk])-1]
			vs := got[wk]
			if start+size+grace > st {
				if len(vs) > 0 {
					c.or.Wrong += len(vs)
					c.problem("key %s: emitted before the window closed (stream time %d)", wk, st)
				}
				continue
			}
			if c.g == ExactlyOnce {
				c.sequence(wk, vs, []float64{float64(total)})
				continue
			}
			if len(vs) > 1 {
				c.or.Duplicated += len(vs) - 1
			}
			c.atLeast(wk, vs, total)
		}
	}
	c.strays(got, all)
}

// dif checks the join of max and min: the final value exact; under
// exactly-once also every value a possible one (between 0 and the final
// value, never decreasing: max only grows and min only shrinks) and at most
// two updates per input record.
func (c *checker) dif(got map[string][]float64) {
	defer c.unexpectedKeys(got)
	for _, k := range c.exp.keys {
		vs := c.exp.values[k]
		want := float64(slices.Max(vs) - slices.Min(vs))
		last, ok := lastOf(got[k])
		if !ok {
			c.or.Lost++
			c.problem("key %s: no output", k)
			continue
		}
		if !same(last, want) {
			c.or.Wrong++
			c.problem("key %s: final %v, want %v", k, last, want)
		}
		if c.g != ExactlyOnce {
			continue
		}
		if len(got[k]) > 2*len(vs) {
			c.or.Duplicated += len(got[k]) - 2*len(vs)
			c.problem("key %s: %d outputs for %d inputs", k, len(got[k]), len(vs))
		}
		for i, v := range got[k] {
			if v < 0 || v > want || (i > 0 && v < got[k][i-1]) {
				c.or.Wrong++
				c.problem("key %s: output %d is %v: max minus min never takes it at that point", k, i, v)
				break
			}
		}
	}
	if c.g == AtLeastOnce {
		c.or.Note = "final values"
	}
}

// avg checks the join of sum and count: the final value exact under
// exactly-once, every value sum(a)/count(b) over prefixes a and b at most
// one record apart; under at-least-once (where sum and count may both
// count a record again) the final value within the input's range.
func (c *checker) avg(got map[string][]float64) {
	defer c.unexpectedKeys(got)
	for _, k := range c.exp.keys {
		vs := c.exp.values[k]
		last, ok := lastOf(got[k])
		if !ok {
			c.or.Lost++
			c.problem("key %s: no output", k)
			continue
		}
		if c.g != ExactlyOnce {
			c.or.Note = "final value within the input's range"
			if last < float64(slices.Min(vs)) || last > float64(slices.Max(vs)) {
				c.or.Wrong++
				c.problem("key %s: final %v outside [%d, %d]", k, last, slices.Min(vs), slices.Max(vs))
			}
			continue
		}
		sums := aggregate(Sum, vs)
		n := len(vs)
		if want := float64(sums[n-1]) / float64(n); !same(last, want) {
			c.or.Wrong++
			c.problem("key %s: final %v, want %v", k, last, want)
		}
		possible := map[float64]bool{}
		for a := range n {
			for b := max(a-1, 0); b <= min(a+1, n-1); b++ {
				possible[float64(sums[a])/float64(b+1)] = true
			}
		}
		for i, v := range got[k] {
			if !possible[v] {
				c.or.Wrong++
				c.problem("key %s: output %d is %v: no sum over count of the input's prefixes", k, i, v)
				break
			}
		}
	}
}

// tagg checks the count of keys per maximum: the final counts exact and
// every count between 0 and the number of keys under exactly-once. Under
// at-least-once a record processed again also replays the subtraction and
// addition it caused, so the counts are reported, not required.
func (c *checker) tagg(got map[string][]float64) {
	want := map[string]float64{}
	for _, k := range c.exp.keys {
		want[strconv.FormatInt(slices.Max(c.exp.values[k]), 10)]++
	}
	bad := 0
	for mx, n := range want {
		if last, _ := lastOf(got[mx]); !same(last, n) {
			bad++
			if c.g == ExactlyOnce {
				c.problem("max %s: final count %v, want %v", mx, last, n)
			}
		}
	}
	for mx, vs := range got {
		last, _ := lastOf(vs)
		if _, ok := want[mx]; !ok && last != 0 {
			bad++
			if c.g == ExactlyOnce {
				c.problem("max %s: final count %v, want 0", mx, last)
			}
		}
		if c.g != ExactlyOnce {
			continue
		}
		for _, v := range vs {
			if v < 0 || v > float64(len(c.exp.keys)) {
				c.or.Wrong++
				c.problem("max %s: count %v out of [0, %d]", mx, v, len(c.exp.keys))
				break
			}
		}
	}
	if c.g == ExactlyOnce {
		c.or.Wrong += bad
		return
	}
	c.or.Note = fmt.Sprintf("%d final counts differ from the closed form: allowed under at-least-once", bad)
	if bad == 0 {
		c.or.Note = "final counts exact"
	}
}

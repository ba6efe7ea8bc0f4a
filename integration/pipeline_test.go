package integration

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pipelineKeys and pipelineSeqs lay out the input of TestStatelessPipeline:
// every key gets the values 0..pipelineSeqs-1 in order, on partition
// (key index % 4).
const (
	pipelineKeys = 12
	pipelineSeqs = 10
)

// expected is an output record as the test expects it.
type expected struct {
	topic   string
	key     string
	value   string
	ts      int64
	headers []kgo.RecordHeader
}

func (e expected) String() string {
	return describe(&kgo.Record{Topic: e.topic, Key: []byte(e.key), Value: []byte(e.value), Timestamp: time.UnixMilli(e.ts), Headers: e.headers})
}

// stampProcessor is the pipeline's Processor API step: it appends "|p" to
// the value and a header naming the topic the record was read from.
type stampProcessor struct {
	ctx processor.Context[string, string]
}

func (p *stampProcessor) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	return nil
}

func (p *stampProcessor) Process(r processor.Record[string, string]) error {
	meta, ok := p.ctx.RecordMetadata()
	if !ok {
		return fmt.Errorf("no record metadata while processing %q", r.Key)
	}
	r.Headers = append(slices.Clone(r.Headers), processor.Header{Key: "from", Value: []byte(meta.Topic)})
	r.Value += "|p"
	p.ctx.Forward(r)
	return nil
}

func (p *stampProcessor) Close() error { return nil }

// TestStatelessPipeline runs every stateless operation over a 4-partition
// input, through a repartition topic, into three output topics, and checks
// every output record: key, value, headers and timestamp, as a multiset per
// topic and in order per key.
func TestStatelessPipeline(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	outAll, outEven, outOdd := uniqueName(t, "all"), uniqueName(t, "even"), uniqueName(t, "odd")
	createTopics(t, 4, in, outAll, outEven, outOdd)
	rep := app + "-rekey-repartition"

	var peeked, foreached atomic.Int64
	b := kstreams.NewBuilder()
	src := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.Int64()))
	kept := src.Peek(func(string, int64) { peeked.Add(1) }).
		Filter(func(_ string, v int64) bool { return v != 9 }).
		FilterNot(func(_ string, v int64) bool { return v == 8 })
	branches := kept.Split("br-").
		Branch("even", func(_ string, v int64) bool { return v%2 == 0 }).
		Branch("three", func(_ string, v int64) bool { return v%3 == 0 }).
		DefaultBranch("rest")
	even := kstreams.FlatMapValues(
		kstreams.MapValues(branches.Get("br-even"), func(v int64) string { return "v" + strconv.FormatInt(v, 10) }),
		func(v string) []string { return []string{v + "a", v + "b"} })
	three := kstreams.Map(branches.Get("br-three"), func(k string, v int64) (string, string) {
		return k + "-m", fmt.Sprintf("v%dm", v)
	})
	rest := kstreams.FlatMap(branches.Get("br-rest"), func(k string, v int64) []kstreams.KeyValue[string, string] {
		return []kstreams.KeyValue[string, string]{kstreams.KV(k, fmt.Sprintf("v%dx", v)), kstreams.KV(k+"-f", fmt.Sprintf("v%dy", v))}
	})
	keyed := kstreams.SelectKey(even.Merge(three).Merge(rest), func(k, _ string) string { return "K" + k })
	stamped := kstreams.Process(keyed.Repartition(kstreams.Repartitioned[string, string]{Name: "rekey"}),
		func() processor.Processor[string, string, string, string] { return &stampProcessor{} })
	stamped.Foreach(func(string, string) { foreached.Add(1) })
	stamped.To(outAll)
	stamped.ToFunc(func(r processor.Record[string, string]) string {
		if strings.HasSuffix(r.Value, "a|p") || strings.HasSuffix(r.Value, "b|p") {
			return outEven
		}
		return outOdd
	})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	var inputs []*kgo.Record
	for seq := range int64(pipelineSeqs) {
		for k := range pipelineKeys {
			key := fmt.Sprintf("k%02d", k)
			inputs = append(inputs, rec(in, int32(k%4), []byte(key), be64(seq), base+seq*1000+int64(k),
				kgo.RecordHeader{Key: "id", Value: fmt.Appendf(nil, "%s/%d", key, seq)},
				kgo.RecordHeader{Key: "src", Value: []byte("it")}))
		}
	}
	want := pipelineModel(inputs, rep, outAll, outEven, outOdd)

	r := runApp(t, topo, kstreams.ApplicationID(app))
	produce(t, inputs...)

	var wantAll, wantEven, wantOdd []expected
	for _, e := range want {
		switch e.topic {
		case outAll:
			wantAll = append(wantAll, e)
		case outEven:
			wantEven = append(wantEven, e)
		default:
			wantOdd = append(wantOdd, e)
		}
	}
	for _, c := range []struct {
		topic string
		want  []expected
	}{{outAll, wantAll}, {outEven, wantEven}, {outOdd, wantOdd}} {
		got := consumeUntil(t, c.topic, len(c.want), 30*time.Second)
		checkRecords(t, c.topic, got, c.want)
	}

	// Once every input (and repartitioned) record is committed, its outputs
	// are all on the broker: nothing beyond what was expected may be there.
	waitCaughtUp(t, app, 30*time.Second, in, rep)
	for _, c := range []struct {
		topic string
		want  int
	}{{outAll, len(wantAll)}, {outEven, len(wantEven)}, {outOdd, len(wantOdd)}, {rep, len(wantAll)}} {
		if n := sum(endOffsets(t, c.topic)); n != int64(c.want) {
			t.Errorf("topic %q holds %d records, want %d", c.topic, n, c.want)
		}
	}
	if n := peeked.Load(); n != int64(len(inputs)) {
		t.Errorf("Peek saw %d records, want %d", n, len(inputs))
	}
	if n := foreached.Load(); n != int64(len(wantAll)) {
		t.Errorf("Foreach saw %d records, want %d", n, len(wantAll))
	}
	m := r.app.Metrics()
	if want := int64(len(inputs) + len(wantAll)); m.Processed != want {
		t.Errorf("Metrics().Processed = %d, want %d (inputs plus repartitioned records)", m.Processed, want)
	}
	if want := int64(3 * len(wantAll)); m.Produced != want {
		t.Errorf("Metrics().Produced = %d, want %d", m.Produced, want)
	}
	if m.Skipped != 0 || m.ProduceFailed != 0 {
		t.Errorf("Metrics() = %+v, want no skipped or failed records", m)
	}
	r.stopOK(t)
}

// pipelineModel computes the outputs of TestStatelessPipeline's topology
// for inputs, in input order.
func pipelineModel(inputs []*kgo.Record, rep, outAll, outEven, outOdd string) []expected {
	var out []expected
	for _, in := range inputs {
		key := string(in.Key)
		seq := int64(0)
		for _, b := range in.Value {
			seq = seq<<8 | int64(b)
		}
		if seq == 9 || seq == 8 {
			continue
		}
		var kvs [][2]string
		switch {
		case seq%2 == 0:
			kvs = [][2]string{{key, fmt.Sprintf("v%da", seq)}, {key, fmt.Sprintf("v%db", seq)}}
		case seq%3 == 0:
			kvs = [][2]string{{key + "-m", fmt.Sprintf("v%dm", seq)}}
		default:
			kvs = [][2]string{{key, fmt.Sprintf("v%dx", seq)}, {key + "-f", fmt.Sprintf("v%dy", seq)}}
		}
		headers := append(slices.Clone(in.Headers), kgo.RecordHeader{Key: "from", Value: []byte(rep)})
		for _, kv := range kvs {
			e := expected{key: "K" + kv[0], value: kv[1] + "|p", ts: in.Timestamp.UnixMilli(), headers: headers}
			all := e
			all.topic = outAll
			e.topic = outOdd
			if seq%2 == 0 {
				e.topic = outEven
			}
			out = append(out, all, e)
		}
	}
	return out
}

// checkRecords compares the records read from topic with want: as
// multisets, then per key in order (all records of a key must come from
// one partition, in the order of want).
func checkRecords(t *testing.T, topic string, got []*kgo.Record, want []expected) {
	t.Helper()
	gotS := make([]string, len(got))
	for i, r := range got {
		gotS[i] = describe(r)
	}
	wantS := make([]string, len(want))
	for i, e := range want {
		wantS[i] = e.String()
	}
	diffMultisets(t, "topic "+topic, gotS, wantS)

	gotByKey := map[string][]string{}
	partOf := map[string]int32{}
	for _, r := range got {
		k := string(r.Key)
		if p, ok := partOf[k]; ok && p != r.Partition {
			t.Errorf("topic %q: key %q is in partitions %d and %d", topic, k, p, r.Partition)
		}
		partOf[k] = r.Partition
		gotByKey[k] = append(gotByKey[k], string(r.Value))
	}
	wantByKey := map[string][]string{}
	for _, e := range want {
		wantByKey[e.key] = append(wantByKey[e.key], e.value)
	}
	for k, w := range wantByKey {
		if !slices.Equal(gotByKey[k], w) {
			t.Errorf("topic %q key %q: values in partition order %q, want %q", topic, k, gotByKey[k], w)
		}
	}
}

// be64 is the Int64 serde's encoding of v.
func be64(v int64) []byte {
	b, _ := serde.Int64().Serialize("", v)
	return b
}

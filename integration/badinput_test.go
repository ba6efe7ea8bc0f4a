package integration

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// int64Topology reads Int64 values from in and writes them to out as
// strings, so that a value that is not 8 bytes is a deserialization error.
func int64Topology(t testing.TB, in, out string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.Int64()))
	kstreams.MapValues(s, func(v int64) string { return strconv.FormatInt(v, 10) }).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// badInput is the input of the bad-input tests: on each of two
// partitions, good records "p<p>-<i>" with value i, and at the positions
// in bad (offsets of partition 1) a 3-byte value no Int64 serde reads.
type badInput struct {
	good []string // keys of the good records, as "key=value"
	bad  []*kgo.Record
}

func produceBadInput(t testing.TB, in string, perPartition int, bad ...int) badInput {
	t.Helper()
	var recs []*kgo.Record
	now := time.Now().UnixMilli()
	var res badInput
	for p := range int32(2) {
		for i := range perPartition {
			key := fmt.Sprintf("p%d-%d", p, i)
			if p == 1 && slices.Contains(bad, i) {
				r := rec(in, p, []byte("bad-"+key), []byte{0xba, 0xad, 0x01}, now,
					kgo.RecordHeader{Key: "origin", Value: []byte("test")})
				recs = append(recs, r)
				res.bad = append(res.bad, r)
				continue
			}
			recs = append(recs, rec(in, p, []byte(key), be64(int64(i)), now))
			res.good = append(res.good, fmt.Sprintf("%s=%d", key, i))
		}
	}
	produce(t, recs...)
	return res
}

// keyValues renders records as "key=value".
func keyValues(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Key) + "=" + string(r.Value)
	}
	return out
}

func TestBadInputFailTask(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	input := produceBadInput(t, in, 10, 5)
	badRec := input.bad[0]

	r := runApp(t, int64Topology(t, in, out), kstreams.ApplicationID(app), kstreams.OnDeserializationError(kstreams.FailTask))
	err := r.waitErr(t, 30*time.Second)

	var re *kstreams.RecordError
	if !errors.As(err, &re) {
		t.Fatalf("Run returned %T %v, want a *kstreams.RecordError", err, err)
	}
	if re.Topic != in || re.Partition != 1 || re.Offset != badRec.Offset {
		t.Errorf("RecordError at %q partition %d offset %d, want %q partition 1 offset %d", re.Topic, re.Partition, re.Offset, in, badRec.Offset)
	}
	var de *serde.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, serde.ErrSize) {
		t.Errorf("Run returned %v, want it to wrap the serde's *serde.DecodeError (ErrSize)", err)
	}
	msg := err.Error()
	for _, want := range []string{strconv.Quote(in), "partition 1", fmt.Sprintf("offset %d", badRec.Offset), "deserializing value", "wrong size: got 3 bytes, want 8"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if s := r.app.State(); s != kstreams.Error {
		t.Errorf("state %v after a failed task, want %v", s, kstreams.Error)
	}

	// The records before the bad one were processed, their outputs
	// written, and their offsets committed; nothing after it was.
	if com := committed(t, app, in); com[1] != badRec.Offset {
		t.Errorf("committed offset of partition 1 is %d, want %d (the bad record's)", com[1], badRec.Offset)
	}
	var before []string
	for i := range 5 {
		before = append(before, fmt.Sprintf("p1-%d=%d", i, i))
	}
	got := keyValues(consume(t, out, 30*time.Second, "the outputs of the records before the bad one", func(rs []*kgo.Record) (bool, string) {
		kv := keyValues(rs)
		for _, w := range before {
			if !slices.Contains(kv, w) {
				return false, w + " missing"
			}
		}
		return true, ""
	}))
	for _, kv := range got {
		if strings.HasPrefix(kv, "p1-") && !slices.Contains(before, kv) {
			t.Errorf("output %q comes from after the bad record", kv)
		}
	}
}

func TestBadInputSkipRecord(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	input := produceBadInput(t, in, 12, 0, 4, 11)

	r := runApp(t, int64Topology(t, in, out), kstreams.ApplicationID(app), kstreams.OnDeserializationError(kstreams.SkipRecord))
	got := consumeUntil(t, out, len(input.good), 30*time.Second)
	waitCaughtUp(t, app, 30*time.Second, in)

	diffMultisets(t, "topic "+out, keyValues(got), input.good)
	if n := sum(endOffsets(t, out)); n != int64(len(input.good)) {
		t.Errorf("topic %q holds %d records, want %d", out, n, len(input.good))
	}
	m := r.app.Metrics()
	if m.Skipped != int64(len(input.bad)) {
		t.Errorf("Metrics().Skipped = %d, want %d", m.Skipped, len(input.bad))
	}
	if m.Processed != int64(len(input.good)+len(input.bad)) {
		t.Errorf("Metrics().Processed = %d, want %d", m.Processed, len(input.good)+len(input.bad))
	}
	if m.DeadLettered != 0 {
		t.Errorf("Metrics().DeadLettered = %d, want 0", m.DeadLettered)
	}
}

func TestBadInputDeadLetter(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	dlq := app + "-dlq" // created by Run
	createTopics(t, 2, in, out)
	input := produceBadInput(t, in, 10, 3, 7)

	r := runApp(t, int64Topology(t, in, out), kstreams.ApplicationID(app), kstreams.OnDeserializationError(kstreams.DeadLetter(dlq)))
	got := consumeUntil(t, out, len(input.good), 30*time.Second)
	dead := consumeUntil(t, dlq, len(input.bad), 30*time.Second)
	waitCaughtUp(t, app, 30*time.Second, in)

	diffMultisets(t, "topic "+out, keyValues(got), input.good)
	if n := sum(endOffsets(t, dlq)); n != int64(len(input.bad)) {
		t.Errorf("dead-letter topic %q holds %d records, want %d", dlq, n, len(input.bad))
	}
	for i, d := range dead {
		if i >= len(input.bad) {
			break
		}
		checkDeadLetter(t, d, input.bad[i], map[string]string{
			kstreams.HeaderErrorStage:     "deserializing value",
			kstreams.HeaderErrorMessage:   "serde: int64: topic " + strconv.Quote(in) + ": wrong size: got 3 bytes, want 8",
			kstreams.HeaderErrorTopic:     in,
			kstreams.HeaderErrorPartition: "1",
			kstreams.HeaderErrorOffset:    strconv.FormatInt(input.bad[i].Offset, 10),
		})
	}
	m := r.app.Metrics()
	if m.DeadLettered != int64(len(input.bad)) || m.Skipped != 0 {
		t.Errorf("Metrics() DeadLettered = %d, Skipped = %d; want %d, 0", m.DeadLettered, m.Skipped, len(input.bad))
	}
}

// checkDeadLetter checks that dead is orig, unchanged, with orig's headers
// followed by the error headers in want.
func checkDeadLetter(t *testing.T, dead, orig *kgo.Record, want map[string]string) {
	t.Helper()
	if string(dead.Key) != string(orig.Key) || string(dead.Value) != string(orig.Value) {
		t.Errorf("dead letter key %q value %q, want the original key %q value %q", dead.Key, dead.Value, orig.Key, orig.Value)
	}
	if !dead.Timestamp.Equal(orig.Timestamp) {
		t.Errorf("dead letter %q timestamp %v, want the original %v", dead.Key, dead.Timestamp, orig.Timestamp)
	}
	for _, h := range orig.Headers {
		if v, ok := headerValue(dead, h.Key); !ok || v != string(h.Value) {
			t.Errorf("dead letter %q: header %q = %q (present %v), want the original %q", dead.Key, h.Key, v, ok, h.Value)
		}
	}
	for k, w := range want {
		if v, ok := headerValue(dead, k); !ok || v != w {
			t.Errorf("dead letter %q: header %q = %q (present %v), want %q", dead.Key, k, v, ok, w)
		}
	}
}

// Production errors: the output topic accepts batches of at most
// maxMessageBytes, and the topology turns the value "big" into bigValue
// random (incompressible) bytes, which the broker rejects with
// MESSAGE_TOO_LARGE. The client's own limit (ProducerBatchMaxBytes) stays
// far above, so the record is sent and the broker, not the client, refuses
// it.
const (
	maxMessageBytes = 1024
	bigValue        = 4 << 10
)

// produceErrorSetup creates the input and the size-limited output topic
// (two partitions) and writes the input: good records whose keys go to
// output partition 0, and one "big" record, keyed to output partition 1 so
// that it shares no batch with them. It returns the good outputs
// ("key=value"), the big record's key and its input offset.
func produceErrorSetup(t *testing.T) (in, out string, good []string, bigKey string, bigOffset int64) {
	t.Helper()
	in, out = uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, in)
	createTopicsWithConfigs(t, 2, map[string]string{"max.message.bytes": strconv.Itoa(maxMessageBytes)}, out)
	part := kgo.StickyKeyPartitioner(nil).ForTopic(out)
	partOf := func(k string) int { return part.Partition(&kgo.Record{Key: []byte(k)}, 2) }
	for i := 0; partOf(bigKey) != 1; i++ {
		bigKey = fmt.Sprintf("big-%d", i)
	}
	var recs []*kgo.Record
	now := time.Now().UnixMilli()
	for i := 0; len(good) < 10; i++ {
		k := fmt.Sprintf("good-%d", i)
		if partOf(k) != 0 {
			continue
		}
		if len(good) == 5 {
			recs = append(recs, rec(in, 0, []byte(bigKey), []byte("big"), now))
		}
		recs = append(recs, rec(in, 0, []byte(k), []byte("v"+k), now))
		good = append(good, k+"=v"+k)
	}
	produce(t, recs...)
	for _, r := range recs {
		if string(r.Key) == bigKey {
			bigOffset = r.Offset
		}
	}
	return in, out, good, bigKey, bigOffset
}

// bigTopology copies in to out, turning the value "big" into bigValue
// random bytes (the same for a given key).
func bigTopology(t testing.TB, in, out string) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.Bytes()))
	s = kstreams.Map(s, func(k string, v []byte) (string, []byte) {
		if string(v) == "big" {
			return k, randomBytes(k, bigValue)
		}
		return k, v
	})
	s.To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func randomBytes(seed string, n int) []byte {
	var s [32]byte
	copy(s[:], seed)
	out := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(out)
	return out
}

// produceClientOpts keep the client's own size limits above the record,
// so that only the broker refuses it.
func produceClientOpts() kstreams.Option {
	return kstreams.ClientOptions(kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedBytes(64<<20))
}

func TestProduceErrorFailTask(t *testing.T) {
	app := newAppID(t)
	in, out, _, _, bigOffset := produceErrorSetup(t)

	r := runApp(t, bigTopology(t, in, out), kstreams.ApplicationID(app), produceClientOpts(),
		kstreams.OnProductionError(kstreams.FailTask))
	err := r.waitErr(t, 30*time.Second)
	var pe *kstreams.ProduceError
	if !errors.As(err, &pe) {
		t.Fatalf("Run returned %T %v, want a *kstreams.ProduceError", err, err)
	}
	if pe.Topic != out || pe.Partition != 1 {
		t.Errorf("ProduceError for topic %q partition %d, want %q partition 1", pe.Topic, pe.Partition, out)
	}
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("Run returned %v, want it to wrap kerr.MessageTooLarge (the broker's refusal)", err)
	}
	if !strings.Contains(err.Error(), strconv.Quote(out)) {
		t.Errorf("error %q does not name the topic %q", err, out)
	}
	// The input of a record that was never written must not be committed.
	if com, ok := committed(t, app, in)[0]; ok && com > bigOffset {
		t.Errorf("committed offset %d is past the failed record's input (offset %d)", com, bigOffset)
	}
}

func TestProduceErrorSkipRecord(t *testing.T) {
	app := newAppID(t)
	in, out, good, _, _ := produceErrorSetup(t)

	r := runApp(t, bigTopology(t, in, out), kstreams.ApplicationID(app), produceClientOpts(),
		kstreams.OnProductionError(kstreams.SkipRecord))
	got := consumeUntil(t, out, len(good), 30*time.Second)
	waitCaughtUp(t, app, 30*time.Second, in)

	diffMultisets(t, "topic "+out, keyValues(got), good)
	if n := sum(endOffsets(t, out)); n != int64(len(good)) {
		t.Errorf("topic %q holds %d records, want %d", out, n, len(good))
	}
	m := r.app.Metrics()
	if m.Skipped != 1 || m.ProduceFailed != 1 {
		t.Errorf("Metrics() Skipped = %d, ProduceFailed = %d; want 1, 1", m.Skipped, m.ProduceFailed)
	}
	if m.Produced != int64(len(good)) {
		t.Errorf("Metrics().Produced = %d, want %d", m.Produced, len(good))
	}
}

func TestProduceErrorDeadLetter(t *testing.T) {
	app := newAppID(t)
	dlq := app + "-dlq"
	in, out, good, bigKey, _ := produceErrorSetup(t)

	r := runApp(t, bigTopology(t, in, out), kstreams.ApplicationID(app), produceClientOpts(),
		kstreams.OnProductionError(kstreams.DeadLetter(dlq)))
	got := consumeUntil(t, out, len(good), 30*time.Second)
	dead := consumeUntil(t, dlq, 1, 30*time.Second)
	waitCaughtUp(t, app, 30*time.Second, in)

	diffMultisets(t, "topic "+out, keyValues(got), good)
	d := dead[0]
	if string(d.Key) != bigKey || !slices.Equal(d.Value, randomBytes(bigKey, bigValue)) {
		t.Errorf("dead letter key %q value of %d bytes, want key %q and the %d-byte value the topology produced", d.Key, len(d.Value), bigKey, bigValue)
	}
	for k, w := range map[string]string{
		kstreams.HeaderErrorStage:     "producing",
		kstreams.HeaderErrorTopic:     out,
		kstreams.HeaderErrorPartition: "1",
		kstreams.HeaderErrorOffset:    "-1", // never written, so it has no offset
	} {
		if v, ok := headerValue(d, k); !ok || v != w {
			t.Errorf("dead letter header %q = %q (present %v), want %q", k, v, ok, w)
		}
	}
	if v, _ := headerValue(d, kstreams.HeaderErrorMessage); !strings.Contains(v, "MESSAGE_TOO_LARGE") {
		t.Errorf("dead letter header %q = %q, want the broker's MESSAGE_TOO_LARGE", kstreams.HeaderErrorMessage, v)
	}
	if n := sum(endOffsets(t, dlq)); n != 1 {
		t.Errorf("dead-letter topic %q holds %d records, want 1", dlq, n)
	}
	m := r.app.Metrics()
	if m.DeadLettered != 1 || m.ProduceFailed != 1 {
		t.Errorf("Metrics() DeadLettered = %d, ProduceFailed = %d; want 1, 1", m.DeadLettered, m.ProduceFailed)
	}
}

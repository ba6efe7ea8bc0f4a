package integration

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/serde/registry"
	"github.com/kstreams-go/kstreams/serde/registry/registrytest"
)

// Avro types and schemas of the registry tests.
type (
	regUserKey struct {
		UserID string `avro:"user_id"`
	}
	regOrder struct {
		ID          string `avro:"id"`
		Region      string `avro:"region"`
		AmountCents int64  `avro:"amount_cents"`
	}
	regRegionKey struct {
		Region string `avro:"region"`
	}
	regTotals struct {
		Orders      int64 `avro:"orders"`
		AmountCents int64 `avro:"amount_cents"`
	}
)

const (
	regUserKeySchema   = `{"type":"record","name":"UserKey","namespace":"kstreams.it","fields":[{"name":"user_id","type":"string"}]}`
	regOrderSchema     = `{"type":"record","name":"Order","namespace":"kstreams.it","fields":[{"name":"id","type":"string"},{"name":"region","type":"string"},{"name":"amount_cents","type":"long"}]}`
	regRegionKeySchema = `{"type":"record","name":"RegionKey","namespace":"kstreams.it","fields":[{"name":"region","type":"string"}]}`
	regTotalsSchema    = `{"type":"record","name":"Totals","namespace":"kstreams.it","fields":[{"name":"orders","type":"long"},{"name":"amount_cents","type":"long"}]}`
)

// newRegistry returns a Registry on KSTREAMS_TEST_REGISTRY, or on an
// in-process registrytest server.
func newRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	url, done := registrytest.URL()
	t.Cleanup(done)
	reg, err := registry.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func avroSerde[T any](t testing.TB, reg *registry.Registry, schema string, opts ...registry.Opt) serde.Serde[T] {
	t.Helper()
	s, err := registry.Avro[T](reg, schema, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func encode[T any](t testing.TB, s serde.Serde[T], topic string, v T) []byte {
	t.Helper()
	b, err := s.Serialize(topic, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRegistryAvroTopology runs Avro keys and values through a repartition
// topic and a store: orders keyed by user are regrouped by region and
// summed. Every serde, the store's included, goes through the registry.
func TestRegistryAvroTopology(t *testing.T) {
	reg := newRegistry(t)
	app := newAppID(t)
	in, out, store := uniqueName(t, "in"), uniqueName(t, "out"), uniqueName(t, "totals")
	createTopics(t, 2, in, out)
	userK := avroSerde[regUserKey](t, reg, regUserKeySchema, registry.Key())
	orderV := avroSerde[regOrder](t, reg, regOrderSchema)
	regionK := avroSerde[regRegionKey](t, reg, regRegionKeySchema, registry.Key())
	totalsV := avroSerde[regTotals](t, reg, regTotalsSchema)

	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(userK, orderV))
	byRegion := kstreams.GroupBy(orders, func(_ regUserKey, o regOrder) regRegionKey { return regRegionKey{o.Region} },
		kstreams.Grouped[regRegionKey, regOrder]{Name: "by-region", Key: regionK, Value: orderV})
	totals := kstreams.Aggregate(byRegion, func() regTotals { return regTotals{} },
		func(_ regRegionKey, o regOrder, a regTotals) regTotals {
			return regTotals{Orders: a.Orders + 1, AmountCents: a.AmountCents + o.AmountCents}
		},
		kstreams.Materialized[regRegionKey, regTotals]{Name: store, Key: regionK, Value: totalsV})
	totals.ToStream().To(out, kstreams.ProducedWith(regionK, totalsV))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]regTotals{}
	var recs []*kgo.Record
	now := time.Now().UnixMilli()
	for i, o := range []struct {
		user, region string
		amount       int64
	}{{"u1", "eu", 100}, {"u2", "us", 250}, {"u3", "eu", 5}, {"u1", "apac", 70}, {"u4", "us", 1}, {"u2", "eu", 1000}} {
		w := want[o.region]
		want[o.region] = regTotals{Orders: w.Orders + 1, AmountCents: w.AmountCents + o.amount}
		v := regOrder{ID: "o" + string(rune('0'+i)), Region: o.region, AmountCents: o.amount}
		recs = append(recs, rec(in, int32(i%2), encode(t, userK, in, regUserKey{o.user}), encode(t, orderV, in, v), now))
	}
	produce(t, recs...)
	runApp(t, topo, kstreams.ApplicationID(app))

	got := map[string]regTotals{}
	consume(t, out, 60*time.Second, "the final totals per region", func(rs []*kgo.Record) (bool, string) {
		for _, r := range rs {
			k, err := regionK.Deserialize(out, r.Key)
			if err != nil {
				t.Fatalf("output key: %v", err)
			}
			v, err := totalsV.Deserialize(out, r.Value)
			if err != nil {
				t.Fatalf("output value: %v", err)
			}
			got[k.Region] = v
		}
		for region, w := range want {
			if got[region] != w {
				return false, region + " not final yet"
			}
		}
		return true, ""
	})
	// The repartition topic's records were written with schemas registered
	// under its own subjects, and the store's under its changelog topic's
	// (Kafka Streams gives a store's serdes the changelog topic's name), and
	// under nothing else: no subject is named after the store alone.
	subjects, err := reg.Client().Subjects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		app + "-by-region-repartition-key", app + "-by-region-repartition-value",
		app + "-" + store + "-changelog-key", app + "-" + store + "-changelog-value",
	} {
		if !slices.Contains(subjects, name) {
			t.Errorf("subject %q not in the registry (subjects: %v)", name, subjects)
		}
	}
	for _, name := range []string{store + "-key", store + "-value"} {
		if slices.Contains(subjects, name) {
			t.Errorf("subject %q in the registry: a store's serdes were given its name, not its changelog topic", name)
		}
	}
}

// TestRegistryBadPayloads sends payloads a registry serde cannot read
// through each deserialization policy.
func TestRegistryBadPayloads(t *testing.T) {
	reg := newRegistry(t)
	down := registrytest.New()
	downURL := down.URL()
	down.Close()
	regDown, err := registry.New(downURL, registry.Retries(2, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	orderV := avroSerde[regOrder](t, reg, regOrderSchema)
	good := encode(t, orderV, "x", regOrder{ID: "o", Region: "eu", AmountCents: 1})
	cases := []struct {
		name  string
		value []byte
		want  error
		msg   string // in the error text
	}{
		{"wrong magic byte", append([]byte{9}, good[1:]...), registry.ErrMagicByte, "magic byte"},
		{"unknown schema id", []byte{0, 0x7f, 0, 0, 1, 2}, registry.ErrUnknownSchema, "schema id 2130706433"},
		{"bytes that do not decode", good[:len(good)-1], registry.ErrDecode, "schema id"},
	}
	for _, policy := range []string{"fail", "skip", "dead-letter"} {
		for _, c := range cases {
			t.Run(policy+"/"+c.name, func(t *testing.T) {
				runBadPayload(t, policy, orderV, [3][]byte{good, c.value, good}, []int{1}, c.want, c.msg)
			})
		}
		// With the registry down (after the retries), every record fails.
		t.Run(policy+"/registry down", func(t *testing.T) {
			down := avroSerde[regOrder](t, regDown, regOrderSchema)
			runBadPayload(t, policy, down, [3][]byte{good, good, good}, []int{0, 1, 2}, registry.ErrUnavailable, "after 2 tries")
		})
	}
}

// runBadPayload runs a topology reading the three values with value under
// policy, where the records at the indexes bad cannot be read, and checks
// what became of every record.
func runBadPayload(t *testing.T, policy string, value serde.Serde[regOrder], values [3][]byte, bad []int, want error, msg string) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	dlq := app + "-dlq"
	createTopics(t, 1, in, out)
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), value))
	kstreams.MapValues(s, func(o regOrder) string { return o.ID }).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	recs := produce(t, rec(in, 0, []byte("a"), values[0], now), rec(in, 0, []byte("b"), values[1], now), rec(in, 0, []byte("c"), values[2], now))

	var opt kstreams.Option
	switch policy {
	case "fail":
		opt = kstreams.OnDeserializationError(kstreams.FailTask)
	case "skip":
		opt = kstreams.OnDeserializationError(kstreams.SkipRecord)
	default:
		opt = kstreams.OnDeserializationError(kstreams.DeadLetter(dlq))
	}
	r := runApp(t, topo, kstreams.ApplicationID(app), opt)
	if policy == "fail" {
		err := r.waitErr(t, 60*time.Second)
		var re *kstreams.RecordError
		var rerr *registry.Error
		if !errors.As(err, &re) || !errors.As(err, &rerr) || !errors.Is(err, want) {
			t.Fatalf("Run returned %v, want a RecordError wrapping a registry.Error wrapping %v", err, want)
		}
		if first := recs[bad[0]]; re.Topic != in || re.Offset != first.Offset || re.Stage != "deserializing value" {
			t.Errorf("RecordError at %q offset %d stage %q, want %q offset %d", re.Topic, re.Offset, re.Stage, in, first.Offset)
		}
		if !strings.Contains(err.Error(), msg) {
			t.Errorf("error %q does not contain %q", err, msg)
		}
		return
	}
	if n := len(values) - len(bad); n > 0 {
		consumeUntil(t, out, n, 60*time.Second)
	}
	waitCaughtUp(t, app, 60*time.Second, in)
	if n := sum(endOffsets(t, out)); n != int64(len(values)-len(bad)) {
		t.Errorf("topic %q holds %d records, want %d", out, n, len(values)-len(bad))
	}
	m := r.app.Metrics()
	if policy == "skip" && m.Skipped != int64(len(bad)) {
		t.Errorf("Metrics().Skipped = %d, want %d", m.Skipped, len(bad))
	}
	if policy == "dead-letter" {
		dead := consumeUntil(t, dlq, len(bad), 60*time.Second)
		for i, d := range dead {
			if i >= len(bad) || string(d.Value) != string(values[bad[i]]) || string(d.Key) != string(recs[bad[i]].Key) {
				t.Fatalf("dead-letter topic holds %s, want the records at %v", describeRecords(dead), bad)
			}
			if v, _ := headerValue(d, kstreams.HeaderErrorMessage); !strings.Contains(v, msg) || !strings.Contains(v, "kstreams: avro deserialize") {
				t.Errorf("dead letter's error header %q does not contain %q", v, msg)
			}
		}
	}
}

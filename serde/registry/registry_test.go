package registry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/serde/registry"
	"github.com/kstreams-go/kstreams/serde/registry/internal/testpb"
	"github.com/kstreams-go/kstreams/serde/registry/registrytest"
)

// Avro schemas of the tests: v1, v2 (adds a field with a default: both
// BACKWARD and FORWARD compatible), and two changes BACKWARD refuses.
const (
	orderKeyAvro = `{"type":"record","name":"OrderKey","namespace":"kstreams.test","fields":[{"name":"user_id","type":"string"}]}`
	orderV1Avro  = `{"type":"record","name":"Order","namespace":"kstreams.test","fields":[
		{"name":"id","type":"string"},{"name":"amount_cents","type":"long"}]}`
	orderV2Avro = `{"type":"record","name":"Order","namespace":"kstreams.test","fields":[
		{"name":"id","type":"string"},{"name":"amount_cents","type":"long"},
		{"name":"currency","type":"string","default":"EUR"}]}`
	orderNoDefaultAvro = `{"type":"record","name":"Order","namespace":"kstreams.test","fields":[
		{"name":"id","type":"string"},{"name":"amount_cents","type":"long"},{"name":"coupon","type":"string"}]}`
	orderTypeChangedAvro = `{"type":"record","name":"Order","namespace":"kstreams.test","fields":[
		{"name":"id","type":"string"},{"name":"amount_cents","type":"string"}]}`
	orderJSONSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"kstreams.test.Order","type":"object",
		"properties":{"id":{"type":"string"},"amount_cents":{"type":"integer","minimum":0}},
		"required":["id","amount_cents"],"additionalProperties":false}`
	orderKeyJSONSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"kstreams.test.OrderKey","type":"object",
		"properties":{"user_id":{"type":"string"}},"required":["user_id"]}`
)

type orderKey struct {
	UserID string `avro:"user_id" json:"user_id"`
}

type orderV1 struct {
	ID          string `avro:"id" json:"id"`
	AmountCents int64  `avro:"amount_cents" json:"amount_cents"`
}

type orderV2 struct {
	ID          string `avro:"id"`
	AmountCents int64  `avro:"amount_cents"`
	Currency    string `avro:"currency"`
}

// newRegistry returns a Registry on KSTREAMS_TEST_REGISTRY, or on an
// in-process registrytest server.
func newRegistry(t testing.TB, opts ...registry.ClientOpt) *registry.Registry {
	t.Helper()
	url, done := registrytest.URL()
	t.Cleanup(done)
	reg, err := registry.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// fresh returns schema with its "kstreams.test" namespace made unique to
// this call. A registry that has seen a schema under one subject may hand
// back its id under another without checking it or adding a version there
// (rivven-schema 0.0.22 does), so the tests of versions and compatibility
// use schemas no earlier run registered.
func fresh(schema string, ns string) string {
	return strings.ReplaceAll(schema, `"namespace":"kstreams.test"`, `"namespace":"`+ns+`"`)
}

// namespace returns a namespace no other run used.
func namespace() string { return fmt.Sprintf("kstreams.test.r%d", rand.Uint64()) }

// topicName returns a topic (and so subject) name no other run used.
func topicName(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%d", name, rand.Uint64())
}

// must returns v, or fails the test given to the returned func with err.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// roundTrip serializes v to topic, checks the wire header, reads it back
// and returns the schema id.
func roundTrip[T any](t *testing.T, s serde.Serde[T], topic string, v T, eq func(a, b T) bool) int {
	t.Helper()
	b, err := s.Serialize(topic, v)
	if err != nil {
		t.Fatalf("Serialize: %v", err)
	}
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("Serialize gave % x, want the magic byte 0 and a schema id", b)
	}
	got, err := s.Deserialize(topic, b)
	if err != nil {
		t.Fatalf("Deserialize: %v", err)
	}
	if !eq(got, v) {
		t.Errorf("round trip gave %+v, want %+v", got, v)
	}
	var zero T
	if z, err := s.Deserialize(topic, nil); err != nil || !eq(z, zero) {
		t.Errorf("Deserialize(nil) = %+v, %v; want the zero value", z, err)
	}
	return int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4])
}

func eqComparable[T comparable](a, b T) bool { return a == b }

func TestRoundTrip(t *testing.T) {
	reg := newRegistry(t)
	topic := topicName(t)
	ctx := context.Background()

	t.Run("avro", func(t *testing.T) {
		k := must(registry.Avro[orderKey](reg, orderKeyAvro, registry.Key()))(t)
		v := must(registry.Avro[orderV1](reg, orderV1Avro))(t)
		kid := roundTrip(t, k, topic, orderKey{UserID: "u1"}, eqComparable)
		vid := roundTrip(t, v, topic, orderV1{ID: "o1", AmountCents: 1250}, eqComparable)
		checkSubject(t, reg, topic+"-key", kid, sr.TypeAvro)
		checkSubject(t, reg, topic+"-value", vid, sr.TypeAvro)
	})
	t.Run("protobuf", func(t *testing.T) {
		ptopic := topic + "-pb"
		k := must(registry.Protobuf[*testpb.OrderKey](reg, testpb.Source, registry.Key()))(t)
		v := must(registry.Protobuf[*testpb.Order](reg, testpb.Source))(t)
		line := must(registry.Protobuf[*testpb.Order_Line](reg, testpb.Source, registry.SubjectStrategy(registry.TopicRecordName)))(t)
		eq := func(a, b proto.Message) bool { return proto.Equal(a, b) }
		kid := roundTrip(t, k, ptopic, &testpb.OrderKey{UserId: "u1"}, func(a, b *testpb.OrderKey) bool { return eq(a, b) })
		vid := roundTrip(t, v, ptopic, &testpb.Order{Id: "o1", UserId: "u1", AmountCents: 99,
			Lines: []*testpb.Order_Line{{Sku: "s1", Qty: 2}}}, func(a, b *testpb.Order) bool { return eq(a, b) })
		roundTrip(t, line, ptopic, &testpb.Order_Line{Sku: "s2", Qty: 3}, func(a, b *testpb.Order_Line) bool { return eq(a, b) })
		checkSubject(t, reg, ptopic+"-key", kid, sr.TypeProtobuf)
		checkSubject(t, reg, ptopic+"-value", vid, sr.TypeProtobuf)
		// Message indexes: OrderKey is the file's first message (one 0
		// byte), Order the second ([1]), Order.Line the first nested in
		// the second ([1, 0]).
		for _, c := range []struct {
			b    []byte
			want []byte
		}{
			{must(k.Serialize(ptopic, &testpb.OrderKey{}))(t)[5:], []byte{0}},
			{must(v.Serialize(ptopic, &testpb.Order{}))(t)[5:], []byte{2, 2}},
			{must(line.Serialize(ptopic, &testpb.Order_Line{}))(t)[5:], []byte{4, 2, 0}},
		} {
			if string(c.b) != string(c.want) {
				t.Errorf("indexes and empty body % x, want % x", c.b, c.want)
			}
		}
	})
	t.Run("json-schema", func(t *testing.T) {
		jtopic := topic + "-json"
		k := must(registry.JSONSchema[orderKey](reg, orderKeyJSONSchema, registry.Key()))(t)
		v := must(registry.JSONSchema[orderV1](reg, orderJSONSchema))(t)
		kid := roundTrip(t, k, jtopic, orderKey{UserID: "u1"}, eqComparable)
		vid := roundTrip(t, v, jtopic, orderV1{ID: "o1", AmountCents: 7}, eqComparable)
		checkSubject(t, reg, jtopic+"-key", kid, sr.TypeJSON)
		checkSubject(t, reg, jtopic+"-value", vid, sr.TypeJSON)
		// A value the schema refuses is not written.
		if _, err := v.Serialize(jtopic, orderV1{ID: "o2", AmountCents: -1}); !errors.Is(err, registry.ErrEncode) {
			t.Errorf("Serialize of a value breaking the schema's minimum: %v, want ErrEncode", err)
		}
	})
	_ = ctx
}

// checkSubject checks that subject's latest schema has id and type.
func checkSubject(t *testing.T, reg *registry.Registry, subject string, id int, typ sr.SchemaType) {
	t.Helper()
	ss, err := reg.Client().SchemaByVersion(context.Background(), subject, -1)
	if err != nil {
		t.Fatalf("subject %q: %v", subject, err)
	}
	if ss.ID != id || ss.Type != typ {
		t.Errorf("subject %q holds id %d type %v, want id %d type %v", subject, ss.ID, ss.Type, id, typ)
	}
}

func TestSubjectStrategies(t *testing.T) {
	reg := newRegistry(t)
	for _, c := range []struct {
		name     string
		strategy registry.Strategy
		key      bool
		subject  func(topic string) string
	}{
		{"topic-value", registry.TopicName, false, func(topic string) string { return topic + "-value" }},
		{"topic-key", registry.TopicName, true, func(topic string) string { return topic + "-key" }},
		{"record", registry.RecordName, false, func(string) string { return "kstreams.test.OrderKey" }},
		{"topic-record", registry.TopicRecordName, true, func(topic string) string { return topic + "-kstreams.test.OrderKey" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := topicName(t)
			opts := []registry.Opt{registry.SubjectStrategy(c.strategy)}
			if c.key {
				opts = append(opts, registry.Key())
			}
			s := must(registry.Avro[orderKey](reg, orderKeyAvro, opts...))(t)
			id := roundTrip(t, s, topic, orderKey{UserID: "u"}, eqComparable)
			checkSubject(t, reg, c.subject(topic), id, sr.TypeAvro)
		})
	}
	if _, err := registry.Avro[string](reg, `"string"`, registry.SubjectStrategy(registry.RecordName)); !errors.Is(err, registry.ErrConfig) {
		t.Errorf("RecordName with an unnamed schema: %v, want ErrConfig", err)
	}
}

func TestAvroEvolution(t *testing.T) {
	reg := newRegistry(t)
	topic := topicName(t)
	ns := namespace()
	v1 := must(registry.Avro[orderV1](reg, fresh(orderV1Avro, ns)))(t)
	v2 := must(registry.Avro[orderV2](reg, fresh(orderV2Avro, ns)))(t)

	old := must(v1.Serialize(topic, orderV1{ID: "o1", AmountCents: 100}))(t)
	// v2 registers under the same subject: adding a field with a default is
	// BACKWARD compatible.
	newer := must(v2.Serialize(topic, orderV2{ID: "o2", AmountCents: 200, Currency: "USD"}))(t)
	if string(old[1:5]) == string(newer[1:5]) {
		t.Fatalf("v1 and v2 have the same schema id % x", old[1:5])
	}

	// A newer reader reads older data: the added field takes its default.
	if got := must(v2.Deserialize(topic, old))(t); got != (orderV2{ID: "o1", AmountCents: 100, Currency: "EUR"}) {
		t.Errorf("v2 reading v1 data: %+v", got)
	}
	// An older reader reads newer data: the added field is skipped.
	if got := must(v1.Deserialize(topic, newer))(t); got != (orderV1{ID: "o2", AmountCents: 200}) {
		t.Errorf("v1 reading v2 data: %+v", got)
	}
	// UseLatest writes with the latest registered schema (v2), so a v1
	// value gets the default, and UseVersion(1) with v1.
	latest := must(registry.Avro[orderV1](reg, fresh(orderV1Avro, ns), registry.UseLatest()))(t)
	b := must(latest.Serialize(topic, orderV1{ID: "o3", AmountCents: 3}))(t)
	if string(b[1:5]) != string(newer[1:5]) {
		t.Errorf("UseLatest wrote schema id % x, want v2's % x", b[1:5], newer[1:5])
	}
	if got := must(v2.Deserialize(topic, b))(t); got != (orderV2{ID: "o3", AmountCents: 3, Currency: "EUR"}) {
		t.Errorf("v2 reading UseLatest data: %+v", got)
	}
	first := must(registry.Avro[orderV2](reg, fresh(orderV2Avro, ns), registry.UseVersion(1)))(t)
	if b := must(first.Serialize(topic, orderV2{ID: "o4", AmountCents: 4, Currency: "X"}))(t); string(b[1:5]) != string(old[1:5]) {
		t.Errorf("UseVersion(1) wrote schema id % x, want v1's % x", b[1:5], old[1:5])
	}
}

func TestIncompatibleRefused(t *testing.T) {
	reg := newRegistry(t)
	for _, c := range []struct {
		name   string
		schema string
	}{
		{"new field without a default", orderNoDefaultAvro},
		{"changed type", orderTypeChangedAvro},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic, ns := topicName(t), namespace()
			v1 := must(registry.Avro[orderV1](reg, fresh(orderV1Avro, ns), registry.Compatibility(sr.CompatBackward)))(t)
			must(v1.Serialize(topic, orderV1{ID: "o1"}))(t)
			bad := must(registry.Avro[map[string]any](reg, fresh(c.schema, ns)))(t)
			_, err := bad.Serialize(topic, map[string]any{"id": "o2", "amount_cents": "x", "coupon": "c"})
			if !errors.Is(err, registry.ErrIncompatible) {
				t.Fatalf("registering an incompatible schema: %v, want ErrIncompatible", err)
			}
			var re *registry.Error
			if !errors.As(err, &re) || re.Subject != topic+"-value" || re.Op != "serialize" {
				t.Errorf("error %#v does not name the subject %q", re, topic+"-value")
			}
			// The registry's own message follows the sentinel's text.
			_, msg, _ := strings.Cut(err.Error(), registry.ErrIncompatible.Error()+": ")
			if msg, _, _ = strings.Cut(msg, " (HTTP 409)"); len(msg) < 10 {
				t.Errorf("error %q does not carry the registry's message", err)
			}
			t.Logf("the registry's answer: %s", msg)
			// The level is per subject: NONE lets the same change through.
			none := must(registry.Avro[map[string]any](reg, fresh(c.schema, ns), registry.Compatibility(sr.CompatNone)))(t)
			if _, err := none.Serialize(topic, map[string]any{"id": "o2", "amount_cents": int64(1), "coupon": "c"}); err != nil && !errors.Is(err, registry.ErrEncode) {
				t.Errorf("registering under NONE: %v", err)
			}
		})
	}
}

func TestBadPayloads(t *testing.T) {
	reg := newRegistry(t)
	topic := topicName(t)
	avroSerde := must(registry.Avro[orderV1](reg, orderV1Avro))(t)
	pbSerde := must(registry.Protobuf[*testpb.Order](reg, testpb.Source))(t)
	jsonSerde := must(registry.JSONSchema[orderV1](reg, orderJSONSchema))(t)
	good := must(avroSerde.Serialize(topic, orderV1{ID: "o1", AmountCents: 5}))(t)
	pbGood := must(pbSerde.Serialize(topic+"-pb", &testpb.Order{Id: "o1"}))(t)
	id := int(good[4])
	unknown := []byte{0, 0x7f, 0xff, 0xff, 0xf0, 2, 'x'}

	type deser func([]byte) error
	avroD := func(b []byte) error { _, err := avroSerde.Deserialize(topic, b); return err }
	pbD := func(b []byte) error { _, err := pbSerde.Deserialize(topic, b); return err }
	jsonD := func(b []byte) error { _, err := jsonSerde.Deserialize(topic, b); return err }
	for _, c := range []struct {
		name   string
		d      deser
		data   []byte
		want   error
		wantID int
	}{
		{"avro wrong magic byte", avroD, append([]byte{1}, good[1:]...), registry.ErrMagicByte, -1},
		{"avro too short", avroD, good[:3], registry.ErrMagicByte, -1},
		{"avro unknown schema id", avroD, unknown, registry.ErrUnknownSchema, 0x7ffffff0},
		{"avro body does not decode", avroD, append(append([]byte{}, good[:5]...), 0xff, 0xff, 0xff), registry.ErrDecode, id},
		{"avro body ends early", avroD, good[:len(good)-1], registry.ErrDecode, id},
		{"avro empty body", avroD, good[:5], registry.ErrDecode, id},
		{"avro given a protobuf schema id", avroD, pbGood, registry.ErrWrongType, int(pbGood[4])},
		{"protobuf wrong magic byte", pbD, []byte{7, 0, 0, 0, 1, 0}, registry.ErrMagicByte, -1},
		{"protobuf unknown schema id", pbD, unknown, registry.ErrUnknownSchema, 0x7ffffff0},
		{"protobuf body does not decode", pbD, append(append([]byte{}, pbGood[:7]...), 0x0a, 0x10, 'x'), registry.ErrDecode, int(pbGood[4])},
		{"protobuf bad indexes", pbD, append(append([]byte{}, pbGood[:5]...), 0x80), registry.ErrMagicByte, int(pbGood[4])},
		{"json wrong magic byte", jsonD, []byte(`{"id":"x"}`), registry.ErrMagicByte, -1},
		{"json unknown schema id", jsonD, unknown, registry.ErrUnknownSchema, 0x7ffffff0},
		{"json given an avro schema id", jsonD, good, registry.ErrWrongType, id},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.d(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			var re *registry.Error
			if !errors.As(err, &re) {
				t.Fatalf("error %T, want a *registry.Error", err)
			}
			if re.SchemaID != c.wantID || re.Topic != topic || re.Op != "deserialize" {
				t.Errorf("error names topic %q schema id %d op %q, want %q %d deserialize", re.Topic, re.SchemaID, re.Op, topic, c.wantID)
			}
			if c.wantID >= 0 && !strings.Contains(err.Error(), fmt.Sprintf("schema id %d", c.wantID)) {
				t.Errorf("error %q does not name schema id %d", err, c.wantID)
			}
		})
	}
}

func TestRegistryDown(t *testing.T) {
	srv := registrytest.New()
	url := srv.URL()
	srv.Close() // nothing answers there now
	reg, err := registry.New(url, registry.Retries(3, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s := must(registry.Avro[orderV1](reg, orderV1Avro))(t)
	_, err = s.Deserialize("t", []byte{0, 0, 0, 0, 9, 2, 'x', 0})
	if !errors.Is(err, registry.ErrUnavailable) || !strings.Contains(err.Error(), "schema id 9") || !strings.Contains(err.Error(), "after 3 tries") {
		t.Errorf("Deserialize with the registry down: %v, want ErrUnavailable naming schema id 9 after 3 tries", err)
	}
	if _, err := s.Serialize("t", orderV1{}); !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("Serialize with the registry down: %v, want ErrUnavailable", err)
	}
}

func TestOutageRetried(t *testing.T) {
	srv := registrytest.New()
	defer srv.Close()
	reg, err := registry.New(srv.URL(), registry.Retries(5, time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s := must(registry.Avro[orderV1](reg, orderV1Avro))(t)
	b := must(s.Serialize("t", orderV1{ID: "o1", AmountCents: 1}))(t)

	// A fresh Registry (empty cache) meets three 503 answers, then the
	// registry is back: the fourth try succeeds.
	var failed atomic.Int32
	srv.Fake().Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if failed.Load() < 3 {
			failed.Add(1)
			http.Error(w, `{"error_code":50302,"message":"down for a moment"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	reg2, _ := registry.New(srv.URL(), registry.Retries(5, time.Millisecond, 5*time.Millisecond))
	s2 := must(registry.Avro[orderV1](reg2, orderV1Avro))(t)
	if got, err := s2.Deserialize("t", b); err != nil || got.ID != "o1" {
		t.Errorf("Deserialize through an outage of 3 requests: %+v, %v", got, err)
	}
	if n := failed.Load(); n != 3 {
		t.Errorf("%d requests failed, want 3", n)
	}
	// Definite answers (404) are not retried.
	failed.Store(0)
	_, err = s2.Deserialize("t", []byte{0, 0, 0, 0x10, 0, 0})
	if !errors.Is(err, registry.ErrUnknownSchema) {
		t.Errorf("unknown id: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	reg := newRegistry(t)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"bad avro", func() error { _, err := registry.Avro[orderV1](reg, `{"type":"nope"}`); return err }()},
		{"nil registry", func() error { _, err := registry.Avro[orderV1](nil, orderV1Avro); return err }()},
		{"bad version", func() error { _, err := registry.Avro[orderV1](reg, orderV1Avro, registry.UseVersion(-3)); return err }()},
		{"bad json schema", func() error { _, err := registry.JSONSchema[orderV1](reg, `{"type":12}`); return err }()},
		{"empty url", func() error { _, err := registry.New(""); return err }()},
		{"bad retries", func() error { _, err := registry.New("http://127.0.0.1:1", registry.Retries(0, 0, 0)); return err }()},
	} {
		if !errors.Is(c.err, registry.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", c.name, c.err)
		}
	}
	missing := must(registry.Avro[orderV1](reg, orderV1Avro, registry.UseLatest()))(t)
	if _, err := missing.Serialize(topicName(t), orderV1{}); !errors.Is(err, registry.ErrUnknownSchema) {
		t.Errorf("UseLatest on a subject with no schema: %v, want ErrUnknownSchema", err)
	}
}

func TestNullsAreTombstones(t *testing.T) {
	reg := newRegistry(t)
	topic := topicName(t)
	avroPtr := must(registry.Avro[*orderV1](reg, orderV1Avro))(t)
	jsonPtr := must(registry.JSONSchema[*orderV1](reg, orderJSONSchema))(t)
	pb := must(registry.Protobuf[*testpb.Order](reg, testpb.Source))(t)
	for _, c := range []struct {
		name string
		ser  func() ([]byte, error)
		de   func([]byte) (bool, error) // reports whether the result is nil
	}{
		{"avro", func() ([]byte, error) { return avroPtr.Serialize(topic, nil) },
			func(b []byte) (bool, error) { v, err := avroPtr.Deserialize(topic, b); return v == nil, err }},
		{"json-schema", func() ([]byte, error) { return jsonPtr.Serialize(topic, nil) },
			func(b []byte) (bool, error) { v, err := jsonPtr.Deserialize(topic, b); return v == nil, err }},
		{"protobuf", func() ([]byte, error) { return pb.Serialize(topic, nil) },
			func(b []byte) (bool, error) { v, err := pb.Deserialize(topic, b); return v == nil, err }},
	} {
		b, err := c.ser()
		if b != nil || err != nil {
			t.Errorf("%s: Serialize(nil) = % x, %v; want nil bytes (a tombstone)", c.name, b, err)
		}
		if isNil, err := c.de(nil); !isNil || err != nil {
			t.Errorf("%s: Deserialize(nil) is nil: %v, %v; want true", c.name, isNil, err)
		}
	}
	// A non-nil pointer round-trips.
	b := must(avroPtr.Serialize(topic, &orderV1{ID: "o", AmountCents: 2}))(t)
	if got := must(avroPtr.Deserialize(topic, b))(t); got == nil || *got != (orderV1{ID: "o", AmountCents: 2}) {
		t.Errorf("pointer round trip gave %+v", got)
	}
}

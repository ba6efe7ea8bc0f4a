package registry_test

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/serde/registry"
	"github.com/kstreams-go/kstreams/serde/registry/internal/testpb"
	"github.com/kstreams-go/kstreams/serde/registry/registrytest"
)

// order is the record of the fuzz tests and benchmarks, the same shape in
// every format as testpb.Order.
type order struct {
	ID          string `avro:"id" json:"id"`
	UserID      string `avro:"user_id" json:"user_id"`
	AmountCents int64  `avro:"amount_cents" json:"amount_cents"`
	Lines       []line `avro:"lines" json:"lines"`
}

type line struct {
	SKU string `avro:"sku" json:"sku"`
	Qty int32  `avro:"qty" json:"qty"`
}

const (
	orderAvro = `{"type":"record","name":"Order","namespace":"kstreams.bench","fields":[
		{"name":"id","type":"string"},{"name":"user_id","type":"string"},{"name":"amount_cents","type":"long"},
		{"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
			{"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}}]}`
	orderJSON = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"kstreams.bench.Order","type":"object",
		"properties":{"id":{"type":"string"},"user_id":{"type":"string"},"amount_cents":{"type":"integer"},
		"lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"qty":{"type":"integer"}}}}},
		"required":["id","user_id","amount_cents"]}`
)

var (
	benchOrder   = order{ID: "order-000123", UserID: "user-42", AmountCents: 129900, Lines: []line{{"sku-1", 2}, {"sku-22", 1}}}
	benchOrderPB = &testpb.Order{Id: "order-000123", UserId: "user-42", AmountCents: 129900,
		Lines: []*testpb.Order_Line{{Sku: "sku-1", Qty: 2}, {Sku: "sku-22", Qty: 1}}}
)

// inProcess returns a Registry on an in-process registrytest server (the
// fuzz tests and benchmarks measure the serdes, not a registry).
func inProcess(tb testing.TB) *registry.Registry {
	tb.Helper()
	srv := registrytest.New()
	tb.Cleanup(srv.Close)
	reg, err := registry.New(srv.URL())
	if err != nil {
		tb.Fatal(err)
	}
	return reg
}

// fuzzSerde checks that Deserialize never panics, and that what it
// accepts survives another round trip unchanged. When mayRefuse is set,
// Serialize may refuse the value with ErrEncode (the JSON Schema serde
// validates on write only, as Confluent's does by default).
func fuzzSerde[T any](f *testing.F, s serde.Serde[T], eq func(a, b T) bool, mayRefuse bool, seeds ...[]byte) {
	for _, b := range seeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := s.Deserialize("fuzz", data)
		if err != nil {
			return
		}
		b, err := s.Serialize("fuzz", v)
		if mayRefuse && errors.Is(err, registry.ErrEncode) {
			return
		}
		if err != nil {
			t.Fatalf("Serialize(%+v) of a value Deserialize gave: %v", v, err)
		}
		again, err := s.Deserialize("fuzz", b)
		if err != nil || !eq(again, v) {
			t.Fatalf("round trip of %+v gave %+v, %v", v, again, err)
		}
	})
}

func fuzzSeeds(good []byte) [][]byte {
	return [][]byte{good, good[:5], good[:len(good)-1], {}, {0}, {1, 0, 0, 0, 1}, {0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}, {0, 0, 0, 0, 99}}
}

func FuzzAvroDeserialize(f *testing.F) {
	s, err := registry.Avro[order](inProcess(f), orderAvro)
	if err != nil {
		f.Fatal(err)
	}
	good, err := s.Serialize("fuzz", benchOrder)
	if err != nil {
		f.Fatal(err)
	}
	fuzzSerde(f, s, func(a, b order) bool { return reflect.DeepEqual(a, b) }, false, fuzzSeeds(good)...)
}

func FuzzProtobufDeserialize(f *testing.F) {
	s, err := registry.Protobuf[*testpb.Order](inProcess(f), testpb.Source)
	if err != nil {
		f.Fatal(err)
	}
	good, err := s.Serialize("fuzz", benchOrderPB)
	if err != nil {
		f.Fatal(err)
	}
	fuzzSerde(f, s, func(a, b *testpb.Order) bool { return proto.Equal(a, b) }, false, fuzzSeeds(good)...)
}

func FuzzJSONSchemaDeserialize(f *testing.F) {
	s, err := registry.JSONSchema[order](inProcess(f), orderJSON)
	if err != nil {
		f.Fatal(err)
	}
	good, err := s.Serialize("fuzz", benchOrder)
	if err != nil {
		f.Fatal(err)
	}
	fuzzSerde(f, s, func(a, b order) bool { return reflect.DeepEqual(a, b) }, true, fuzzSeeds(good)...)
}

var (
	sinkBytes []byte
	sinkOrder order
	sinkPB    *testpb.Order
)

// BenchmarkSerdes measures one record's serialization and deserialization
// in each registry format, next to the plain serde.JSON, on the same order
// (schema ids cached: no registry request in the loop).
func BenchmarkSerdes(b *testing.B) {
	reg := inProcess(b)
	avroS, err := registry.Avro[order](reg, orderAvro)
	if err != nil {
		b.Fatal(err)
	}
	pbS, err := registry.Protobuf[*testpb.Order](reg, testpb.Source)
	if err != nil {
		b.Fatal(err)
	}
	jsS, err := registry.JSONSchema[order](reg, orderJSON)
	if err != nil {
		b.Fatal(err)
	}
	benchPair(b, "json", serde.JSON[order](), benchOrder, &sinkOrder)
	benchPair(b, "avro", avroS, benchOrder, &sinkOrder)
	benchPair(b, "protobuf", pbS, benchOrderPB, &sinkPB)
	benchPair(b, "json-schema", jsS, benchOrder, &sinkOrder)
}

func benchPair[T any](b *testing.B, name string, s serde.Serde[T], v T, sink *T) {
	data, err := s.Serialize("bench", v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(name+"/Serialize", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			sinkBytes, _ = s.Serialize("bench", v)
		}
	})
	b.Run(name+"/Deserialize", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			*sink, _ = s.Deserialize("bench", data)
		}
	})
}

package registry_test

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	"github.com/kstreams-go/kstreams/serde/registry"
	"github.com/kstreams-go/kstreams/serde/registry/internal/testpb"
	"github.com/kstreams-go/kstreams/serde/registry/internal/testpbv2"
)

// freshProto returns the .proto source src with its package kstreams.test
// renamed to ns, so that the registry has not seen it before (see fresh).
// Protobuf's wire format carries field numbers, not names, so the generated
// types read and write the same bytes whatever package is registered.
func freshProto(src, ns string) string {
	return strings.Replace(src, "package kstreams.test;", "package "+ns+";", 1)
}

// TestProtobufEvolution registers version 1 of a Protobuf message and then
// version 2, which adds a field, under one subject at BACKWARD: the
// registry accepts it, and each version reads what the other wrote.
func TestProtobufEvolution(t *testing.T) {
	reg := newRegistry(t)
	topic, ns := topicName(t), namespace()
	v1 := must(registry.Protobuf[*testpb.Order](reg, freshProto(testpb.Source, ns), registry.Compatibility(sr.CompatBackward)))(t)
	v2 := must(registry.Protobuf[*testpbv2.Order](reg, freshProto(testpbv2.Source, ns)))(t)

	old := must(v1.Serialize(topic, &testpb.Order{Id: "o1", UserId: "u1", AmountCents: 100,
		Lines: []*testpb.Order_Line{{Sku: "s1", Qty: 2}}}))(t)
	newer := must(v2.Serialize(topic, &testpbv2.Order{Id: "o2", UserId: "u2", AmountCents: 200,
		Lines: []*testpbv2.Order_Line{{Sku: "s2", Qty: 1}}, Currency: "USD"}))(t)
	oldID, newID := int(binary.BigEndian.Uint32(old[1:5])), int(binary.BigEndian.Uint32(newer[1:5]))
	if oldID == newID {
		t.Fatalf("v1 and v2 have the same schema id %d", oldID)
	}
	// Both versions are in the subject, v2 the latest.
	checkSubject(t, reg, topic+"-value", newID, sr.TypeProtobuf)
	versions := must(reg.Client().SubjectVersions(t.Context(), topic+"-value"))(t)
	if len(versions) != 2 {
		t.Errorf("subject %q has versions %v, want 2", topic+"-value", versions)
	}

	// A newer reader reads older data: the added field is absent (its zero).
	want2 := &testpbv2.Order{Id: "o1", UserId: "u1", AmountCents: 100, Lines: []*testpbv2.Order_Line{{Sku: "s1", Qty: 2}}}
	if got := must(v2.Deserialize(topic, old))(t); !proto.Equal(got, want2) {
		t.Errorf("v2 reading v1 data: %v, want %v", got, want2)
	}
	// An older reader reads newer data: it does not know the added field,
	// keeps it as an unknown field, and writes it back unchanged.
	got1 := must(v1.Deserialize(topic, newer))(t)
	if got1.GetId() != "o2" || got1.GetUserId() != "u2" || got1.GetAmountCents() != 200 ||
		len(got1.GetLines()) != 1 || got1.GetLines()[0].GetSku() != "s2" {
		t.Errorf("v1 reading v2 data: %v", got1)
	}
	if len(got1.ProtoReflect().GetUnknown()) == 0 {
		t.Errorf("v1 reading v2 data dropped the added field: %v", got1)
	}
	again := must(v1.Serialize(topic, got1))(t)
	if got := must(v2.Deserialize(topic, again))(t); got.GetCurrency() != "USD" || got.GetId() != "o2" {
		t.Errorf("v2 reading what v1 wrote back: %v, want the currency kept", got)
	}
}

// TestProtobufIncompatibleRefused registers a version of the message whose
// field changes its type (int64 to string, a different wire type) under
// BACKWARD: the registry refuses it. The in-process stand-in does not check
// Protobuf compatibility, so the test needs a real registry
// (KSTREAMS_TEST_REGISTRY; scripts/test.sh starts one).
func TestProtobufIncompatibleRefused(t *testing.T) {
	if os.Getenv("KSTREAMS_TEST_REGISTRY") == "" {
		t.Skip("needs a real registry (KSTREAMS_TEST_REGISTRY): the stand-in does not check Protobuf compatibility")
	}
	reg := newRegistry(t)
	topic, ns := topicName(t), namespace()
	v1 := must(registry.Protobuf[*testpb.Order](reg, freshProto(testpb.Source, ns), registry.Compatibility(sr.CompatBackward)))(t)
	must(v1.Serialize(topic, &testpb.Order{Id: "o1"}))(t)
	changed := strings.Replace(testpb.Source, "int64 amount_cents = 3;", "string amount_cents = 3;", 1)
	if changed == testpb.Source {
		t.Fatal("order.proto no longer declares int64 amount_cents = 3")
	}
	bad := must(registry.Protobuf[*testpb.Order](reg, freshProto(changed, ns)))(t)
	_, err := bad.Serialize(topic, &testpb.Order{Id: "o2"})
	if !errors.Is(err, registry.ErrIncompatible) {
		t.Fatalf("registering a changed field type: %v, want ErrIncompatible", err)
	}
	t.Logf("the registry's answer: %v", err)
}

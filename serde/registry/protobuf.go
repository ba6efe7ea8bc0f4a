package registry

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kstreams-go/kstreams/serde"
)

// Protobuf returns a serde for the generated message type T (a pointer, such
// as *orderpb.Order) in the Confluent wire format: magic byte 0, the 4-byte
// schema id, the message indexes that locate T in its .proto file (a single
// 0 byte for the file's first message), then the Protobuf binary body.
//
// protoSource is the text of T's .proto file: what is registered, and what
// other clients of the registry see (generated Go code does not keep it).
// Protobuf's own rules give evolution: fields added or removed by number
// are read by old and new code alike. Serialize of a nil message returns
// nil bytes (Kafka's null, a tombstone); Deserialize(nil) returns the zero
// T (a nil pointer).
func Protobuf[T proto.Message](reg *Registry, protoSource string, opts ...Opt) (serde.Serde[T], error) {
	var zero T
	desc := zero.ProtoReflect().Descriptor()
	k, err := newCore(reg, "protobuf", sr.TypeProtobuf, protoSource, string(desc.FullName()), opts)
	if err != nil {
		return nil, err
	}
	return &protoSerde[T]{core: k, typ: zero.ProtoReflect().Type(), index: messageIndex(desc)}, nil
}

type protoSerde[T proto.Message] struct {
	*core
	typ   protoreflect.MessageType
	index []int // T's path among the messages of its file
}

// messageIndex returns the indexes of d among its file's top-level
// messages, then among its parent's nested messages, outermost first.
func messageIndex(d protoreflect.MessageDescriptor) []int {
	var path []int
	for {
		path = append([]int{d.Index()}, path...)
		parent, ok := d.Parent().(protoreflect.MessageDescriptor)
		if !ok {
			return path
		}
		d = parent
	}
}

// Serialize implements serde.Serde.
func (s *protoSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	if isNil(v) {
		return nil, nil
	}
	subject, w, err := s.writer(topic)
	if err != nil {
		return nil, s.serializeErr(topic, subject, -1, err)
	}
	out := appendHeader(make([]byte, 0, 16), w.id, s.index)
	out, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(out, v)
	if err != nil {
		return nil, s.serializeErr(topic, subject, w.id, fmt.Errorf("%w: %w", ErrEncode, err))
	}
	return out, nil
}

// Deserialize implements serde.Serde.
func (s *protoSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var zero T
	if data == nil {
		return zero, nil
	}
	id, rest, err := s.header(topic, data)
	if err != nil {
		return zero, err
	}
	var h sr.ConfluentHeader
	_, body, err := h.DecodeIndex(rest, 64)
	if err != nil {
		return zero, s.err("deserialize", topic, "", id, fmt.Errorf("%w: bad message indexes: %w", ErrMagicByte, err))
	}
	if _, err := s.readerSchema(topic, id); err != nil {
		return zero, err
	}
	m := s.typ.New().Interface()
	if err := proto.Unmarshal(body, m); err != nil {
		return zero, s.decodeErr(topic, id, err)
	}
	return m.(T), nil
}

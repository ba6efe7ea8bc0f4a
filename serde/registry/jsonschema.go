package registry

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kstreams-go/kstreams/serde"
)

// JSONSchema returns a serde for T as JSON (encoding/json) described by the
// JSON Schema schema, in the Confluent wire format: magic byte 0, the 4-byte
// schema id, then the JSON text. Serialize validates every value against
// schema (github.com/santhosh-tekuri/jsonschema/v6) before writing it;
// Deserialize checks that the schema id is a JSON schema the registry knows
// and decodes the JSON into T. The record name strategies use the schema's
// "title". Serialize of a nil pointer, map, slice or interface returns nil
// bytes (Kafka's null, a tombstone); Deserialize(nil) returns the zero T.
func JSONSchema[T any](reg *Registry, schema string, opts ...Opt) (serde.Serde[T], error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(schema)))
	if err != nil {
		return nil, fmt.Errorf("%w: json schema: %w", ErrConfig, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("registry:schema.json", doc); err != nil {
		return nil, fmt.Errorf("%w: json schema: %w", ErrConfig, err)
	}
	compiled, err := c.Compile("registry:schema.json")
	if err != nil {
		return nil, fmt.Errorf("%w: json schema: %w", ErrConfig, err)
	}
	title := ""
	if m, ok := doc.(map[string]any); ok {
		title, _ = m["title"].(string)
	}
	k, err := newCore(reg, "json-schema", sr.TypeJSON, schema, title, opts)
	if err != nil {
		return nil, err
	}
	return &jsonSchemaSerde[T]{core: k, compiled: compiled}, nil
}

type jsonSchemaSerde[T any] struct {
	*core
	compiled *jsonschema.Schema
}

// Serialize implements serde.Serde.
func (s *jsonSchemaSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	if isNil(v) {
		return nil, nil
	}
	subject, w, err := s.writer(topic)
	if err != nil {
		return nil, s.serializeErr(topic, subject, -1, err)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, s.serializeErr(topic, subject, w.id, fmt.Errorf("%w: %w", ErrEncode, err))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err == nil {
		err = s.compiled.Validate(doc)
	}
	if err != nil {
		return nil, s.serializeErr(topic, subject, w.id, fmt.Errorf("%w: %w", ErrEncode, err))
	}
	out := appendHeader(make([]byte, 0, 5+len(body)), w.id, nil)
	return append(out, body...), nil
}

// Deserialize implements serde.Serde.
func (s *jsonSchemaSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	id, body, err := s.header(topic, data)
	if err != nil {
		return v, err
	}
	if _, err := s.readerSchema(topic, id); err != nil {
		return v, err
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, s.decodeErr(topic, id, err)
	}
	return v, nil
}

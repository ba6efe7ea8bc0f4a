package registry

import (
	"errors"
	"fmt"
)

// Sentinel errors. Use errors.Is: the errors the serdes return are
// [*Error] values wrapping one of these.
var (
	// ErrConfig: a serde or registry option is invalid.
	ErrConfig = errors.New("kstreams: registry: invalid configuration")
	// ErrMagicByte: the bytes do not start with the Confluent wire format's
	// magic byte 0, or are shorter than its 5-byte header.
	ErrMagicByte = errors.New("kstreams: registry: not in the schema registry wire format (magic byte 0 and 4-byte schema id)")
	// ErrUnknownSchema: the registry does not know the schema id (or subject
	// or version).
	ErrUnknownSchema = errors.New("kstreams: registry: unknown schema")
	// ErrUnavailable: the registry could not be reached (or failed with a 5xx
	// status) after every retry.
	ErrUnavailable = errors.New("kstreams: registry: unavailable")
	// ErrIncompatible: the registry refused a schema that breaks the
	// subject's compatibility level; the error text carries its message.
	ErrIncompatible = errors.New("kstreams: registry: incompatible schema refused")
	// ErrInvalidSchema: the registry refused a schema as invalid.
	ErrInvalidSchema = errors.New("kstreams: registry: invalid schema")
	// ErrWrongType: the schema id names a schema of another format (for
	// example a Protobuf schema given to an Avro serde).
	ErrWrongType = errors.New("kstreams: registry: schema of another format")
	// ErrDecode: the payload after the header does not decode with the
	// writer's schema.
	ErrDecode = errors.New("kstreams: registry: payload does not decode")
	// ErrEncode: the value does not encode with (or validate against) the
	// schema.
	ErrEncode = errors.New("kstreams: registry: value does not encode")
)

// Error is what a registry serde returns: what it was doing, on which topic
// and subject, with which schema id, and why it failed. Its Err wraps one of
// the sentinel errors above and, where there is one, the decoder's or the
// registry client's own error.
type Error struct {
	Format   string // "avro", "protobuf", "json-schema"
	Op       string // "serialize" or "deserialize"
	Topic    string
	Subject  string // empty when deserializing
	SchemaID int    // -1 when not known (a bad header, a failed registration)
	Err      error
}

// Error implements error.
func (e *Error) Error() string {
	where := fmt.Sprintf("topic %q", e.Topic)
	if e.Subject != "" {
		where += fmt.Sprintf(" subject %q", e.Subject)
	}
	if e.SchemaID >= 0 {
		where += fmt.Sprintf(" schema id %d", e.SchemaID)
	}
	return fmt.Sprintf("kstreams: %s %s: %s: %v", e.Format, e.Op, where, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

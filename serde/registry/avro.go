package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kstreams-go/kstreams/serde"
)

// Avro returns a serde for T in Avro (github.com/hamba/avro/v2, fields
// mapped by `avro:"name"` tags) with schema, in the Confluent wire format:
// magic byte 0, the 4-byte big-endian schema id, then the Avro binary body.
//
// Serialize registers schema under the subject on first use (or, with
// [UseLatest] or [UseVersion], writes with the registered schema) and caches
// the id. Deserialize fetches the writer's schema by id (cached) and reads
// the body with Avro schema resolution into schema, so that data written
// with an older or newer compatible schema reads into T. Kafka's null maps
// to nil and back: Serialize of a nil pointer, map, slice or interface
// returns nil bytes (a tombstone), and Deserialize(nil) returns the zero T.
func Avro[T any](reg *Registry, schema string, opts ...Opt) (serde.Serde[T], error) {
	reader, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: avro schema: %w", ErrConfig, err)
	}
	record := ""
	if n, ok := reader.(avro.NamedSchema); ok {
		record = n.FullName()
	}
	k, err := newCore(reg, "avro", sr.TypeAvro, schema, record, opts)
	if err != nil {
		return nil, err
	}
	s := &avroSerde[T]{core: k, reader: reader}
	s.mu.read = make(map[int]avro.Schema)
	s.mu.write = make(map[int]avro.Schema)
	return s, nil
}

type avroSerde[T any] struct {
	*core
	reader avro.Schema

	mu struct {
		sync.RWMutex
		read  map[int]avro.Schema // by writer schema id: the schema that reads its data into T
		write map[int]avro.Schema // by schema id, for UseLatest and UseVersion: the schema to write with
	}
}

// Serialize implements serde.Serde.
func (s *avroSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	if isNil(v) {
		return nil, nil
	}
	subject, w, err := s.writer(topic)
	if err != nil {
		return nil, s.serializeErr(topic, subject, -1, err)
	}
	sch, err := s.schemaFor(w.id, w.schema, false)
	if err != nil {
		return nil, s.serializeErr(topic, subject, w.id, err)
	}
	out, err := marshal(sch, w.id, v)
	if err != nil {
		return nil, s.serializeErr(topic, subject, w.id, fmt.Errorf("%w: %w", ErrEncode, err))
	}
	return out, nil
}

// writers are reused Avro writers.
var writers = sync.Pool{New: func() any { return avro.NewWriter(nil, 256) }}

// marshal returns the header for schema id followed by v's Avro encoding,
// in one allocation.
func marshal(sch avro.Schema, id int, v any) ([]byte, error) {
	w := writers.Get().(*avro.Writer)
	defer writers.Put(w)
	w.Reset(nil)
	w.Error = nil
	hdr := [5]byte{0} // magic byte 0, then the id
	binary.BigEndian.PutUint32(hdr[1:], uint32(id))
	_, _ = w.Write(hdr[:])
	w.WriteVal(sch, v)
	if w.Error != nil {
		return nil, w.Error
	}
	return append([]byte(nil), w.Buffer()...), nil
}

// Deserialize implements serde.Serde.
func (s *avroSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	id, body, err := s.header(topic, data)
	if err != nil {
		return v, err
	}
	sch, err := s.readSchema(topic, id)
	if err != nil {
		return v, err
	}
	if err := unmarshal(sch, body, &v); err != nil {
		return v, s.decodeErr(topic, id, err)
	}
	return v, nil
}

// Limits of the Avro decoder, so that a payload claiming a huge string or
// array cannot make it allocate without bound (the fuzz test found one that
// ran the default decoder out of memory).
const (
	maxAvroBytes    = 16 << 20 // largest string or bytes value
	maxAvroElements = 1 << 20  // largest array (elements in all its blocks)
)

// decodeAPI is the Avro configuration the readers decode with.
var decodeAPI = avro.Config{MaxByteSliceSize: maxAvroBytes, MaxSliceAllocSize: maxAvroElements}.Freeze()

// readers are reused Avro readers.
var readers = sync.Pool{New: func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(decodeAPI)) }}

// unmarshal decodes body into v. Unlike avro.Unmarshal, a body that ends
// before the value does is an error, not a value with zeroed fields.
func unmarshal(sch avro.Schema, body []byte, v any) error {
	r := readers.Get().(*avro.Reader)
	r.Reset(body)
	r.Error = nil
	r.ReadVal(sch, v)
	err := r.Error
	r.Reset(nil)
	r.Error = nil
	readers.Put(r)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%d bytes end before the value does: %w", len(body), io.ErrUnexpectedEOF)
	}
	return err
}

// readSchema returns the schema that reads data written with schema id into
// the serde's reader schema: the reader itself when they are the same, else
// the resolution of the two.
func (s *avroSerde[T]) readSchema(topic string, id int) (avro.Schema, error) {
	s.mu.RLock()
	sch, ok := s.mu.read[id]
	s.mu.RUnlock()
	if ok {
		return sch, nil
	}
	w, err := s.readerSchema(topic, id)
	if err != nil {
		return nil, err
	}
	sch, err = s.schemaFor(id, w, true)
	if err != nil {
		return nil, s.err("deserialize", topic, "", id, err)
	}
	return sch, nil
}

// schemaFor returns the schema to encode (resolve false) or decode
// (resolve true) with for the registered schema id: parsed once, and for
// decoding resolved against the reader schema.
func (s *avroSerde[T]) schemaFor(id int, w sr.Schema, resolve bool) (avro.Schema, error) {
	if !resolve && w.Schema == s.schema.Schema {
		return s.reader, nil
	}
	cache := &s.mu.write
	if resolve {
		cache = &s.mu.read
	}
	s.mu.RLock()
	sch, ok := (*cache)[id]
	s.mu.RUnlock()
	if ok {
		return sch, nil
	}
	writer, err := avro.ParseWithCache(w.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: the registry's schema %d does not parse: %w", ErrInvalidSchema, id, err)
	}
	sch = writer
	if resolve {
		if writer.Fingerprint() == s.reader.Fingerprint() {
			sch = s.reader
		} else if sch, err = avro.NewSchemaCompatibility().Resolve(s.reader, writer); err != nil {
			return nil, fmt.Errorf("%w: writer schema %d cannot be read with the reader schema: %w", ErrDecode, id, err)
		}
	}
	s.mu.Lock()
	(*cache)[id] = sch
	s.mu.Unlock()
	return sch, nil
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"
)

// Strategy chooses the subject a schema is registered under, as Confluent's
// subject name strategies do (the Java serializers' key.subject.name.strategy
// and value.subject.name.strategy settings).
type Strategy int

const (
	// TopicName is "<topic>-key" or "<topic>-value": one schema lineage per
	// topic. The default (Java's TopicNameStrategy).
	TopicName Strategy = iota
	// RecordName is the record's fully qualified name (the Avro record's
	// namespace.name, the Protobuf message's full name, the JSON schema's
	// title): one lineage per record type across topics.
	RecordName
	// TopicRecordName is "<topic>-<record name>": several record types on one
	// topic, each with its own lineage.
	TopicRecordName
)

// Opt configures a registry serde.
type Opt interface{ apply(*cfg) }

type optFn func(*cfg)

func (f optFn) apply(c *cfg) { f(c) }

type cfg struct {
	key       bool
	strategy  Strategy
	version   int // 0: auto-register the serde's schema; -1: latest; n > 0: that version
	compat    sr.CompatibilityLevel
	setCompat bool
}

// Key makes the serde one for record keys: the topic name strategies use the
// "<topic>-key" subject. By default a serde is for values.
func Key() Opt { return optFn(func(c *cfg) { c.key = true }) }

// SubjectStrategy sets the subject name strategy. The default is
// [TopicName].
func SubjectStrategy(s Strategy) Opt { return optFn(func(c *cfg) { c.strategy = s }) }

// UseLatest makes Serialize write with the latest schema registered under the
// subject instead of registering the serde's own (Java's use.latest.version
// with auto.register.schemas=false). By default the serde's schema is
// registered on first use (auto.register.schemas=true).
func UseLatest() Opt { return optFn(func(c *cfg) { c.version = -1 }) }

// UseVersion makes Serialize write with version v (v >= 1) of the subject's
// schema instead of registering the serde's own.
func UseVersion(v int) Opt { return optFn(func(c *cfg) { c.version = v }) }

// Compatibility sets the subject's compatibility level (for example
// sr.CompatBackward) before the serde first registers a schema under it.
// By default the registry's global level applies.
func Compatibility(level sr.CompatibilityLevel) Opt {
	return optFn(func(c *cfg) { c.compat, c.setCompat = level, true })
}

func newCfg(opts []Opt) (cfg, error) {
	var c cfg
	for _, o := range opts {
		o.apply(&c)
	}
	if c.strategy < TopicName || c.strategy > TopicRecordName {
		return c, fmt.Errorf("%w: unknown subject strategy %d", ErrConfig, c.strategy)
	}
	if c.version < -1 {
		return c, fmt.Errorf("%w: UseVersion(%d): versions start at 1", ErrConfig, c.version)
	}
	return c, nil
}

// writer is the schema a serde writes with under one subject.
type writer struct {
	id     int
	schema sr.Schema
}

// core is what the three formats share: the registry, the options, the
// schema to register, and the writer schema per subject.
type core struct {
	reg    *Registry
	cfg    cfg
	format string // "avro", "protobuf", "json-schema"
	typ    sr.SchemaType
	schema sr.Schema
	record string // fully qualified record name, for the record strategies

	mu struct {
		sync.RWMutex
		writers map[string]writer // by subject
	}
}

func newCore(reg *Registry, format string, typ sr.SchemaType, schema, record string, opts []Opt) (*core, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil Registry", ErrConfig)
	}
	c, err := newCfg(opts)
	if err != nil {
		return nil, err
	}
	if c.strategy != TopicName && record == "" {
		return nil, fmt.Errorf("%w: a record name strategy needs a named %s schema", ErrConfig, format)
	}
	k := &core{reg: reg, cfg: c, format: format, typ: typ, schema: sr.Schema{Schema: schema, Type: typ}, record: record}
	k.mu.writers = make(map[string]writer)
	return k, nil
}

// subject returns the subject for topic under the configured strategy.
func (k *core) subject(topic string) string {
	switch k.cfg.strategy {
	case RecordName:
		return k.record
	case TopicRecordName:
		return topic + "-" + k.record
	}
	if k.cfg.key {
		return topic + "-key"
	}
	return topic + "-value"
}

// writer returns the schema to write with on topic: registered (or looked
// up) on first use, then cached.
func (k *core) writer(topic string) (string, writer, error) {
	subject := k.subject(topic)
	k.mu.RLock()
	w, ok := k.mu.writers[subject]
	k.mu.RUnlock()
	if ok {
		return subject, w, nil
	}
	ctx := context.Background()
	if k.cfg.setCompat {
		if err := k.reg.SetCompatibility(ctx, subject, k.cfg.compat); err != nil {
			return subject, w, err
		}
	}
	if k.cfg.version == 0 {
		id, err := k.reg.Register(ctx, subject, k.schema)
		if err != nil {
			return subject, w, err
		}
		w = writer{id: id, schema: k.schema}
	} else {
		ss, err := k.reg.Version(ctx, subject, k.cfg.version)
		if err != nil {
			return subject, w, err
		}
		if ss.Type != k.typ {
			return subject, w, fmt.Errorf("%w: subject %q version %d is %s", ErrWrongType, subject, ss.Version, ss.Type)
		}
		w = writer{id: ss.ID, schema: ss.Schema}
	}
	k.mu.Lock()
	k.mu.writers[subject] = w
	k.mu.Unlock()
	return subject, w, nil
}

// err returns an *Error for this serde.
func (k *core) err(op, topic, subject string, id int, err error) *Error {
	return &Error{Format: k.format, Op: op, Topic: topic, Subject: subject, SchemaID: id, Err: err}
}

// header splits data into the schema id and the rest, checking the magic
// byte; it does not contact the registry.
func (k *core) header(topic string, data []byte) (int, []byte, error) {
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(data)
	if err != nil {
		return -1, nil, k.err("deserialize", topic, "", -1, fmt.Errorf("%w: %d bytes starting %s", ErrMagicByte, len(data), prefix(data)))
	}
	return id, rest, nil
}

// readerSchema fetches the writer's schema by id and checks its format.
func (k *core) readerSchema(topic string, id int) (sr.Schema, error) {
	s, err := k.reg.SchemaByID(context.Background(), id)
	if err != nil {
		return s, k.err("deserialize", topic, "", id, err)
	}
	if s.Type != k.typ {
		return s, k.err("deserialize", topic, "", id, fmt.Errorf("%w: schema id %d is %s", ErrWrongType, id, s.Type))
	}
	return s, nil
}

// decodeErr wraps a decoder's error.
func (k *core) decodeErr(topic string, id int, err error) error {
	return k.err("deserialize", topic, "", id, fmt.Errorf("%w: %w", ErrDecode, err))
}

// serializeErr wraps an error met while serializing.
func (k *core) serializeErr(topic, subject string, id int, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return k.err("serialize", topic, subject, id, err)
}

// isNil reports whether x is nil or holds a nil pointer, map, slice or
// interface: what a serde writes as Kafka's null (a tombstone), without
// contacting the registry.
func isNil(x any) bool {
	if x == nil {
		return true
	}
	switch rv := reflect.ValueOf(x); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// prefix shows the first bytes of data for an error message.
func prefix(data []byte) string {
	if len(data) > 5 {
		data = data[:5]
	}
	return fmt.Sprintf("%x", data)
}

// appendHeader appends the Confluent header (magic byte, id, and for
// Protobuf the message indexes) to b.
func appendHeader(b []byte, id int, index []int) []byte {
	var h sr.ConfluentHeader
	b, _ = h.AppendEncode(b, id, index) // its error is always nil
	return b
}

// Package registry provides serdes whose schemas live in a schema registry:
// Avro ([Avro], on github.com/hamba/avro/v2), Protobuf ([Protobuf], on
// google.golang.org/protobuf) and JSON Schema ([JSONSchema]), each a
// serde.Serde[T] usable wherever kstreams takes a serde: sources, sinks,
// repartition topics and stores.
//
// # Wire format
//
// Payloads are in Confluent's wire format, so every other client of a
// Confluent-compatible registry (Confluent Schema Registry, Apicurio's
// /apis/ccompat/v7 API, Karapace, Redpanda) reads them and writes what these
// serdes read: a magic byte 0, the schema id as 4 big-endian bytes, for
// Protobuf the message indexes, then the body. The registry client is
// franz-go's pkg/sr; a [Registry] adds a cache of schemas by id and retries.
//
// # Subjects and versions
//
// By default a serde registers its schema on first use under
// "<topic>-value" ([Key] makes it "<topic>-key"), and caches the id. In a
// store the topic is the store's changelog topic, as in Kafka Streams, so a
// store "totals" of application "shop" registers "shop-totals-changelog-value"
// (logged or not), as a Java application would. The strategies [RecordName] and [TopicRecordName] name subjects after the
// record instead. [UseLatest] and [UseVersion] write with a schema already
// registered instead of the serde's own. [Compatibility] sets a subject's
// compatibility level before the first registration.
//
// # Evolution
//
// An Avro serde reads with its own schema (the reader's) whatever schema
// the data was written with (the writer's, fetched by the id in the
// payload): Avro schema resolution fills added fields from their defaults
// and skips removed ones, so consumers with an older and a newer schema
// keep working while producers move on. A schema the subject's
// compatibility level forbids is refused by the registry at registration:
// Serialize returns an error wrapping [ErrIncompatible] with the registry's
// message, before anything is written.
//
// # Errors
//
// Every error is an [*Error] naming the format, topic, subject or schema id
// and wrapping a sentinel: [ErrMagicByte], [ErrUnknownSchema], [ErrDecode],
// [ErrWrongType], [ErrUnavailable] (the registry could not be reached after
// the retries of [Retries]), [ErrIncompatible], [ErrEncode]. A deserialization
// error reaches the App's OnDeserializationError policy (fail, skip, dead
// letter) inside a kstreams.RecordError with the record's topic, partition
// and offset.
//
// # Testing
//
// Package registrytest runs an in-process stand-in registry (franz-go's
// srfake with Avro compatibility checks); tests use a real registry instead
// when KSTREAMS_TEST_REGISTRY holds its base URL, as in scripts/test.sh's
// integration run (rivven-schema, started by scripts/registry.sh).
package registry

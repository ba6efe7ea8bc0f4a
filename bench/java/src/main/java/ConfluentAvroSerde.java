import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * An Avro serde of GenericRecords in Confluent's wire format (magic byte 0,
 * the schema id as 4 big-endian bytes, the Avro binary body) over a
 * Confluent-compatible registry's HTTP API, written for bench on
 * org.apache.avro:avro because Confluent's kafka-avro-serializer is not on
 * Maven Central. What Confluent's serializer does by default: the schema is
 * registered under "<topic>-value" (topic name strategy) on the first
 * record of each topic and its id cached; a writer schema is fetched by id
 * once and cached, and records are read with the serde's schema through
 * Avro schema resolution. Values only.
 */
final class ConfluentAvroSerde implements Serde<GenericRecord> {
  private static final byte MAGIC = 0;
  private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

  private final String url;
  private final Schema schema;
  private final GenericDatumWriter<GenericRecord> writer;
  private final HttpClient http = HttpClient.newHttpClient();
  private final ObjectMapper json = new ObjectMapper();
  private final Map<String, Integer> idBySubject = new ConcurrentHashMap<>();
  private final Map<Integer, GenericDatumReader<GenericRecord>> readerById = new ConcurrentHashMap<>();

  ConfluentAvroSerde(String registryUrl, String schema) {
    this.url = registryUrl.replaceAll("/+$", "");
    this.schema = new Schema.Parser().parse(schema);
    this.writer = new GenericDatumWriter<>(this.schema);
  }

  @Override
  public Serializer<GenericRecord> serializer() {
    return (topic, record) -> {
      if (record == null) {
        return null;
      }
      int id = idBySubject.computeIfAbsent(topic + "-value", this::register);
      ByteArrayOutputStream out = new ByteArrayOutputStream(1200);
      out.write(MAGIC);
      out.writeBytes(ByteBuffer.allocate(4).putInt(id).array());
      try {
        BinaryEncoder enc = EncoderFactory.get().directBinaryEncoder(out, null);
        writer.write(record, enc);
        enc.flush();
      } catch (IOException e) {
        throw new SerializationException("avro: encoding a record for " + topic, e);
      }
      return out.toByteArray();
    };
  }

  @Override
  public Deserializer<GenericRecord> deserializer() {
    return (topic, data) -> {
      if (data == null) {
        return null;
      }
      if (data.length < 5 || data[0] != MAGIC) {
        throw new SerializationException("avro: " + topic + ": not in Confluent's wire format");
      }
      int id = ByteBuffer.wrap(data, 1, 4).getInt();
      GenericDatumReader<GenericRecord> reader = readerById.computeIfAbsent(id, this::readerFor);
      BinaryDecoder dec = DecoderFactory.get().binaryDecoder(data, 5, data.length - 5, null);
      try {
        return reader.read(null, dec);
      } catch (IOException e) {
        throw new SerializationException("avro: " + topic + ": decoding with schema id " + id, e);
      }
    };
  }

  /** register registers the serde's schema under subject and returns its id. */
  private int register(String subject) {
    try {
      String body = json.writeValueAsString(Map.of("schema", schema.toString()));
      JsonNode r = call(HttpRequest.newBuilder(URI.create(url + "/subjects/" + subject + "/versions"))
          .header("Content-Type", CONTENT_TYPE)
          .POST(HttpRequest.BodyPublishers.ofString(body)));
      return r.path("id").asInt();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** readerFor fetches the writer schema id and returns a reader resolving it to the serde's schema. */
  private GenericDatumReader<GenericRecord> readerFor(int id) {
    JsonNode r = call(HttpRequest.newBuilder(URI.create(url + "/schemas/ids/" + id)).GET());
    Schema writerSchema = new Schema.Parser().parse(r.path("schema").asText());
    return new GenericDatumReader<>(writerSchema, schema);
  }

  private JsonNode call(HttpRequest.Builder req) {
    try {
      HttpResponse<String> resp = http.send(req.header("Accept", CONTENT_TYPE).build(), HttpResponse.BodyHandlers.ofString());
      if (resp.statusCode() / 100 != 2) {
        throw new SerializationException("schema registry " + req.build().uri() + ": HTTP " + resp.statusCode() + ": " + resp.body());
      }
      return json.readTree(resp.body());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SerializationException("schema registry: interrupted", e);
    }
  }
}

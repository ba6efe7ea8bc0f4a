import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The Java Kafka Streams side of bench: one application per process, started
 * by the Go runner exactly as its Go workers are. The run spec (the Go
 * RunSpec, durations in nanoseconds) arrives as one JSON line on stdin; the
 * application starts at once and runs until stdin is closed, then closes
 * cleanly (final commit, leave the group) and prints one JSON line
 * {"stats": {...}} or {"stats": {...}, "error": "..."} on stdout. Logs go to
 * stderr.
 */
public final class Bench {
  private static final String KEY_PREFIX = "key-"; // bench's keys: key-00000 ... key-09999

  public static void main(String[] args) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    ObjectMapper json = new ObjectMapper();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    Map<String, Object> report = new LinkedHashMap<>();
    Map<String, Long> stats = new LinkedHashMap<>();
    report.put("stats", stats);
    int code = 0;
    try {
      String line = in.readLine();
      if (line == null) {
        throw new IllegalStateException("reading the run spec: stdin closed");
      }
      run(json.readTree(line), in, stats);
    } catch (Throwable e) {
      report.put("error", e.toString());
      code = 1;
    }
    System.out.println(json.writeValueAsString(report));
    System.out.flush();
    System.exit(code); // no stray non-daemon thread keeps the process alive
  }

  /** The topology of a workload, by the Name part of its key. */
  static Topology topology(String name, String input, String output) {
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      case "filter-map":
        // As bench/stateless.go: the filter keeps every record and mapValues
        // returns the value, so the figure is the runtime's cost.
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .filter((k, v) -> k != null && k.startsWith(KEY_PREFIX) && v != null)
            .mapValues(v -> v)
            .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      case "count":
        // groupByKey().count(), one update per input record (the record
        // cache is off, see props), counts as 8-byte big-endian longs.
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .groupByKey()
            .count()
            .toStream()
            .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        break;
      default:
        throw new IllegalArgumentException("no Java implementation of workload " + name);
    }
    return b.build();
  }

  static Properties props(JsonNode spec) {
    JsonNode c = spec.path("client");
    List<String> brokers = new ArrayList<>();
    spec.path("brokers").forEach(n -> brokers.add(n.asText()));
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, spec.path("app_id").asText());
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, String.join(",", brokers));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.STATE_DIR_CONFIG, spec.path("state_dir").asText());
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, millis(c.path("commit_interval_ns")));
    // Every update of count goes downstream, as in kstreams (no record cache).
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
    // Producer: Kafka Streams overrides linger.ms to 100 ms; bench sets every
    // client's explicitly.
    p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), millis(c.path("linger_ns")));
    p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), c.path("batch_max_bytes").asInt());
    p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), c.path("compression").asText("none"));
    p.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
    p.put(StreamsConfig.producerPrefix(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), true);
    // Consumer: Kafka Streams' own max.poll.records default is 1000.
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_BYTES_CONFIG), c.path("fetch_max_bytes").asInt());
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), c.path("fetch_max_partition_bytes").asInt());
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), (int) millis(c.path("fetch_max_wait_ns")));
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), c.path("max_poll_records").asInt());
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    return p;
  }

  static long millis(JsonNode ns) {
    return Math.max(0, ns.asLong() / 1_000_000L);
  }

  static void run(JsonNode spec, BufferedReader in, Map<String, Long> stats) throws Exception {
    String key = spec.path("workload").asText();
    String name = key.contains("/") ? key.substring(0, key.indexOf('/')) : key;
    Topology topo = topology(name, spec.path("input").asText(), spec.path("output").asText());
    KafkaStreams streams = new KafkaStreams(topo, props(spec));

    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(e -> {
      failure.compareAndSet(null, e);
      done.countDown();
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.ERROR) {
        failure.compareAndSet(null, new IllegalStateException("Kafka Streams went to ERROR"));
        done.countDown();
      }
    });
    Thread stdin = new Thread(() -> {
      try {
        while (in.read() != -1) {
          // the runner closes stdin to stop the application
        }
      } catch (Exception ignored) {
        // a broken pipe means the runner is gone: stop too
      }
      done.countDown();
    }, "bench-stdin");
    stdin.setDaemon(true);
    stdin.start();

    streams.start();
    done.await();
    collect(streams, stats); // before close: the final commit is not counted
    boolean closed = streams.close(CloseOptions
        .groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
        .withTimeout(Duration.ofSeconds(30)));
    Throwable err = failure.get();
    if (err != null) {
      throw new RuntimeException("Kafka Streams failed: " + err, err);
    }
    if (!closed) {
      throw new IllegalStateException("Kafka Streams did not close within 30s");
    }
  }

  /** The counters the Go workers report, from Kafka Streams' and its clients' metrics. */
  static void collect(KafkaStreams streams, Map<String, Long> stats) {
    long processed = 0, produced = 0, commits = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      MetricName m = e.getKey();
      Object v = e.getValue().metricValue();
      if (!(v instanceof Number)) {
        continue;
      }
      long n = ((Number) v).longValue();
      if (m.group().equals("stream-thread-metrics") && m.name().equals("process-total")) {
        processed += n;
      } else if (m.group().equals("stream-thread-metrics") && m.name().equals("commit-total")) {
        commits += n;
      } else if (m.group().equals("producer-metrics") && m.name().equals("record-send-total")) {
        produced += n;
      }
    }
    stats.put("processed", processed);
    stats.put("produced", produced);
    stats.put("commits", commits);
  }
}

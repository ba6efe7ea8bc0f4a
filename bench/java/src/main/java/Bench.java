import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

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

  /** The store of count and restore, as bench/stateful.go's countStore. */
  static final String COUNT_STORE = "counts";
  /** The store of get-put, as bench/stateful.go's getPutStore. */
  static final String GET_PUT_STORE = "last-value";

  /** The topology of a workload, by the Name part of its key; the same as the Go workload's. */
  static Topology topology(String name, JsonNode spec, Map<String, Long> stats) {
    String input = spec.path("input").asText();
    String output = spec.path("output").asText();
    StreamsBuilder b = new StreamsBuilder();
    switch (name) {
      case "source": {
        // As bench/stateless.go: count every record (one stream thread runs
        // every task) and forward only the last one, the runner's marker.
        long records = spec.path("records").asLong();
        long[] seen = {0};
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .filter((k, v) -> ++seen[0] == records)
            .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      }
      case "passthrough":
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      case "filter-map":
        // As bench/stateless.go: the filter keeps every record and mapValues
        // returns the value, so the figure is the runtime's cost.
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .filter((k, v) -> k != null && k.startsWith(KEY_PREFIX) && v != null)
            .mapValues(v -> v)
            .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      case "filter-map-avro": {
        // As bench/avro.go: filter-map on Avro values in Confluent's wire
        // format through the run's registry; each value is decoded into a
        // GenericRecord and encoded again.
        ConfluentAvroSerde values = new ConfluentAvroSerde(spec.path("registry").asText(), spec.path("avro_schema").asText());
        b.stream(input, Consumed.with(Serdes.String(), values))
            .filter((k, v) -> k != null && k.startsWith(KEY_PREFIX) && v != null && Boolean.TRUE.equals(v.get("valid")))
            .mapValues(v -> v)
            .to(output, Produced.with(Serdes.String(), values));
        break;
      }
      case "get-put": {
        // As bench/stateful.go: a Processor API processor on a persistent
        // (RocksDB) store with a changelog and no cache, the defaults of
        // Stores.keyValueStoreBuilder.
        b.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(GET_PUT_STORE), Serdes.String(), Serdes.ByteArray()));
        long[] hits = {0};
        stats.put("get_hits", 0L);
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .process(() -> new GetPut(hits, stats), GET_PUT_STORE)
            .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      }
      case "count":
      case "restore": {
        // groupByKey().count() into store "counts", counts as 8-byte
        // big-endian longs; restore has no sink (it only restores).
        KTable<String, Long> counts = b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .groupByKey()
            .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE)
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()));
        if (name.equals("count")) {
          counts.toStream().to(output, Produced.with(Serdes.String(), Serdes.Long()));
        }
        break;
      }
      case "windowed-count":
        // As bench/windowed.go: hopping windows of 1 s advancing by 500 ms,
        // grace a day, keys in the time-windowed layout.
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(1), Duration.ofDays(1)).advanceBy(Duration.ofMillis(500)))
            .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("windowed-counts")
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
            .toStream()
            .to(output, Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 1000L), Serdes.Long()));
        break;
      case "session-count":
        // As bench/windowed.go: sessions of gap 1 s, grace a day; only the
        // updates with a count go out (not the tombstones of merged
        // sessions), keys in the session-windowed layout.
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .groupByKey()
            .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(1), Duration.ofDays(1)))
            .count(Materialized.<String, Long, SessionStore<Bytes, byte[]>>as("session-counts")
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
            .toStream()
            .filter((k, v) -> v != null)
            .to(output, Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class), Serdes.Long()));
        break;
      case "table-reduce":
        // As bench/tablereduce.go: the input as a table, re-grouped by the
        // key's last two characters with the value's first byte (unsigned),
        // summed by an adder and a subtractor.
        b.table(input, Consumed.with(Serdes.String(), Serdes.ByteArray()),
                Materialized.<String, byte[], KeyValueStore<Bytes, byte[]>>as("rows")
                    .withKeySerde(Serdes.String()).withValueSerde(Serdes.ByteArray()))
            .groupBy((k, v) -> KeyValue.pair(tableGroup(k), v == null || v.length == 0 ? 0L : (long) (v[0] & 0xff)),
                Grouped.with("groups", Serdes.String(), Serdes.Long()))
            .reduce((agg, v) -> agg + v, (agg, v) -> agg - v,
                Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("sums")
                    .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
            .toStream()
            .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        break;
      case "stream-table-join": {
        // As bench/join.go: the input left-joined with the side topic as a
        // table (store "side"); the joiner returns the left value.
        KTable<String, byte[]> side = b.table(spec.path("side").asText(), Consumed.with(Serdes.String(), Serdes.ByteArray()),
            Materialized.<String, byte[], KeyValueStore<Bytes, byte[]>>as("side")
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.ByteArray()));
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .leftJoin(side, (v, o) -> v)
            .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      }
      case "stream-stream-join": {
        // As bench/join.go: the left topic left-joined with the side topic
        // as a stream, join windows of 10 s with no grace, stores "join".
        KStream<String, byte[]> side = b.stream(spec.path("side").asText(), Consumed.with(Serdes.String(), Serdes.ByteArray()));
        b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
            .leftJoin(side, (v, o) -> v, JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofSeconds(10)),
                StreamJoined.with(Serdes.String(), Serdes.ByteArray(), Serdes.ByteArray()).withStoreName("join"))
            .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      }
      case "table-table-join":
      case "fk-join": {
        // As bench/join.go: a table (store "rows") left-joined with the side
        // table (store "side"), by key or by the foreign key fkOf (named
        // "fk").
        KTable<String, byte[]> rows = b.table(input, Consumed.with(Serdes.String(), Serdes.ByteArray()),
            Materialized.<String, byte[], KeyValueStore<Bytes, byte[]>>as("rows")
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.ByteArray()));
        KTable<String, byte[]> side = b.table(spec.path("side").asText(), Consumed.with(Serdes.String(), Serdes.ByteArray()),
            Materialized.<String, byte[], KeyValueStore<Bytes, byte[]>>as("side")
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.ByteArray()));
        KTable<String, byte[]> joined;
        if (name.equals("fk-join")) {
          joined = rows.leftJoin(side, Bench::fkOf, (v, o) -> v, TableJoined.<String, String>as("fk"));
        } else {
          joined = rows.leftJoin(side, (v, o) -> v);
        }
        joined.toStream().to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        break;
      }
      default:
        throw new IllegalArgumentException("no Java implementation of workload " + name);
    }
    return b.build();
  }

  /** fk-join's foreign key of a value, as bench/join.go's fkOf: "key-000NN", NN the first byte (unsigned) modulo 100. */
  static String fkOf(byte[] v) {
    int n = v == null || v.length == 0 ? 0 : (v[0] & 0xff) % 100;
    return String.format("key-%05d", n);
  }

  static String tableGroup(String k) {
    return k.length() < 2 ? k : "group-" + k.substring(k.length() - 2);
  }

  /** get-put's processor: get the key's previous value, put the new one, forward the record. */
  static final class GetPut implements Processor<String, byte[], String, byte[]> {
    private final long[] hits;
    private final Map<String, Long> stats;
    private ProcessorContext<String, byte[]> ctx;
    private KeyValueStore<String, byte[]> store;

    GetPut(long[] hits, Map<String, Long> stats) {
      this.hits = hits;
      this.stats = stats;
    }

    @Override
    public void init(ProcessorContext<String, byte[]> ctx) {
      this.ctx = ctx;
      this.store = ctx.getStateStore(GET_PUT_STORE);
    }

    @Override
    public void process(Record<String, byte[]> r) {
      if (store.get(r.key()) != null) {
        hits[0]++;
      }
      store.put(r.key(), r.value());
      ctx.forward(r);
    }

    @Override
    public void close() {
      synchronized (stats) {
        stats.put("get_hits", hits[0]);
      }
    }
  }

  static Properties props(JsonNode spec) {
    JsonNode c = spec.path("client");
    List<String> brokers = brokers(spec);
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, spec.path("app_id").asText());
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, String.join(",", brokers));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.STATE_DIR_CONFIG, spec.path("state_dir").asText());
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
        "exactly_once_v2".equals(c.path("guarantee").asText()) ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
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
    if (name.equals("rebalance")) {
      Rebalance.run(spec, in, stats);
      return;
    }
    if (name.equals("kill-restore")) {
      KillRestore.run(spec, in, stats);
      return;
    }
    Topology topo = topology(name, spec, stats);
    KafkaStreams streams = new KafkaStreams(topo, props(spec));
    Restore restore = null;
    if (name.equals("restore")) {
      restore = new Restore(spec, stats);
      streams.setGlobalStateRestoreListener(restore);
    }

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
    if (restore != null) {
      restore.start(done);
    }
    done.await();
    collect(streams, stats); // before close: the final commit is not counted
    boolean closed = streams.close(CloseOptions
        .groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
        .withTimeout(Duration.ofSeconds(30)));
    if (restore != null) {
      restore.close();
      Throwable rerr = restore.failure.get();
      if (rerr != null) {
        failure.compareAndSet(null, rerr);
      }
    }
    Throwable err = failure.get();
    if (err != null) {
      throw new RuntimeException("Kafka Streams failed: " + err, err);
    }
    if (!closed) {
      throw new IllegalStateException("Kafka Streams did not close within 30s");
    }
  }

  /**
   * restore's listener: counts restored records and, once they reach the
   * changelog's size (its end offsets, read at start), writes the marker
   * record the runner waits for, as bench/restore.go does.
   */
  static final class Restore implements StateRestoreListener {
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong restored = new AtomicLong();
    private final CountDownLatch reached = new CountDownLatch(1);
    private final JsonNode spec;
    private final Map<String, Long> stats;
    private final long startNanos = System.nanoTime();
    private volatile long want = Long.MAX_VALUE;
    private Thread marker;

    Restore(JsonNode spec, Map<String, Long> stats) {
      this.spec = spec;
      this.stats = stats;
    }

    @Override
    public void onRestoreStart(TopicPartition tp, String store, long start, long end) {}

    @Override
    public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
      if (restored.addAndGet(n) >= want) {
        reached.countDown();
      }
    }

    @Override
    public void onRestoreEnd(TopicPartition tp, String store, long total) {}

    /** Reads the changelog's size, then waits in a thread of its own to write the marker. */
    void start(CountDownLatch done) throws Exception {
      String app = spec.path("app_id").asText();
      String changelog = app + "-" + COUNT_STORE + "-changelog";
      Properties p = new Properties();
      p.put("bootstrap.servers", String.join(",", brokers(spec)));
      try (Admin admin = Admin.create(p)) {
        Map<TopicPartition, OffsetSpec> q = new HashMap<>();
        int partitions = spec.path("partitions").asInt();
        for (int i = 0; i < partitions; i++) {
          q.put(new TopicPartition(changelog, i), OffsetSpec.latest());
        }
        long sum = 0;
        for (ListOffsetsResult.ListOffsetsResultInfo info : admin.listOffsets(q).all().get().values()) {
          sum += info.offset();
        }
        want = sum;
        stats.put("changelog_records", sum);
      }
      if (restored.get() >= want) {
        reached.countDown();
      }
      marker = new Thread(() -> {
        try {
          reached.await();
          long ms = (System.nanoTime() - startNanos) / 1_000_000L;
          p.put("key.serializer", StringSerializer.class.getName());
          p.put("value.serializer", StringSerializer.class.getName());
          try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            prod.send(new ProducerRecord<>(spec.path("output").asText(), "restored", Long.toString(want))).get();
          }
          synchronized (stats) {
            stats.put("to_restored_ms", ms);
          }
        } catch (InterruptedException e) {
          // stopped before the store was restored
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
          done.countDown();
        }
      }, "bench-restore-marker");
      marker.setDaemon(true);
      marker.start();
    }

    void close() throws InterruptedException {
      synchronized (stats) {
        stats.put("restored", restored.get());
      }
      if (marker != null) {
        marker.interrupt();
        marker.join(10_000);
      }
    }
  }

  /**
   * The rebalance workload, as bench/rebalance.go: two instances of the count
   * topology (no sink) process a steady trickle the worker writes itself,
   * then a third instance starts; rebalance_ms is the time from its start to
   * all three running, the third processing, and every partition having a
   * record processed since all were running. Kafka Streams' assignment
   * defaults apply.
   */
  static final class Rebalance {
    final Map<Integer, Long> last = new HashMap<>();
    long pause;
    boolean marked;

    synchronized void peek(String k) {
      if (!k.startsWith("rb-")) {
        return;
      }
      int dash = k.indexOf('-', 3);
      int p = Integer.parseInt(k.substring(3, dash < 0 ? k.length() : dash));
      long now = System.nanoTime();
      Long prev = last.get(p);
      if (prev != null && marked) {
        pause = Math.max(pause, now - prev);
      }
      last.put(p, now);
    }

    synchronized boolean since(long t, int partitions) {
      for (int p = 0; p < partitions; p++) {
        Long at = last.get(p);
        if (at == null || at < t) {
          return false;
        }
      }
      return true;
    }

    static void run(JsonNode spec, BufferedReader in, Map<String, Long> stats) throws Exception {
      Rebalance clock = new Rebalance();
      String input = spec.path("input").asText();
      int partitions = spec.path("partitions").asInt();
      Properties pp = new Properties();
      pp.put("bootstrap.servers", String.join(",", brokers(spec)));
      pp.put("key.serializer", StringSerializer.class.getName());
      pp.put("value.serializer", StringSerializer.class.getName());
      pp.put(ProducerConfig.LINGER_MS_CONFIG, 5);
      KafkaProducer<String, String> prod = new KafkaProducer<>(pp);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread trickle = new Thread(() -> {
        try {
          for (int i = 0; !Thread.currentThread().isInterrupted(); i++) {
            for (int p = 0; p < partitions; p++) {
              String k = "rb-" + p + "-" + (i % 100);
              prod.send(new ProducerRecord<>(input, p, k, k));
            }
            Thread.sleep(10);
          }
        } catch (InterruptedException e) {
          // stopped
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      }, "bench-trickle");
      trickle.setDaemon(true);
      trickle.start();
      List<KafkaStreams> apps = new ArrayList<>();
      List<AtomicLong> processed = new ArrayList<>();
      try {
        for (String name : new String[] {"a", "b"}) {
          start(spec, name, clock, apps, processed, failure);
        }
        long began = System.nanoTime();
        await(failure, () -> running(apps) && clock.since(began, partitions));
        long added = System.nanoTime();
        synchronized (clock) {
          clock.marked = true;
        }
        start(spec, "c", clock, apps, processed, failure);
        long[] all = {0};
        await(failure, () -> {
          if (!running(apps) || processed.get(2).get() == 0) {
            all[0] = 0;
            return false;
          }
          if (all[0] == 0) {
            all[0] = System.nanoTime();
          }
          return clock.since(all[0], partitions);
        });
        long balanced = System.nanoTime();
        synchronized (stats) {
          stats.put("rebalance_ms", (balanced - added) / 1_000_000L);
          synchronized (clock) {
            stats.put("max_pause_ms", clock.pause / 1_000_000L);
          }
        }
        prod.send(new ProducerRecord<>(spec.path("output").asText(), "balanced", "1")).get();
        while (in.read() != -1) {
          // the runner closes stdin to stop the application
        }
      } finally {
        trickle.interrupt();
        long total = 0;
        for (AtomicLong n : processed) {
          total += n.get();
        }
        for (KafkaStreams s : apps) {
          s.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
              .withTimeout(Duration.ofSeconds(30)));
        }
        prod.close(Duration.ofSeconds(5));
        synchronized (stats) {
          stats.put("processed", total);
        }
      }
      Throwable err = failure.get();
      if (err != null) {
        throw new RuntimeException("Kafka Streams failed: " + err, err);
      }
    }

    static void start(JsonNode spec, String name, Rebalance clock, List<KafkaStreams> apps, List<AtomicLong> processed,
        AtomicReference<Throwable> failure) {
      AtomicLong n = new AtomicLong();
      StreamsBuilder b = new StreamsBuilder();
      b.stream(spec.path("input").asText(), Consumed.with(Serdes.String(), Serdes.ByteArray()))
          .peek((k, v) -> {
            n.incrementAndGet();
            clock.peek(k);
          })
          .groupByKey()
          .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE)
              .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()));
      Properties p = props(spec);
      p.put(StreamsConfig.STATE_DIR_CONFIG, spec.path("state_dir").asText() + "/" + name);
      KafkaStreams streams = new KafkaStreams(b.build(), p);
      streams.setUncaughtExceptionHandler(e -> {
        failure.compareAndSet(null, e);
        return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      apps.add(streams);
      processed.add(n);
      streams.start();
    }

    static boolean running(List<KafkaStreams> apps) {
      for (KafkaStreams s : apps) {
        if (s.state() != KafkaStreams.State.RUNNING) {
          return false;
        }
      }
      return true;
    }

    static void await(AtomicReference<Throwable> failure, java.util.function.BooleanSupplier cond) throws Exception {
      while (!cond.getAsBoolean()) {
        if (failure.get() != null) {
          throw new RuntimeException("Kafka Streams failed: " + failure.get(), failure.get());
        }
        Thread.sleep(1);
      }
    }
  }

  static List<String> brokers(JsonNode spec) {
    List<String> brokers = new ArrayList<>();
    spec.path("brokers").forEach(n -> brokers.add(n.asText()));
    return brokers;
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
    synchronized (stats) {
      stats.put("processed", processed);
      stats.put("produced", produced);
      stats.put("commits", commits);
    }
  }
}

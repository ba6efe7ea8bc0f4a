import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.processor.StateRestoreListener;

/**
 * The kill-restore benchmark's application (bench/killrestore.go): the count
 * topology exactly-once, counting the records it restores; with a ready file
 * in the spec, it writes {"to_running_ms", "restored", "cpu_ms"} there the
 * first time it is RUNNING. The runner SIGKILLs its first run mid-stream and
 * measures the restart. spec.transactional_stores turns on Kafka Streams'
 * transactional state stores (enable.transactional.statestores, KIP-892).
 */
final class KillRestore {
  private KillRestore() {}

  static void run(JsonNode spec, BufferedReader in, Map<String, Long> stats) throws Exception {
    long start = System.nanoTime();
    Topology topo = Bench.topology("count", spec, stats);
    Properties props = Bench.props(spec);
    boolean txnStores = spec.path("transactional_stores").asBoolean(false);
    props.put(StreamsConfig.TRANSACTIONAL_STATE_STORES_CONFIG, txnStores);
    // For the runner's -v: what the application was configured with.
    System.err.println("kill-restore: " + StreamsConfig.TRANSACTIONAL_STATE_STORES_CONFIG + "="
        + new StreamsConfig(props).getBoolean(StreamsConfig.TRANSACTIONAL_STATE_STORES_CONFIG));
    KafkaStreams streams = new KafkaStreams(topo, props);
    AtomicLong restored = new AtomicLong();
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String store, long from, long to) {}

      @Override
      public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
        restored.addAndGet(n);
      }

      @Override
      public void onRestoreEnd(TopicPartition tp, String store, long total) {}
    });
    String ready = spec.path("ready_file").asText("");
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean wrote = new AtomicBoolean();
    streams.setUncaughtExceptionHandler(e -> {
      failure.compareAndSet(null, e);
      done.countDown();
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING && !ready.isEmpty() && wrote.compareAndSet(false, true)) {
        try {
          writeReady(ready, (System.nanoTime() - start) / 1_000_000L, restored.get());
        } catch (Exception e) {
          failure.compareAndSet(null, e);
          done.countDown();
        }
      }
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
    Bench.collect(streams, stats);
    boolean closed = streams.close(CloseOptions
        .groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
        .withTimeout(Duration.ofSeconds(30)));
    synchronized (stats) {
      stats.put("restored", restored.get());
    }
    Throwable err = failure.get();
    if (err != null) {
      throw new RuntimeException("Kafka Streams failed: " + err, err);
    }
    if (!closed) {
      throw new IllegalStateException("Kafka Streams did not close within 30s");
    }
  }

  /** Writes the ready file atomically (a temporary file renamed). */
  static void writeReady(String path, long toRunningMs, long restored) throws Exception {
    long cpuNs = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    Map<String, Long> r = new LinkedHashMap<>();
    r.put("to_running_ms", toRunningMs);
    r.put("restored", restored);
    r.put("cpu_ms", cpuNs / 1_000_000L);
    Path tmp = Paths.get(path + ".tmp");
    Files.write(tmp, new ObjectMapper().writeValueAsBytes(r));
    Files.move(tmp, Paths.get(path), StandardCopyOption.ATOMIC_MOVE);
  }
}

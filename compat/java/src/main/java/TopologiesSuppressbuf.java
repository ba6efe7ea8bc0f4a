import java.time.Duration;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;

/** Suppression buffers bounded by bytes, emitting early when full (compat/topologies_suppressbuf.go). */
final class TopologiesSuppressbuf {
    private TopologiesSuppressbuf() {}

    static void register() {
        Topologies.add("suppress-bytes-table", "in:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).toTable()
                .suppress(Suppressed.untilTimeLimit(Duration.ofMillis(100), Suppressed.BufferConfig.maxBytes(70))).toStream()));
        Topologies.add("suppress-bytes-count", "in:S:S", "out:S:L", b ->
            Topologies.toSL(Topologies.in(b).groupByKey(Grouped.with(Topologies.S, Topologies.S)).count()
                .suppress(Suppressed.untilTimeLimit(Duration.ofMillis(100), Suppressed.BufferConfig.maxBytes(110))).toStream()));
        Topologies.add("suppress-bytes-and-records", "in:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).toTable()
                .suppress(Suppressed.untilTimeLimit(Duration.ofMillis(100), Suppressed.BufferConfig.maxRecords(3).withMaxBytes(90))).toStream()));
        Topologies.add("suppress-bytes-windowed", "in:S:S", "out:S:L", b ->
            Topologies.toSL(Topologies.windowKeys(Topologies.in(b).groupByKey(Grouped.with(Topologies.S, Topologies.S))
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(10))).count()
                .suppress(Suppressed.untilTimeLimit(Duration.ofMillis(50), Suppressed.BufferConfig.maxBytes(130))).toStream())));
    }
}

import java.time.Duration;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.CogroupedKStream;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

/** The topologies of sliding windows, emit-on-close for sessions and cogroup, as topologies_winagg.go. */
final class TopologiesWinagg {
    private TopologiesWinagg() {}

    private static final Serde<String> S = Serdes.String();
    private static final Serde<Long> L = Serdes.Long();

    private static KStream<String, String> in(StreamsBuilder b) {
        return b.stream("in", Consumed.with(S, S));
    }

    private static <V> KStream<String, V> windowKeys(KStream<Windowed<String>, V> s) {
        return s.selectKey((k, v) -> Topologies.str(k.key()) + "@" + k.window().start() + "/" + k.window().end());
    }

    private static KGroupedStream<String, String> grouped(StreamsBuilder b, String topic) {
        return b.stream(topic, Consumed.with(S, S)).groupByKey(Grouped.with(S, S));
    }

    private static CogroupedKStream<String, String> leftRight(StreamsBuilder b) {
        return grouped(b, "left").<String>cogroup((k, v, a) -> append(a, "+l:", v))
            .cogroup(grouped(b, "right"), (k, v, a) -> append(a, "+r:", v));
    }

    private static void toSS(KStream<String, String> s) {
        s.to("out", Produced.with(S, S));
    }

    private static void toSL(KStream<String, Long> s) {
        s.to("out", Produced.with(S, L));
    }

    private static String append(String a, String sep, String v) {
        return Topologies.str(a) + sep + Topologies.str(v);
    }

    private static void add(String name, String inputs, String outputs, java.util.function.Consumer<StreamsBuilder> build) {
        Topologies.add(name, inputs, outputs, build);
    }

    static void register() {
        // --- sliding windows
        add("slide-count", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(Duration.ofMillis(10))).count().toStream())));
        add("slide-count-grace", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).count().toStream())));
        add("slide-reduce", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .reduce((a, v) -> append(a, "|", v)).toStream())));
        add("slide-aggregate", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .aggregate(() -> "", (k, v, a) -> append(a, "+", v),
                    Materialized.<String, String, WindowStore<Bytes, byte[]>>with(S, S)).toStream())));
        add("slide-count-close", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .emitStrategy(EmitStrategy.onWindowClose()).count().toStream())));
        add("slide-suppress", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .reduce((a, v) -> append(a, "|", v))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())).toStream())));

        // --- session windows emitting on close
        add("session-count-close", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(5), Duration.ofMillis(5)))
                .emitStrategy(EmitStrategy.onWindowClose()).count().toStream())));
        add("session-reduce-close", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofMillis(10)))
                .emitStrategy(EmitStrategy.onWindowClose())
                .reduce((a, v) -> append(a, "|", v)).toStream())));

        // --- cogroup
        add("cogroup-two", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(leftRight(b).aggregate(() -> "", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>with(S, S)).toStream()));
        add("cogroup-three-repartition", "left:S:S,right:S:S,third:S:S", "out:S:S", b ->
            toSS(leftRight(b)
                .cogroup(b.stream("third", Consumed.with(S, S)).groupBy((k, v) -> Topologies.first(v), Grouped.with(S, S)),
                    (k, v, a) -> append(a, "+t:", v))
                .aggregate(() -> "", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>with(S, S)).toStream()));
        add("cogroup-mixed-types", "left:S:S,right:S:L", "out:S:L", b ->
            toSL(grouped(b, "left").<Long>cogroup((k, v, a) -> a + 1)
                .cogroup(b.stream("right", Consumed.with(S, L)).groupByKey(Grouped.with(S, L)), (k, v, a) -> a + v * 100)
                .aggregate(() -> 0L, Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>with(S, L)).toStream()));
        add("cogroup-tumbling", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(windowKeys(leftRight(b).windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .aggregate(() -> "", Materialized.<String, String, WindowStore<Bytes, byte[]>>with(S, S)).toStream())));
        add("cogroup-sliding", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(windowKeys(leftRight(b).windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .aggregate(() -> "", Materialized.<String, String, WindowStore<Bytes, byte[]>>with(S, S)).toStream())));
        add("cogroup-session", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(windowKeys(leftRight(b).windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(5), Duration.ofMillis(5)))
                .aggregate(() -> "", (k, a, c) -> append(a, "&", c),
                    Materialized.<String, String, SessionStore<Bytes, byte[]>>with(S, S)).toStream())));
    }
}

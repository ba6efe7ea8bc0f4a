import java.time.Duration;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.CogroupedKStream;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The fidelity topologies (topologies_fidelity.go): combinations of
 * operators the other classes do not chain (joins of joins, old values
 * through joins and mapValues into table aggregations, suppression of
 * filtered and re-grouped tables, self-joins, hopping windows emitting on
 * close, aggregations of join results).
 */
final class TopologiesFidelity {
    private TopologiesFidelity() {}

    private static final Serde<String> S = Serdes.String();
    private static final Serde<Long> L = Serdes.Long();

    private static Duration ms(long n) {
        return Duration.ofMillis(n);
    }

    private static KTable<String, String> tab(StreamsBuilder b, String topic) {
        return b.table(topic, Consumed.with(S, S));
    }

    private static KStream<String, String> stream(StreamsBuilder b, String topic) {
        return b.stream(topic, Consumed.with(S, S));
    }

    private static <V> KStream<String, V> windowKeys(KStream<Windowed<String>, V> s) {
        return s.selectKey((k, v) -> Topologies.str(k.key()) + "@" + k.window().start() + "/" + k.window().end());
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

    private static Materialized<String, String, KeyValueStore<Bytes, byte[]>> named(String name) {
        return Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as(name).withKeySerde(S).withValueSerde(S);
    }

    private static KeyValue<String, String> byFirst(String k, String v) {
        return KeyValue.pair(Topologies.first(v), v);
    }

    private static KeyValue<String, String> byValue(String k, String v) {
        return KeyValue.pair(v, v);
    }

    private static StreamJoined<String, String, String> sj() {
        return StreamJoined.with(S, S, S);
    }

    private static void add(String name, String inputs, String outputs, java.util.function.Consumer<StreamsBuilder> build) {
        Topologies.add(name, inputs, outputs, build);
    }

    static void register() {
        // --- table-table joins of joins, and what flows out of them
        add("tt-join-chain", "left:S:S,right:S:S,third:S:S", "out:S:S", b ->
            toSS(tab(b, "left").join(tab(b, "right"), Topologies::joined2)
                .leftJoin(tab(b, "third"), Topologies::joined2).toStream()));
        add("tt-left-join-map-group-aggregate", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tab(b, "left").leftJoin(tab(b, "right"), Topologies::joined2).mapValues(Topologies::upper)
                .groupBy(TopologiesFidelity::byFirst, Grouped.with(S, S))
                .aggregate(() -> "", (k, v, a) -> append(a, "+", v), (k, v, a) -> append(a, "-", v), Materialized.with(S, S))
                .toStream()));
        add("tt-outer-join-materialized-filter", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tab(b, "left").outerJoin(tab(b, "right"), Topologies::joined2, named("j"))
                .filter((k, v) -> !Topologies.startsWith(v, "-")).toStream()));
        add("tt-join-materialized-group-by-count", "left:S:S,right:S:S", "out:S:L", b ->
            toSL(tab(b, "left").join(tab(b, "right"), Topologies::joined2, named("j"))
                .groupBy(TopologiesFidelity::byFirst, Grouped.with(S, S)).count().toStream()));
        add("table-filter-materialized-join", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tab(b, "left").filter((k, v) -> Topologies.longer(v, 1), named("f"))
                .join(tab(b, "right"), Topologies::joined2).toStream()));
        add("table-map-values-left-join-filtered", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tab(b, "left").mapValues(Topologies::upper)
                .leftJoin(tab(b, "right").filter((k, v) -> Topologies.longer(v, 1)), Topologies::joined2).toStream()));
        add("table-self-join", "in:S:S", "out:S:S", b -> {
            KTable<String, String> t = tab(b, "in");
            toSS(t.join(t, Topologies::joined2).toStream());
        });
        add("to-table-stream-join", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(Topologies.in(b).join(stream(b, "tab").toTable(), Topologies::joined)));
        add("table-joined-then-filtered", "left:S:S,right:S:S", "out-j:S:S,out-f:S:S", b -> {
            KTable<String, String> t = tab(b, "left");
            t.join(tab(b, "right"), Topologies::joined2).toStream().to("out-j", Produced.with(S, S));
            t.filter((k, v) -> Topologies.longer(v, 1)).toStream().to("out-f", Produced.with(S, S));
        });
        add("table-filtered-then-joined", "left:S:S,right:S:S", "out-j:S:S,out-f:S:S", b -> {
            KTable<String, String> t = tab(b, "left");
            KTable<String, String> f = t.filter((k, v) -> Topologies.longer(v, 1));
            t.join(tab(b, "right"), Topologies::joined2).toStream().to("out-j", Produced.with(S, S));
            f.toStream().to("out-f", Produced.with(S, S));
        });
        add("merge-tables", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tab(b, "left").toStream().merge(tab(b, "right").toStream())));

        // --- table aggregations
        add("table-group-by-reduce-str", "in:S:S", "out:S:S", b ->
            toSS(tab(b, "in").groupBy(TopologiesFidelity::byFirst, Grouped.with(S, S))
                .reduce((a, v) -> append(a, "|", v), (a, v) -> append(a, "-", v)).toStream()));
        add("table-filter-materialized-group-by-count", "in:S:S", "out:S:L", b ->
            toSL(tab(b, "in").filter((k, v) -> Topologies.longer(v, 1), named("f"))
                .groupBy(TopologiesFidelity::byValue, Grouped.with(S, S)).count().toStream()));
        add("table-to-stream-count", "in:S:S", "out:S:L", b ->
            toSL(tab(b, "in").toStream().groupByKey(Grouped.with(S, S)).count().toStream()));

        // --- foreign-key joins feeding other operators
        add("fk-join-group-by-count", "left:S:S,right:S:S", "out:S:L", b ->
            toSL(tab(b, "left").join(tab(b, "right"), Topologies::first, TopologiesFkjoin::fkJoined)
                .groupBy(TopologiesFidelity::byValue, Grouped.with(S, S)).count().toStream()));
        add("fk-left-join-group-by-count", "left:S:S,right:S:S", "out:S:L", b ->
            toSL(tab(b, "left").leftJoin(tab(b, "right"), Topologies::first, TopologiesFkjoin::fkJoined)
                .groupBy(TopologiesFidelity::byValue, Grouped.with(S, S)).count().toStream()));
        add("fk-join-then-join", "left:S:S,right:S:S,third:S:S", "out:S:S", b ->
            toSS(tab(b, "left").join(tab(b, "right"), Topologies::first, TopologiesFkjoin::fkJoined)
                .leftJoin(tab(b, "third"), Topologies::joined2).toStream()));

        // --- windows
        add("cogroup-hopping", "left:S:S,right:S:S", "out:S:S", b -> {
            CogroupedKStream<String, String> c = stream(b, "left").groupByKey(Grouped.with(S, S))
                .<String>cogroup((k, v, a) -> append(a, "+l:", v))
                .cogroup(stream(b, "right").groupByKey(Grouped.with(S, S)), (k, v, a) -> append(a, "+r:", v));
            toSS(windowKeys(c.windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(5)).advanceBy(ms(5)))
                .aggregate(() -> "", Materialized.<String, String, WindowStore<Bytes, byte[]>>with(S, S)).toStream()));
        });
        add("win-reduce-hopping-close", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(Topologies.in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(3)).advanceBy(ms(5)))
                .emitStrategy(EmitStrategy.onWindowClose())
                .reduce((a, v) -> append(a, "|", v)).toStream())));
        add("suppress-win-close-hopping-grace", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(Topologies.in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(3)).advanceBy(ms(5))).count()
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())).toStream())));
        add("session-aggregate-close", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(Topologies.in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(5), ms(5)))
                .emitStrategy(EmitStrategy.onWindowClose())
                .aggregate(() -> "", (k, v, a) -> append(a, "+", v), (k, a, c) -> append(a, "&", c),
                    Materialized.<String, String, SessionStore<Bytes, byte[]>>with(S, S))
                .toStream())));
        add("slide-reduce-close", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(Topologies.in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(10), ms(5)))
                .emitStrategy(EmitStrategy.onWindowClose())
                .reduce((a, v) -> append(a, "|", v)).toStream())));

        // --- suppression of derived tables
        add("suppress-time-limit-group-table", "in:S:S", "out:S:L", b ->
            toSL(tab(b, "in").groupBy(TopologiesFidelity::byFirst, Grouped.with(S, S)).count()
                .suppress(Suppressed.untilTimeLimit(ms(10), Suppressed.BufferConfig.unbounded())).toStream()));
        add("suppress-time-limit-filter", "in:S:S", "out:S:S", b ->
            toSS(Topologies.in(b).toTable().filter((k, v) -> Topologies.longer(v, 1))
                .suppress(Suppressed.untilTimeLimit(ms(10), Suppressed.BufferConfig.unbounded())).toStream()));

        // --- stream-stream joins feeding other operators
        add("ss-self-join", "in:S:S", "out:S:S", b -> {
            KStream<String, String> s = Topologies.in(b);
            toSS(s.join(s, Topologies::joined, JoinWindows.ofTimeDifferenceAndGrace(ms(5), ms(2)), sj()));
        });
        add("ss-join-count", "in:S:S,other:S:S", "out:S:L", b ->
            toSL(Topologies.in(b).join(stream(b, "other"), Topologies::joined, JoinWindows.ofTimeDifferenceAndGrace(ms(15), ms(5)), sj())
                .groupByKey(Grouped.with(S, S)).count().toStream()));
        add("ss-outer-join-rekey-both", "in:S:S,other:S:S", "out:S:S", b ->
            toSS(Topologies.in(b).selectKey((k, v) -> Topologies.first(v))
                .outerJoin(stream(b, "other").selectKey((k, v) -> Topologies.first(v)), Topologies::joined,
                    JoinWindows.ofTimeDifferenceAndGrace(ms(10), ms(2)), sj())));
        add("stream-table-join-count-table", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(Topologies.in(b).join(stream(b, "tab").groupByKey(Grouped.with(S, S)).count(),
                (k, l, c) -> Topologies.orDash(k) + "=" + Topologies.orDash(l) + "/" + c)));
    }
}

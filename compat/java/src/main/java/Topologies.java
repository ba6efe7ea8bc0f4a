import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The named topologies of the differential suite, each the same as the Go
 * topology of the same name in compat/topologies.go. Each declares its input
 * and output topics with the serde of key and value ("in:S:S": topic in,
 * string key, string value; L is a long, 8 bytes big-endian).
 */
final class Topologies {
    private Topologies() {}

    /** A serde kind of the case files: how a token becomes bytes and back. */
    enum Kind {
        S, L;

        byte[] encode(String token) {
            if (token.equals("<null>")) {
                return null;
            }
            if (this == L) {
                return ByteBuffer.allocate(8).putLong(Long.parseLong(token)).array();
            }
            return (token.equals("\"\"") ? "" : token).getBytes(StandardCharsets.UTF_8);
        }

        String decode(byte[] b) {
            if (b == null) {
                return "<null>";
            }
            if (this == L) {
                if (b.length != 8) {
                    return "<bad-long:" + b.length + "-bytes>";
                }
                return Long.toString(ByteBuffer.wrap(b).getLong());
            }
            String s = new String(b, StandardCharsets.UTF_8);
            return s.isEmpty() || s.matches(".*\\s.*") ? "\"" + s + "\"" : s;
        }
    }

    record Topo(Map<String, Kind[]> inputs, Map<String, Kind[]> outputs, Consumer<StreamsBuilder> build) {}

    private static final Map<String, Topo> ALL = new HashMap<>();

    static Topo get(String name) {
        return ALL.get(name);
    }

    private static Map<String, Kind[]> topics(String spec) {
        Map<String, Kind[]> m = new LinkedHashMap<>();
        for (String t : spec.split(",")) {
            String[] f = t.split(":");
            m.put(f[0], new Kind[] {Kind.valueOf(f[1]), Kind.valueOf(f[2])});
        }
        return m;
    }

    static void add(String name, String inputs, String outputs, Consumer<StreamsBuilder> build) {
        if (ALL.put(name, new Topo(topics(inputs), topics(outputs), build)) != null) {
            throw new IllegalStateException("topology " + name + " defined twice");
        }
    }

    static final Serde<String> S = Serdes.String();
    static final Serde<Long> L = Serdes.Long();

    // Null-safe helpers, the same as in topologies.go.
    static boolean longer(String v, int n) {
        return v != null && v.length() > n;
    }

    static boolean startsWith(String v, String p) {
        return v != null && v.startsWith(p);
    }

    static String upper(String v) {
        return v == null ? null : v.toUpperCase(Locale.ROOT);
    }

    static String first(String v) {
        return v == null || v.isEmpty() ? null : v.substring(0, 1);
    }

    static long len(String v) {
        return v == null ? 0 : v.length();
    }

    static String str(String v) {
        return v == null ? "<null>" : v;
    }

    static List<String> parts(String v) {
        return v == null ? List.of() : List.of(v.split(",", -1));
    }

    static KStream<String, String> in(StreamsBuilder b) {
        return b.stream("in", Consumed.with(S, S));
    }

    private static KTable<String, String> tableOf(StreamsBuilder b, String topic) {
        return b.table(topic, Consumed.with(S, S));
    }

    static String orDash(String v) {
        return v == null ? "-" : v;
    }

    static String joined(String k, String l, String r) {
        return orDash(k) + "=" + orDash(l) + "/" + orDash(r);
    }

    static String joined2(String l, String r) {
        return orDash(l) + "/" + orDash(r);
    }

    private static KTable<String, String> table(StreamsBuilder b) {
        return b.table("in", Consumed.with(S, S));
    }

    /** Writes each windowed key as "key@start/end". */
    static <V> KStream<String, V> windowKeys(KStream<Windowed<String>, V> s) {
        return s.selectKey((k, v) -> str(k.key()) + "@" + k.window().start() + "/" + k.window().end());
    }

    static void toSS(KStream<String, String> s) {
        s.to("out", Produced.with(S, S));
    }

    static void toSL(KStream<String, Long> s) {
        s.to("out", Produced.with(S, L));
    }

    /** Forwards every record; schedules the given punctuators in order. */
    static final class Punctuating extends ContextualProcessor<String, String, String, String> {
        private final Object[][] schedules; // {name, interval ms, PunctuationType, max firings or 0}

        Punctuating(Object[]... schedules) {
            this.schedules = schedules;
        }

        @Override
        public void init(ProcessorContext<String, String> ctx) {
            super.init(ctx);
            for (Object[] s : schedules) {
                String name = (String) s[0];
                int max = (Integer) s[3];
                Cancellable[] handle = new Cancellable[1];
                int[] fired = new int[1];
                handle[0] = ctx.schedule(Duration.ofMillis((Long) s[1]), (PunctuationType) s[2], ts -> {
                    ctx.forward(new Record<>("tick", name + "@" + ts, ts));
                    if (max > 0 && ++fired[0] == max) {
                        handle[0].cancel();
                    }
                });
            }
        }

        @Override
        public void process(Record<String, String> r) {
            context().forward(r);
        }
    }

    /** Forwards each record with its value suffixed by the task's stream time and wall-clock time. */
    static final class Clocks extends ContextualProcessor<String, String, String, String> {
        @Override
        public void process(Record<String, String> r) {
            ProcessorContext<String, String> c = context();
            c.forward(r.withValue(str(r.value()) + "@" + c.currentStreamTimeMs() + "/" + c.currentSystemTimeMs()));
        }
    }

    /** Forwards each record 5 ms earlier than it came. */
    static final class Shift extends ContextualProcessor<String, String, String, String> {
        @Override
        public void process(Record<String, String> r) {
            context().forward(r.withTimestamp(r.timestamp() - 5));
        }
    }

    static {
        TopologiesFkjoin.register();
        TopologiesSuppressbuf.register();
        TopologiesSsjoin.register();
        TopologiesGstore.register();
        TopologiesFidelity.register();
        // --- stateless
        add("filter", "in:S:S", "out:S:S", b -> toSS(in(b).filter((k, v) -> longer(v, 1))));
        add("filter-not", "in:S:S", "out:S:S", b -> toSS(in(b).filterNot((k, v) -> longer(v, 1))));
        add("map-swap", "in:S:S", "out:S:S", b -> toSS(in(b).map((k, v) -> KeyValue.pair(v, k))));
        add("map-values", "in:S:S", "out:S:S", b -> toSS(in(b).mapValues(Topologies::upper)));
        add("map-values-long", "in:S:L", "out:S:L", b ->
            b.stream("in", Consumed.with(S, L)).mapValues(v -> v == null ? null : v * 2).to("out", Produced.with(S, L)));
        add("flat-map", "in:S:S", "out:S:S", b -> toSS(in(b).flatMap((k, v) -> {
            List<KeyValue<String, String>> l = new ArrayList<>();
            for (String p : parts(v)) {
                l.add(KeyValue.pair(p, k));
            }
            return l;
        })));
        add("flat-map-values", "in:S:S", "out:S:S", b -> toSS(in(b).flatMapValues(Topologies::parts)));
        add("select-key", "in:S:S", "out:S:S", b -> toSS(in(b).selectKey((k, v) -> v)));
        add("peek-foreach", "in:S:S", "out:S:S", b -> {
            KStream<String, String> s = in(b);
            s.foreach((k, v) -> { });
            toSS(s.peek((k, v) -> { }).mapValues(Topologies::upper));
        });
        add("split", "in:S:S", "out-a:S:S,out-b:S:S,out-other:S:S", b -> {
            Map<String, KStream<String, String>> m = in(b).split(Named.as("s-"))
                .branch((k, v) -> startsWith(v, "a"), Branched.as("a"))
                .branch((k, v) -> longer(v, 3), Branched.as("b"))
                .defaultBranch(Branched.as("other"));
            m.get("s-a").to("out-a", Produced.with(S, S));
            m.get("s-b").to("out-b", Produced.with(S, S));
            m.get("s-other").to("out-other", Produced.with(S, S));
        });
        add("split-no-default", "in:S:S", "out-a:S:S,out-b:S:S", b -> {
            Map<String, KStream<String, String>> m = in(b).split(Named.as("s-"))
                .branch((k, v) -> startsWith(v, "a"), Branched.as("a"))
                .branch((k, v) -> longer(v, 3), Branched.as("b"))
                .noDefaultBranch();
            m.get("s-a").to("out-a", Produced.with(S, S));
            m.get("s-b").to("out-b", Produced.with(S, S));
        });
        add("merge", "in1:S:S,in2:S:S", "out:S:S", b ->
            toSS(b.stream("in1", Consumed.with(S, S)).merge(b.stream("in2", Consumed.with(S, S)))));
        add("merge-self", "in:S:S", "out:S:S", b -> {
            KStream<String, String> s = in(b);
            toSS(s.merge(s));
        });
        add("merge-branches", "in:S:S", "out:S:S", b -> {
            KStream<String, String> s = in(b);
            toSS(s.filter((k, v) -> longer(v, 1)).merge(s.mapValues(Topologies::upper)));
        });
        add("repartition", "in:S:S", "out:S:S", b ->
            toSS(in(b).selectKey((k, v) -> v).repartition(Repartitioned.with(S, S)).mapValues(Topologies::upper)));
        add("repartition-same-key", "in:S:S", "out:S:S", b ->
            toSS(in(b).repartition(Repartitioned.with(S, S))));
        add("repartition-merge-shifted", "in:S:S", "out:S:S", b -> {
            KStream<String, String> s = in(b);
            KStream<String, String> one = s.selectKey((k, v) -> v).repartition(Repartitioned.with(S, S).withName("r1"));
            KStream<String, String> two = s.process(Shift::new).selectKey((k, v) -> v)
                .repartition(Repartitioned.with(S, S).withName("r2")).mapValues(Topologies::upper);
            toSS(one.merge(two));
        });
        add("repartition-clocks", "in:S:S", "out:S:S", b ->
            toSS(in(b).filter((k, v) -> longer(v, 1)).repartition(Repartitioned.with(S, S)).process(Clocks::new)));
        add("split-merge", "in:S:S", "out:S:S", b -> {
            Map<String, KStream<String, String>> m = in(b).split(Named.as("m-"))
                .branch((k, v) -> startsWith(v, "a"), Branched.as("a"))
                .defaultBranch(Branched.as("rest"));
            toSS(m.get("m-a").mapValues(Topologies::upper).merge(m.get("m-rest")));
        });
        add("to-func", "in:S:S", "out-x:S:S,out-y:S:S", b ->
            in(b).to((k, v, rc) -> startsWith(v, "x") ? "out-x" : "out-y", Produced.with(S, S)));

        // --- Processor API and punctuation
        add("process-clocks", "in:S:S", "out:S:S", b -> toSS(in(b).process(Clocks::new)));
        add("punct-stream", "in:S:S", "out:S:S", b -> toSS(in(b).process(() ->
            new Punctuating(new Object[] {"p10", 10L, PunctuationType.STREAM_TIME, 0}))));
        add("punct-wall", "in:S:S", "out:S:S", b -> toSS(in(b).process(() ->
            new Punctuating(new Object[] {"w10", 10L, PunctuationType.WALL_CLOCK_TIME, 0}))));
        add("punct-multi-stream", "in:S:S", "out:S:S", b -> toSS(in(b).process(() -> new Punctuating(
            new Object[] {"a10", 10L, PunctuationType.STREAM_TIME, 0},
            new Object[] {"b4", 4L, PunctuationType.STREAM_TIME, 0},
            new Object[] {"c6", 6L, PunctuationType.STREAM_TIME, 0}))));
        add("punct-multi-wall", "in:S:S", "out:S:S", b -> toSS(in(b).process(() -> new Punctuating(
            new Object[] {"a10", 10L, PunctuationType.WALL_CLOCK_TIME, 0},
            new Object[] {"b4", 4L, PunctuationType.WALL_CLOCK_TIME, 0},
            new Object[] {"c6", 6L, PunctuationType.WALL_CLOCK_TIME, 0}))));
        add("punct-mixed", "in:S:S", "out:S:S", b -> toSS(in(b).process(() -> new Punctuating(
            new Object[] {"s10", 10L, PunctuationType.STREAM_TIME, 0},
            new Object[] {"w10", 10L, PunctuationType.WALL_CLOCK_TIME, 0}))));
        add("punct-cancel", "in:S:S", "out:S:S", b -> toSS(in(b).process(() -> new Punctuating(
            new Object[] {"once5", 5L, PunctuationType.STREAM_TIME, 2},
            new Object[] {"w5", 5L, PunctuationType.WALL_CLOCK_TIME, 2}))));

        // --- tables
        add("table", "in:S:S", "out:S:S", b -> toSS(table(b).toStream()));
        add("table-filter", "in:S:S", "out:S:S", b -> toSS(table(b).filter((k, v) -> longer(v, 1)).toStream()));
        add("table-filter-not", "in:S:S", "out:S:S", b -> toSS(table(b).filterNot((k, v) -> longer(v, 1)).toStream()));
        add("table-named-filter", "in:S:S", "out:S:S", b ->
            toSS(b.table("in", Consumed.with(S, S), Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("src")
                .withKeySerde(S).withValueSerde(S)).filter((k, v) -> longer(v, 1)).toStream()));
        add("table-filter-materialized", "in:S:S", "out:S:S", b ->
            toSS(table(b).filter((k, v) -> longer(v, 1), Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("f")
                .withKeySerde(S).withValueSerde(S)).toStream()));
        add("table-named-filter-materialized", "in:S:S", "out:S:S", b ->
            toSS(b.table("in", Consumed.with(S, S), Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("src")
                .withKeySerde(S).withValueSerde(S)).filter((k, v) -> longer(v, 1), Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("f")
                .withKeySerde(S).withValueSerde(S)).toStream()));
        add("table-map-values-materialized-group-by", "in:S:S", "out:S:L", b ->
            toSL(table(b).mapValues(Topologies::upper, Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("m")
                .withKeySerde(S).withValueSerde(S)).filter((k, v) -> longer(v, 1))
                .groupBy((k, v) -> KeyValue.pair(v, v), Grouped.with(S, S)).count().mapValues(c -> c).toStream()));
        add("table-map-values", "in:S:S", "out:S:S", b -> toSS(table(b).mapValues(Topologies::upper).toStream()));
        add("table-map-values-filter", "in:S:S", "out:S:S", b ->
            toSS(table(b).mapValues(Topologies::upper).filter((k, v) -> startsWith(v, "A")).toStream()));
        add("suppress-win-close", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).count()
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())).toStream())));
        add("suppress-win-close-hopping", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(10)).advanceBy(Duration.ofMillis(5)))
                .reduce((a, v) -> str(a) + "|" + str(v))
                .filter((k, v) -> !startsWith(v, "x"))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())).toStream())));
        add("suppress-session-close", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(5), Duration.ofMillis(5))).count()
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())).toStream())));
        add("suppress-time-limit", "in:S:S", "out:S:S", b ->
            toSS(in(b).toTable().suppress(Suppressed.untilTimeLimit(Duration.ofMillis(10), Suppressed.BufferConfig.unbounded())).toStream()));
        add("suppress-time-limit-records", "in:S:S", "out:S:S", b ->
            toSS(in(b).toTable().suppress(Suppressed.untilTimeLimit(Duration.ofMillis(100), Suppressed.BufferConfig.maxRecords(2))).toStream()));
        add("suppress-count-time-limit", "in:S:S", "out:S:L", b ->
            toSL(in(b).groupByKey(Grouped.with(S, S)).count()
                .suppress(Suppressed.untilTimeLimit(Duration.ofMillis(10), Suppressed.BufferConfig.unbounded())).toStream()));
        add("to-table", "in:S:S", "out:S:S", b -> toSS(in(b).toTable().toStream()));
        add("to-table-filter", "in:S:S", "out:S:S", b -> toSS(in(b).toTable().filter((k, v) -> longer(v, 1)).toStream()));
        add("to-table-select-key", "in:S:S", "out:S:S", b ->
            toSS(in(b).selectKey((k, v) -> first(v)).toTable(Materialized.with(S, S)).toStream()));

        // --- stream aggregations
        add("win-count-tumbling", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(10))).count().toStream())));
        add("win-count-grace", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5))).count().toStream())));
        add("win-count-hopping", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(3)).advanceBy(Duration.ofMillis(5)))
                .count().toStream())));
        add("win-reduce", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .reduce((a, v) -> str(a) + "|" + str(v)).toStream())));
        add("win-aggregate-hopping", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)).advanceBy(Duration.ofMillis(5)))
                .aggregate(() -> "", (k, v, a) -> str(a) + "+" + str(v), Materialized.with(S, S)).toStream())));
        add("win-count-close", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                .emitStrategy(EmitStrategy.onWindowClose()).count().toStream())));
        add("win-count-hopping-close", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(10)).advanceBy(Duration.ofMillis(5)))
                .emitStrategy(EmitStrategy.onWindowClose()).count().toStream())));
        add("session-count", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofMillis(10))).count().toStream())));
        add("session-count-grace", "in:S:S", "out:S:L", b ->
            toSL(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(5), Duration.ofMillis(5))).count().toStream())));
        add("session-reduce", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(5), Duration.ofMillis(5)))
                .reduce((a, v) -> str(a) + "|" + str(v)).toStream())));
        add("session-aggregate", "in:S:S", "out:S:S", b ->
            toSS(windowKeys(in(b).groupByKey(Grouped.with(S, S))
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(5), Duration.ofMillis(5)))
                .aggregate(() -> "", (k, v, a) -> str(a) + "+" + str(v), (k, a, c) -> str(a) + "&" + str(c), Materialized.with(S, S))
                .toStream())));
        add("count", "in:S:S", "out:S:L", b ->
            toSL(in(b).groupByKey(Grouped.with(S, S)).count().toStream()));
        add("count-filter", "in:S:S", "out:S:L", b ->
            toSL(in(b).groupByKey(Grouped.with(S, S)).count().filter((k, c) -> c % 2 == 0).mapValues(c -> c).toStream()));
        add("count-and-reduce", "in:S:S", "out-count:S:L,out-reduce:S:S", b -> {
            KGroupedStream<String, String> g = in(b).groupByKey(Grouped.with(S, S));
            g.count().toStream().to("out-count", Produced.with(S, L));
            g.reduce((a, v) -> a + "|" + v).toStream().to("out-reduce", Produced.with(S, S));
        });
        add("reduce", "in:S:S", "out:S:S", b ->
            toSS(in(b).groupByKey(Grouped.with(S, S)).reduce((a, v) -> a + "|" + str(v)).toStream()));
        add("reduce-long", "in:S:L", "out:S:L", b ->
            b.stream("in", Consumed.with(S, L)).groupByKey(Grouped.with(S, L))
                .reduce((a, v) -> a + (v == null ? 0 : v)).toStream().to("out", Produced.with(S, L)));
        add("aggregate", "in:S:S", "out:S:S", b ->
            toSS(in(b).groupByKey(Grouped.with(S, S))
                .aggregate(() -> "", (k, v, a) -> a + "+" + str(v), Materialized.with(S, S)).toStream()));
        add("aggregate-null", "in:S:S", "out:S:S", b ->
            toSS(in(b).groupByKey(Grouped.with(S, S))
                .aggregate(() -> "", (k, v, a) -> "del".equals(v) ? null : a + "+" + str(v), Materialized.with(S, S)).toStream()));
        add("aggregate-long", "in:S:S", "out:S:L", b ->
            toSL(in(b).groupByKey(Grouped.with(S, S))
                .aggregate(() -> 0L, (k, v, a) -> a + len(v), Materialized.with(S, L)).toStream()));
        add("group-by-count", "in:S:S", "out:S:L", b ->
            toSL(in(b).groupBy((k, v) -> v, Grouped.with(S, S)).count().toStream()));
        add("group-by-reduce", "in:S:S", "out:S:S", b ->
            toSS(in(b).groupBy((k, v) -> first(v), Grouped.with(S, S)).reduce((a, v) -> a + "|" + str(v)).toStream()));
        add("group-by-aggregate", "in:S:S", "out:S:S", b ->
            toSS(in(b).groupBy((k, v) -> first(k), Grouped.with(S, S))
                .aggregate(() -> "", (k, v, a) -> a + "+" + str(v), Materialized.with(S, S)).toStream()));
        add("flat-map-count", "in:S:S", "out:S:L", b -> toSL(in(b).flatMap((k, v) -> {
            List<KeyValue<String, String>> l = new ArrayList<>();
            for (String p : parts(v)) {
                l.add(KeyValue.pair(p, k));
            }
            return l;
        }).groupByKey(Grouped.with(S, S)).count().toStream()));
        add("map-count", "in:S:S", "out:S:L", b ->
            toSL(in(b).map((k, v) -> KeyValue.pair(v, k)).groupByKey(Grouped.with(S, S)).count().toStream()));
        add("repartition-count", "in:S:S", "out:S:L", b ->
            toSL(in(b).repartition(Repartitioned.with(S, S)).groupByKey(Grouped.with(S, S)).count().toStream()));

        add("count-recount", "in:S:S", "out:S:L", b ->
            toSL(in(b).groupByKey(Grouped.with(S, S)).count().toStream()
                .groupBy((k, c) -> String.valueOf(c), Grouped.with(S, L)).count().toStream()));
        add("punct-count", "in:S:S", "out:S:L", b -> toSL(in(b).process(() ->
            new Punctuating(new Object[] {"p10", 10L, PunctuationType.STREAM_TIME, 0}))
            .groupByKey(Grouped.with(S, S)).count().toStream()));

        // --- table aggregations
        add("table-count-filter", "in:S:S", "out:S:L", b ->
            toSL(table(b).groupBy((k, v) -> KeyValue.pair(v, v), Grouped.with(S, S)).count()
                .filter((k, c) -> c >= 2).mapValues(c -> c).toStream()));
        add("table-group-by-count", "in:S:S", "out:S:L", b ->
            toSL(table(b).groupBy((k, v) -> KeyValue.pair(v, v), Grouped.with(S, S)).count().toStream()));
        add("table-group-by-reduce-null-subtract", "in:S:S", "out:S:S", b ->
            toSS(table(b).groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S))
                .reduce((a, v) -> a + "|" + str(v), (a, v) -> null).toStream()));
        add("aggregate-null-start", "in:S:S", "out:S:S", b ->
            toSS(in(b).groupByKey(Grouped.with(S, S)).aggregate(() -> null,
                (k, v, a) -> "clear".equals(v) ? null : str(a) + "|" + str(v),
                Materialized.with(S, S)).toStream()));
        add("table-group-by-reduce", "in:S:S", "out:S:L", b ->
            toSL(table(b).groupBy((k, v) -> KeyValue.pair(first(v), len(v)), Grouped.with(S, L))
                .reduce((a, v) -> a + v, (a, v) -> a - v).toStream()));
        add("table-group-by-aggregate", "in:S:S", "out:S:S", b ->
            toSS(table(b).groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S))
                .aggregate(() -> "", (k, v, a) -> a + "+" + v, (k, v, a) -> a + "-" + v, Materialized.with(S, S)).toStream()));
        add("table-group-by-same-key", "in:S:S", "out:S:S", b ->
            toSS(table(b).groupBy((k, v) -> KeyValue.pair(k, v), Grouped.with(S, S))
                .aggregate(() -> "", (k, v, a) -> a + "+" + v, (k, v, a) -> a + "-" + v, Materialized.with(S, S)).toStream()));
        add("table-filter-group-by-count", "in:S:S", "out:S:L", b ->
            toSL(table(b).filter((k, v) -> longer(v, 1)).groupBy((k, v) -> KeyValue.pair(v, v), Grouped.with(S, S)).count().toStream()));
        add("table-map-values-group-by-count", "in:S:S", "out:S:L", b ->
            toSL(table(b).mapValues(Topologies::first).groupBy((k, v) -> KeyValue.pair(v, v), Grouped.with(S, S)).count().toStream()));
        add("table-group-by-null-value", "in:S:S", "out:S:S", b ->
            toSS(table(b).groupBy((k, v) -> KeyValue.pair(first(v), startsWith(v, "n") ? null : v), Grouped.with(S, S))
                .aggregate(() -> "", (k, v, a) -> a + "+" + str(v), (k, v, a) -> a + "-" + str(v), Materialized.with(S, S)).toStream()));
        add("to-table-group-by-count", "in:S:S", "out:S:L", b ->
            toSL(in(b).toTable().groupBy((k, v) -> KeyValue.pair(v, v), Grouped.with(S, S)).count().toStream()));
        // --- joins
        add("stream-table-join", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(in(b).join(tableOf(b, "tab"), (k, l, r) -> joined(k, l, r))));
        add("stream-table-left-join", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(in(b).leftJoin(tableOf(b, "tab"), (k, l, r) -> joined(k, l, r))));
        add("global-join", "in:S:S,glob:S:S", "out:S:S", b ->
            toSS(in(b).join(b.globalTable("glob", Consumed.with(S, S)), (k, v) -> first(v), (k, l, r) -> joined(k, l, r))));
        add("global-left-join", "in:S:S,glob:S:S", "out:S:S", b ->
            toSS(in(b).leftJoin(b.globalTable("glob", Consumed.with(S, S)), (k, v) -> first(v), (k, l, r) -> joined(k, l, r))));
        add("global-left-join-by-key", "in:S:S,glob:S:S", "out:S:S", b ->
            toSS(in(b).filter((k, v) -> v == null || !v.equals("drop")).leftJoin(
                b.globalTable("glob", Consumed.with(S, S), Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("g").withKeySerde(S).withValueSerde(S)),
                (k, v) -> k, (k, l, r) -> joined(k, l, r))));
        add("stream-table-join-rekey", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(in(b).selectKey((k, v) -> first(v)).join(tableOf(b, "tab"), (k, l, r) -> joined(k, l, r), Joined.with(S, S, S))));
        add("stream-table-left-join-rekey", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(in(b).selectKey((k, v) -> first(v)).leftJoin(tableOf(b, "tab"), (k, l, r) -> joined(k, l, r), Joined.with(S, S, S))));
        add("stream-table-join-filtered", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(in(b).leftJoin(tableOf(b, "tab").filter((k, v) -> longer(v, 1)), (k, l, r) -> joined(k, l, r))));
        add("table-table-join", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tableOf(b, "left").join(tableOf(b, "right"), Topologies::joined2).toStream()));
        add("table-table-left-join", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tableOf(b, "left").leftJoin(tableOf(b, "right"), Topologies::joined2).toStream()));
        add("table-table-outer-join", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tableOf(b, "left").outerJoin(tableOf(b, "right"), Topologies::joined2).toStream()));
        add("table-table-left-join-materialized", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tableOf(b, "left").leftJoin(tableOf(b, "right"), Topologies::joined2,
                Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("j").withKeySerde(S).withValueSerde(S)).toStream()));
        add("table-table-join-group-by-count", "left:S:S,right:S:S", "out:S:L", b ->
            toSL(tableOf(b, "left").join(tableOf(b, "right"), Topologies::joined2)
                .groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S)).count().toStream()));
        add("table-table-outer-join-group-by-count", "left:S:S,right:S:S", "out:S:L", b ->
            toSL(tableOf(b, "left").outerJoin(tableOf(b, "right"), Topologies::joined2)
                .groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S)).count().toStream()));
        add("stream-table-left-join-joined-table", "in:S:S,left:S:S,right:S:S", "out:S:S", b ->
            toSS(in(b).leftJoin(tableOf(b, "left").outerJoin(tableOf(b, "right"), Topologies::joined2), (k, l, r) -> joined(k, l, r))));
        add("stream-table-join-mapped", "in:S:S,tab:S:S", "out:S:S", b ->
            toSS(in(b).join(tableOf(b, "tab").mapValues(Topologies::upper), (k, l, r) -> joined(k, l, r))));
        add("table-table-outer-join-filtered", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tableOf(b, "left").filter((k, v) -> longer(v, 1))
                .outerJoin(tableOf(b, "right").mapValues(Topologies::upper), Topologies::joined2).toStream()));
        add("table-table-left-join-filtered-group-by-count", "left:S:S,right:S:S", "out:S:L", b ->
            toSL(tableOf(b, "left").filter((k, v) -> longer(v, 1)).leftJoin(tableOf(b, "right"), Topologies::joined2)
                .groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S)).count().toStream()));
        add("table-table-left-join-filter", "left:S:S,right:S:S", "out:S:S", b ->
            toSS(tableOf(b, "left").leftJoin(tableOf(b, "right"), Topologies::joined2)
                .filter((k, v) -> v == null || !v.endsWith("/-")).toStream()));
        TopologiesWinagg.register();
    }
}

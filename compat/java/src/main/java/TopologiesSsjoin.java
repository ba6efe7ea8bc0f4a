import java.time.Duration;

import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.state.BuiltInDslStoreSuppliers;
import org.apache.kafka.streams.state.Stores;

/**
 * The stream-stream join topologies of the differential suite (issue 11),
 * each the same as the Go topology of the same name in
 * compat/topologies_ssjoin.go. The left stream is "in", the right one
 * "other"; the joiner writes "key=left/right" with "-" for a missing side.
 */
final class TopologiesSsjoin {
    private TopologiesSsjoin() {}

    private static KStream<String, String> other(StreamsBuilder b) {
        return b.stream("other", Consumed.with(Topologies.S, Topologies.S));
    }

    private static Duration ms(long n) {
        return Duration.ofMillis(n);
    }

    private static StreamJoined<String, String, String> sj() {
        return StreamJoined.with(Topologies.S, Topologies.S, Topologies.S);
    }

    /** The developer guide's windows: 15 (seconds there, ms here) with a grace of 5. */
    private static JoinWindows guide() {
        return JoinWindows.ofTimeDifferenceAndGrace(ms(15), ms(5));
    }

    /** The table "tab" in a versioned store "vt" with a history retention of 10 ms. */
    private static KTable<String, String> versioned(StreamsBuilder b) {
        return b.table("tab", Consumed.with(Topologies.S, Topologies.S),
            Materialized.<String, String>as(Stores.persistentVersionedKeyValueStore("vt", ms(10)))
                .withKeySerde(Topologies.S).withValueSerde(Topologies.S));
    }

    static void register() {
        Topologies.add("versioned-table", "tab:S:S", "out:S:S", b ->
            Topologies.toSS(versioned(b).toStream()));
        Topologies.add("versioned-stream-table-join", "in:S:S,tab:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).join(versioned(b), Topologies::joined)));
        Topologies.add("versioned-stream-table-join-grace", "in:S:S,tab:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).join(versioned(b), Topologies::joined,
                Joined.with(Topologies.S, Topologies.S, Topologies.S).withGracePeriod(ms(5)))));
        Topologies.add("versioned-stream-table-left-join-grace", "in:S:S,tab:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).leftJoin(versioned(b), Topologies::joined,
                Joined.with(Topologies.S, Topologies.S, Topologies.S).withGracePeriod(ms(5)))));
        Topologies.add("versioned-stream-table-left-join", "in:S:S,tab:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).leftJoin(versioned(b), Topologies::joined)));
        Topologies.add("ss-join", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).join(other(b), Topologies::joined, guide(), sj())));
        Topologies.add("ss-left-join", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).leftJoin(other(b), Topologies::joined, guide(), sj())));
        Topologies.add("ss-outer-join", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).outerJoin(other(b), Topologies::joined, guide(), sj())));
        Topologies.add("ss-join-no-grace", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).join(other(b), Topologies::joined,
                JoinWindows.ofTimeDifferenceWithNoGrace(ms(10)), sj())));
        Topologies.add("ss-left-join-no-grace", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).leftJoin(other(b), Topologies::joined,
                JoinWindows.ofTimeDifferenceWithNoGrace(ms(10)), sj())));
        Topologies.add("ss-outer-join-no-grace", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).outerJoin(other(b), Topologies::joined,
                JoinWindows.ofTimeDifferenceWithNoGrace(ms(10)), sj())));
        Topologies.add("ss-join-before", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).join(other(b), Topologies::joined,
                JoinWindows.ofTimeDifferenceAndGrace(ms(10), ms(5)).before(ms(0)), sj())));
        Topologies.add("ss-left-join-after", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).leftJoin(other(b), Topologies::joined,
                JoinWindows.ofTimeDifferenceAndGrace(ms(10), ms(5)).after(ms(0)), sj())));
        Topologies.add("ss-outer-join-asymmetric", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).outerJoin(other(b), Topologies::joined,
                JoinWindows.ofTimeDifferenceAndGrace(ms(10), ms(3)).before(ms(2)).after(ms(6)), sj())));
        Topologies.add("ss-join-rekey", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).selectKey((k, v) -> Topologies.first(v))
                .join(other(b), Topologies::joined, guide(), sj())));
        Topologies.add("ss-left-join-named", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).selectKey((k, v) -> Topologies.first(v))
                .leftJoin(other(b).selectKey((k, v) -> Topologies.first(v)), Topologies::joined, guide(),
                    sj().withName("j").withStoreName("s"))));
        Topologies.add("ss-outer-join-in-memory", "in:S:S,other:S:S", "out:S:S", b ->
            Topologies.toSS(Topologies.in(b).outerJoin(other(b), Topologies::joined, guide(),
                sj().withStoreName("s").withDslStoreSuppliers(new BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers()).withLoggingDisabled())));
    }
}

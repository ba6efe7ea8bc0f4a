import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.state.KeyValueStore;

/** The foreign-key join topologies (topologies_fkjoin.go): rows of "left" refer to rows of "right" by the first letter of their value. */
final class TopologiesFkjoin {
    private static final Serde<String> S = Serdes.String();

    private TopologiesFkjoin() {}

    private static KTable<String, String> tab(StreamsBuilder b, String topic) {
        return b.table(topic, Consumed.with(S, S));
    }

    private static void out(KTable<String, String> t) {
        t.toStream().to("out", Produced.with(S, S));
    }

    static String fkJoined(String l, String r) {
        return Topologies.orDash(l) + "/" + Topologies.orDash(r);
    }

    static void register() {
        Topologies.add("fk-join", "left:S:S,right:S:S", "out:S:S", b ->
            out(tab(b, "left").join(tab(b, "right"), Topologies::first, TopologiesFkjoin::fkJoined)));
        Topologies.add("fk-left-join", "left:S:S,right:S:S", "out:S:S", b ->
            out(tab(b, "left").leftJoin(tab(b, "right"), Topologies::first, TopologiesFkjoin::fkJoined)));
        Topologies.add("fk-join-named", "left:S:S,right:S:S", "out:S:S", b ->
            out(tab(b, "left").join(tab(b, "right"), Topologies::first, TopologiesFkjoin::fkJoined,
                TableJoined.as("fk"),
                Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("fk-result").withKeySerde(S).withValueSerde(S))));
        Topologies.add("fk-left-join-filtered", "left:S:S,right:S:S", "out:S:S", b ->
            out(tab(b, "left").filter((k, v) -> !Topologies.startsWith(v, "x"))
                .leftJoin(tab(b, "right"), Topologies::first, TopologiesFkjoin::fkJoined)));
    }
}

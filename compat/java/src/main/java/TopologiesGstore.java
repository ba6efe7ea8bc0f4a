import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/** The Processor API global store topologies (topologies_gstore.go). */
final class TopologiesGstore {
    private static final Serde<String> S = Serdes.String();

    private TopologiesGstore() {}

    /** Keeps in global store "gs" the values of "glob" upper-cased; a null value deletes. */
    static final class UpperGlobal implements Processor<String, String, Void, Void> {
        private KeyValueStore<String, String> st;

        @Override
        public void init(ProcessorContext<Void, Void> ctx) {
            st = ctx.getStateStore("gs");
        }

        @Override
        public void process(Record<String, String> r) {
            if (r.value() == null) {
                st.delete(r.key());
            } else {
                st.put(r.key(), r.value().toUpperCase());
            }
        }
    }

    /** Looks the first letter of each value up in "gs": "value/row". */
    static final class GlobalLookup implements Processor<String, String, String, String> {
        private ProcessorContext<String, String> ctx;
        private KeyValueStore<String, String> st;

        @Override
        public void init(ProcessorContext<String, String> c) {
            ctx = c;
            st = c.getStateStore("gs");
        }

        @Override
        public void process(Record<String, String> r) {
            String key = Topologies.first(r.value());
            String row = key == null ? null : st.get(key);
            ctx.forward(r.withValue(Topologies.orDash(r.value()) + "/" + Topologies.orDash(row)));
        }
    }

    static void register() {
        Topologies.add("global-store-papi", "in:S:S,glob:S:S", "out:S:S", b -> {
            b.addGlobalStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("gs"), S, S).withLoggingDisabled(),
                "glob", Consumed.with(S, S), UpperGlobal::new);
            b.stream("in", Consumed.with(S, S)).process(GlobalLookup::new).to("out", Produced.with(S, S));
        });
    }
}

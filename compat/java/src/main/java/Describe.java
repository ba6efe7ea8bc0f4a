import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyDescription;

/**
 * The topology half of the differential suite: prints Kafka Streams'
 * description of each named topology (StreamsBuilder.build().describe(), no
 * optimization, no application id) in the normalized form that
 * compat/describe_test.go prints for kstreams, and checks or rewrites the
 * Java section of compat/testdata/describe/TOPOLOGY.txt.
 *
 * The form, one line each, sub-topologies in id order, nodes by name:
 *
 *   sub-topology 0
 *     source NAME topics=[a,b] --> [CHILD,...]
 *     processor NAME stores=[s] --> [CHILD,...]
 *     sink NAME topic=t
 *   global-store STORE topic=t
 *
 * A sink choosing its topic per record prints topic=<extractor>, a source
 * reading a pattern topics=<pattern:REGEX>.
 */
final class Describe {
    private static final String SEPARATOR = "----";

    private Describe() {}

    /** The normalized description of the named topology. */
    static String of(String name) {
        Topologies.Topo topo = Topologies.get(name);
        if (topo == null) {
            throw new IllegalArgumentException("unknown topology " + name);
        }
        StreamsBuilder b = new StreamsBuilder();
        topo.build().accept(b);
        return normalize(b.build().describe());
    }

    static String normalize(TopologyDescription d) {
        StringBuilder out = new StringBuilder();
        List<TopologyDescription.Subtopology> subs = new ArrayList<>(d.subtopologies());
        subs.sort(Comparator.comparingInt(TopologyDescription.Subtopology::id));
        for (TopologyDescription.Subtopology s : subs) {
            out.append("sub-topology ").append(s.id()).append('\n');
            List<TopologyDescription.Node> nodes = new ArrayList<>(s.nodes());
            nodes.sort(Comparator.comparing(TopologyDescription.Node::name));
            for (TopologyDescription.Node n : nodes) {
                out.append("  ");
                if (n instanceof TopologyDescription.Source src) {
                    out.append("source ").append(n.name()).append(" topics=");
                    if (src.topicPattern() != null) {
                        out.append("<pattern:").append(src.topicPattern().pattern()).append('>');
                    } else {
                        out.append(list(src.topicSet()));
                    }
                } else if (n instanceof TopologyDescription.Processor p) {
                    out.append("processor ").append(n.name()).append(" stores=").append(list(p.stores()));
                } else if (n instanceof TopologyDescription.Sink sink) {
                    out.append("sink ").append(n.name()).append(" topic=")
                        .append(sink.topic() != null ? sink.topic() : "<extractor>");
                }
                if (!n.successors().isEmpty()) {
                    TreeSet<String> kids = new TreeSet<>();
                    n.successors().forEach(k -> kids.add(k.name()));
                    out.append(" --> ").append(list(kids));
                }
                out.append('\n');
            }
        }
        TreeSet<String> globals = new TreeSet<>();
        for (TopologyDescription.GlobalStore g : d.globalStores()) {
            for (String store : g.processor().stores()) {
                globals.add("global-store " + store + " topic=" + String.join(",", new TreeSet<>(g.source().topicSet())));
            }
        }
        globals.forEach(g -> out.append(g).append('\n'));
        return out.toString();
    }

    private static String list(java.util.Collection<String> items) {
        return "[" + String.join(",", new TreeSet<>(items)) + "]";
    }

    /**
     * Checks (or rewrites) dir/describe/NAME.txt for each topology: the part
     * before "----" is kept (comments and marks), the part after is Java's
     * description. Returns how many files differed.
     */
    static int checkAll(Map<String, Path> topologies, boolean rewrite) throws IOException {
        int differ = 0;
        for (Map.Entry<String, Path> e : topologies.entrySet()) {
            Path f = e.getValue().resolve("describe").resolve(e.getKey() + ".txt");
            String got = of(e.getKey());
            String head = "# Kafka Streams' description of topology " + e.getKey() + " (compat/java/src/main/java/Describe.java).\n";
            String committed = "";
            if (Files.exists(f)) {
                String text = Files.readString(f, StandardCharsets.UTF_8);
                int sep = text.startsWith(SEPARATOR + "\n") ? 0 : text.indexOf("\n" + SEPARATOR + "\n");
                if (sep >= 0) {
                    int start = sep == 0 ? 0 : sep + 1;
                    head = text.substring(0, start);
                    committed = text.substring(start + SEPARATOR.length() + 1);
                }
            }
            if (committed.strip().equals(got.strip())) {
                continue;
            }
            differ++;
            if (rewrite) {
                Files.createDirectories(f.getParent());
                Files.writeString(f, head + SEPARATOR + "\n" + got, StandardCharsets.UTF_8);
                System.err.println("rewrote " + f);
            } else {
                System.err.println(f + ": the committed description differs from Kafka Streams'");
                System.err.println("--- committed\n" + committed + "--- Kafka Streams now\n" + got);
            }
        }
        return differ;
    }
}

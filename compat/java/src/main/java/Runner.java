import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Runs the differential suite's cases (compat/testdata/*.txt) in Kafka
 * Streams' TopologyTestDriver, one JVM for all of them, and checks or
 * rewrites the Java section (everything after the first "----" line) of each
 * case file. The format is described in compat/doc.go.
 *
 * Usage: Runner check|rewrite FILE_OR_DIR...
 *   check    exit 1 if any committed Java section differs from what Kafka
 *            Streams produces now (the diff goes to stderr)
 *   rewrite  write what Kafka Streams produces into each case file
 */
public final class Runner {
    private static final String SEPARATOR = "----";

    private Runner() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || !(args[0].equals("check") || args[0].equals("rewrite"))) {
            System.err.println("usage: Runner check|rewrite FILE_OR_DIR...");
            System.exit(2);
        }
        boolean rewrite = args[0].equals("rewrite");
        List<Path> files = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            files.addAll(caseFiles(Paths.get(args[i])));
        }
        int differ = 0;
        Map<String, Path> described = new java.util.TreeMap<>();
        for (Path f : files) {
            String text = Files.readString(f, StandardCharsets.UTF_8);
            int sep = separatorAt(text);
            String head = sep < 0 ? text : text.substring(0, sep);
            String committed = sep < 0 ? "" : text.substring(sep + SEPARATOR.length() + 1);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^topology\\s+(\\S+)").matcher(head);
            if (m.find()) {
                described.putIfAbsent(m.group(1), f.toAbsolutePath().getParent());
            }
            String got;
            try {
                got = run(f.toString(), head);
            } catch (Exception e) {
                throw new RuntimeException(f + ": " + e, e);
            }
            if (normalize(committed).equals(normalize(got))) {
                continue;
            }
            differ++;
            if (rewrite) {
                if (!head.endsWith("\n")) {
                    head += "\n";
                }
                Files.writeString(f, head + SEPARATOR + "\n" + got, StandardCharsets.UTF_8);
                System.err.println("rewrote " + f);
            } else {
                System.err.println(f + ": the committed Java section differs from Kafka Streams' output");
                System.err.println("--- committed\n" + committed + "--- Kafka Streams now\n" + got);
            }
        }
        int descDiffer = Describe.checkAll(described, rewrite);
        System.out.printf("java: %d cases, %d %s; %d topology descriptions, %d %s%n", files.size(), differ,
            rewrite ? "rewritten" : "differ", described.size(), descDiffer, rewrite ? "rewritten" : "differ");
        System.exit(!rewrite && differ + descDiffer > 0 ? 1 : 0);
    }

    private static List<Path> caseFiles(Path p) throws IOException {
        if (!Files.isDirectory(p)) {
            return List.of(p);
        }
        try (Stream<Path> s = Files.list(p)) {
            return s.filter(x -> x.toString().endsWith(".txt")).sorted().toList();
        }
    }

    /** Returns the offset of the first line that is exactly "----", or -1. */
    private static int separatorAt(String text) {
        int at = 0;
        for (String line : text.split("\n", -1)) {
            if (line.equals(SEPARATOR)) {
                return at;
            }
            at += line.length() + 1;
        }
        return -1;
    }

    private static String normalize(String s) {
        return s.strip().replaceAll("[ \t]+\n", "\n");
    }

    /** Runs one case and returns its output lines, one per record, per output topic in declared order. */
    static String run(String file, String head) throws IOException {
        String name = null;
        long wallclock = 0;
        List<String[]> steps = new ArrayList<>();
        int lineNo = 0;
        for (String raw : head.split("\n")) {
            lineNo++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith("diverges:") || line.startsWith("java-ttd-differs:")) {
                continue;
            }
            String[] f = line.split("\\s+");
            switch (f[0]) {
                case "topology" -> name = f[1];
                case "wallclock" -> wallclock = Long.parseLong(f[1]);
                case "pipe", "advance" -> steps.add(f);
                default -> throw new IllegalArgumentException(file + ":" + lineNo + ": unknown line: " + line);
            }
        }
        Topologies.Topo topo = Topologies.get(name);
        if (topo == null) {
            throw new IllegalArgumentException(file + ": unknown topology " + name);
        }
        StreamsBuilder b = new StreamsBuilder();
        topo.build().accept(b);
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "compat");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:9092");
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.String().getClass());
        StringBuilder out = new StringBuilder();
        try (TopologyTestDriver d = new TopologyTestDriver(b.build(), props, Instant.ofEpochMilli(wallclock))) {
            for (String[] f : steps) {
                if (f[0].equals("advance")) {
                    d.advanceWallClockTime(Duration.ofMillis(Long.parseLong(f[1])));
                    continue;
                }
                if (f.length != 5) {
                    throw new IllegalArgumentException(file + ": pipe wants TOPIC KEY VALUE TIMESTAMP: " + String.join(" ", f));
                }
                Topologies.Kind[] kinds = topo.inputs().get(f[1]);
                if (kinds == null) {
                    throw new IllegalArgumentException(file + ": topology " + name + " reads no topic " + f[1]);
                }
                TestInputTopic<byte[], byte[]> in = d.createInputTopic(f[1], new ByteArraySerializer(), new ByteArraySerializer());
                in.pipeInput(kinds[0].encode(f[2]), kinds[1].encode(f[3]), Long.parseLong(f[4]));
            }
            for (Map.Entry<String, Topologies.Kind[]> o : topo.outputs().entrySet()) {
                Topologies.Kind[] kinds = o.getValue();
                for (TestRecord<byte[], byte[]> r : d.createOutputTopic(o.getKey(), new ByteArrayDeserializer(), new ByteArrayDeserializer()).readRecordsToList()) {
                    out.append(o.getKey()).append(' ').append(kinds[0].decode(r.key())).append(' ')
                        .append(kinds[1].decode(r.value())).append(' ').append(r.timestamp()).append('\n');
                }
            }
        }
        return out.toString();
    }
}

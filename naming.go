package kstreams

import (
	"fmt"
	"regexp"
	"strings"
)

// Names of generated nodes, stores and internal topics follow Kafka
// Streams' rules, so that an application moving from Java keeps its
// changelog and repartition topics and its dashboards keep their processor
// names. compat/describe_test.go compares every topology of the
// differential suite with Kafka Streams' description of it.

// generatedName matches a name Kafka Streams generated for a stream
// operation ("KSTREAM-...-<10 digits>"): a repartition named after one gets
// generated node names too.
var generatedName = regexp.MustCompile(`^KSTREAM.*-[0-9]{10}$`)

// repNames are the internal topic and the three nodes of a repartition.
type repNames struct {
	topic, sink, filter, source string
}

// repartitionNames returns the names of a repartition named prefix, as
// Kafka Streams' KStream repartitions name theirs: the topic is
// "<prefix>-repartition"; a sink, a filter and a source name are always
// drawn from the counter (in that order), and used when prefix is itself a
// generated name, else the nodes are "<topic>-sink", "<topic>-filter" and
// "<topic>-source".
func repartitionNames(b *Builder, prefix string) repNames {
	topic := prefix
	if !strings.HasSuffix(topic, "-repartition") {
		topic += "-repartition"
	}
	n := repNames{topic: topic, sink: b.t.g.NextName("KSTREAM-SINK"), filter: b.t.g.NextName("KSTREAM-FILTER"), source: b.t.g.NextName("KSTREAM-SOURCE")}
	if !generatedName.MatchString(prefix) {
		n.sink, n.filter, n.source = topic+"-sink", topic+"-filter", topic+"-source"
	}
	return n
}

// givenOrNext returns the name given, else a generated one: for the few
// operations (Repartition, Suppress) for which Kafka Streams draws no
// generated name when the user names them.
func (b *Builder) givenOrNext(names []Named, prefix string) string {
	if len(names) > 0 && names[0] != "" {
		if len(names) > 1 {
			b.t.g.Problem(fmt.Errorf("%s: more than one name given: %q", prefix, names))
		}
		return string(names[0])
	}
	return b.t.g.NextName(prefix)
}

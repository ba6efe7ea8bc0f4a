#!/usr/bin/env bash
# Runs every case of the differential suite in Kafka Streams' own
# TopologyTestDriver (compat/java, one JVM for all cases) and checks or
# rewrites the Java section of each case file (what follows "----").
#
#   compat/run-java.sh check   [FILE...]  fail if a committed Java section
#                                         differs from what Java produces now
#   compat/run-java.sh rewrite [FILE...]  write Java's output into the files
#
# Without FILE, every compat/testdata/*.txt. The Maven project is built with
# `mvn -q compile` when target/ is missing or older than pom.xml or a source
# file (a stamp file records the last good build); Maven downloads Kafka
# Streams from Maven Central on the first build. JAVA overrides the java
# binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$here/java"
stamp="$dir/target/.compat-built"
JAVA="${JAVA:-java}"

mode="${1:-}"
case "$mode" in
check | rewrite) shift ;;
*)
	echo "usage: compat/run-java.sh check|rewrite [FILE...]" >&2
	exit 2
	;;
esac

command -v "$JAVA" >/dev/null || { echo "run-java.sh: java not found (Java 17+ is needed)" >&2; exit 1; }

fresh() {
	[[ -f "$stamp" && -f "$dir/target/classpath.txt" && -f "$dir/target/classes/Runner.class" ]] || return 1
	[[ -z "$(find "$dir/pom.xml" "$dir/src" -newer "$stamp" -print -quit)" ]]
}

if ! fresh; then
	command -v mvn >/dev/null || { echo "run-java.sh: compat/java is not built and mvn is not in PATH" >&2; exit 1; }
	echo "run-java.sh: building compat/java (mvn -q compile)" >&2
	log="$(mktemp)"
	if ! (cd "$dir" && mvn -q -B -Dstyle.color=never compile) >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
	touch "$stamp"
fi

if [[ $# -eq 0 ]]; then
	set -- "$here/testdata"
fi
exec "$JAVA" -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" Runner "$mode" "$@"

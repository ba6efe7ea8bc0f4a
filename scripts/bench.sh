#!/usr/bin/env bash
# bench.sh: the side-by-side benchmark in one command. Starts a real Apache
# Kafka broker of its own (scripts/kafka.sh, on its own port and data dir, so
# it does not disturb a broker the tests use), runs bench with the Java Kafka
# Streams rows (bench/java, built with mvn once), and stops the broker at the
# end. Arguments go to bench:
#
#   scripts/bench.sh                       # 10 million records, every workload
#   scripts/bench.sh -records 1000000      # a quick run
#   scripts/bench.sh -workloads count -v   # one workload, every run printed
#
# Environment: BENCH_KAFKA_PORT (default 19192), BENCH_KAFKA_DATA (default
# /tmp/kstreams-bench-kafka), BENCH_JAVA_OPTS (extra JVM flags for the Java
# applications; none by default: a Kafka Streams user's JVM defaults).
set -euo pipefail
cd "$(dirname "$0")/.."

export KAFKA_PORT="${BENCH_KAFKA_PORT:-19192}"
export KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))"
export KAFKA_DATA="${BENCH_KAFKA_DATA:-/tmp/kstreams-bench-kafka}"

bash scripts/kafka.sh start
trap 'bash scripts/kafka.sh stop >/dev/null 2>&1 || true' EXIT

go build -o "${TMPDIR:-/tmp}/kstreams-bench" ./bench
"${TMPDIR:-/tmp}/kstreams-bench" -brokers "127.0.0.1:$KAFKA_PORT" -java "$@"

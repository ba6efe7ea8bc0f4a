#!/usr/bin/env bash
# The project's one test command (also what CI runs, through .ci/run).
#
#   1. gofmt -l . (must list nothing), go vet ./...
#   2. compat/run-java.sh check  the differential suite's Java sections are
#                               what Kafka Streams' TopologyTestDriver produces
#                               now (one JVM; builds compat/java with mvn once),
#      go test ./compat         then kstreams must produce the same (prints
#                               "N cases, E equal")
#   3. go test ./...            unit tests; integration tests use the in-process
#                               kfake broker
#   4. start the external services (a real Apache Kafka broker, ...) and run
#      go test ./... again against them (KSTREAMS_TEST_BROKERS is set)
#
# The integration package's broker-fault tests (stall, kill -9) start a second
# broker of their own on KAFKA_PORT+100 (KSTREAMS_TEST_FAULT_BROKER_PORT
# overrides it; its controller takes the next port) and stop it when they end;
# stop_services stops it too. The 60 s broker stall runs only on demand:
#   KSTREAMS_TEST_LONG=1 scripts/test.sh -run 'TestBrokerStallLong' -v
#
# The harness's short run (harness/run_test.go: three application processes,
# two SIGKILLs, every output verified) is part of the integration run; the
# broker-bounce and long runs start a three-node cluster and are documented
# commands: scripts/harness.sh bounce|long (harness/README.md).
#
# Extra arguments are passed to both `go test` runs, e.g.
#   scripts/test.sh -run TestWordCount -v
# Environment: KAFKA_PORT / KAFKA_CONTROLLER_PORT / KAFKA_DATA / KAFKA_VERSION /
# KSTREAMS_CACHE are passed on to scripts/kafka.sh; POSTGRES_PORT /
# POSTGRES_DATA to scripts/postgres.sh (examples/ecommerce); REGISTRY_PORT /
# REGISTRY_DATA / REGISTRY_VERSION to scripts/registry.sh (the schema registry
# of the integration run; the unit run uses the in-process stand-in of
# serde/registry/registrytest).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export KAFKA_PORT="${KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"

step() { printf '\n==> %s\n' "$*"; }

step "gofmt -l . && go vet ./..."
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	echo "test.sh: not gofmt-formatted (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

step "differential suite: Java goldens (compat/run-java.sh check), then go test ./compat"
compat/run-java.sh check
go test -count=1 -v -run 'TestCompat$' ./compat | grep -E '^(compat:|--- FAIL|FAIL|ok)' || true
go test -count=1 ./compat

step "go test ./... (unit tests, embedded kfake broker)"
go test "$@" ./...

# ---------------------------------------------------------------------------
# External services for the integration run. Each service is started here and
# stopped in stop_services (runs on EXIT, also after a failure or Ctrl-C).
# To add a service (an SMTP server, ...): start it below the Kafka block,
# export the variable the tests read, and add its stop command to
# stop_services.
# ---------------------------------------------------------------------------
status=0
stop_services() {
	status=$?
	set +e
	if [[ $status -ne 0 ]]; then
		scripts/kafka.sh logs 40 # the data dir (and its logs) goes away on stop
	fi
	scripts/kafka.sh stop
	# the integration tests' private broker for broker faults, if left behind
	fault_port="${KSTREAMS_TEST_FAULT_BROKER_PORT:-$((KAFKA_PORT + 100))}"
	KAFKA_PORT="$fault_port" KAFKA_CONTROLLER_PORT=$((fault_port + 1)) \
		KAFKA_DATA="${TMPDIR:-/tmp}/kstreams-kafka-faults-$fault_port" scripts/kafka.sh stop
	# (stop further services here)
	if [[ $status -ne 0 ]]; then
		scripts/registry.sh logs 40
	fi
	scripts/registry.sh stop
	if [[ -n "${SMTP_PID:-}" ]]; then
		kill "$SMTP_PID" 2>/dev/null
		wait "$SMTP_PID" 2>/dev/null
	fi
	if [[ -n "${SMTP_MAILDIR:-}" ]]; then
		rm -rf "$SMTP_MAILDIR"
	fi
	if [[ -n "${PG_STARTED:-}" ]]; then
		if [[ $status -ne 0 ]]; then
			scripts/postgres.sh logs 40
		fi
		scripts/postgres.sh stop
	fi
	exit "$status"
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "starting a real Apache Kafka broker"
scripts/kafka.sh start
export KSTREAMS_TEST_BROKERS="127.0.0.1:$KAFKA_PORT"

# (start further services here)

# A real schema registry (rivven-schema from crates.io, built once into the
# cache) for the schema-registry serdes, the registry integration tests and
# examples/services.
export REGISTRY_PORT="${REGISTRY_PORT:-18081}"
step "starting a schema registry (rivven-schema) on 127.0.0.1:$REGISTRY_PORT"
scripts/registry.sh start
export KSTREAMS_TEST_REGISTRY="http://127.0.0.1:$REGISTRY_PORT"

# A real SMTP server for the shareholders example: Debian's python3-aiosmtpd,
# delivering to a maildir the test reads. SMTP_PORT overrides its port.
# It needs the system python3 (/usr/bin/python3), not a pyenv or venv one.
SMTP_PORT="${SMTP_PORT:-19025}"
start_smtp() {
	if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
		local sudo=""
		if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
		$sudo apt-get install -y python3-aiosmtpd >/dev/null ||
			{ $sudo apt-get update >/dev/null && $sudo apt-get install -y python3-aiosmtpd >/dev/null; } ||
			return 1
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; then
		echo "port $SMTP_PORT is in use (set SMTP_PORT)" >&2
		return 1
	fi
	SMTP_MAILDIR="$(mktemp -d "${TMPDIR:-/tmp}/kstreams-maildir.XXXXXX")"
	mkdir -p "$SMTP_MAILDIR"/{tmp,new,cur} # aiosmtpd does not lay out an existing directory
	/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$SMTP_MAILDIR" \
		>"$SMTP_MAILDIR/aiosmtpd.log" 2>&1 &
	SMTP_PID=$!
	for _ in $(seq 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; then
			return 0
		fi
		kill -0 "$SMTP_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$SMTP_MAILDIR/aiosmtpd.log" >&2
	return 1
}
step "starting an SMTP server (aiosmtpd) on 127.0.0.1:$SMTP_PORT"
if start_smtp; then
	export KSTREAMS_TEST_SMTP="127.0.0.1:$SMTP_PORT"
	export KSTREAMS_TEST_MAILDIR="$SMTP_MAILDIR"
	echo "SMTP server ready (pid $SMTP_PID), delivering to $SMTP_MAILDIR"
else
	echo "warning: no SMTP server (python3-aiosmtpd could not be installed or started);" \
		"the examples' tests use their in-process fake one" >&2
fi

# A real PostgreSQL (Debian's postgresql package, scripts/postgres.sh) for
# examples/ecommerce, which syncs user profiles into it. POSTGRES_PORT
# overrides its port.
export POSTGRES_PORT="${POSTGRES_PORT:-15432}"
step "starting PostgreSQL on 127.0.0.1:$POSTGRES_PORT"
PG_STARTED=1
pg_line="$(scripts/postgres.sh start | grep '^KSTREAMS_TEST_POSTGRES=')"
export KSTREAMS_TEST_POSTGRES="${pg_line#KSTREAMS_TEST_POSTGRES=}"
echo "PostgreSQL ready: $KSTREAMS_TEST_POSTGRES"

# Debian's chromium for the console's browser test (console/console_test.go,
# driven by chromedp). The test skips without it outside CI and fails in CI.
step "installing chromium for the console's browser test"
if ! command -v chromium >/dev/null 2>&1; then
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
	$sudo apt-get install -y chromium >/dev/null ||
		{ $sudo apt-get update >/dev/null && $sudo apt-get install -y chromium >/dev/null; } ||
		echo "warning: chromium could not be installed; the console's browser test will skip outside CI" >&2
fi
export KSTREAMS_ARTIFACTS="${KSTREAMS_ARTIFACTS:-${TMPDIR:-/tmp}}" # the console screenshot goes here

step "go test ./... (integration tests against the real broker at $KSTREAMS_TEST_BROKERS)"
go test -count=1 -p 1 -timeout 20m "$@" ./...

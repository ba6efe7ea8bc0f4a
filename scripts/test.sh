#!/usr/bin/env bash
# The project's one test command (also what CI runs, through .ci/run).
#
#   1. go vet ./...
#   2. go test ./...            unit tests; integration tests use the in-process
#                               kfake broker
#   3. start the external services (a real Apache Kafka broker, ...) and run
#      go test ./... again against them (KSTREAMS_TEST_BROKERS is set)
#
# Extra arguments are passed to both `go test` runs, e.g.
#   scripts/test.sh -run TestWordCount -v
# Environment: KAFKA_PORT / KAFKA_CONTROLLER_PORT / KAFKA_DATA / KAFKA_VERSION /
# KSTREAMS_CACHE are passed on to scripts/kafka.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export KAFKA_PORT="${KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"

step() { printf '\n==> %s\n' "$*"; }

step "go vet ./..."
go vet ./...

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
	# (stop further services here)
	exit "$status"
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "starting a real Apache Kafka broker"
scripts/kafka.sh start
export KSTREAMS_TEST_BROKERS="127.0.0.1:$KAFKA_PORT"

# (start further services here)

step "go test ./... (integration tests against the real broker at $KSTREAMS_TEST_BROKERS)"
go test -count=1 -p 1 -timeout 20m "$@" ./...

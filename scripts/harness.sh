#!/usr/bin/env bash
# Run kstreams' smoke/exactly-once harness (harness/README.md) against real
# brokers that this script starts and stops.
#
# Usage: scripts/harness.sh short|bounce|long [extra kstreams-harness run flags]
#
#   short   one broker (scripts/kafka.sh start), three application
#           processes, 2 SIGKILLs; about a minute. (The test command runs
#           the same as go test ./harness -run TestRunAtLeastOnce.)
#   bounce  the three-node cluster (scripts/kafka.sh cluster start), 2
#           instance SIGKILLs and 2 broker SIGKILLs; about four minutes.
#   long    the three-node cluster, 20 instance SIGKILLs and 5 broker
#           SIGKILLs (every other one the leader of the input's partition 0;
#           each followed by a preferred leader election); ten minutes or more.
#
# Environment (all optional):
#   GUARANTEE      alos (default) or eos
#   TOLERATE       outputs whose problems are reported but do not fail the
#                  run (comma-separated output names; default none)
#   KAFKA_PORT / KAFKA_CONTROLLER_PORT / KAFKA_DATA     the single broker
#   KAFKA_CLUSTER_PORT / KAFKA_CLUSTER_DATA             the cluster
#   HARNESS_STATE  root of the instances' state and logs (default: a new
#                  temporary directory, kept for a failed run)
#   KEEP_BROKERS=1 leave the broker(s) running afterwards
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode="${1:-}"
shift || true
GUARANTEE="${GUARANTEE:-alos}"
TOLERATE="${TOLERATE-}"
export KAFKA_CLUSTER_PORT="${KAFKA_CLUSTER_PORT:-19192}"
export KAFKA_CLUSTER_DATA="${KAFKA_CLUSTER_DATA:-/tmp/kstreams-kafka-cluster}"
export KAFKA_PORT="${KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"

bin="$(mktemp -d "${TMPDIR:-/tmp}/kstreams-harness-bin.XXXXXX")/kstreams-harness"
go build -o "$bin" ./cmd/kstreams-harness
state="${HARNESS_STATE:-$(mktemp -d "${TMPDIR:-/tmp}/kstreams-harness.XXXXXX")}"
prefix="harness-$mode-$GUARANTEE-$(date +%s)"

case "$mode" in
short)
	cluster=false
	args=(-keys 10 -values 1000 -rate 1000 -grace 200ms -kills 2 -fault-interval 3s -timeout 60s)
	;;
bounce)
	cluster=true
	args=(-keys 10 -values 2000 -rate 500 -kills 2 -broker-kills 2 -fault-interval 5s -timeout 120s)
	;;
long)
	cluster=true
	args=(-keys 10 -values 8000 -rate 300 -kills 20 -broker-kills 5 -fault-interval 6s -timeout 300s)
	;;
*)
	echo "usage: $0 short|bounce|long [kstreams-harness run flags]" >&2
	exit 2
	;;
esac

stop_brokers() {
	local status=$?
	set +e
	if [[ "${KEEP_BROKERS:-}" != 1 ]]; then
		if $cluster; then
			[[ $status -ne 0 ]] && scripts/kafka.sh cluster logs 30
			scripts/kafka.sh cluster stop
		else
			[[ $status -ne 0 ]] && scripts/kafka.sh logs 30
			scripts/kafka.sh stop
		fi
	fi
	rm -rf "$(dirname "$bin")"
	if [[ $status -eq 0 && -z "${HARNESS_STATE:-}" ]]; then
		rm -rf "$state"
	else
		echo "harness.sh: state and instance logs kept in $state" >&2
	fi
	exit "$status"
}
trap stop_brokers EXIT

if $cluster; then
	brokers=$(scripts/kafka.sh cluster start | sed -n 's/^KAFKA_BROKERS=//p')
	args+=(-cluster-script "$PWD/scripts/kafka.sh" -cluster-size 3 -replication 3)
else
	brokers=$(scripts/kafka.sh start | sed -n 's/^KAFKA_BROKERS=//p')
fi

start=$SECONDS
"$bin" run -brokers "$brokers" -prefix "$prefix" -guarantee "$GUARANTEE" -state-dir "$state" \
	-tolerate "$TOLERATE" "${args[@]}" "$@"
echo "harness.sh: $mode run ($GUARANTEE) took $((SECONDS - start)) s"

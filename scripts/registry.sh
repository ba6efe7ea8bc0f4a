#!/usr/bin/env bash
# Install and run a real schema registry on 127.0.0.1 for the integration
# tests: rivven-schema from crates.io (a Confluent-compatible registry with
# Avro, Protobuf and JSON Schema compatibility checking), with in-memory
# storage. No Docker, no download other than crates.io: `cargo install`
# builds it once into the cache.
#
# Usage: scripts/registry.sh install|start|stop|status|logs
#
#   install  cargo install rivven-schema into $KSTREAMS_CACHE/rivven-schema-$REGISTRY_VERSION
#            (once; later calls see the binary and do nothing)
#   start    install if needed, stop a registry this script started earlier,
#            launch one in the background and wait until it answers; prints
#            KSTREAMS_TEST_REGISTRY=http://127.0.0.1:$REGISTRY_PORT when ready
#   stop     TERM the registry (KILL after 10 s) and remove $REGISTRY_DATA
#   status   exit 0 if the registry started by this script is running
#   logs     print the tail of the registry's log
#
# Why this one: Apicurio Registry (Maven Central) does not resolve there
# (3.3.3 and 2.6.13.Final need io.apicurio modules that Central does not
# serve, and the app is a Quarkus build that would need re-augmenting);
# Karapace and Confluent Schema Registry are not on PyPI or Maven Central.
#
# Environment (all optional):
#   REGISTRY_VERSION        rivven-schema version (default below)
#   REGISTRY_PORT           port on 127.0.0.1 (default 18081)
#   REGISTRY_DATA           pid file and log (default /tmp/kstreams-registry)
#   REGISTRY_START_TIMEOUT  seconds to wait for it (default 30)
#   KSTREAMS_CACHE          cache root (default $HOME/.cache/kstreams)
set -euo pipefail

REGISTRY_VERSION="${REGISTRY_VERSION:-0.0.22}"
REGISTRY_PORT="${REGISTRY_PORT:-18081}"
REGISTRY_DATA="${REGISTRY_DATA:-/tmp/kstreams-registry}"
REGISTRY_START_TIMEOUT="${REGISTRY_START_TIMEOUT:-30}"
KSTREAMS_CACHE="${KSTREAMS_CACHE:-${HOME:-/tmp}/.cache/kstreams}"
REGISTRY_HOME="$KSTREAMS_CACHE/rivven-schema-$REGISTRY_VERSION"
BIN="$REGISTRY_HOME/bin/rivven-schema"
URL="http://127.0.0.1:$REGISTRY_PORT"
PID_FILE="$REGISTRY_DATA/registry.pid"
LOG="$REGISTRY_DATA/registry.log"

log() { echo "registry.sh: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

do_install() {
	[[ -x "$BIN" ]] && return 0
	command -v cargo >/dev/null || die "cargo not found (Rust is needed to install rivven-schema)"
	mkdir -p "$KSTREAMS_CACHE"
	exec 9>"$KSTREAMS_CACHE/.rivven-schema-$REGISTRY_VERSION.lock"
	flock 9 2>/dev/null || true
	if [[ -x "$BIN" ]]; then
		exec 9>&-
		return 0
	fi
	local t0=$SECONDS out
	log "installing rivven-schema $REGISTRY_VERSION from crates.io into $REGISTRY_HOME (a few minutes, once) ..."
	if ! out=$(cargo install rivven-schema --version "$REGISTRY_VERSION" --locked --root "$REGISTRY_HOME" 2>&1); then
		printf '%s\n' "$out" | tail -n 40 >&2
		die "cargo install rivven-schema $REGISTRY_VERSION failed (see above)"
	fi
	exec 9>&-
	log "installed rivven-schema $REGISTRY_VERSION in $((SECONDS - t0)) s"
}

running_pid() {
	[[ -f "$PID_FILE" ]] || return 1
	local pid
	pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'rivven-schema' || return 1
	echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# answers: the Confluent API lists subjects.
answers() { curl -fsS --max-time 2 "$URL/subjects" >/dev/null 2>&1; }

do_stop() {
	local pid i
	if pid=$(running_pid); then
		log "stopping registry (pid $pid) ..."
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 40; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	[[ -n "$REGISTRY_DATA" && "$REGISTRY_DATA" != "/" ]] || die "refusing to remove REGISTRY_DATA='$REGISTRY_DATA'"
	rm -rf "$REGISTRY_DATA"
}

do_logs() {
	if [[ -s "$LOG" ]]; then
		echo "----- tail -n ${1:-40} $LOG -----" >&2
		tail -n "${1:-40}" "$LOG" >&2
	fi
}

do_start() {
	do_install
	do_stop
	port_open "$REGISTRY_PORT" && die "port 127.0.0.1:$REGISTRY_PORT is already in use (set REGISTRY_PORT)"
	mkdir -p "$REGISTRY_DATA"
	local t0=$SECONDS
	NO_COLOR=1 nohup "$BIN" serve --host 127.0.0.1 --port "$REGISTRY_PORT" --compatibility BACKWARD \
		</dev/null >"$LOG" 2>&1 &
	local pid=$!
	echo "$pid" >"$PID_FILE"
	local deadline=$((SECONDS + REGISTRY_START_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			do_logs 60
			die "the registry exited during startup"
		fi
		if answers; then
			log "registry ready in $((SECONDS - t0)) s (pid $pid)"
			echo "KSTREAMS_TEST_REGISTRY=$URL"
			return 0
		fi
		sleep 0.2
	done
	do_logs 60
	kill -KILL "$pid" 2>/dev/null || true
	die "the registry did not answer within $REGISTRY_START_TIMEOUT s"
}

do_status() {
	local pid
	if pid=$(running_pid); then
		echo "running (pid $pid) KSTREAMS_TEST_REGISTRY=$URL"
		return 0
	fi
	echo "not running"
	return 1
}

case "${1:-}" in
install) do_install ;;
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
logs) do_logs "${2:-40}" ;;
*)
	echo "usage: $0 install|start|stop|status|logs [lines]" >&2
	exit 2
	;;
esac

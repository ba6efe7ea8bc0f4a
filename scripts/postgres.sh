#!/usr/bin/env bash
# Install and run a throwaway PostgreSQL server on 127.0.0.1 for the tests
# (examples/ecommerce syncs user profiles into it). Debian's `postgresql`
# package, installed with apt-get when missing; no Docker.
#
# Usage: scripts/postgres.sh start|stop|status|logs
#
#   start   install if needed, wipe $POSTGRES_DATA, initdb, start the server on
#           127.0.0.1:$POSTGRES_PORT only (trust authentication: a test server
#           nobody else reaches), create the database $POSTGRES_DB and print
#           KSTREAMS_TEST_POSTGRES=<DSN> when ready. A server this script
#           started earlier on the same data dir is stopped first.
#   stop    stop the server (fast shutdown) and remove $POSTGRES_DATA
#   status  exit 0 if the server started by this script is running
#   logs    print the tail of the server's log
#
# initdb and the server refuse to run as root: run as root (CI containers),
# the script runs them as the `postgres` user the Debian package creates.
#
# Environment (all optional):
#   POSTGRES_PORT     port (default 5432)
#   POSTGRES_DATA     data dir, wiped on start/stop (default
#                     ${TMPDIR:-/tmp}/kstreams-postgres-$POSTGRES_PORT)
#   POSTGRES_DB       database created on start (default kstreams)
#   POSTGRES_VERSION  Debian's major version when several are installed
#                     (default: the newest under /usr/lib/postgresql)
set -euo pipefail

POSTGRES_PORT="${POSTGRES_PORT:-5432}"
POSTGRES_DATA="${POSTGRES_DATA:-${TMPDIR:-/tmp}/kstreams-postgres-$POSTGRES_PORT}"
POSTGRES_DB="${POSTGRES_DB:-kstreams}"

die() {
	echo "postgres.sh: $*" >&2
	exit 1
}

bindir() {
	local v="${POSTGRES_VERSION:-}"
	if [[ -z "$v" ]]; then
		v="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
	fi
	[[ -n "$v" && -x "/usr/lib/postgresql/$v/bin/initdb" ]] || return 1
	echo "/usr/lib/postgresql/$v/bin"
}

install() {
	if bindir >/dev/null; then
		return
	fi
	local sudo=""
	if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
	echo "installing Debian's postgresql package" >&2
	$sudo apt-get install -y postgresql >/dev/null ||
		{ $sudo apt-get update >/dev/null && $sudo apt-get install -y postgresql >/dev/null; } ||
		die "apt-get install postgresql failed"
	bindir >/dev/null || die "no initdb under /usr/lib/postgresql after installing postgresql"
}

# as runs a server binary: as the postgres user when we are root.
as() {
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

running() {
	local bin
	bin="$(bindir)" || return 1
	[[ -f "$POSTGRES_DATA/PG_VERSION" ]] && as "$bin/pg_ctl" -D "$POSTGRES_DATA" status >/dev/null 2>&1
}

stop() {
	local bin
	if bin="$(bindir)" && running; then
		as "$bin/pg_ctl" -D "$POSTGRES_DATA" -m fast -w stop >/dev/null
	fi
	rm -rf "$POSTGRES_DATA"
}

start() {
	install
	local bin
	bin="$(bindir)"
	stop
	if (exec 3<>"/dev/tcp/127.0.0.1/$POSTGRES_PORT") 2>/dev/null; then
		die "port $POSTGRES_PORT is in use (set POSTGRES_PORT)"
	fi
	mkdir -p "$POSTGRES_DATA"
	if [[ $(id -u) -eq 0 ]]; then
		as true # creates the user if needed
		chown postgres: "$POSTGRES_DATA"
	fi
	chmod 700 "$POSTGRES_DATA"
	as "$bin/initdb" -D "$POSTGRES_DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$POSTGRES_DATA.initdb.log" 2>&1 ||
		{ cat "$POSTGRES_DATA.initdb.log" >&2; die "initdb failed"; }
	rm -f "$POSTGRES_DATA.initdb.log"
	# Only loopback TCP; the socket in the data dir (not /var/run/postgresql,
	# which may not exist or belong to another server).
	as "$bin/pg_ctl" -D "$POSTGRES_DATA" -l "$POSTGRES_DATA/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k $POSTGRES_DATA -c fsync=off -c max_connections=50" \
		start >/dev/null || { logs 40; die "the server did not start"; }
	as "$bin/createdb" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres "$POSTGRES_DB"
	echo "KSTREAMS_TEST_POSTGRES=postgres://postgres@127.0.0.1:$POSTGRES_PORT/$POSTGRES_DB?sslmode=disable"
}

logs() {
	tail -n "${1:-40}" "$POSTGRES_DATA/server.log" 2>/dev/null || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) running ;;
logs) logs "${2:-40}" ;;
*) die "usage: $0 start|stop|status|logs [N]" ;;
esac

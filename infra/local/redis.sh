#!/usr/bin/env bash
# A local Redis for development and the test suite (rate-limit counters shared by API workers).
#
# Debian's redis-server, installed with apt only when missing; the package's own service is not
# used: we run a private server on loopback, its data, pid and log under one cache folder, with
# no persistence (rate-limit counters are disposable). A second `start` takes milliseconds.
#
# Usage: infra/local/redis.sh [start|stop|status]     (idempotent)
#   start   install if needed, start the server on 127.0.0.1:$REDIS_PORT in the background and
#           wait until it answers PING; prints its URL (for RWA_RATE_LIMIT_STORAGE)
#   stop    shut the server down (no-op when not running)
#   status  exit 0 when the server answers PING, 1 otherwise
#
# Environment (all optional):
#   REDIS_PORT       TCP port (default 56379: off the default 6379, so a system Redis is untouched)
#   REDIS_CACHE_DIR  data, pid file and log (default ${XDG_CACHE_HOME:-$HOME/.cache}/rwa-redis)
set -euo pipefail

PORT=${REDIS_PORT:-56379}
CACHE=${REDIS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rwa-redis}
PIDFILE=$CACHE/redis-$PORT.pid
LOGFILE=$CACHE/redis-$PORT.log

log() { printf 'redis: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

install_server() {
    command -v redis-server >/dev/null 2>&1 && return 0
    [ "$(id -u)" -eq 0 ] || die "redis-server is missing and installing it needs root"
    log "installing redis-server (apt)"
    # The package would start its system service where an init exists; ours is separate.
    apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            redis-server >&2 || die "apt-get install redis-server failed"
}

ping() { redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; }

running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    # The pid must still be our redis-server, not a recycled pid of some other process.
    [ -n "$pid" ] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]] && echo "$pid"
}

start() {
    install_server
    mkdir -p "$CACHE"
    if running_pid >/dev/null && ping; then
        log "already running on 127.0.0.1:$PORT (pid $(running_pid))"
        echo "redis://127.0.0.1:$PORT/0"
        return 0
    fi
    ping && die "port $PORT answers but is not our server (set REDIS_PORT)"
    # No RDB/AOF: counters are disposable. 64 databases: test modules each take their own.
    redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --pidfile "$PIDFILE" \
        --logfile "$LOGFILE" --dir "$CACHE" --save '' --appendonly no --databases 64 \
        --protected-mode yes >/dev/null
    for _ in $(seq 1 100); do
        if ping; then
            log "listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), log $LOGFILE)"
            echo "redis://127.0.0.1:$PORT/0"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$LOGFILE" >&2 || true
    die "redis did not answer on 127.0.0.1:$PORT"
}

stop() {
    if running_pid >/dev/null; then
        redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
        log "stopped server on port $PORT"
    fi
    rm -f "$PIDFILE"
}

status() {
    if ping; then
        log "running on 127.0.0.1:$PORT"
        return 0
    fi
    log "not running on port $PORT"
    return 1
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac

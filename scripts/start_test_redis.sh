#!/usr/bin/env bash
# Start a throwaway Redis (the Celery broker of the cluster profile's tests) and print its URL:
#
#   eval "$(scripts/start_test_redis.sh)"     # sets BATCH_VIDEO_TEST_REDIS_URL
#   scripts/start_test_redis.sh --stop        # stop it and delete its state folder
#
# It never touches the machine's own Redis: it runs from its own folder
# ($BATCH_VIDEO_TEST_REDIS_DIR, default /tmp/batch-video-test-redis), listens on
# 127.0.0.1 only, on a free port, and saves nothing to disk.
# Installs the Debian `redis-server` package when it is missing.
# Only the `export ...` line goes to stdout; progress goes to stderr.
set -euo pipefail

STATE_DIR="${BATCH_VIDEO_TEST_REDIS_DIR:-/tmp/batch-video-test-redis}"
PID_FILE="$STATE_DIR/redis.pid"
PORT_FILE="$STATE_DIR/port"

log() { echo "start_test_redis: $*" >&2; }

if [[ "${1:-}" == "--stop" ]]; then
    if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
        kill "$(cat "$PID_FILE")" && log "stopped pid $(cat "$PID_FILE")"
    fi
    rm -rf "$STATE_DIR"
    exit 0
fi

if ! command -v redis-server >/dev/null; then
    log "no redis-server found; installing the Debian package"
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server >&2
fi

is_running() {
    [[ -f "$PORT_FILE" ]] && redis-cli -h 127.0.0.1 -p "$(cat "$PORT_FILE")" ping 2>/dev/null | grep -q PONG
}

if ! is_running; then
    mkdir -p "$STATE_DIR"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "$port" >"$PORT_FILE"
    log "starting on 127.0.0.1:$port"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$STATE_DIR" --daemonize yes \
        --pidfile "$PID_FILE" --logfile "$STATE_DIR/server.log" --save "" --appendonly no >&2
    for _ in $(seq 1 60); do
        is_running && break
        sleep 0.5
    done
    is_running || { log "redis did not answer within 30 s; its log:"; cat "$STATE_DIR/server.log" >&2; exit 1; }
fi

echo "export BATCH_VIDEO_TEST_REDIS_URL=redis://127.0.0.1:$(cat "$PORT_FILE")/0"

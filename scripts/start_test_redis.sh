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
SERVICE=start_test_redis
source "$(dirname "${BASH_SOURCE[0]}")/test_service.sh"

stop_when_asked "$@"

if ! command -v redis-server >/dev/null; then
    log "no redis-server found; installing the Debian package"
    apt_install --no-install-recommends redis-server
fi

is_running() {
    [[ -f "$PORT_FILE" ]] && redis-cli -h 127.0.0.1 -p "$(cat "$PORT_FILE")" ping 2>/dev/null | grep -q PONG
}

if ! is_running; then
    mkdir -p "$STATE_DIR"
    port="$(free_port)"
    echo "$port" >"$PORT_FILE"
    log "starting on 127.0.0.1:$port"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$STATE_DIR" --daemonize yes \
        --pidfile "$PID_FILE" --logfile "$STATE_DIR/server.log" --save "" --appendonly no >&2
    wait_until_running 30
fi

echo "export BATCH_VIDEO_TEST_REDIS_URL=redis://127.0.0.1:$(cat "$PORT_FILE")/0"

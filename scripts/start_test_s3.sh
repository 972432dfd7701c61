#!/usr/bin/env bash
# Start a throwaway S3-compatible server (moto's, from the test dependencies) and print its endpoint:
#
#   eval "$(scripts/start_test_s3.sh)"     # sets BATCH_VIDEO_TEST_S3_ENDPOINT
#   scripts/start_test_s3.sh --stop        # stop it and delete its state folder
#
# It listens on 127.0.0.1 only, on a free port, keeps everything in memory and
# accepts any credentials (test data only). Its state folder
# ($BATCH_VIDEO_TEST_S3_DIR, default /tmp/batch-video-test-s3) holds the pid,
# port and log. Only the `export ...` line goes to stdout; progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE_DIR="${BATCH_VIDEO_TEST_S3_DIR:-/tmp/batch-video-test-s3}"
SERVER="${BATCH_VIDEO_MOTO_SERVER:-$ROOT/.venv/bin/moto_server}"
PID_FILE="$STATE_DIR/pid"
PORT_FILE="$STATE_DIR/port"

log() { echo "start_test_s3: $*" >&2; }

stop() {
    if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
        kill "$(cat "$PID_FILE")" && log "stopped pid $(cat "$PID_FILE")"
    fi
    rm -rf "$STATE_DIR"
}

if [[ "${1:-}" == "--stop" ]]; then
    stop
    exit 0
fi

is_running() {
    [[ -f "$PID_FILE" && -f "$PORT_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null \
        && python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$(cat "$PORT_FILE")/', timeout=2)" 2>/dev/null
}

if ! is_running; then
    if [[ ! -x "$SERVER" ]]; then
        log "no $SERVER: install the test dependencies first (make test-deps / pip install -e '.[test]')"
        exit 1
    fi
    rm -rf "$STATE_DIR" && mkdir -p "$STATE_DIR"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "$port" >"$PORT_FILE"
    log "starting moto S3 on 127.0.0.1:$port"
    setsid "$SERVER" -H 127.0.0.1 -p "$port" >"$STATE_DIR/server.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 120); do
        is_running && break
        kill -0 "$(cat "$PID_FILE")" 2>/dev/null || { log "the server exited; its log:"; cat "$STATE_DIR/server.log" >&2; exit 1; }
        sleep 0.5
    done
    is_running || { log "the server did not answer within 60 s; its log:"; cat "$STATE_DIR/server.log" >&2; exit 1; }
fi

echo "export BATCH_VIDEO_TEST_S3_ENDPOINT=http://127.0.0.1:$(cat "$PORT_FILE")"

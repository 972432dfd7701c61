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
SERVICE=start_test_s3
source "$(dirname "${BASH_SOURCE[0]}")/test_service.sh"

stop_when_asked "$@"

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
    port="$(free_port)"
    echo "$port" >"$PORT_FILE"
    log "starting moto S3 on 127.0.0.1:$port"
    setsid "$SERVER" -H 127.0.0.1 -p "$port" >"$STATE_DIR/server.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    wait_until_running 60 "$(cat "$PID_FILE")"
fi

echo "export BATCH_VIDEO_TEST_S3_ENDPOINT=http://127.0.0.1:$(cat "$PORT_FILE")"

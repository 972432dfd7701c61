# What scripts/start_test_{postgres,redis,s3}.sh share (sourced, not run): the state folder's port file, log lines,
# a free port, Debian packages, stopping a server by its pid file and waiting for one to answer. The sourcing script
# sets SERVICE (the name its log lines start with), STATE_DIR, and PID_FILE where it keeps a pid, and defines
# `is_running`.

PORT_FILE="$STATE_DIR/port"

log() { echo "$SERVICE: $*" >&2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# apt_install [apt-get options] PACKAGE...: as root, or through sudo.
apt_install() {
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

# stop_when_asked "$@": on `--stop`, the server of $PID_FILE stopped, its state folder removed, and the script ends.
stop_when_asked() {
    if [[ "${1:-}" == "--stop" ]]; then
        local pid
        pid="$(cat "$PID_FILE" 2>/dev/null || true)"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" && log "stopped pid $pid"  # read first: a server may remove its pid file as it stops
        fi
        rm -rf "$STATE_DIR"
        exit 0
    fi
}

# wait_until_running SECONDS [PID]: poll `is_running` every 0.5 s; give up, showing the server's log, after SECONDS
# or as soon as PID (the server, when started in the background) has exited.
wait_until_running() {
    local seconds="$1" pid="${2:-}"
    for _ in $(seq 1 $((seconds * 2))); do
        is_running && return 0
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            log "the server exited; its log:"
            cat "$STATE_DIR/server.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    is_running || { log "the server did not answer within $seconds s; its log:"; cat "$STATE_DIR/server.log" >&2; exit 1; }
}

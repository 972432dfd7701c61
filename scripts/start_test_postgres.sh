#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the tests and print the DSN to use:
#
#   eval "$(scripts/start_test_postgres.sh)"     # sets BATCH_VIDEO_TEST_PG_DSN
#   scripts/start_test_postgres.sh --stop        # stop it and delete its data
#
# It never touches the machine's own clusters: it runs `initdb` into its own
# folder ($BATCH_VIDEO_TEST_PG_DIR, default /tmp/batch-video-test-pg) and listens
# on 127.0.0.1 only, on a free port, with trust auth (test data only).
# Installs the Debian `postgresql` package when no server binaries are found.
# Only the `export ...` line goes to stdout; progress goes to stderr.
set -euo pipefail

STATE_DIR="${BATCH_VIDEO_TEST_PG_DIR:-/tmp/batch-video-test-pg}"
DB_NAME="${BATCH_VIDEO_TEST_PG_DB:-batch_video_test}"
DATA_DIR="$STATE_DIR/data"
SERVICE=start_test_postgres
source "$(dirname "${BASH_SOURCE[0]}")/test_service.sh"

find_bin_dir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

as_owner() {
    # postgres refuses to run as root: run the server tools as the `postgres` user.
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

BIN_DIR="$(find_bin_dir || true)"
if [[ -z "$BIN_DIR" ]]; then
    log "no PostgreSQL server found; installing the Debian package"
    apt_install postgresql
    BIN_DIR="$(find_bin_dir)"
fi

if [[ "${1:-}" == "--stop" ]]; then
    if [[ -f "$DATA_DIR/postmaster.pid" ]]; then
        as_owner "$BIN_DIR/pg_ctl" -D "$DATA_DIR" -m fast stop >&2 || true
    fi
    rm -rf "$STATE_DIR"
    log "stopped and removed $STATE_DIR"
    exit 0
fi

is_running() {
    [[ -f "$PORT_FILE" ]] && "$BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$(cat "$PORT_FILE")" 2>/dev/null
}

if ! is_running; then
    mkdir -p "$STATE_DIR"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$STATE_DIR"; fi
    if [[ ! -f "$DATA_DIR/PG_VERSION" ]]; then
        log "initdb into $DATA_DIR ($BIN_DIR)"
        as_owner "$BIN_DIR/initdb" -D "$DATA_DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    rm -f "$DATA_DIR/postmaster.pid"  # left by a killed server; the port check above says none is running
    port="$(free_port)"
    echo "$port" >"$PORT_FILE"
    log "starting on 127.0.0.1:$port"
    as_owner "$BIN_DIR/pg_ctl" -D "$DATA_DIR" -l "$STATE_DIR/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $STATE_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2
fi

PORT="$(cat "$PORT_FILE")"
if ! "$BIN_DIR/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" postgres | grep -q 1; then
    "$BIN_DIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB_NAME"
    log "created database $DB_NAME"
fi

echo "export BATCH_VIDEO_TEST_PG_DSN=postgresql://postgres@127.0.0.1:$PORT/$DB_NAME"

#!/usr/bin/env bash
# The test run behind `make test`: start the services the tests need (PostgreSQL, Redis, an S3 server), then pytest.
#
#   scripts/run_tests.sh [pytest arguments]
#
# Stops with a clear message, before any test runs, when a service cannot start:
# a run that quietly skipped the tests needing it would pass having tested less.
# pytest runs with --no-skips: a skip fails the run unless its reason starts
# with `optional:` (see the README's "Tests" section).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

# start SCRIPT VARIABLE WHAT: run a service's start script and take the one `export VARIABLE=...` line it prints.
start() {
    local script="$1" variable="$2" what="$3" line
    if ! line="$("$script")" || [[ "$line" != "export $variable="* ]]; then
        echo "run_tests: the test $what did not start (see the messages above from $script); no tests were run." >&2
        exit 1
    fi
    eval "$line"
}
start scripts/start_test_postgres.sh BATCH_VIDEO_TEST_PG_DSN PostgreSQL
start scripts/start_test_redis.sh BATCH_VIDEO_TEST_REDIS_URL Redis
start scripts/start_test_s3.sh BATCH_VIDEO_TEST_S3_ENDPOINT "S3 server"

# --durations: the slowest tests, to keep the suite's wall time in view.
exec "$PY" -m pytest -q -rs --no-skips --durations=15 "$@"

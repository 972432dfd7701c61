"""LocalDagster, the process manager of the demo, the benches and the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from dagster_project.console.client import DagsterApiError
from scripts.local_dagster import LocalDagster, interrupts_back_on
from tests.dagster_project.waiting import wait_until


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_code_location_that_fails_to_load_leaves_no_process_behind(tmp_path):
    server = LocalDagster(tmp_path / "dagster_home", workers=[], startup_timeout_s=600)
    # A workspace whose module does not exist: the webserver comes up and reports the location's load error.
    server.workspace = tmp_path / "workspace.yaml"
    server.workspace.write_text("load_from:\n  - python_module: batch_video_no_such_module\n")
    spawned = []
    spawn = server._spawn
    server._spawn = lambda argv: spawned.append(spawn(argv)) or spawned[-1]

    with pytest.raises(DagsterApiError, match="failed to load"):
        server.start()

    assert spawned, "dagster dev was never started"
    for process in spawned:
        assert process.poll() is not None
        # its whole group goes, code servers included (killed members linger until they are reaped)
        wait_until(lambda: group_gone(process.pid), what=f"process group {process.pid} to end", ceiling_s=120)


DAEMON_STATUSES = "query { instance { daemonHealth { allDaemonStatuses { daemonType lastHeartbeatTime } } } }"


def daemons_heard(client) -> list[str]:
    statuses = client.query(DAEMON_STATUSES)["instance"]["daemonHealth"]["allDaemonStatuses"]
    return sorted(s["daemonType"] for s in statuses if s["lastHeartbeatTime"])


def test_the_daemon_after_a_launch_starts_with_the_others_but_runs_only_when_told(tmp_path):
    server = LocalDagster(tmp_path / "dagster_home", workers=[], daemon_after_launch=True, startup_timeout_s=600)
    with server as client:
        waiting = server.daemon
        # Its process imports Dagster while the others load, then waits for its cue: no daemon has run.
        assert waiting is not None and waiting.poll() is None
        assert daemons_heard(client) == []

        server.start_daemon()
        wait_until(lambda: "BACKFILL" in daemons_heard(client), what="the backfill daemon's heartbeat", ceiling_s=600)

        # Stopped alone, it leaves the next daemon's process waiting, the webserver still answering.
        server.stop_daemon()
        assert waiting.poll() is not None
        assert server.daemon is not None and server.daemon is not waiting and server.daemon.poll() is None
        assert client.is_up()
        last = server.daemon
    assert last.poll() is not None
    for process in (waiting, last):
        wait_until(lambda: group_gone(process.pid), what=f"process group {process.pid} to end", ceiling_s=120)


def test_children_of_a_parent_that_ignores_sigint_get_it_back_so_sigterm_stops_dagsters_processes():
    # Dagster's code server answers SIGTERM with its SIGINT handler: inheriting an ignored SIGINT (a parent started
    # in the background without job control) it would ignore SIGTERM too.
    child = [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"]
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        as_is = subprocess.run(child, capture_output=True, text=True, check=True).stdout.strip()
        given_back = subprocess.run(child, capture_output=True, text=True, check=True,
                                    preexec_fn=interrupts_back_on()).stdout.strip()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert interrupts_back_on() is None  # nothing to give back: children start as they always did
    finally:
        signal.signal(signal.SIGINT, before)
    assert (as_is, given_back) == ("False", "True")


class Started(Exception):
    """Raised by the stand-in for the first process LocalDagster starts: the test has seen what it needs."""


@pytest.mark.parametrize("daemon_after_launch", [False, True])
def test_the_instance_storage_exists_before_the_first_process_starts(tmp_path, daemon_after_launch):
    # The run workers open the instance as they start, beside `dagster dev` (or the code server and the cued daemon):
    # two processes creating a fresh SQLite instance at once leave two alembic heads, and then no Dagster process can
    # open it (seen in a fresh-clone `make test`: the UI journeys' `dagster dev` never came up). So the storage is
    # created before anything starts.
    import dagster as dg

    home = tmp_path / "dagster_home"
    server = LocalDagster(home, daemon_after_launch=daemon_after_launch, startup_timeout_s=60)
    seen = []

    def first_process(*args, **kwargs):
        seen.append(sorted(p.relative_to(home).as_posix() for p in home.rglob("*.db")))
        raise Started

    server.start_worker = first_process
    server._spawn = first_process
    with pytest.raises(Started):
        server.start()
    assert seen and "history/runs.db" in seen[0]
    # and it is a whole, current instance: opening it again migrates nothing and finds one head
    instance = dg.DagsterInstance.from_config(str(home))
    instance.dispose()

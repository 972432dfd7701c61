"""LocalDagster, the process manager of the demo, the benches and the end-to-end tests."""

from __future__ import annotations

import os

import pytest

from dagster_project.console.client import DagsterApiError
from scripts.local_dagster import LocalDagster
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

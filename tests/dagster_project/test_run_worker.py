"""A run worker opens the instance once before it forks its pool: runs start warm and share no connection; each run
executes in a process forked for it, which leads its own process group and whose end is the task's result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from celery import Celery

from dagster_project.run_worker import FreshProcessTask, RunProcessDied

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: what `celery -A dagster_project.run_worker worker` does before forking its pool.
WORKER_START = """
import json, os, sys
from celery import signals
import dagster_project.run_worker
before = "alembic" in sys.modules
signals.worker_init.send(sender=None)
home = os.environ["DAGSTER_HOME"]
open_files = []
for fd in os.listdir("/proc/self/fd"):
    try:
        open_files.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass  # the listing's own descriptor, closed by now
print(json.dumps({"storage_modules_before": before, "storage_modules_after": "alembic" in sys.modules,
                  "instance_files_open": [f for f in open_files if f.startswith(home)]}))
"""


def test_the_worker_imports_the_instance_storage_before_forking_and_keeps_no_database_open(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "deploy" / "local" / "dagster.yaml").read_text())
    done = subprocess.run([sys.executable, "-c", WORKER_START], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state == {"storage_modules_before": False, "storage_modules_after": True, "instance_files_open": []}
    assert (home / "history" / "runs.db").exists(), "the instance was opened (its run storage created)"


# -- each run in a process forked for it ---------------------------------------------------------


@pytest.fixture
def fresh_process_app(tmp_path, monkeypatch):
    """A Celery app whose tasks run as the run worker's do; eager calls (`apply`) run the task here, as a pool process would."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the guard watching each task looks for its run there
    return Celery("fresh-process-test", set_as_current=False)


def test_a_run_executes_in_a_process_of_its_own_group_and_its_status_is_the_result(fresh_process_app, tmp_path):
    seen = tmp_path / "seen.json"

    @fresh_process_app.task(bind=True, base=FreshProcessTask)
    def run(_self, path):
        Path(path).write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0)}))
        return 1  # what dagster-celery's task returns for a failed run

    assert run.apply(args=(str(seen),)).get() == 1
    process = json.loads(seen.read_text())
    assert process["pid"] != os.getpid() and process["pgid"] == process["pid"], process


def test_a_run_process_that_raises_fails_the_task_and_not_the_pool_process(fresh_process_app):
    @fresh_process_app.task(bind=True, base=FreshProcessTask)
    def run(_self):
        raise ValueError("broken run body")

    with pytest.raises(RunProcessDied, match="failed"):
        run.apply().get(propagate=True)


def test_a_killed_run_process_fails_the_task(fresh_process_app):
    @fresh_process_app.task(bind=True, base=FreshProcessTask)
    def run(_self):
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would

    with pytest.raises(RunProcessDied, match="SIGKILL"):
        run.apply().get(propagate=True)


def test_celerys_terminate_of_the_pool_process_reaches_the_run_process(fresh_process_app, tmp_path):
    heard = tmp_path / "heard"

    @fresh_process_app.task(bind=True, base=FreshProcessTask)
    def run(_self, path):
        def stop(signum, _frame):
            Path(path).write_text(signal.Signals(signum).name)
            os._exit(1)

        signal.signal(signal.SIGTERM, stop)
        time.sleep(60)  # ended by the SIGTERM, long before
        return 0

    # What revoke(terminate=True) does: SIGTERM to the pool process (here, this one) while the run goes on.
    own_handling = signal.getsignal(signal.SIGTERM)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    assert run.apply(args=(str(heard),)).get() == 1
    assert heard.read_text() == "SIGTERM" and time.monotonic() - started < 30
    assert signal.getsignal(signal.SIGTERM) == own_handling  # the pool process's own handling is back

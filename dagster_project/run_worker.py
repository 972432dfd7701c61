"""The Celery app batch-video's run workers start: `celery -A dagster_project.run_worker worker`.

It is dagster-celery's app and its `execute_job` task (one Dagster run per task,
run by dagster's own run body), configured from the environment:

- `BATCH_VIDEO_CELERY_BROKER` / `BATCH_VIDEO_CELERY_BACKEND`: the same broker and
  result backend as the instance's run launcher (deploy/*/dagster.yaml);
- `BATCH_VIDEO_WORKER_NAME`: the host's name in asset metadata (default: hostname).

What a batch needs on top:

- Warm runs: the worker process imports dagster and the code location once;
  each run then executes in a fresh pool process forked from it
  (`worker_max_tasks_per_child=1`), so a run pays no interpreter start or
  import, and a run that leaks memory or crashes takes only itself down.
- One run per worker slot: no prefetching, so a second run never waits behind a
  busy worker while another worker is idle.
- Cancel that stops: when the run is marked CANCELING (by
  `BatchCeleryRunLauncher.terminate`, from the UI, `batch cancel` or the
  `stop_canceled_batches` sensor), the pool process interrupts the run again and
  again: with the in-process executor, an interrupt inside a step that has a
  RetryPolicy becomes a retry of that step (dagster-io/dagster#15026), while one
  between steps stops the run. If the run has not stopped after
  `KILL_AFTER_S`, its child processes (ffmpeg) and the pool process are killed
  and the run is reported canceled.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from celery import signals
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from dagster_project.run_launcher import embedded_broker_options

logger = logging.getLogger(__name__)

BROKER_ENV = "BATCH_VIDEO_CELERY_BROKER"
BACKEND_ENV = "BATCH_VIDEO_CELERY_BACKEND"
QUEUE = "dagster"
POLL_S = 0.5
KILL_AFTER_S = 20.0

# Celery settings shared by the launcher (deploy/*/dagster.yaml repeats them under config_source) and the workers.
WORKER_SETTINGS: dict[str, Any] = {
    "worker_prefetch_multiplier": 1,
    "worker_disable_prefetch": True,
    "worker_max_tasks_per_child": 1,
    "result_extended": True,
    "broker_connection_retry_on_startup": True,
}


def build_app() -> Any:
    broker = os.environ.get(BROKER_ENV)
    return make_app(app_args={
        "broker": broker,
        "backend": os.environ.get(BACKEND_ENV),
        # Imported by the worker process before it forks its pool: every run starts warm.
        "include": ["dagster_project.definitions"],
        "config_source": {**embedded_broker_options(broker), **WORKER_SETTINGS},
        "task_default_queue": QUEUE,
    })


app = build_app()
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)


# -- cancel that stops (in the pool process running the run) -----------------------------------


class RunGuard:
    """Watches the run a pool process executes; once it is canceling, interrupts it until it stops."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name=f"cancel-guard-{run_id[:8]}", daemon=True)

    def start(self) -> "RunGuard":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.done.set()

    def _watch(self) -> None:
        import dagster as dg

        try:
            with dg.DagsterInstance.get() as instance:
                while not self.done.wait(POLL_S * 2):
                    run = instance.get_run_by_id(self.run_id)
                    if run is None or run.is_finished:
                        return
                    if run.status == dg.DagsterRunStatus.CANCELING:
                        self._see_cancel_through(instance)
                        return
        except Exception:  # noqa: BLE001 - the run itself must not suffer from its guard
            logger.exception("the cancel guard of run %s failed", self.run_id)

    def _see_cancel_through(self, instance: Any) -> None:
        deadline = time.monotonic() + KILL_AFTER_S
        while time.monotonic() < deadline and not self.done.is_set():
            # Dagster's run body handles SIGINT (and SIGTERM) as an interrupt of the run.
            os.kill(os.getpid(), signal.SIGINT)
            if self.done.wait(POLL_S):
                return
            run = instance.get_run_by_id(self.run_id)
            if run is None or run.is_finished:
                return
        if self.done.is_set():
            return
        run = instance.get_run_by_id(self.run_id)
        kill_children(os.getpid())
        if run is not None and not run.is_finished:
            instance.report_run_canceled(
                run, message=f"The run did not stop within {KILL_AFTER_S:.0f} s of the cancel request; its process was killed."
            )
        os._exit(1)


def kill_children(pid: int) -> None:
    """SIGKILL every descendant of `pid` (ffmpeg, espeak-ng), deepest first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    order: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        order.append(child)
        todo.extend(children.get(child, []))
    for child in reversed(order):
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


_guards: dict[str, RunGuard] = {}


@signals.task_prerun.connect
def _guard_run(task_id: str | None = None, task: Any = None, kwargs: dict | None = None, **_: Any) -> None:
    packed = (kwargs or {}).get("execute_job_args_packed") or {}
    run_id = packed.get("run_id") if isinstance(packed, dict) else None
    if task_id and run_id:
        _guards[task_id] = RunGuard(run_id).start()


@signals.task_postrun.connect
def _unguard_run(task_id: str | None = None, **_: Any) -> None:
    guard = _guards.pop(task_id or "", None)
    if guard is not None:
        guard.stop()

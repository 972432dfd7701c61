"""The Celery app batch-video's run workers start: `celery -A dagster_project.run_worker worker`.

It is dagster-celery's app and its `execute_job` task (one Dagster run per task,
run by dagster's own run body), configured from the environment:

- `BATCH_VIDEO_CELERY_BROKER` / `BATCH_VIDEO_CELERY_BACKEND`: the same broker and
  result backend as the instance's run launcher (deploy/*/dagster.yaml); unset,
  the `local` profile's embedded broker (files under `$DAGSTER_HOME/celery`);
- `BATCH_VIDEO_WORKER_NAME`: the host's name in asset metadata (default: hostname);
- `BATCH_VIDEO_WORKER_WARM_UP=0`: each run opens the instance cold, as before
  `warm_up` (`make bench-batch` measures both).

What a batch needs on top:

- Warm runs: the worker process imports dagster and the code location once,
  and opens the instance once (`warm_up`) so the storage's own modules are
  imported too; its pool process inherits that, and each run executes in a
  fresh process forked from the pool process for it (`FreshProcessTask`), so a
  run pays no interpreter start or import, and a run that leaks memory or
  crashes takes only itself down. The pool process stays: replacing it after
  every run (`worker_max_tasks_per_child=1`, as before) cost 1.0-1.7 s between
  two runs, billiard's exiting pool process sleeping 1 s before it goes.
- One run per worker slot: no prefetching, so a second run never waits behind a
  busy worker while another worker is idle.
- Cancel that stops: when the run is marked CANCELING (by
  `BatchCeleryRunLauncher.terminate`, from the UI, `batch cancel` or the
  `stop_canceled_batches` sensor), the pool process interrupts the run's process
  again and again: with the in-process executor, an interrupt inside a step that
  has a RetryPolicy becomes a retry of that step (dagster-io/dagster#15026), while
  one between steps stops the run. If the run has not stopped after
  `KILL_AFTER_S`, the run's process and its children (ffmpeg) are killed and the
  run is reported canceled. Celery's own terminate (SIGTERM to the pool process)
  is passed on to the run's process.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from celery import Task, platforms, signals
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from dagster_project.process_tree import kill_tree
from dagster_project.run_launcher import EMBEDDED_BROKER, embedded_backend, embedded_broker_options

logger = logging.getLogger(__name__)

BROKER_ENV = "BATCH_VIDEO_CELERY_BROKER"
BACKEND_ENV = "BATCH_VIDEO_CELERY_BACKEND"
QUEUE = "dagster"
POLL_S = 0.5
KILL_AFTER_S = 20.0

WARM_UP_ENV = "BATCH_VIDEO_WORKER_WARM_UP"
MAX_RUNS_PER_POOL_PROCESS = 200
# A run process's exit status when its task body raised (0 and 1 are what dagster-celery's task returns).
RAISED = 70

# Celery settings shared by the launcher (deploy/*/dagster.yaml repeats them under config_source) and the workers.
WORKER_SETTINGS: dict[str, Any] = {
    "worker_prefetch_multiplier": 1,
    "worker_disable_prefetch": True,
    # Each run has a process of its own (FreshProcessTask); the pool process, which only forks and watches
    # them, is still replaced now and then, so nothing it might accumulate outlives a few hundred runs.
    "worker_max_tasks_per_child": MAX_RUNS_PER_POOL_PROCESS,
    "result_extended": True,
    "broker_connection_retry_on_startup": True,
}


def build_app() -> Any:
    broker = os.environ.get(BROKER_ENV) or EMBEDDED_BROKER
    return make_app(app_args={
        "broker": broker,
        "backend": embedded_backend(broker, os.environ.get(BACKEND_ENV)),
        # Imported by the worker process before it forks its pool: every run starts warm.
        "include": ["dagster_project.definitions"],
        "config_source": {**embedded_broker_options(broker), **WORKER_SETTINGS},
        "task_default_queue": QUEUE,
    })


class RunProcessDied(RuntimeError):
    """The process running a run ended without finishing its task (killed, or its task body raised)."""


class FreshProcessTask(Task):
    """A Celery task executed in a process forked for it from the pool process, which waits for it and watches it.

    The forked process leads its own process group (with the ffmpeg and espeak-ng it starts) and dies with the
    pool process. Its exit status is the task's result; a process killed (OOM, kill -9, a cancel that did not
    stop) fails the task, which Dagster's run monitoring then reports as a failed run.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id or ""
        pending_terminate = threading.Event()
        pid = 0

        def pass_terminate_on(signum: int, _frame: Any) -> None:
            # Celery's revoke(terminate=True) signals the pool process; the run is in the forked one.
            if pid:
                os.kill(pid, signum)
            else:
                pending_terminate.set()

        previous = signal.signal(signal.SIGTERM, pass_terminate_on)
        try:
            pid = os.fork()
            if pid == 0:
                self._run_here(*args, **kwargs)  # never returns
            if pending_terminate.is_set():
                os.kill(pid, signal.SIGTERM)
            guard = RunGuard(task_id, pid).start()
            try:
                _, status = os.waitpid(pid, 0)
            finally:
                guard.stop()
        finally:
            signal.signal(signal.SIGTERM, previous)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            raise RunProcessDied(f"the run's process (pid {pid}) was killed by signal {-code} ({signal.Signals(-code).name})")
        if code == RAISED:
            raise RunProcessDied(f"the run's process (pid {pid}) failed; its traceback is in the run worker's log")
        return code

    def _run_here(self, *args: Any, **kwargs: Any) -> None:
        code = RAISED
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.setpgid(0, 0)
            platforms.set_pdeathsig("SIGKILL")  # the pool process gone (its worker killed): so is the run
            code = int(super().__call__(*args, **kwargs))
        except BaseException:  # noqa: BLE001 - reported through the exit status, the traceback to the log
            logger.exception("the run's task failed")
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001 - exiting regardless
                    pass
            for handler in logging.getLogger().handlers:
                handler.flush()
            os._exit(code)


app = build_app()
execute_job = create_execute_job_task(app, base=FreshProcessTask)
resume_job = create_resume_job_task(app, base=FreshProcessTask)


# -- cancel that stops (in the pool process, watching the run's process) -----------------------------------


@functools.cache
def pool_process_instance() -> Any:
    """The instance the pool process's guards read, opened at its first run and kept for the next ones.

    Opening it for every run cost the pool process ~0.07 s of CPU per product beside the render. The run processes
    forked after it inherit the object but never use it (they open their own), and it holds no connection between
    queries (Dagster's SQLite and PostgreSQL storages use no connection pool), so nothing open is shared with them."""
    import dagster as dg

    return dg.DagsterInstance.get()


class RunGuard:
    """Watches the run a process executes for a task; once it is canceling, interrupts it until it stops."""

    def __init__(self, task_id: str, run_pid: int) -> None:
        self.task_id = task_id
        self.run_pid = run_pid
        self.run_id = ""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name=f"cancel-guard-{task_id[:8]}", daemon=True)

    def start(self) -> "RunGuard":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop watching; returns once the watching thread is gone (the pool process forks no run beside it)."""
        self.done.set()
        self.thread.join(timeout=KILL_AFTER_S)

    def _find_run(self, instance: Any) -> Any:
        """The run of this Celery task, by the task id dagster-celery's launcher tags it with (once it has)."""
        import dagster as dg
        from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

        while not self.done.wait(POLL_S):
            runs = instance.get_runs(dg.RunsFilter(tags={DAGSTER_CELERY_TASK_ID_TAG: self.task_id}), limit=1)
            if runs:
                return runs[0]
        return None

    def _watch(self) -> None:
        import dagster as dg

        try:
            instance = pool_process_instance()
            run = self._find_run(instance)
            if run is None:
                return
            self.run_id = run.run_id
            while not self.done.wait(POLL_S * 2):
                run = instance.get_run_by_id(self.run_id)
                if run is None or run.is_finished:
                    return
                if run.status == dg.DagsterRunStatus.CANCELING:
                    self._see_cancel_through(instance)
                    return
        except Exception:  # noqa: BLE001 - the run itself must not suffer from its guard
            logger.exception("the cancel guard of task %s failed", self.task_id)

    def _see_cancel_through(self, instance: Any) -> None:
        deadline = time.monotonic() + KILL_AFTER_S
        while time.monotonic() < deadline and not self.done.is_set():
            # Dagster's run body handles SIGINT (and SIGTERM) as an interrupt of the run.
            try:
                os.kill(self.run_pid, signal.SIGINT)
            except ProcessLookupError:
                return
            if self.done.wait(POLL_S):
                return
            run = instance.get_run_by_id(self.run_id)
            if run is None or run.is_finished:
                return
        if self.done.is_set():
            return
        run = instance.get_run_by_id(self.run_id)
        kill_tree(self.run_pid)
        if run is not None and not run.is_finished:
            instance.report_run_canceled(
                run, message=f"The run did not stop within {KILL_AFTER_S:.0f} s of the cancel request; its process was killed."
            )


@signals.worker_init.connect
def warm_up(**_: Any) -> None:
    """Open and close the instance once in the worker's main process, before it forks its pool processes.

    A process's first instance imports its storage's modules (SQLAlchemy, alembic and its plugins) and reads
    the schema's migrations: ~1.8 s on a quiet 2-core machine, which every run paid again in its fresh pool
    process between being handed to the worker and starting. Paid here once, a run's process inherits the
    modules and opens its instance in ~0.2 s (README, bench-batch). The instance is disposed before any
    fork: no database connection is shared with a run.
    """
    import dagster as dg

    if os.environ.get(WARM_UP_ENV, "1") == "0":
        return
    started = time.monotonic()
    try:
        with dg.DagsterInstance.get() as instance:
            instance.get_runs(limit=1)
    except Exception:  # noqa: BLE001 - a run opens its own instance and reports what is wrong there
        logger.warning("could not open the Dagster instance ahead of runs; each run will open it", exc_info=True)
        return
    logger.info("opened the Dagster instance ahead of runs in %.2f s", time.monotonic() - started)


@signals.worker_process_init.connect
def _own_process_group(**_: Any) -> None:
    """Each pool process leads its own process group (and each run's process its own, see FreshProcessTask).

    A Ctrl-C meant for the worker then reaches only the worker (which stops taking runs and lets the
    current one finish), and killing a run's group leaves nothing of it behind.
    """
    os.setpgid(0, 0)

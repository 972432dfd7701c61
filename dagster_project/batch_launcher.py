"""A run launcher that keeps one run worker warm: the next product's process is already loaded.

Dagster's default launcher spawns a fresh Python process for every run; it
imports dagster and the code location before the first stage starts (about
3 s per product on two cores, most of a batch's orchestration overhead). This
launcher starts the worker for the next run ahead of time, with dagster and
`preload_modules` already imported, and hands it the run when the queue
dequeues it; then it warms the following one. Runs still execute one process
per run through the body of Dagster's own `dagster api execute_run` (a private
function: pinned dagster 1.13), so run monitoring and logs behave as with
the default launcher. Cancellation goes further than the default launcher's
single interrupt, which the in-process executor can turn into a step retry
(see `terminate`).

Opt-in, in dagster.yaml:

    run_launcher:
      module: dagster_project.batch_launcher
      class: WarmWorkerRunLauncher
      config:
        preload_modules: [dagster_project.definitions]

Caveat: a warm worker holds the code as it was when it started; after editing
the code, reload the code location *and* restart the daemon (or let one run go
by) so no run uses the old code.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Mapping, Sequence

from dagster import Field, _check as check
from dagster._core.instance import DagsterInstance
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

logger = logging.getLogger(__name__)

PID_TAG = "batch_video/worker_pid"

# Runs in the warm worker: import everything and open the instance, then wait for
# one run id on stdin and execute it as `dagster api execute_run` would (same body).
WORKER_CODE = """
import importlib, sys
from dagster._cli.api import _execute_run_command_body
from dagster._core.instance import DagsterInstance
from dagster._serdes import deserialize_value
from dagster._utils.interrupts import capture_interrupts
for name in {preload!r}:
    importlib.import_module(name)
with capture_interrupts():
    with DagsterInstance.from_ref(deserialize_value(sys.stdin.readline())) as instance:
        run_id = sys.stdin.readline().strip()
        if run_id:
            sys.exit(_execute_run_command_body(run_id, instance, lambda event: None, True))
"""
# Let a run start alone before the next worker loads (both would fight for the two cores).
WARM_UP_DELAY_S = 3.0
# A canceled run is interrupted this often until it stops, and its worker killed if it has not stopped by then.
INTERRUPT_EVERY_S = 0.5
KILL_AFTER_S = 20.0


def worker_argv(preload_modules: Sequence[str], python: str | None = None) -> list[str]:
    return [python or sys.executable, "-c", WORKER_CODE.format(preload=list(preload_modules))]


class WarmWorkerRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(self, preload_modules: Sequence[str] = (), inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self.preload_modules = list(preload_modules)
        self._lock = threading.Lock()
        self._warm: subprocess.Popen | None = None
        self._running: dict[str, subprocess.Popen] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"preload_modules": Field([str], is_required=False, default_value=[],
                                         description="modules the warm worker imports ahead of its run")}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> "WarmWorkerRunLauncher":
        return cls(preload_modules=config_value.get("preload_modules") or [], inst_data=inst_data)

    # -- workers -------------------------------------------------------------

    def _spawn(self) -> subprocess.Popen:
        # Own session: a Ctrl-C in the daemon's terminal does not reach a running product.
        worker = subprocess.Popen(worker_argv(self.preload_modules), stdin=subprocess.PIPE, start_new_session=True)
        assert worker.stdin is not None
        worker.stdin.write((serialize_value(self._instance.get_ref()) + "\n").encode())
        worker.stdin.flush()
        return worker

    def _warm_up(self) -> None:
        with self._lock:
            if self._warm is None or self._warm.poll() is not None:
                self._warm = self._spawn()

    def _take_worker(self) -> subprocess.Popen:
        worker, self._warm = self._warm, None
        if worker is None or worker.poll() is not None:
            worker = self._spawn()
        return worker

    def _reap(self) -> None:
        for run_id, worker in list(self._running.items()):
            if worker.poll() is not None:
                del self._running[run_id]

    # -- RunLauncher -------------------------------------------------------------

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        check.not_none(run.job_code_origin, "run has no code origin")
        with self._lock:
            self._reap()
            worker = self._take_worker()
            assert worker.stdin is not None
            worker.stdin.write((run.run_id + "\n").encode())
            worker.stdin.close()
            self._running[run.run_id] = worker
            self._instance.add_run_tags(run.run_id, {PID_TAG: str(worker.pid)})
        # The next worker loads while this run works, ready when the queue dequeues the next product.
        timer = threading.Timer(WARM_UP_DELAY_S, self._warm_up)
        timer.daemon = True
        timer.start()

    def _pid(self, run_id: str) -> int | None:
        run = self._instance.get_run_by_id(run_id)
        raw = run.tags.get(PID_TAG) if run else None
        return int(raw) if raw and raw.isdigit() else None

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        pid = self._pid(run_id)
        if not run or run.is_finished or pid is None:
            return False
        self._instance.report_run_canceling(run)
        if not interrupt(pid):
            return False
        threading.Thread(target=self._see_cancel_through, args=(self._reopen_instance(), run_id, pid),
                         name=f"cancel-{run_id[:8]}", daemon=True).start()
        return True

    def _reopen_instance(self) -> Any:
        # The caller's instance (a sensor's, a GraphQL request's) may be closed as soon as terminate
        # returns; the thread that sees the cancel through keeps its own.
        return DagsterInstance.from_ref(self._instance.get_ref())

    def _see_cancel_through(self, instance: Any, run_id: str, pid: int) -> None:
        """Interrupt the run until it stops; kill its worker if it will not.

        The run worker turns SIGINT into a clean cancellation, except that with the in-process
        executor an interrupt landing inside a step that has a RetryPolicy becomes a retry of that
        step (dagster-io/dagster#15026) and the run goes on. An interrupt landing between steps
        (e.g. while that retry waits) stops the run as canceled, so keep interrupting.
        """
        try:
            deadline = time.monotonic() + KILL_AFTER_S
            while time.monotonic() < deadline:
                time.sleep(INTERRUPT_EVERY_S)
                run = instance.get_run_by_id(run_id)
                if run is None or run.is_finished or not interrupt(pid):
                    break
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                return
            try:
                os.killpg(pid, signal.SIGKILL)  # the worker leads its own process group, ffmpeg included
            except ProcessLookupError:
                pass
            instance.report_run_canceled(
                run, message=f"Run worker (pid {pid}) did not stop within {KILL_AFTER_S:.0f} s of the cancel request; killed it."
            )
        except Exception:
            logger.exception("seeing the cancellation of run %s through failed", run_id)
        finally:
            instance.dispose()

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: Any) -> CheckRunHealthResult:
        with self._lock:
            self._reap()
            worker = self._running.get(run.run_id)
        if worker is not None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        pid = self._pid(run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no worker pid recorded")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"run worker (pid {pid}) is gone")
        except PermissionError:
            pass
        return CheckRunHealthResult(WorkerStatus.RUNNING)

    def dispose(self) -> None:
        with self._lock:
            if self._warm is not None and self._warm.poll() is None:
                self._warm.kill()
                self._warm.wait()
            self._warm = None


def interrupt(pid: int) -> bool:
    """SIGINT to a run worker; False when it is gone."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    return True

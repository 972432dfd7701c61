"""The warm-worker launcher's pieces that run without a daemon (the batch e2e tests run it for real)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import SimpleNamespace

from dagster_project import batch_launcher
from dagster_project.batch_launcher import PID_TAG, WORKER_CODE, WarmWorkerRunLauncher, worker_argv


def test_worker_code_compiles_with_the_preload_list():
    argv = worker_argv(["dagster_project.definitions"], python="/usr/bin/python3")
    assert argv[:2] == ["/usr/bin/python3", "-c"]
    compile(argv[2], "<warm worker>", "exec")
    assert "'dagster_project.definitions'" in argv[2]


def test_config_reads_preload_modules():
    launcher = WarmWorkerRunLauncher.from_config_value(None, {"preload_modules": ["a.b"]})
    assert launcher.preload_modules == ["a.b"] and launcher.supports_check_run_worker_health
    assert "preload_modules" in WarmWorkerRunLauncher.config_type()
    assert "{preload!r}" in WORKER_CODE


class StubbornRunInstance:
    """The launcher's view of an instance whose run never reports finished (its worker ignores SIGINT)."""

    def __init__(self, pid: int) -> None:
        self.run = SimpleNamespace(run_id="r1", is_finished=False, tags={PID_TAG: str(pid)})
        self.reported: list[str] = []

    def get_run_by_id(self, run_id):
        return self.run

    def report_run_canceling(self, run, message=None):
        self.reported.append("canceling")

    def report_run_canceled(self, run, message=None):
        self.reported.append(f"canceled: {message}")
        self.run.is_finished = True

    def dispose(self):
        self.reported.append("disposed")


class LauncherOverStub(WarmWorkerRunLauncher):
    def _reopen_instance(self):
        return self._instance


def test_a_worker_that_keeps_running_is_interrupted_repeatedly_then_killed(monkeypatch, tmp_path):
    monkeypatch.setattr(batch_launcher, "INTERRUPT_EVERY_S", 0.1)
    monkeypatch.setattr(batch_launcher, "KILL_AFTER_S", 3.0)
    counter = tmp_path / "interrupts"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER_IGNORING_INTERRUPTS, str(counter)], start_new_session=True,
        stdout=subprocess.PIPE, text=True,
    )
    assert worker.stdout.readline().strip() == "ready"
    instance = StubbornRunInstance(worker.pid)
    launcher = LauncherOverStub()
    launcher.register_instance(instance)

    assert launcher.terminate("r1") is True
    worker.wait(timeout=300)  # a generous ceiling: the kill comes 3 s after the cancel
    assert worker.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 300
    while len(instance.reported) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.reported[0] == "canceling" and "did not stop within 3 s" in instance.reported[1]
    assert instance.reported[2] == "disposed"
    # Interrupted again and again before the kill. Not "about 30 times": signals sent while the worker waits
    # for a busy core merge into one, so only "more than once" holds on any machine.
    assert counter.read_text().count("SIGINT\n") >= 2


WORKER_IGNORING_INTERRUPTS = """
import signal, sys, time
def note(*_):
    with open(sys.argv[1], "a") as log:
        log.write("SIGINT\\n")
signal.signal(signal.SIGINT, note)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

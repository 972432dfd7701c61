"""CPU seconds by role during a time window, sampled from /proc: where a batch's CPU went beside the renders.

On a 2-core machine every CPU-second the control plane spends while a product renders is taken from the render
(ffmpeg and the frame generator use both cores). The benches sample every process's CPU time a few times a second
and sum it by role inside the batch's wall time (first run start to last run end), for the plain renders too:

    renders        ffmpeg, ffprobe, espeak-ng (the same work in both)
    stages         the process that runs the stages: a run's process, or the plain `batch-video render`
    daemon         dagster-daemon (run queue, backfills, sensors' side, run monitoring)
    code_server    `dagster api grpc` (sensor and schedule evaluation)
    webserver      dagster-webserver
    run_worker     the Celery run worker and its pool process (broker polling, the cancel guard)
    bench          the bench itself (its own polling and this sampler)
    other          anything else on the machine (other jobs: the machine is shared)

Linux only (/proc). Pure accounting (`cpu_by_role`) is separate from reading /proc, so it is tested on made-up samples.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("renders", "stages", "daemon", "code_server", "webserver", "run_worker", "bench", "other")
RENDER_COMMANDS = ("ffmpeg", "ffprobe", "espeak-ng", "espeak")


@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it. (pid, start) alone identifies it: pids are reused, and a process's title
    (PostgreSQL's backends rewrite theirs with every query) and parent (reparented when its parent ends) change."""

    pid: int
    start: int  # clock ticks after boot
    ppid: int = field(compare=False)
    comm: str = field(compare=False)
    cmdline: str = field(compare=False)


def read_proc(root: Path = Path("/proc")) -> dict[Proc, float]:
    """Every process now, with its CPU seconds so far (user + system)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[Proc, float] = {}
    for entry in os.scandir(root):
        if not entry.name.isdigit():
            continue
        try:
            stat = (Path(entry.path) / "stat").read_text()
            cmdline = (Path(entry.path) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone meanwhile
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()  # from field 3 (state) on
        proc = Proc(int(entry.name), int(fields[19]), int(fields[1]), comm, cmdline)
        found[proc] = (int(fields[11]) + int(fields[12])) / tick
    return found


def role_of(proc: Proc, *, render_parents: set[int], bench_pid: int) -> str:
    """The role of a process (see the module's table); `render_parents` are the pids that started a render command."""
    if proc.pid == bench_pid:
        return "bench"
    if proc.comm in RENDER_COMMANDS:
        return "renders"
    if proc.pid in render_parents:
        return "stages"
    cmd = proc.cmdline
    if "dagster-daemon" in cmd or "cued_daemon.py" in cmd:
        return "daemon"
    if "dagster api grpc" in cmd or "dagster code-server" in cmd:
        return "code_server"
    if "dagster-webserver" in cmd or "dagster dev" in cmd:
        return "webserver"
    if "celery" in cmd and "dagster_project.run_worker" in cmd:
        return "run_worker"
    return "other"


def cpu_by_role(series: dict[Proc, list[tuple[float, float]]], t0: float, t1: float, *, bench_pid: int) -> dict[str, float]:
    """CPU seconds each role used between t0 and t1, from (time, cpu seconds so far) samples per process.

    A process first seen after t0 started after it: all its CPU up to t1 counts. One that started before counts
    from its last sample at or before t0. Its last sample at or before t1 ends it (a process that ended between two
    samples loses what it used after the last one: a quarter of a second at most)."""
    render_parents = {proc.ppid for proc in series if proc.comm in RENDER_COMMANDS}
    used: dict[str, float] = defaultdict(float)
    for proc, samples in series.items():
        before = [cpu for t, cpu in samples if t <= t0]
        until = [cpu for t, cpu in samples if t <= t1]
        if not until:
            continue
        start = before[-1] if before else 0.0
        if until[-1] > start:
            used[role_of(proc, render_parents=render_parents, bench_pid=bench_pid)] += until[-1] - start
    return {role: round(used.get(role, 0.0), 1) for role in ROLES}


class CpuSampler:
    """Samples every process's CPU time every `interval_s` in a thread, until `stop`; then `by_role(t0, t1)`.

    Entering waits for the first pass, so a window starting after that has a sample before it for every process
    already running (one without counts whole, as started inside the window: a window opened before the first
    pass would count the whole lifetime of every process on the machine)."""

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.series: dict[Proc, list[tuple[float, float]]] = defaultdict(list)
        self._done = threading.Event()
        self._first_pass = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="cpu-sampler", daemon=True)

    def __enter__(self) -> "CpuSampler":
        self._thread.start()
        self._first_pass.wait(timeout=30)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            now = time.time()
            for proc, cpu in read_proc().items():
                self.series[proc].append((now, cpu))
            self._first_pass.set()
            if self._done.wait(self.interval_s):
                return

    def by_role(self, t0: float, t1: float) -> dict[str, float]:
        return cpu_by_role(self.series, t0, t1, bench_pid=os.getpid())

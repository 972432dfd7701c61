"""CPU by role: the accounting on made-up samples, and the sampler on a real busy process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from scripts.cpu_roles import CpuSampler, Proc, cpu_by_role, role_of

BENCH = 100


def proc(pid, comm, cmdline="", ppid=1):
    return Proc(pid=pid, start=pid * 10, ppid=ppid, comm=comm, cmdline=cmdline)


def test_processes_get_their_role_from_what_they_run_and_what_they_started():
    run = proc(7, "python", "python -m celery -A dagster_project.run_worker worker -n local@%h")
    pool = proc(6, "python", "python -m celery -A dagster_project.run_worker worker -n local@%h")
    assert role_of(run, render_parents={7}, bench_pid=BENCH) == "stages"  # a run's process: it started ffmpeg
    assert role_of(pool, render_parents={7}, bench_pid=BENCH) == "run_worker"
    assert role_of(proc(8, "ffmpeg", "ffmpeg -i x"), render_parents=set(), bench_pid=BENCH) == "renders"
    assert role_of(proc(9, "espeak-ng"), render_parents=set(), bench_pid=BENCH) == "renders"
    assert role_of(proc(10, "python", "python scripts/cued_daemon.py run -w w.yaml"), render_parents=set(), bench_pid=BENCH) == "daemon"
    assert role_of(proc(11, "dagster-daemon", "python /v/bin/dagster-daemon run"), render_parents=set(), bench_pid=BENCH) == "daemon"
    assert role_of(proc(12, "python", "python /v/bin/dagster api grpc -m dagster_project.definitions"),
                   render_parents=set(), bench_pid=BENCH) == "code_server"
    assert role_of(proc(13, "python", "python /v/bin/dagster-webserver -w w.yaml"), render_parents=set(), bench_pid=BENCH) == "webserver"
    assert role_of(proc(BENCH, "python", "python scripts/bench_scale.py"), render_parents=set(), bench_pid=BENCH) == "bench"
    assert role_of(proc(14, "postgres", "postgres: writer"), render_parents=set(), bench_pid=BENCH) == "other"


def test_only_the_cpu_used_inside_the_window_counts():
    daemon = proc(10, "python", "python /v/bin/dagster-daemon run")
    ffmpeg = proc(20, "ffmpeg", "ffmpeg -i x", ppid=30)
    stages = proc(30, "python", "python /v/bin/batch-video render --product all")
    late = proc(40, "python", "python /v/bin/dagster-webserver")
    series = {
        # Started long before the window: 5 s of CPU before it, 2 s inside, 9 s after.
        daemon: [(0.0, 5.0), (10.0, 5.0), (15.0, 6.0), (20.0, 7.0), (25.0, 16.0)],
        # Started inside the window, ended inside it: all of its CPU counts.
        ffmpeg: [(12.0, 1.0), (18.0, 8.0)],
        stages: [(9.0, 1.0), (20.0, 4.0)],
        # First seen after the window: none of it counts.
        late: [(21.0, 3.0)],
    }
    used = cpu_by_role(series, 10.0, 20.0, bench_pid=BENCH)
    assert used["daemon"] == 2.0
    assert used["renders"] == 8.0
    assert used["stages"] == 3.0  # the parent of an ffmpeg is a stage process
    assert used["webserver"] == 0.0
    assert set(used) == {"renders", "stages", "daemon", "code_server", "webserver", "run_worker", "bench", "other"}


def test_the_sampler_sees_a_busy_process_use_cpu_and_a_sleeping_one_use_none():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n"
    with CpuSampler(interval_s=0.05) as sampler:
        start = time.time()
        busy = subprocess.Popen([sys.executable, "-c", burn + "time.sleep(0.3)"])
        idle = subprocess.Popen(["sleep", "1"])
        busy.wait(), idle.wait()
        end = time.time()
    cpu = {p.pid: samples[-1][1] - samples[0][1] if samples[0][0] <= start else samples[-1][1]
           for p, samples in sampler.series.items() if p.pid in (busy.pid, idle.pid)}
    assert cpu[busy.pid] >= 0.5  # it burned 0.6 s; sampled while it slept after
    assert cpu[idle.pid] < 0.05
    assert sampler.by_role(start, end)["other"] >= 0.5


def test_a_process_that_retitles_itself_is_still_one_process():
    # PostgreSQL's backends rewrite their title with every query: taken for a new process, one counted its whole
    # lifetime CPU (29 CPU-s in a 0.3 s window, in the CI run that caught it).
    before = Proc(pid=50, start=500, ppid=1, comm="postgres", cmdline="postgres: app db idle")
    after = Proc(pid=50, start=500, ppid=1, comm="postgres", cmdline="postgres: app db SELECT")
    series = {}
    for t, cpu, seen in ((0.0, 100.0, before), (10.0, 100.5, after), (20.0, 101.0, after)):
        series.setdefault(seen, []).append((t, cpu))
    assert len(series) == 1
    assert cpu_by_role(series, 5.0, 20.0, bench_pid=BENCH)["other"] == 1.0


def test_a_window_opened_right_after_entering_counts_nothing_of_what_ran_before():
    # Entering waits for the first pass: every process already running has a sample at or before the window's start.
    # Before, a window opened at once counted the whole lifetime CPU of the machine's processes as "other".
    with CpuSampler(interval_s=0.05) as sampler:
        start = time.time()
        time.sleep(0.3)
        end = time.time()
    used = sampler.by_role(start, end)
    # At most every core busy for the window (and a sampling pass's reading time on each side): not hours of uptime.
    assert sum(used.values()) < (end - start + 0.3) * os.cpu_count()

"""The one runner for external programs: errors with stderr, deadlines, kills, and a minimal environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from batch_video import runner
from batch_video.errors import ProgramError, ProgramTimeout
from tests.batch_video.conftest import interrupt_this_process


def test_a_failing_command_raises_with_its_stderr(tmp_path):
    with pytest.raises(ProgramError) as err:
        runner.run(["ffmpeg", "-hide_banner", "-i", str(tmp_path / "missing.wav"), "-f", "null", "-"], timeout_s=60)
    assert "missing.wav" in err.value.stderr and "missing.wav" in str(err.value)
    assert not err.value.retryable and err.value.argv[0] == "ffmpeg"


def test_check_false_returns_the_exit_code_stdout_and_stderr():
    done = runner.run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                      timeout_s=60, check=False)
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (3, b"out", "err")


def test_a_missing_program_is_named():
    with pytest.raises(ProgramError, match="no-such-program-here is not installed"):
        runner.run(["no-such-program-here", "--version"], timeout_s=5)


def test_a_command_past_its_deadline_is_killed_and_may_be_retried(started_processes):
    with pytest.raises(ProgramTimeout) as err:
        runner.run(["sleep", "30"], timeout_s=0.5, stage="render")
    assert err.value.retryable and err.value.stage == "render" and "timed out after" in str(err.value)
    assert started_processes[0].returncode == -signal.SIGKILL  # killed at its deadline, not waited for


def test_an_interrupt_while_waiting_kills_the_command(sigint_raises_keyboard_interrupt, when_started, started_processes):
    # A canceled run's SIGINT arrives as an exception in the main thread, wherever it is waiting.
    child_started = threading.Event()
    when_started.append(child_started.set)

    def interrupt_once_started() -> None:
        if child_started.wait(timeout=600):
            interrupt_this_process()

    threading.Thread(target=interrupt_once_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        runner.run(["sleep", "30"], timeout_s=None)
    assert len(started_processes) == 1 and started_processes[0].returncode == -signal.SIGKILL


def test_an_interrupt_while_the_command_starts_still_kills_it(sigint_raises_keyboard_interrupt, when_started,
                                                               started_processes):
    # The interrupt lands inside Popen, after the fork: the child exists, but the runner does not hold it yet.
    when_started.append(interrupt_this_process)
    with pytest.raises(KeyboardInterrupt):
        runner.run(["sleep", "30"], timeout_s=None)
    assert len(started_processes) == 1 and started_processes[0].returncode == -signal.SIGKILL


def test_an_ignored_interrupt_stays_ignored_while_a_command_starts(when_started, started_processes):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        when_started.append(interrupt_this_process)
        assert runner.run(["true"], timeout_s=60).returncode == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def process_state(pid: int) -> str:
    """The kernel's one-letter state of a process ('Z': dead, not yet reaped), or '' when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_command_dies_with_the_process_that_started_it_even_under_kill_9():
    # A run process killed alone (the OOM killer) has no chance to kill its ffmpeg: the kernel must.
    parent = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom batch_video import runner\n"
         "with runner.started(['sleep', '120']) as proc:\n    print(proc.pid, flush=True)\n    time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        child = int(parent.stdout.readline())
        assert process_state(child) not in ("", "Z")
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 300  # a generous ceiling: the kernel's signal comes at once
        while process_state(child) not in ("", "Z"):
            assert time.monotonic() < deadline, f"sleep {child} outlived its killed parent"
            time.sleep(0.1)
    finally:
        parent.kill()
        parent.wait()


def test_ffmpeg_progress_is_reported(tmp_path):
    seen = []
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=3",
            "-progress", "pipe:1", "-y", str(tmp_path / "out.mkv")]
    runner.run(argv, timeout_s=120, progress=lambda done, total: seen.append((done, total)), total_frames=30)
    assert seen and all(total == 30 and 0 <= done <= 30 for done, total in seen)


def test_children_inherit_no_secrets(monkeypatch):
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-role-secret")
    monkeypatch.setenv("SUPABASE_URL", "https://example.supabase.co")
    monkeypatch.setenv("BATCH_VIDEO_AI_API_KEY", "ai-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:pw@db/x")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = runner.run(["env"], timeout_s=60).stdout.decode()
    names = {line.split("=", 1)[0] for line in env.splitlines() if "=" in line}
    assert "PATH" in names and "LC_ALL" in names
    assert not names & {"SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_URL", "BATCH_VIDEO_AI_API_KEY", "DATABASE_URL"}
    assert "secret" not in env


def test_the_child_environment_is_an_allow_list():
    env = runner.child_environment({"PATH": "/bin", "LANG": "ro_RO.UTF-8", "LC_CTYPE": "C", "HOME": "/root",
                                    "SUPABASE_KEY": "k", "AWS_SECRET_ACCESS_KEY": "s", "DAGSTER_HOME": "/d"})
    assert env == {"PATH": "/bin", "LANG": "ro_RO.UTF-8", "LC_CTYPE": "C", "HOME": "/root"}
    assert runner.child_environment({})["PATH"] == runner.DEFAULT_PATH


def test_the_last_frame_of_an_encode_shorter_than_a_poll_is_reported(tmp_path):
    # The loop only looks between polls: an encode that ended before the first one used to report nothing at all
    # (a CI run caught test_ffmpeg_progress_is_reported so). Its final count is now reported once read.
    seen = []
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "color=c=red:size=16x16:rate=10:duration=0.1",
            "-progress", "pipe:1", "-y", str(tmp_path / "out.mkv")]
    runner.run(argv, timeout_s=120, progress=lambda done, total: seen.append((done, total)), total_frames=1)
    assert seen and seen[-1] == (1, 1)

"""The one runner for external programs: errors with stderr, deadlines, kills, and a minimal environment."""

from __future__ import annotations

import _thread
import sys
import threading
import time

import pytest

from batch_video import runner
from batch_video.errors import ProgramError, ProgramTimeout


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
    started = time.monotonic()
    with pytest.raises(ProgramTimeout) as err:
        runner.run(["sleep", "30"], timeout_s=0.5, stage="render")
    assert time.monotonic() - started < 20
    assert err.value.retryable and err.value.stage == "render" and "timed out after" in str(err.value)
    assert started_processes[0].poll() is not None


def test_an_interrupt_while_waiting_kills_the_command(started_processes):
    # A canceled run's SIGINT arrives as an exception in the main thread, wherever it is waiting.
    threading.Timer(0.3, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        runner.run(["sleep", "30"], timeout_s=None)
    assert started_processes[0].poll() is not None


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

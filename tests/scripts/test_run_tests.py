"""`make test` says what it did not test: a service that cannot start stops it, and a skip is never silent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALIGNMENT_TESTS = "tests/batch_video/test_tts_alignment.py"


def test_a_test_postgresql_that_cannot_start_stops_the_run_before_any_test(tmp_path):
    ran = tmp_path / "pytest-ran"
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\ntouch {ran}\n")
    fake_python.chmod(0o755)
    env = {**os.environ, "PY": str(fake_python), "BATCH_VIDEO_TEST_PG_DIR": "/dev/null/no-such-folder"}
    done = subprocess.run([str(REPO / "scripts" / "run_tests.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "the test PostgreSQL did not start" in done.stderr and "no tests were run" in done.stderr
    assert not ran.exists()


def run_alignment_tests_without_libespeak(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """The alignment tests in a pytest where libespeak-ng cannot be loaded."""
    (tmp_path / "without_libespeak.py").write_text(
        "from batch_video.tts import espeak_lib\nespeak_lib.available = lambda: False\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "without_libespeak", ALIGNMENT_TESTS, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )


def test_without_libespeak_only_the_library_comparison_skips_and_the_summary_says_why(tmp_path):
    done = run_alignment_tests_without_libespeak(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    summary = done.stdout.splitlines()
    assert any(line.startswith("[suite] skipped 1: 1 x libespeak-ng.so.1 is not loadable") for line in summary), done.stdout
    assert any(line.startswith("[suite] wall time ") and "4 passed" in line for line in summary), done.stdout


def test_no_skips_turns_a_skip_into_a_failure_that_says_what_is_missing(tmp_path):
    done = run_alignment_tests_without_libespeak(tmp_path, "--no-skips")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "--no-skips" in done.stdout and "libespeak-ng.so.1 is not loadable" in done.stdout
    assert "4 passed" in done.stdout

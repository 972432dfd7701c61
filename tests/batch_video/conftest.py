"""Domain-library test fixtures."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from batch_video import runner


@pytest.fixture
def when_started() -> list[Callable[[], None]]:
    """Called right after each start, before the runner has the process back (as if inside `Popen`)."""
    return []


@pytest.fixture
def started_processes(monkeypatch, when_started) -> list[subprocess.Popen]:
    """Every process the one runner starts during the test, to check none outlives an error or interrupt."""
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        for hook in when_started:
            hook()
        return started[-1]

    monkeypatch.setattr(runner.subprocess, "Popen", popen)
    return started


@pytest.fixture
def sigint_raises_keyboard_interrupt():
    """Python's own SIGINT handling for this test, however pytest was started.

    A shell starts a background job (`make test > log &`, nohup, many CI runners) with SIGINT ignored, and Python
    then installs no handler: an interrupt would do nothing. A run worker always has one (Dagster's).
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_this_process() -> None:
    os.kill(os.getpid(), signal.SIGINT)  # what a canceled run's worker receives


@pytest.fixture(scope="module")
def tiny_media(tmp_path_factory) -> tuple[Path, Path]:
    """A half-second 64x64 video and a 32x32 poster, made by ffmpeg once per module."""
    folder = tmp_path_factory.mktemp("media")
    video, poster = folder / "video.mp4", folder / "poster.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=red:s=64x64:d=0.5:r=10",
                    "-pix_fmt", "yuv420p", str(video)], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=blue:s=32x32", "-frames:v", "1",
                    str(poster)], check=True)
    return video, poster

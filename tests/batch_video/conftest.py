"""Domain-library test fixtures."""

from __future__ import annotations

import subprocess

import pytest

from batch_video import runner


@pytest.fixture
def started_processes(monkeypatch) -> list[subprocess.Popen]:
    """Every process the one runner starts during the test, to check none outlives an error or interrupt."""
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(runner.subprocess, "Popen", popen)
    return started

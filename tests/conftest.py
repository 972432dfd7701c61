"""Shared fixtures: every test gets its own data folder and no leaked BATCH_VIDEO_* settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("BATCH_VIDEO_") and name != "BATCH_VIDEO_TEST_PG_DSN":
            monkeypatch.delenv(name)
    monkeypatch.setenv("BATCH_VIDEO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BATCH_VIDEO_OUTPUT_DIR", str(tmp_path / "output"))
    yield

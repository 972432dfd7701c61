"""Debian's Chromium driven by Playwright, for the browser tests (Playwright's own browser download is not used)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
# Found the way scripts/install_system_deps.sh --test decides whether to install it: `chromium` on PATH.
CHROMIUM = os.environ.get("BATCH_VIDEO_CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM or not Path(CHROMIUM).exists(),
    reason="no `chromium` on PATH (make test-deps installs it; or set BATCH_VIDEO_CHROMIUM)",
)


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

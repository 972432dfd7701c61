"""`make bench-scale` end to end on a tiny catalog (`--smoke`), so the bench cannot rot between its real runs.

Every phase runs as in the 10,000-product bench, on SQLite and PostgreSQL: feed sync, submission, the status
scene's real runs, `batch status` and the grid, cancel, the per-product guarantees (three products rendered for
real), the backends' submission side by side and the feed sensor's tick. Only the figures' sizes are tiny.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import service_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_bench_scale_smoke_runs_every_phase_and_prints_its_figures(tmp_path):
    out = tmp_path / "scale"
    # The test PostgreSQL make test started (its server cannot read pytest's private tmp folders).
    postgres = service_url("BATCH_VIDEO_TEST_PG_DSN", "scripts/start_test_postgres.sh")
    # A generous ceiling for a loaded 2-core machine, not a target: the smoke run takes a few minutes.
    done = subprocess.run([sys.executable, "scripts/bench_scale.py", "--smoke", "--out", str(out), "--postgres-dsn", postgres], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures == json.loads((out / "results.json").read_text())
    assert figures["smoke"] is True and figures["products"] == 20

    control = figures["control_plane"]
    assert control["scene"]["failed"] == 1 and control["scene"]["published"] == 1
    assert control["status_rows"] == 21  # every product and the sample's broken one
    assert control["status_error"] == ""
    assert control["guarantees"]["retried"] == ["parf-trandafir-50"]
    for backend in ("sqlite", "postgres"):
        assert figures["backends"][backend]["queued"] == figures["backends"]["products"]
        assert figures["backends"][backend]["submission_rate_runs_per_s"] > 0
    assert 0 < figures["sensor"]["run_requests"] <= figures["sensor"]["changed"]
    assert set(figures["targets_met"]) == {
        "all_queued_within_10_min", "status_within_5_s", "grid_query_within_5_s", "per_product_guarantees_hold",
        "sensor_tick_within_30_s"}
    assert figures["targets_met"]["per_product_guarantees_hold"] is True

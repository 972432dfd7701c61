"""A run worker opens the instance once before it forks its pool: runs start warm and share no connection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: what `celery -A dagster_project.run_worker worker` does before forking its pool.
WORKER_START = """
import json, os, sys
from celery import signals
import dagster_project.run_worker
before = "alembic" in sys.modules
signals.worker_init.send(sender=None)
home = os.environ["DAGSTER_HOME"]
open_files = []
for fd in os.listdir("/proc/self/fd"):
    try:
        open_files.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass  # the listing's own descriptor, closed by now
print(json.dumps({"storage_modules_before": before, "storage_modules_after": "alembic" in sys.modules,
                  "instance_files_open": [f for f in open_files if f.startswith(home)]}))
"""


def test_the_worker_imports_the_instance_storage_before_forking_and_keeps_no_database_open(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "deploy" / "local" / "dagster.yaml").read_text())
    done = subprocess.run([sys.executable, "-c", WORKER_START], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state == {"storage_modules_before": False, "storage_modules_after": True, "instance_files_open": []}
    assert (home / "history" / "runs.db").exists(), "the instance was opened (its run storage created)"

"""`make dev`: the Dagster UI on http://127.0.0.1:3000 with the `local` profile's run worker, until Ctrl-C.

`dagster dev` (webserver, daemon, code server) and the Celery run worker that
executes the runs (deploy/local/dagster.yaml), on the repo-local instance
($DAGSTER_HOME, default .dagster_home). Logs: $DAGSTER_HOME/dagster-dev.log and
$DAGSTER_HOME/worker-local.log. After changing the code, restart it so the
worker loads the new code.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from scripts.local_dagster import LocalDagster

    home = Path(os.environ.get("DAGSTER_HOME", ROOT / ".dagster_home"))
    port = int(os.environ.get("BATCH_VIDEO_DEV_PORT", "3000"))
    server = LocalDagster(home, port=port)
    print(f"starting dagster dev and {len(server.workers)} run worker(s) (logs in {home})...", flush=True)
    with server as client:
        print(f"Dagster UI: {client.url} (Ctrl-C stops it)", flush=True)
        try:
            while server.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping...")
    return 0


if __name__ == "__main__":
    sys.exit(main())

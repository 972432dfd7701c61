"""dagster-celery's CeleryRunLauncher, with a cancel that Dagster records as a cancel, and an embedded broker.

`CeleryRunLauncher.terminate` revokes the run's Celery task (the worker sends
SIGTERM to the process running it) but does not mark the run CANCELING as
Dagster's default launcher does, so the run worker takes the interrupt for an
unexpected one and reports a failure; and it raises for a run whose task id is
not recorded yet. This subclass marks the run CANCELING first (the run worker,
see `dagster_project.run_worker`, then interrupts the run until it stops) and
answers False for a run it cannot stop.

It also refuses to start a run whose batch (backfill) was canceled: the backfill
daemon looks for a cancel only between chunks of 25 runs it submits
(`DAGSTER_ASSET_BACKFILL_RUN_CHUNK_SIZE`), so runs it queues after the cancel
would otherwise be started by the run queue before anything cancels them.

The `local` profile needs no server: its broker is kombu's filesystem
transport (`batchfs://`, see `embedded_broker`), whose folders (under `$BATCH_VIDEO_CELERY_FOLDER`, default
`$DAGSTER_HOME/celery`) both the launcher and the workers derive from the
environment here. Everything else (launching, health checks, resuming,
config schema) is dagster-celery's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from dagster_project import embedded_broker  # registers the embedded broker's URL scheme with kombu
from dagster_project.dagster_internals import backfill_is_canceled
from dagster_project.run_tags import BACKFILL_TAG

FOLDER_ENV = "BATCH_VIDEO_CELERY_FOLDER"


EMBEDDED_BROKER = f"{embedded_broker.SCHEME}://"


def embedded_folder() -> Path:
    return Path(os.environ.get(FOLDER_ENV) or Path(os.environ.get("DAGSTER_HOME", ".dagster_home")) / "celery").resolve()


def embedded_backend(broker: str | None, backend: str | None) -> str | None:
    """With the embedded broker, run states go to files beside it (an `rpc://` backend needs a real broker)."""
    if broker == EMBEDDED_BROKER and backend in (None, "", "rpc://"):
        folder = embedded_folder() / "results"
        folder.mkdir(parents=True, exist_ok=True)
        return f"file://{folder}"
    return backend


def embedded_broker_options(broker: str | None) -> dict[str, Any]:
    """Celery settings for the embedded `batchfs://` broker (none for a real broker such as Redis)."""
    if broker != EMBEDDED_BROKER:
        return {}
    paths = {name: embedded_folder() / name for name in ("queue", "control", "processed")}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    return {"broker_transport_options": {
        "data_folder_in": str(paths["queue"]),
        "data_folder_out": str(paths["queue"]),
        "control_folder": str(paths["control"]),
        "processed_folder": str(paths["processed"]),
        "store_processed": False,
        # How often a worker looks for a new run: the floor of the time between two runs.
        "polling_interval": 0.1,
    }}


class BatchCeleryRunLauncher(CeleryRunLauncher):
    def __init__(self, default_queue: str, broker: str | None = None, backend: str | None = None,
                 include: list[str] | None = None, config_source: dict | None = None, inst_data: Any = None) -> None:
        config_source = {**embedded_broker_options(broker), **(config_source or {})}
        super().__init__(default_queue, broker=broker, backend=embedded_backend(broker, backend), include=include,
                         config_source=config_source, inst_data=inst_data)

    def launch_run(self, context: Any) -> None:
        run = context.dagster_run
        backfill_id = run.tags.get(BACKFILL_TAG)
        # The last moment before a run starts: a run of a canceled batch, queued by the daemon after the cancel (it
        # checks once per chunk of runs it submits) or missed by the cancel sensor's pass, is canceled here instead.
        if backfill_id and backfill_is_canceled(self._instance, backfill_id):
            self._instance.report_run_canceled(run, message=f"Not started: its batch (backfill {backfill_id}) was canceled.")
            return
        super().launch_run(context)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or DAGSTER_CELERY_TASK_ID_TAG not in run.tags:
            return False
        if run.status == dg.DagsterRunStatus.STARTING:
            # Still waiting in the broker: the revoke makes the workers discard it, and a worker that
            # picks it up anyway finds it canceled and does not start it.
            super().terminate(run_id)
            self._instance.report_run_canceled(run, message="Canceled before a run worker started it.")
            return True
        self._instance.report_run_canceling(run)
        return super().terminate(run_id)

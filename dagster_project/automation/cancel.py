"""Canceled batches stop within seconds, however they were canceled.

Canceling a backfill (the UI's *Cancel backfill*, or GraphQL) only marks it
CANCELING; the backfill daemon cancels its runs on its next pass, every 30 s,
and meanwhile the run queue keeps starting its products. This sensor does that
part every few seconds: queued runs of a canceling backfill are canceled, the
running one is terminated (the launcher then interrupts it until it stops).
"""

from __future__ import annotations

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG

CANCEL_SENSOR_NAME = "stop_canceled_batches"


def stop_canceled_batch_runs(instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """Cancel the queued runs and terminate the running ones of every canceling backfill; partitions per backfill."""
    stopped: dict[str, list[str]] = {}
    for backfill in instance.get_backfills(filters=BulkActionsFilter(statuses=[BulkActionStatus.CANCELING])):
        runs = instance.get_runs(
            dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill.backfill_id},
                          statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTED])
        )
        for run in runs:
            # The queued-run coordinator cancels a queued run itself and asks the launcher to terminate a started one.
            if instance.run_coordinator.cancel_run(run.run_id):
                stopped.setdefault(backfill.backfill_id, []).append(run.tags.get("dagster/partition", run.run_id))
    return stopped


@dg.sensor(
    name=CANCEL_SENSOR_NAME,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Stops the queued and running products of a canceled batch within seconds, "
    "instead of at the backfill daemon's next pass (every 30 s).",
)
def stop_canceled_batches(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    stopped = stop_canceled_batch_runs(context.instance)
    for backfill_id, keys in stopped.items():
        context.log.info(f"backfill {backfill_id} is canceled: stopped {len(keys)} products: {', '.join(keys)}")
    if not stopped:
        return dg.SkipReason("no canceled batch has products left to stop")
    return dg.SkipReason(f"stopped {sum(map(len, stopped.values()))} products of {len(stopped)} canceled batches")

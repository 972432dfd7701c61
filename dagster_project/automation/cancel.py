"""Canceled batches stop within seconds, however they were canceled.

Canceling a backfill (the UI's *Cancel backfill*, or GraphQL) only marks it
CANCELING; the backfill daemon cancels its runs on its next pass, every 30 s,
and meanwhile the run queue keeps starting its products. This sensor does that
part every few seconds: queued runs of a canceling backfill are canceled, the
running one is terminated (the launcher then interrupts it until it stops).
A run the daemon queues after the cancel, or one this pass misses, is never
started either: the run launcher cancels it at launch (dagster_project/run_launcher.py).
"""

from __future__ import annotations

import time
from typing import Callable

import dagster as dg

from dagster_project.automation.sensor_instance import sensor_instance
from dagster_project.dagster_internals import cancel_run, canceling_backfill_ids
from dagster_project.run_tags import BACKFILL_TAG, PARTITION_TAG

CANCEL_SENSOR_NAME = "stop_canceled_batches"
# How many of a canceled batch's queued runs, next in line, are canceled before its running ones are terminated.
QUEUED_AHEAD = 50
# Seconds of canceling the rest of the queued runs in one tick. An evaluation that runs past Dagster's 60 s sensor
# timeout fails its tick while the code server goes on with it beside the next tick's: a 10,000-run batch's did,
# tick after tick. The next tick (5 s later) goes on where this one stopped.
TICK_BUDGET_S = 20.0
# The most queued runs of one batch a tick reads (and cancels); a big batch's take several ticks.
QUEUED_PER_TICK = 500


def stop_canceled_batch_runs(
    instance: dg.DagsterInstance, *, budget_s: float = TICK_BUDGET_S, clock: Callable[[], float] = time.monotonic
) -> dict[str, list[str]]:
    """Cancel the queued runs and terminate the running ones of every canceling backfill; partitions per backfill.

    Once `budget_s` has passed, it stops before the next queued run beyond the first QUEUED_AHEAD of each batch
    (the running runs are always terminated): the rest are the next call's."""
    deadline = clock() + budget_s
    stopped: dict[str, list[str]] = {}
    for backfill_id in canceling_backfill_ids(instance):
        tags = {BACKFILL_TAG: backfill_id}
        # STARTING: launched, not yet picked up by a run worker (a Celery task waiting in the broker).
        started = instance.get_run_records(
            dg.RunsFilter(tags=tags, statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
        )
        # Oldest first: the ones the queue starts next; only as many as a tick can cancel (reading all of a
        # 10,000-run batch's took 6 s of every tick at load 9, 200 of them 0.7 s).
        queued = instance.get_run_records(
            dg.RunsFilter(tags=tags, statuses=[dg.DagsterRunStatus.QUEUED]), ascending=True, limit=QUEUED_PER_TICK
        )
        # The next queued runs in line are canceled before a running run is terminated: a terminated run frees its
        # slot, and the run queue (checked every second) would start the next queued product before it is canceled.
        records = queued[:QUEUED_AHEAD] + started + queued[QUEUED_AHEAD:]
        for index, record in enumerate(records):
            if index >= QUEUED_AHEAD + len(started) and clock() > deadline:
                break  # the next batch's runs ahead and running ones still get stopped this tick
            run = record.dagster_run
            # The queued-run coordinator cancels a queued run itself and asks the launcher to terminate a started one.
            if cancel_run(instance, run.run_id):
                stopped.setdefault(backfill_id, []).append(run.tags.get(PARTITION_TAG, run.run_id))
    return stopped


@dg.sensor(
    name=CANCEL_SENSOR_NAME,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Stops the queued and running products of a canceled batch within seconds, "
    "instead of at the backfill daemon's next pass (every 30 s).",
)
def stop_canceled_batches(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    stopped = stop_canceled_batch_runs(sensor_instance(context))
    for backfill_id, keys in stopped.items():
        context.log.info(f"backfill {backfill_id} is canceled: stopped {len(keys)} products: {', '.join(keys)}")
    if not stopped:
        return dg.SkipReason("no canceled batch has products left to stop")
    return dg.SkipReason(f"stopped {sum(map(len, stopped.values()))} products of {len(stopped)} canceled batches")

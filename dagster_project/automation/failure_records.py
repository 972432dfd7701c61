"""Every failed product is recorded where apps read video records (key, product id, stage, reason)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import dagster as dg

from batch_video.publish import Generation
from dagster_project.failures import run_started_at
from dagster_project.resources import PublishingResource
from dagster_project.run_tags import BACKFILL_TAG, PARTITION_TAG


def failure_details(run_tags: Mapping[str, str], step_failures: Iterable[Any], run_message: str = "") -> dict[str, str]:
    """(key, product id, stage, message) of a failed run, from our Failure metadata when there is one."""
    key = run_tags.get(PARTITION_TAG, "")
    for event in step_failures:
        data = getattr(event, "step_failure_data", None)
        user = getattr(data, "user_failure_data", None) if data else None
        meta = {k: getattr(v, "value", v) for k, v in (user.metadata if user else {}).items()}
        message = (user.description if user and user.description else "") or (
            data.error.message.strip() if data and data.error else ""
        )
        return {
            "key": str(meta.get("partition_key") or key),
            "product_id": str(meta.get("product_id") or key),
            "stage": str(meta.get("stage") or getattr(event, "step_key", "") or ""),
            "message": message or run_message or "step failed",
        }
    # No step failed: the run process died or was killed (run monitoring marked it failed).
    return {"key": key, "product_id": key, "stage": "run", "message": run_message or "run failed before any stage finished"}


@dg.run_failure_sensor(
    name="record_product_failures",
    description="Records each failed product (key, product id, stage, reason) where apps read video records.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    # Failures are recorded for apps, not raced: a slow tick keeps the daemon off the CPU the renders need.
    minimum_interval_seconds=15,
)
def record_product_failures(context: dg.RunFailureSensorContext, publishing: PublishingResource) -> None:
    run = context.dagster_run
    if PARTITION_TAG not in run.tags:
        return
    details = failure_details(run.tags, context.get_step_failure_events(), context.failure_event.message or "")
    publishing.records().record_failure(
        details["key"],
        details["product_id"],
        details["stage"],
        details["message"],
        run_id=run.run_id,
        backfill_id=run.tags.get(BACKFILL_TAG),
        # A failure of an older run never overwrites the row of a newer one.
        run_started_at=Generation(run.run_id, run_started_at(context.instance, run.run_id)).iso(),
    )
    context.log.info(f"recorded failure of {details['key']} at {details['stage']}")

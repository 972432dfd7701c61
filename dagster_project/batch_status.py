"""Per-product status of a batch (a backfill), read from the Dagster instance."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus

STAGES = ["product_record", "product_image", "voiceover_script", "voiceover_audio", "rendered_video", "published_video"]
BACKFILL_TAG = "dagster/backfill"
PARTITION_TAG = "dagster/partition"

_RUN_STATUS = {
    DagsterRunStatus.QUEUED: "queued",
    DagsterRunStatus.NOT_STARTED: "queued",
    DagsterRunStatus.STARTING: "running",
    DagsterRunStatus.STARTED: "running",
    DagsterRunStatus.CANCELING: "running",
    DagsterRunStatus.SUCCESS: "succeeded",
    DagsterRunStatus.FAILURE: "failed",
    DagsterRunStatus.CANCELED: "canceled",
}


@dataclass
class ProductStatus:
    partition_key: str
    status: str  # queued | running | succeeded | failed | canceled | skipped | not_started
    stage: str = ""  # the last stage reached
    seconds: float | None = None
    video: str = ""
    error: str = ""
    run_id: str = ""
    stage_seconds: float = 0.0  # time spent inside the stages (excludes run start/stop)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def product_statuses(
    instance: dg.DagsterInstance, backfill_id: str, partition_keys: Sequence[str] | None = None
) -> list[ProductStatus]:
    """One row per product of the backfill (latest run per partition wins)."""
    if partition_keys is None:
        backfill = instance.get_backfill(backfill_id)
        partition_keys = list(_backfill_partitions(backfill)) if backfill else []
    records = instance.get_run_records(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
    latest: dict[str, Any] = {}
    for record in sorted(records, key=lambda r: r.create_timestamp):
        key = record.dagster_run.tags.get(PARTITION_TAG)
        if key:
            latest[key] = record
    rows = []
    for key in partition_keys:
        record = latest.get(key)
        if record is None:
            rows.append(ProductStatus(key, "not_started"))
            continue
        rows.append(_status_of_run(instance, key, record))
    return rows


def _status_of_run(instance: dg.DagsterInstance, key: str, record: Any) -> ProductStatus:
    run = record.dagster_run
    status = _RUN_STATUS.get(run.status, run.status.value.lower())
    step_stats = {s.step_key: s for s in instance.get_run_step_stats(run.run_id)}
    reached = [name for name in STAGES if name in step_stats]
    stage = reached[-1] if reached else ""
    stage_seconds = sum(
        (s.end_time - s.start_time) for s in step_stats.values() if s.start_time and s.end_time
    )
    seconds = None
    if record.start_time:
        seconds = (record.end_time or _now()) - record.start_time
    row = ProductStatus(key, status, stage, seconds, run_id=run.run_id, stage_seconds=stage_seconds)
    if status == "failed":
        row.error = failure_message(instance, run.run_id)
        failed = [name for name in STAGES if name in step_stats and step_stats[name].status.value == "FAILURE"]
        row.stage = failed[0] if failed else stage
    elif status == "succeeded":
        row.video = published_location(instance, key)
    return row


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    """The first step failure's description (our Failure names product, stage and field)."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = entry.dagster_event.step_failure_data if entry.dagster_event else None
        if data is None:
            continue
        if data.user_failure_data and data.user_failure_data.description:
            return data.user_failure_data.description
        if data.error:
            return data.error.message.strip()
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        if entry.dagster_event and entry.dagster_event.message:
            return entry.dagster_event.message
    return "run failed (no step failure recorded; see the run's logs)"


def published_location(instance: dg.DagsterInstance, key: str) -> str:
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("published_video"), asset_partitions=[key]), limit=1
    )
    for record in result.records:
        mat = record.asset_materialization
        if mat and "location" in mat.metadata:
            return str(mat.metadata["location"].value)
    return ""


def _backfill_partitions(backfill: Any) -> Sequence[str]:
    if backfill.partition_names:
        return backfill.partition_names
    data = backfill.asset_backfill_data
    if data is not None:
        keys: list[str] = []
        for asset_partition in data.target_subset.iterate_asset_partitions():
            if asset_partition.partition_key and asset_partition.partition_key not in keys:
                keys.append(asset_partition.partition_key)
        return keys
    return []


def _now() -> float:
    import time

    return time.time()

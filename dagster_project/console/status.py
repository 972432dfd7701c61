"""Per-product status of a batch (a backfill).

The rows are computed by one pure function, `build_statuses`, from plain
`RunInfo`s. Two adapters feed it: `product_statuses(instance, ...)` reads a
local Dagster instance (the demo, tests), and `DagsterClient.product_statuses`
reads a running webserver over GraphQL (the CLI). Both give the same rows.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from batch_video.stages import STAGES
from dagster_project.run_tags import BACKFILL_TAG, PARTITION_TAG

# A finished backfill whose product has no run: it was never attempted (canceled, or not needed).
STATUSES = ("queued", "running", "succeeded", "failed", "canceled", "skipped")
TERMINAL = {"succeeded", "failed", "canceled", "skipped"}
FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

RUN_STATUS = {
    "QUEUED": "queued",
    "NOT_STARTED": "queued",
    "MANAGED": "queued",
    "STARTING": "running",
    "STARTED": "running",
    "SUSPENDED": "running",
    "CANCELING": "running",
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "CANCELED": "canceled",
}


@dataclass(frozen=True)
class StepInfo:
    step_key: str
    status: str  # SUCCESS | FAILURE | SKIPPED | IN_PROGRESS | "" (Dagster's step event status)
    start_time: float | None = None
    end_time: float | None = None

    @property
    def seconds(self) -> float:
        if self.start_time and self.end_time:
            return max(0.0, self.end_time - self.start_time)
        return 0.0


@dataclass(frozen=True)
class RunInfo:
    """What the status table needs from one Dagster run, however it was read."""

    run_id: str
    partition_key: str
    status: str  # Dagster's RunStatus name, e.g. "SUCCESS"
    created: float
    start_time: float | None = None
    end_time: float | None = None
    steps: tuple[StepInfo, ...] = ()
    failure: str = ""  # the first step failure's description (names product, stage and field)
    video: str = ""  # published_video's location, when this run published it
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class ProductStatus:
    partition_key: str
    status: str  # queued | running | succeeded | failed | canceled | skipped
    stage: str = ""  # the stage reached (for a failure: the stage that failed)
    seconds: float | None = None  # run wall time so far
    video: str = ""
    error: str = ""
    run_id: str = ""
    stage_seconds: float = 0.0  # time spent inside the stages (excludes run start/stop)
    start_time: float | None = None
    end_time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def error_line(self) -> str:
        return self.error.strip().splitlines()[0] if self.error.strip() else ""


def build_statuses(
    partition_keys: Sequence[str],
    runs: Iterable[RunInfo],
    *,
    backfill_status: str = "REQUESTED",
    now: float | None = None,
) -> list[ProductStatus]:
    """One row per partition key, in the given order; the latest run of a partition wins."""
    now = time.time() if now is None else now
    latest: dict[str, RunInfo] = {}
    for run in sorted(runs, key=lambda r: r.created):
        if run.partition_key:
            latest[run.partition_key] = run
    finished = backfill_status in FINISHED_BACKFILL
    keys = list(dict.fromkeys(list(partition_keys) + [k for k in latest if k not in partition_keys]))
    rows = []
    for key in keys:
        run = latest.get(key)
        if run is None:
            rows.append(ProductStatus(key, "skipped" if finished else "queued"))
        else:
            rows.append(status_of_run(run, now=now))
    return rows


def status_of_run(run: RunInfo, *, now: float | None = None) -> ProductStatus:
    status = RUN_STATUS.get(run.status.upper(), run.status.lower())
    by_key = {s.step_key: s for s in run.steps}
    reached = [name for name in STAGES if name in by_key]
    stage = reached[-1] if reached else ""
    seconds = None
    if run.start_time:
        seconds = (run.end_time or (time.time() if now is None else now)) - run.start_time
    row = ProductStatus(
        run.partition_key,
        status,
        stage,
        seconds,
        run_id=run.run_id,
        stage_seconds=sum(s.seconds for s in run.steps),
        start_time=run.start_time,
        end_time=run.end_time,
    )
    if status == "failed":
        failed_steps = [s.step_key for s in run.steps if s.status == "FAILURE"]
        failed_stages = [name for name in STAGES if name in failed_steps]
        row.stage = failed_stages[0] if failed_stages else (failed_steps[0] if failed_steps else stage)
        row.error = run.failure or "run failed (no step failure recorded; see the run's logs)"
    elif status == "succeeded":
        row.video = run.video
    return row


def totals(rows: Sequence[ProductStatus]) -> dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def all_finished(rows: Sequence[ProductStatus], backfill_status: str) -> bool:
    return backfill_status in FINISHED_BACKFILL and all(r.status in TERMINAL for r in rows)


# -- reading a local instance ----------------------------------------------------


def product_statuses(instance: Any, backfill_id: str, partition_keys: Sequence[str] | None = None) -> list[ProductStatus]:
    """The rows of a backfill read straight from a Dagster instance (no webserver needed)."""
    backfill = instance.get_backfill(backfill_id)
    if partition_keys is None:
        partition_keys = list(backfill_partitions(backfill)) if backfill else []
    status = backfill.status.value if backfill else "REQUESTED"
    return build_statuses(partition_keys, instance_runs(instance, backfill_id), backfill_status=status)


def instance_runs(instance: Any, backfill_id: str) -> list[RunInfo]:
    import dagster as dg

    runs = []
    for record in instance.get_run_records(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id})):
        run = record.dagster_run
        key = run.tags.get(PARTITION_TAG, "")
        steps = tuple(
            StepInfo(s.step_key, s.status.value if s.status else "", s.start_time, s.end_time)
            for s in instance.get_run_step_stats(run.run_id)
        )
        failed = run.status.value == "FAILURE"
        runs.append(
            RunInfo(
                run_id=run.run_id,
                partition_key=key,
                status=run.status.value,
                created=record.create_timestamp.timestamp(),
                start_time=record.start_time,
                end_time=record.end_time,
                steps=steps,
                failure=failure_message(instance, run.run_id) if failed else "",
                video=published_location(instance, key, run.run_id) if run.status.value == "SUCCESS" else "",
                tags=dict(run.tags),
            )
        )
    return runs


def failure_message(instance: Any, run_id: str) -> str:
    """The first step failure's description (our Failure names product, stage and field)."""
    import dagster as dg

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
    return ""


def published_location(instance: Any, key: str, run_id: str | None = None) -> str:
    import dagster as dg

    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("published_video"), asset_partitions=[key]), limit=1
    )
    for record in result.records:
        mat = record.asset_materialization
        if run_id and record.event_log_entry.run_id != run_id:
            continue
        if mat and "location" in mat.metadata:
            return str(mat.metadata["location"].value)
    return ""


def backfill_partitions(backfill: Any) -> Sequence[str]:
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

"""Per-product status of a batch (a backfill).

The rows are computed by one pure function, `build_statuses`, from plain
`RunInfo`s. Two adapters feed it: `instance_runs` + `InstanceStatusSource` read a
local Dagster instance (the automation's batch reports), and the console's
`DagsterClient.product_statuses` reads a running webserver over GraphQL (the CLI,
the demos and the benchmarks). Both give the same rows. Dagster is imported lazily: the console loads this
module without loading Dagster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterable, Mapping, Protocol, Sequence

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
    failed_checks: str = ""  # the video checks that refused its render, comma-separated
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
    failed_checks: str = ""
    run_id: str = ""
    stage_seconds: float = 0.0  # time spent inside the stages (excludes run start/stop)
    start_time: float | None = None
    end_time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        # Every field is a plain value: no deep copy. The names are listed once (_ROW_FIELDS), not per row:
        # `fields()` for each of a 10,000-product batch's rows took a tenth of `batch status --json`'s own time.
        return {name: getattr(self, name) for name in _ROW_FIELDS}

    @property
    def error_line(self) -> str:
        return self.error.strip().splitlines()[0] if self.error.strip() else ""


_ROW_FIELDS = tuple(f.name for f in fields(ProductStatus))


def build_statuses(
    partition_keys: Sequence[str],
    runs: Iterable[RunInfo],
    *,
    backfill_status: str = "REQUESTED",
    now: float | None = None,
) -> list[ProductStatus]:
    """One row per partition key, in the given order; the latest run of a partition wins."""
    now = time.time() if now is None else now
    latest = latest_runs(runs)
    finished = backfill_status in FINISHED_BACKFILL
    targeted = set(partition_keys)
    keys = list(dict.fromkeys(list(partition_keys) + [k for k in latest if k not in targeted]))
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
    if status == "succeeded" and not reached:  # step stats are not read for finished products (see with_details)
        stage = STAGES[-1]
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
        row.failed_checks = run.failed_checks
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


# -- details in bulk ---------------------------------------------------------------

# Runs that failed without a failure observation (a killed worker, a run-level error) have their
# logs read one by one: at most this many per status read, so a 10,000-product batch stays fast.
MAX_RUN_LOG_READS = 20


class StatusSource(Protocol):
    """Bulk lookups behind a batch's status: one query per kind, never one per product."""

    def step_stats(self, run_ids: Sequence[str]) -> dict[str, tuple[StepInfo, ...]]: ...

    def failure_observations(self, keys: Sequence[str]) -> dict[tuple[str, str], tuple[str, str, str]]:
        """(partition key, run id) -> (stage, failure description, failed checks) of the failures our stages recorded."""
        ...

    def videos(self, keys: Sequence[str]) -> dict[str, str]:
        """Partition key -> location of its latest published video."""
        ...

    def run_failure(self, run_id: str) -> str: ...


def latest_runs(runs: Iterable[RunInfo]) -> dict[str, RunInfo]:
    latest: dict[str, RunInfo] = {}
    for run in sorted(runs, key=lambda r: r.created):
        if run.partition_key:
            latest[run.partition_key] = run
    return latest


def with_details(runs: Sequence[RunInfo], source: StatusSource) -> list[RunInfo]:
    """Fill in what the status table shows (stage, failure, video) for each product's latest run, in bulk.

    Step stats are read only for running products (as many as runs run at once) and for failures
    nothing explained; a failed product's stage and reason come from the failure our stage recorded
    on its asset, a finished product's video from the latest materializations of `published_video`.
    """
    latest = latest_runs(runs)
    by_status: dict[str, list[RunInfo]] = {}
    for run in latest.values():
        by_status.setdefault(RUN_STATUS.get(run.status.upper(), ""), []).append(run)
    failed = by_status.get("failed", [])
    observed = source.failure_observations([r.partition_key for r in failed]) if failed else {}
    unexplained = [r for r in failed if (r.partition_key, r.run_id) not in observed][:MAX_RUN_LOG_READS]
    unexplained_ids = {r.run_id for r in unexplained}
    steps = source.step_stats([r.run_id for r in by_status.get("running", []) + unexplained])
    succeeded = by_status.get("succeeded", [])
    videos = source.videos([r.partition_key for r in succeeded]) if succeeded else {}
    details: dict[str, RunInfo] = {}
    for run in failed:
        if (run.partition_key, run.run_id) in observed:
            stage, failure, failed_checks = observed[(run.partition_key, run.run_id)]
            details[run.run_id] = replace(run, steps=(StepInfo(stage, "FAILURE"),), failure=failure, failed_checks=failed_checks)
        elif run.run_id in unexplained_ids:
            details[run.run_id] = replace(run, steps=steps.get(run.run_id, ()), failure=source.run_failure(run.run_id))
    for run in by_status.get("running", []):
        details[run.run_id] = replace(run, steps=steps.get(run.run_id, ()))
    for run in succeeded:
        details[run.run_id] = replace(run, video=videos.get(run.partition_key, ""))
    return [details.get(run.run_id, run) for run in runs]


# -- reading a local instance ----------------------------------------------------


def instance_runs(instance: Any, backfill_id: str, *, tags: Mapping[str, str] | None = None) -> list[RunInfo]:
    """The backfill's runs (or the runs with `tags`) in one query, without their steps, failures or videos (see with_details)."""
    import dagster as dg

    return [
        RunInfo(
            run_id=record.dagster_run.run_id,
            partition_key=record.dagster_run.tags.get(PARTITION_TAG, ""),
            status=record.dagster_run.status.value,
            created=record.create_timestamp.timestamp(),
            start_time=record.start_time,
            end_time=record.end_time,
            tags=dict(record.dagster_run.tags),
        )
        for record in instance.get_run_records(dg.RunsFilter(tags=dict(tags) if tags else {BACKFILL_TAG: backfill_id}))
    ]


@dataclass
class InstanceStatusSource:
    instance: Any

    def step_stats(self, run_ids: Sequence[str]) -> dict[str, tuple[StepInfo, ...]]:
        return {
            run_id: tuple(
                StepInfo(s.step_key, s.status.value if s.status else "", s.start_time, s.end_time)
                for s in self.instance.get_run_step_stats(run_id)
            )
            for run_id in run_ids
        }

    def failure_observations(self, keys: Sequence[str]) -> dict[tuple[str, str], tuple[str, str, str]]:
        import dagster as dg

        found: dict[tuple[str, str], tuple[str, str, str]] = {}
        for stage in STAGES:
            result = self.instance.fetch_observations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(stage), asset_partitions=list(keys)), limit=5 * len(keys) + 10
            )
            for record in result.records:
                observation = record.asset_observation
                if observation is not None and "failure" in observation.metadata:
                    meta = observation.metadata
                    checks = str(meta["failed_checks"].value) if "failed_checks" in meta else ""
                    found.setdefault((observation.partition or "", record.run_id), (stage, str(meta["failure"].value), checks))
        return found

    def videos(self, keys: Sequence[str]) -> dict[str, str]:
        import dagster as dg

        found: dict[str, str] = {}
        result = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(STAGES[-1]), asset_partitions=list(keys)), limit=5 * len(keys) + 10
        )
        for record in result.records:  # newest first
            mat = record.asset_materialization
            if mat is not None and mat.partition not in found and "location" in mat.metadata:
                found[mat.partition] = str(mat.metadata["location"].value)
        return found

    def run_failure(self, run_id: str) -> str:
        return failure_message(self.instance, run_id)

    def latest_metadata(self, assets: Mapping[str, Sequence[str]], keys: Sequence[str]) -> dict[str, dict[str, dict[str, str]]]:
        """Asset -> partition key -> the chosen labels of its latest materialization's metadata, as text."""
        import json

        import dagster as dg

        found: dict[str, dict[str, dict[str, str]]] = {}
        for asset, labels in assets.items():
            by_key = found.setdefault(asset, {})
            result = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=list(keys)), limit=5 * len(keys) + 10
            )
            for record in result.records:  # newest first
                mat = record.asset_materialization
                if mat is None or mat.partition in by_key:
                    continue
                entries = {"run_id": record.run_id}
                for label in labels:
                    if label in mat.metadata:
                        value = mat.metadata[label].value
                        entries[label] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
                by_key[mat.partition] = entries
        return found


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

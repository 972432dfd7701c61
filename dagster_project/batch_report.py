"""A batch's report rows: the batch's status rows plus what its assets' metadata says about each product.

The status rows come from `batch_status` (the same bulk reading as `batch status`);
the details (title, voice provider, checks, video and poster) from the latest
materializations of three assets, read for every product at once: one query per
asset on a local instance, one GraphQL request through the console's client.
The report files themselves are written by `batch_video.report`.

Like `batch_status`, this module loads without Dagster (the console imports it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Mapping, Protocol, Sequence

from batch_video.report import ReportRow
from batch_video.stages import PRODUCT_RECORD, PUBLISHED_VIDEO, VOICEOVER_AUDIO
from dagster_project.batch_status import (
    InstanceStatusSource,
    ProductStatus,
    backfill_partitions,
    build_statuses,
    instance_runs,
    with_details,
)

# What the report reads from each asset's latest materialization (metadata labels).
REPORT_ENTRIES: Mapping[str, tuple[str, ...]] = {
    PRODUCT_RECORD: ("product_id", "title"),
    VOICEOVER_AUDIO: ("provider",),
    PUBLISHED_VIDEO: ("location", "poster", "provider", "checks", "duration_s", "preset", "formats"),
}

# Details per asset, per partition key: {label: text}, plus the run that materialized it as "run_id".
Details = Mapping[str, Mapping[str, Mapping[str, str]]]


class ReportSource(Protocol):
    def latest_metadata(self, assets: Mapping[str, Sequence[str]], keys: Sequence[str]) -> Details: ...


def report_rows(statuses: Sequence[ProductStatus], details: Details) -> list[ReportRow]:
    """One row per product, or per product and format when its published video lists several formats."""
    rows: list[ReportRow] = []
    for status in statuses:
        key = status.partition_key
        record = details.get(PRODUCT_RECORD, {}).get(key, {})
        spoken = details.get(VOICEOVER_AUDIO, {}).get(key, {})
        published = details.get(PUBLISHED_VIDEO, {}).get(key, {}) if status.status == "succeeded" else {}
        base = ReportRow(
            product=key,
            status=status.status,
            product_id=record.get("product_id", ""),
            title=record.get("title", ""),
            stage=status.stage,
            reason=status.error_line if status.status == "failed" else "",
            seconds=round(status.seconds, 1) if status.seconds is not None else None,
            # A failed product's voice only when this run spoke it (not an older run's).
            provider=published.get("provider") or (spoken.get("provider", "") if spoken.get("run_id") == status.run_id else ""),
            checks=_failed_checks(status) if status.status == "failed" else published.get("checks", ""),
            run_id=status.run_id,
        )
        formats = _formats(published)
        if not formats:
            rows.append(
                _with(base, format=published.get("preset", ""), url=published.get("location", "") or status.video,
                      poster=published.get("poster", ""), video_seconds=_float(published.get("duration_s")))
            )
            continue
        for one in formats:
            rows.append(
                _with(base, format=str(one.get("format", "")), url=str(one.get("location", "")),
                      poster=str(one.get("poster", "")), checks=str(one.get("checks", base.checks)),
                      video_seconds=_float(one.get("duration_s")))
            )
    return rows


def build_report(statuses: Sequence[ProductStatus], source: ReportSource) -> list[ReportRow]:
    """The report rows of these status rows, their details read in bulk from `source`."""
    keys = [s.partition_key for s in statuses]
    details = source.latest_metadata(REPORT_ENTRIES, keys) if keys else {}
    return report_rows(statuses, details)


def instance_report(instance: Any, *, backfill_id: str = "", tags: Mapping[str, str] | None = None) -> list[ReportRow]:
    """The report of a backfill, or of the runs carrying `tags` (a schedule tick's), read from a local instance."""
    source = InstanceStatusSource(instance)
    if backfill_id:
        backfill = instance.get_backfill(backfill_id)
        keys = list(backfill_partitions(backfill)) if backfill else []
        status = backfill.status.value if backfill else "REQUESTED"
        runs = with_details(instance_runs(instance, backfill_id), source)
    else:
        runs = with_details(instance_runs(instance, "", tags=tags), source)
        keys, status = sorted({r.partition_key for r in runs if r.partition_key}), "COMPLETED"
    return build_report(build_statuses(keys, runs, backfill_status=status), source)


def _failed_checks(status: ProductStatus) -> str:
    return f"failed: {status.failed_checks}" if status.failed_checks else ""


def _formats(published: Mapping[str, str]) -> list[Mapping[str, Any]]:
    raw = published.get("formats") or ""
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _float(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _with(row: ReportRow, **changes: Any) -> ReportRow:
    return replace(row, **changes)

"""A report at the end of every batch: each finished backfill, and each feed-schedule tick once its runs finished.

The `batch_reports` sensor (every 60 s, `BATCH_VIDEO_REPORTS_INTERVAL_S`; on by default) finds batches that have
finished since it last looked, writes each one's report with the `reports`
resource (HTML with poster thumbnails, XLSX, CSV; `BATCH_VIDEO_REPORTS_DIR`) and
records a materialization of the `batch_report` asset for it: the batch's id and
a link to its page, the totals, the products as a table (failures first) and
the paths of the report files. Dagster has no metadata on a backfill itself, so
this asset's history is where the reports of all batches are found in the UI
(Assets -> batch_report), each event naming its batch.

A batch is reported once (the cursor keeps the batches reported in the last
`LOOKBACK_DAYS`); a batch whose products are not all finished waits for a later tick.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Sequence

import dagster as dg

from batch_video.report import HEADERS, ReportRow, totals
from dagster_project.batch_report import instance_report
from dagster_project.batch_status import TERMINAL
from dagster_project.dagster_internals import finished_backfills
from dagster_project.resources.reports import ReportsResource
from dagster_project.run_tags import TICK_TAG, TRIGGER_TAG

REPORT_SENSOR_NAME = "batch_reports"
DEFAULT_INTERVAL_S = 60
BATCH_REPORT_KEY = dg.AssetKey("batch_report")
LOOKBACK_DAYS = 7
# The table in the event shows this many products (failures first); the files hold them all.
TABLE_ROWS = 200
# Report writing stays well inside a sensor evaluation's time limit; what is left waits for the next tick.
TICK_BUDGET_S = 20.0
SCHEDULE_TRIGGER = "feed_schedule"
FINISHED_RUN_STATUSES = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}

batch_report = dg.AssetSpec(
    BATCH_REPORT_KEY,
    group_name="reports",
    kinds={"pandas"},
    description="One event per finished batch (backfill or feed-schedule tick): totals, products, and the report "
    "files (HTML with posters, XLSX, CSV) written by the batch_reports sensor.",
)


@dataclass(frozen=True)
class Batch:
    """A set of product runs reported together."""

    name: str  # the report's file name
    title: str
    created: float
    backfill_id: str = ""
    tick_id: str = ""


@dataclass
class ReportCursor:
    reported: dict[str, float] = field(default_factory=dict)  # batch name -> its creation time

    @classmethod
    def from_json(cls, text: str | None) -> "ReportCursor":
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        return cls({str(k): float(v) for k, v in (data.get("reported") or {}).items()})

    def to_json(self, *, oldest: float) -> str:
        return json.dumps({"reported": {k: v for k, v in self.reported.items() if v >= oldest}}, sort_keys=True)


def finished_batches(instance: dg.DagsterInstance, *, since: float) -> list[Batch]:
    """Backfills that finished and feed-schedule ticks whose runs all finished, created after `since`, oldest first."""
    batches = []
    for backfill_id, _status, created in finished_backfills(instance, created_after=datetime.fromtimestamp(since, timezone.utc)):
        backfill = instance.get_backfill(backfill_id)
        title = (backfill.title if backfill is not None and backfill.title else "") or f"batch {backfill_id}"
        batches.append(Batch(f"batch-{backfill_id}", title, created, backfill_id=backfill_id))
    ticks: dict[str, list[dg.RunRecord]] = {}
    records = instance.get_run_records(
        dg.RunsFilter(tags={TRIGGER_TAG: SCHEDULE_TRIGGER}, created_after=datetime.fromtimestamp(since, timezone.utc))
    )
    for record in records:
        tick = record.dagster_run.tags.get(TICK_TAG)
        if tick:
            ticks.setdefault(tick, []).append(record)
    for tick, runs in ticks.items():
        if all(r.dagster_run.status in FINISHED_RUN_STATUSES for r in runs):
            created = min(r.create_timestamp.timestamp() for r in runs)
            day = datetime.fromtimestamp(created, timezone.utc).strftime("%Y%m%d-%H%M")
            batches.append(Batch(f"schedule-{day}-{tick}", f"feed schedule, {day} UTC ({len(runs)} products)", created, tick_id=tick))
    return sorted(batches, key=lambda b: b.created)


def report_event(batch: Batch, rows: Sequence[ReportRow], files: dict[str, object], reports: ReportsResource) -> dg.AssetMaterialization:
    """The batch_report event of one batch: its link, totals, a table of products (failures first) and the files."""
    shown = sorted(rows, key=lambda r: (r.status != "failed", r.product))[:TABLE_ROWS]
    columns = ["product", "format", "status", "stage", "reason", "seconds", "provider", "checks", "url"]
    table = dg.MetadataValue.table(
        records=[dg.TableRecord({c: getattr(row, c) for c in columns}) for row in shown],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "float" if c == "seconds" else "string", description=HEADERS[c]) for c in columns]),
    )
    metadata: dict[str, object] = {
        "batch": batch.title,
        "products": len({r.product for r in rows}),
        "totals": dg.MetadataValue.json(totals(rows)),
        "report": table,
        **{f"report_{suffix.lstrip('.')}": dg.MetadataValue.path(str(path)) for suffix, path in files.items()},
    }
    if batch.backfill_id:
        metadata["backfill_id"] = batch.backfill_id
        metadata["backfill"] = dg.MetadataValue.url(reports.backfill_link(batch.backfill_id))
    if batch.tick_id:
        metadata["schedule_tick"] = batch.tick_id
    return dg.AssetMaterialization(asset_key=BATCH_REPORT_KEY, description=f"report of {batch.title}", metadata=metadata)



def write_finished_reports(
    instance: dg.DagsterInstance, reports: ReportsResource, cursor: ReportCursor, *, now: float, budget_s: float = TICK_BUDGET_S
) -> tuple[list[dg.AssetMaterialization], list[str]]:
    """Write the reports of batches finished and not yet reported (within the time budget); (events, names)."""
    started = time.monotonic()
    events, names = [], []
    for batch in finished_batches(instance, since=now - LOOKBACK_DAYS * 86400):
        if batch.name in cursor.reported:
            continue
        if time.monotonic() - started > budget_s:
            break  # the rest at the next tick
        rows = instance_report(instance, backfill_id=batch.backfill_id, tags=None if batch.backfill_id else {TICK_TAG: batch.tick_id})
        if any(row.status not in TERMINAL for row in rows):
            continue  # a run the backfill launched last is still going: report it when it ends
        files = reports.write(batch.name, rows, title=batch.title)
        events.append(report_event(batch, rows, files, reports))
        names.append(batch.name)
        cursor.reported[batch.name] = batch.created
    return events, names


@dg.sensor(
    name=REPORT_SENSOR_NAME,
    minimum_interval_seconds=int(os.environ.get("BATCH_VIDEO_REPORTS_INTERVAL_S") or DEFAULT_INTERVAL_S),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Writes the report (HTML with posters, XLSX, CSV) of every batch that finished: backfills and "
    "feed-schedule ticks; each is a batch_report event with the totals, the products and links.",
)
def batch_reports(context: dg.SensorEvaluationContext, reports: ReportsResource) -> dg.SensorResult:
    cursor = ReportCursor.from_json(context.cursor)
    now = time.time()
    events, names = write_finished_reports(context.instance, reports, cursor, now=now)
    for name, event in zip(names, events):
        context.log.info(f"wrote the report of {name}: {', '.join(str(v.value) for k, v in event.metadata.items() if k.startswith('report_'))}")
    return dg.SensorResult(
        asset_events=events,
        cursor=cursor.to_json(oldest=now - (LOOKBACK_DAYS + 1) * 86400),
        skip_reason=None if events else "no batch finished since the last report",
    )

"""The data folder pruned every night: old work folders and cache entries go, by age and then by size.

`batch-video prune` does the same by hand; the schedule makes sure a busy
shop's disk never fills with work folders of products long gone (see
`batch_video/prune.py` for what goes and what never does).
"""

import os
from pathlib import Path

import dagster as dg

from batch_video.prune import PruneSettings, prune_data
from dagster_project.automation.feed_sync import DEFAULT_TIMEZONE
from dagster_project.resources import WorkspaceResource
from dagster_project.run_tags import run_limit_tags

PRUNE_CRON_ENV = "BATCH_VIDEO_PRUNE_CRON"
DEFAULT_PRUNE_CRON = "30 4 * * *"  # after the nightly feed sync's batch has usually finished


@dg.op(description="Remove old work folders and feed/voiceover cache entries from the data folder.")
def prune_data_folder(context: dg.OpExecutionContext, workspace: WorkspaceResource) -> dict[str, int]:
    report = prune_data(Path(workspace.data_dir), PruneSettings.from_env())
    context.log.info(f"prune {workspace.data_dir}: {report.summary()}")
    return {"removed": len(report.removed), "removed_bytes": report.removed_bytes, "kept_bytes": report.kept_bytes}


@dg.job(description="Prunes the data folder (work folders, caches) by age and size.", tags=run_limit_tags())
def prune_data_job() -> None:
    prune_data_folder()


def build_prune_schedule(*, cron_schedule: str | None = None) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="prune_data_schedule",
        job=prune_data_job,
        cron_schedule=cron_schedule or os.environ.get(PRUNE_CRON_ENV, DEFAULT_PRUNE_CRON),
        execution_timezone=os.environ.get("BATCH_VIDEO_FEED_SYNC_TIMEZONE", DEFAULT_TIMEZONE),
        # On by default: nothing else keeps the data folder from growing without end.
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Prunes the data folder nightly (BATCH_VIDEO_PRUNE_MAX_AGE_DAYS, BATCH_VIDEO_PRUNE_MAX_GB).",
    )


prune_data_schedule = build_prune_schedule()

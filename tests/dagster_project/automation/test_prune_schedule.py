"""The nightly prune: a real run of the job over a data folder with old and recent entries; on by default."""

from __future__ import annotations

import time

import dagster as dg

from dagster_project.automation.prune import prune_data_job, prune_data_schedule
from dagster_project.resources import WorkspaceResource
from tests.batch_video.test_prune import tree


def test_the_prune_job_removes_what_is_too_old_and_keeps_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_PRUNE_MAX_AGE_DAYS", "30")
    data = tree(tmp_path, time.time())
    with dg.DagsterInstance.ephemeral() as instance:
        result = prune_data_job.execute_in_process(
            resources={"workspace": WorkspaceResource(data_dir=str(data))}, instance=instance)
    assert result.success
    assert result.output_for_node("prune_data_folder")["removed"] == 3
    assert not (data / "work" / "old-product").exists() and not (data / "cache" / "feeds" / "a.json").exists()
    assert (data / "work" / "recent-product").exists() and (data / "work" / "running").exists()
    assert result.dagster_run.tags["dagster/max_runtime"]


def test_the_prune_schedule_is_on_by_default_and_part_of_the_code_location():
    from dagster_project.definitions import defs

    assert prune_data_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("prune_data_schedule").job_name == "prune_data_job"

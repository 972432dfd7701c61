"""BatchCeleryRunLauncher starts no run of a canceled batch, however late the run was queued."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import pytest
from dagster_celery.launcher import CeleryRunLauncher

from dagster_project.run_tags import BACKFILL_TAG
from tests.dagster_project.test_dagster_internals import add_backfill, thing


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_CELERY_FOLDER", str(tmp_path / "celery"))
    overrides = {"run_launcher": {"module": "dagster_project.run_launcher", "class": "BatchCeleryRunLauncher",
                                  "config": {"broker": "batchfs://", "default_queue": "dagster"}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        instance.add_dynamic_partitions("things", ["a"])
        yield instance


def batch_run(instance: dg.DagsterInstance, status_of_its_backfill, backfill_id: str = "bf1") -> dg.DagsterRun:
    add_backfill(instance, backfill_id, status_of_its_backfill)
    job = dg.Definitions(assets=[thing]).resolve_implicit_global_asset_job_def()
    return instance.create_run_for_job(job, tags={BACKFILL_TAG: backfill_id}, status=dg.DagsterRunStatus.STARTING)


def launch_context(run: dg.DagsterRun) -> SimpleNamespace:
    # What the run queue hands the launcher (Dagster's LaunchRunContext has no public constructor): the launcher
    # reads only the run; dagster-celery's own launch, which would read the workspace, is replaced below.
    return SimpleNamespace(dagster_run=run, workspace=None)


def launched_by_celery(monkeypatch) -> list[str]:
    # What dagster-celery would send to the broker is not under test; only whether it is asked to.
    sent: list[str] = []
    monkeypatch.setattr(CeleryRunLauncher, "launch_run", lambda self, context: sent.append(context.dagster_run.run_id))
    return sent


def test_a_run_of_a_canceled_batch_is_canceled_instead_of_started(instance, monkeypatch):
    sent = launched_by_celery(monkeypatch)
    for status in ("CANCELING", "CANCELED"):
        run = batch_run(instance, status, backfill_id=f"bf-{status.lower()}")
        instance.run_launcher.launch_run(launch_context(run))
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
    assert sent == []


def test_a_run_of_a_batch_still_going_is_handed_to_celery(instance, monkeypatch):
    sent = launched_by_celery(monkeypatch)
    run = batch_run(instance, "REQUESTED")
    instance.run_launcher.launch_run(launch_context(run))
    assert sent == [run.run_id]
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTING

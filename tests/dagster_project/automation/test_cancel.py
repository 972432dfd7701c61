"""The order in which stop_canceled_batches stops a canceled batch's runs."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg

from dagster_project.automation import cancel
from dagster_project.run_tags import PARTITION_TAG


def record(key: str, status: dg.DagsterRunStatus):
    return SimpleNamespace(dagster_run=SimpleNamespace(run_id=f"run-{key}", status=status, tags={PARTITION_TAG: key}))


def test_the_queued_runs_next_in_line_are_canceled_before_the_running_one_is_terminated(monkeypatch):
    # A terminated run frees its slot and the run queue (checked every second) starts the next queued product;
    # canceling that one first means a canceled batch starts nothing new (the UI cancel journey caught the race).
    queued = [record(f"q{i}", dg.DagsterRunStatus.QUEUED) for i in range(cancel.QUEUED_AHEAD + 3)]
    running = record("running", dg.DagsterRunStatus.STARTED)
    oldest_first = [running, *queued]  # what the instance returns with ascending=True
    instance = SimpleNamespace(get_run_records=lambda filters, ascending: oldest_first if ascending else oldest_first[::-1])
    stopped_in_order = []
    monkeypatch.setattr(cancel, "canceling_backfill_ids", lambda _: ["b1"])
    monkeypatch.setattr(cancel, "cancel_run", lambda _, run_id: stopped_in_order.append(run_id) or True)

    stopped = cancel.stop_canceled_batch_runs(instance)

    ahead = [r.dagster_run.run_id for r in queued[: cancel.QUEUED_AHEAD]]
    rest = [r.dagster_run.run_id for r in queued[cancel.QUEUED_AHEAD:]]
    assert stopped_in_order == [*ahead, "run-running", *rest]
    assert sorted(stopped["b1"]) == sorted(["running", *(r.dagster_run.tags[PARTITION_TAG] for r in queued)])

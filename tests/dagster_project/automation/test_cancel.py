"""The order in which stop_canceled_batches stops a canceled batch's runs."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg

from dagster_project.automation import cancel
from dagster_project.run_tags import BACKFILL_TAG, PARTITION_TAG


def record(key: str, status: dg.DagsterRunStatus, backfill: str = "b1"):
    return SimpleNamespace(dagster_run=SimpleNamespace(run_id=f"run-{key}", status=status,
                                                       tags={PARTITION_TAG: key, BACKFILL_TAG: backfill}))


class Runs:
    """An instance's run records, oldest first, answered as get_run_records does (statuses, order, limit)."""

    def __init__(self, oldest_first):
        self.records = list(oldest_first)
        self.limits = []

    def get_run_records(self, filters, limit=None, ascending=False):
        self.limits.append(limit)
        found = [r for r in self.records if r.dagster_run.status in filters.statuses
                 and all(r.dagster_run.tags.get(k) == v for k, v in (filters.tags or {}).items())]
        return (found if ascending else found[::-1])[:limit]


def test_the_queued_runs_next_in_line_are_canceled_before_the_running_one_is_terminated(monkeypatch):
    # A terminated run frees its slot and the run queue (checked every second) starts the next queued product;
    # canceling that one first means a canceled batch starts nothing new (the UI cancel journey caught the race).
    queued = [record(f"q{i}", dg.DagsterRunStatus.QUEUED) for i in range(cancel.QUEUED_AHEAD + 3)]
    running = record("running", dg.DagsterRunStatus.STARTED)
    instance = Runs([running, *queued])
    stopped_in_order = []
    monkeypatch.setattr(cancel, "canceling_backfill_ids", lambda _: ["b1"])
    monkeypatch.setattr(cancel, "cancel_run", lambda _, run_id: stopped_in_order.append(run_id) or True)

    stopped = cancel.stop_canceled_batch_runs(instance)

    ahead = [r.dagster_run.run_id for r in queued[: cancel.QUEUED_AHEAD]]
    rest = [r.dagster_run.run_id for r in queued[cancel.QUEUED_AHEAD:]]
    assert stopped_in_order == [*ahead, "run-running", *rest]
    assert sorted(stopped["b1"]) == sorted(["running", *(r.dagster_run.tags[PARTITION_TAG] for r in queued)])


def test_a_tick_stops_canceling_when_its_time_is_up_and_the_next_goes_on(monkeypatch):
    # One tick over every queued run of a 10,000-run batch ran past Dagster's 60 s sensor timeout: its tick
    # failed while the code server went on with it beside the next tick's.
    queued = [record(f"q{i}", dg.DagsterRunStatus.QUEUED) for i in range(cancel.QUEUED_AHEAD + 10)]
    running = record("running", dg.DagsterRunStatus.STARTED)
    instance = Runs([running, *queued])
    left = instance.records
    now = [0.0]

    def cancel_one(_, run_id):  # each cancel takes a second of the tick's budget
        now[0] += 1.0
        left[:] = [r for r in left if r.dagster_run.run_id != run_id]
        return True

    monkeypatch.setattr(cancel, "canceling_backfill_ids", lambda _: ["b1"])
    monkeypatch.setattr(cancel, "cancel_run", cancel_one)
    budget = cancel.QUEUED_AHEAD + 5.0  # up after the runs ahead, the running one and 4 more

    first = cancel.stop_canceled_batch_runs(instance, budget_s=budget, clock=lambda: now[0])
    # The running run is terminated even though the budget was nearly spent on the queued runs ahead of it.
    assert "running" in first["b1"] and len(first["b1"]) == cancel.QUEUED_AHEAD + 1 + 5
    assert len(left) == 5
    second = cancel.stop_canceled_batch_runs(instance, budget_s=budget, clock=lambda: now[0])
    assert len(second["b1"]) == 5 and left == []


def test_a_tick_reads_only_as_many_queued_runs_as_it_may_cancel(monkeypatch):
    # Reading every queued run of a 10,000-run batch took 6 s of each tick at load 9.
    monkeypatch.setattr(cancel, "QUEUED_PER_TICK", 5)
    instance = Runs([record(f"q{i}", dg.DagsterRunStatus.QUEUED) for i in range(12)])
    monkeypatch.setattr(cancel, "canceling_backfill_ids", lambda _: ["b1"])
    canceled = []
    monkeypatch.setattr(cancel, "cancel_run", lambda _, run_id: canceled.append(run_id) or True)

    cancel.stop_canceled_batch_runs(instance)

    assert canceled == [f"run-q{i}" for i in range(5)]  # the oldest five: the next in line
    assert 5 in instance.limits


def test_a_tick_out_of_time_still_stops_the_running_run_of_every_other_canceled_batch(monkeypatch):
    # The budget spent on one big batch must not leave another canceled batch's product rendering until later ticks.
    big = [record(f"big{i}", dg.DagsterRunStatus.QUEUED, "b1") for i in range(cancel.QUEUED_AHEAD + 10)]
    other = [record("other-running", dg.DagsterRunStatus.STARTED, "b2"),
             *(record(f"other{i}", dg.DagsterRunStatus.QUEUED, "b2") for i in range(cancel.QUEUED_AHEAD + 10))]
    instance = Runs([*big, *other])
    now = [0.0]
    canceled = []

    def cancel_one(_, run_id):  # each cancel takes a second; the budget is up within the first batch
        now[0] += 1.0
        canceled.append(run_id)
        return True

    monkeypatch.setattr(cancel, "canceling_backfill_ids", lambda _: ["b1", "b2"])
    monkeypatch.setattr(cancel, "cancel_run", cancel_one)

    stopped = cancel.stop_canceled_batch_runs(instance, budget_s=10.0, clock=lambda: now[0])

    assert len(stopped["b1"]) == cancel.QUEUED_AHEAD
    assert "other-running" in stopped["b2"] and len(stopped["b2"]) == cancel.QUEUED_AHEAD + 1

"""Waiting on a real Dagster without wall-clock budgets.

A test waits for a condition (a run finished, a step started), polling it. It fails when nothing has moved
for a long while (the runs it watches logged no event: a render logs its frame count every few seconds)
or after a generous ceiling; never because a loaded machine made a render slower than some guess.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import dagster as dg

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    what: str,
    ceiling_s: float = 600.0,
    progress: Callable[[], object] | None = None,
    stall_s: float = 300.0,
    poll_s: float = 0.5,
) -> T:
    """`condition()`'s first truthy value; fails after `stall_s` without `progress()` changing, or `ceiling_s`."""
    started = last_moved = time.monotonic()
    seen = progress() if progress is not None else None
    while True:
        result = condition()
        if result:
            return result
        now = time.monotonic()
        if progress is not None and (current := progress()) != seen:
            seen, last_moved = current, now
        if now - started > ceiling_s:
            raise AssertionError(f"{what}: still not the case after {now - started:.0f} s")
        if progress is not None and now - last_moved > stall_s:
            raise AssertionError(f"{what}: nothing happened for {now - last_moved:.0f} s (waited {now - started:.0f} s)")
        time.sleep(poll_s)


class RunEvents:
    """How many events the runs of a backfill have logged so far: it grows while any of them works."""

    def __init__(self, instance: dg.DagsterInstance, backfill_id: str) -> None:
        self.instance, self.backfill_id = instance, backfill_id
        self.cursors: dict[str, str | None] = {}
        self.count = 0

    def __call__(self) -> int:
        for record in self.instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": self.backfill_id})):
            run_id = record.dagster_run.run_id
            connection = self.instance.get_records_for_run(run_id, cursor=self.cursors.get(run_id))
            self.count += len(connection.records)
            self.cursors[run_id] = connection.cursor
        return self.count

"""Runs whose Celery worker host is gone are marked failed, so `batch retry` can run them elsewhere.

Dagster's run monitoring asks the run launcher whether a run's worker is alive.
dagster-celery answers from the Celery result backend, which says STARTED for
as long as nobody updates it: when a whole worker host dies (power, kernel
panic, `kill -9` of the worker), its runs would stay STARTED forever. This
sensor asks the workers themselves (Celery's remote control, over the broker)
which tasks they are running; a STARTED run whose task no worker has on two
checks in a row is reported failed. A run whose pool process alone dies is
already caught by run monitoring (the worker marks its task failed).
"""

from __future__ import annotations

import json
import dagster as dg

from dagster_project.automation.sensor_instance import sensor_instance

LOST_WORKERS_SENSOR_NAME = "fail_runs_of_lost_workers"
INSPECT_TIMEOUT_S = 5.0


def is_missing(task_id: str, owner: str | None, replies: dict[str, list[dict]]) -> bool:
    """Whether no worker runs the task: its worker (when the result backend knows it) did not answer
    or does not list it; with an unknown worker, no answering worker lists it."""
    if owner:
        return owner not in replies or task_id not in {t["id"] for t in replies[owner] or []}
    return task_id not in {t["id"] for tasks in replies.values() for t in (tasks or [])}


def lost_runs(instance: dg.DagsterInstance, suspects: set[str]) -> tuple[list[dg.DagsterRun], set[str]]:
    """(runs to fail now, runs to check again next time): a run is failed on its second miss in a row."""
    app = getattr(instance.run_launcher, "celery", None)
    if app is None:
        return [], set()  # not a Celery launcher: Dagster's run monitoring covers it
    from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG as TASK_ID_TAG

    started = [r for r in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])) if r.tags.get(TASK_ID_TAG)]
    if not started:
        return [], set()
    replies = app.control.inspect(timeout=INSPECT_TIMEOUT_S).active()
    if not replies:
        # No worker answered at all: the broker or every worker is down, or the answers were late; a
        # worker-less run is then also caught by run monitoring's health check once the broker is back.
        return [], suspects
    missing = set()
    for run in started:
        task_id = run.tags[TASK_ID_TAG]
        owner = app.AsyncResult(task_id).worker  # the worker that started it (result_extended), if known
        if is_missing(task_id, owner, replies):
            missing.add(run.run_id)
    lost = []
    for run_id in missing & suspects:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status == dg.DagsterRunStatus.STARTED:  # it may have finished meanwhile
            lost.append(run)
    return lost, missing - {run.run_id for run in lost}


@dg.sensor(
    name=LOST_WORKERS_SENSOR_NAME,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed the runs whose Celery worker host is gone (cluster profile), so they can be retried.",
)
def fail_runs_of_lost_workers(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    suspects = set(json.loads(context.cursor)) if context.cursor else set()
    instance = sensor_instance(context)
    lost, suspects = lost_runs(instance, suspects)
    for run in lost:
        message = ("No Celery worker is running this run any more: its worker host "
                   "stopped or was killed. Retry the product (`batch-video batch retry`, or Re-execute from failure).")
        instance.report_run_failed(run, message=message)
        context.log.warning(f"run {run.run_id} ({run.tags.get('dagster/partition', '')}): {message}")
    context.update_cursor(json.dumps(sorted(suspects)))
    if lost:
        return dg.SkipReason(f"marked {len(lost)} runs of lost workers failed")
    return dg.SkipReason(f"{len(suspects)} runs to check again" if suspects else "every started run has a live worker")

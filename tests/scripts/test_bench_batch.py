"""`make bench-batch`'s launch -> first start figure, split into the daemon's pass and the project's part."""

from __future__ import annotations

import dagster as dg
import yaml

from scripts.bench_batch import ROOT, dagster_defaults_yaml, run_event_times, split_first_start
from scripts.local_dagster import uses_run_workers


@dg.op
def nothing() -> None:
    pass


@dg.job
def one_step():
    nothing()


def test_a_runs_start_splits_into_the_daemons_pass_and_queued_to_started_from_its_own_events():
    with dg.DagsterInstance.ephemeral() as instance:
        run = instance.create_run_for_job(one_step)
        # What the backfill daemon (queued), the run queue (dequeued) and the run worker (started) record;
        # a second start event (a resumed run) does not move the first start.
        for kind, at in ((dg.DagsterEventType.RUN_ENQUEUED, 110.0), (dg.DagsterEventType.RUN_STARTING, 111.0),
                         (dg.DagsterEventType.RUN_START, 112.5), (dg.DagsterEventType.RUN_START, 150.0)):
            event = dg.DagsterEvent(event_type_value=kind.value, job_name="one_step")
            instance.store_event(dg.EventLogEntry(error_info=None, level="DEBUG", user_message="", run_id=run.run_id,
                                                  timestamp=at, dagster_event=event))

        events = run_event_times(instance, run.run_id)

    assert events == {"queued": 110.0, "dequeued": 111.0, "started": 112.5}
    assert split_first_start(100.0, events) == {
        "launch_to_first_start_s": 12.5,
        "daemon_pass_s": 10.0,
        "queued_to_started_s": 2.5,
        "queued_to_dequeued_s": 1.0,
        "dequeued_to_started_s": 1.5,
    }


def test_the_dagster_defaults_setup_keeps_the_profile_but_its_run_queue_interval_and_launcher(tmp_path):
    profile = ROOT / "deploy" / "local" / "dagster.yaml"
    written = yaml.safe_load(dagster_defaults_yaml(profile, tmp_path / "dagster.yaml").read_text())
    settings = yaml.safe_load(profile.read_text())

    assert "run_launcher" in settings and "run_launcher" not in written
    assert settings["run_queue"]["dequeue_interval_seconds"] == 1
    assert written["run_queue"] == {k: v for k, v in settings["run_queue"].items() if k != "dequeue_interval_seconds"}
    assert {k: v for k, v in written.items() if k not in ("run_queue",)} == {
        k: v for k, v in settings.items() if k not in ("run_queue", "run_launcher")}
    assert not uses_run_workers((tmp_path / "dagster.yaml").read_text())

"""`make bench-batch`'s launch -> first start figure, split into the daemon's pass and the project's part."""

from __future__ import annotations

import dagster as dg
import yaml

from scripts.bench_batch import ROOT, dagster_defaults_yaml, run_event_times, split_first_start, split_gap
from scripts.local_dagster import uses_run_workers


@dg.op
def nothing() -> None:
    pass


@dg.job
def one_step():
    nothing()


def test_a_runs_start_and_the_gap_before_it_split_into_their_parts_from_the_runs_own_events():
    with dg.DagsterInstance.ephemeral() as instance:
        run = instance.create_run_for_job(one_step)
        # What the backfill daemon (queued), the run queue (dequeued) and the run worker (started) record;
        # a second start event (a resumed run) does not move the first start.
        # The launcher's and the run process's engine events between them: only the latter marks the process.
        for kind, at, message in ((dg.DagsterEventType.RUN_ENQUEUED, 110.0, None), (dg.DagsterEventType.RUN_STARTING, 111.0, None),
                                  (dg.DagsterEventType.ENGINE_EVENT, 111.1, "[BatchCeleryRunLauncher] Creating Celery run worker job task"),
                                  (dg.DagsterEventType.ENGINE_EVENT, 112.2, "Started process for run (pid: 4242)."),
                                  (dg.DagsterEventType.RUN_START, 112.5, None), (dg.DagsterEventType.RUN_START, 150.0, None)):
            if kind == dg.DagsterEventType.ENGINE_EVENT:
                # An engine event as Dagster writes it (on a scratch run), stored again below at a chosen time.
                event = instance.report_engine_event(message, instance.create_run_for_job(one_step))
            else:
                event = dg.DagsterEvent(event_type_value=kind.value, job_name="one_step")
            instance.store_event(dg.EventLogEntry(error_info=None, level="DEBUG", user_message="", run_id=run.run_id,
                                                  timestamp=at, dagster_event=event))

        events = run_event_times(instance, run.run_id)

    assert events == {"queued": 110.0, "dequeued": 111.0, "process": 112.2, "started": 112.5}
    assert split_first_start(100.0, events) == {
        "launch_to_first_start_s": 12.5,
        "daemon_pass_s": 10.0,
        "queued_to_started_s": 2.5,
        "queued_to_dequeued_s": 1.0,
        "dequeued_to_started_s": 1.5,
    }
    # The gap after a run that ended at 110.4, one run slot: the run queue, the hand-off, the run's start.
    split = split_gap(110.4, events)
    assert split.keys() == {"end_to_dequeued_s", "dequeued_to_process_s", "process_to_started_s"}
    assert [round(split[k], 3) for k in ("end_to_dequeued_s", "dequeued_to_process_s", "process_to_started_s")] == [0.6, 1.2, 0.3]


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

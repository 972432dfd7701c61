"""The cancel and lost-workers sensors open their instance once per code server process, not at every tick."""

from __future__ import annotations

import dagster as dg

from dagster_project.automation import cancel, lost_workers
from dagster_project.automation.sensor_instance import sensor_instance


def tick_context(instance: dg.DagsterInstance) -> dg.SensorEvaluationContext:
    # What the code server builds for a tick: a reference to the instance, never the instance itself.
    return dg.SensorEvaluationContext(instance_ref=instance.get_ref())


def test_ticks_of_one_instance_share_one_opened_instance_that_reads_its_storage(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = sensor_instance(tick_context(instance))
        second = sensor_instance(tick_context(instance))
        assert first is second
        assert first is not instance  # opened from the reference, like Dagster's context.instance
        # Runs written by another process's instance afterwards are read: nothing is cached but the connection setup.
        instance.add_run(dg.DagsterRun(job_name="product_video_job", run_id="r-after"))
        assert first.get_run_by_id("r-after") is not None


def test_ticks_of_two_instances_get_their_own(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "a")) as a, dg.instance_for_test(temp_dir=str(tmp_path / "b")) as b:
        opened_a, opened_b = sensor_instance(tick_context(a)), sensor_instance(tick_context(b))
        assert opened_a is not opened_b
        a.add_run(dg.DagsterRun(job_name="product_video_job", run_id="only-in-a"))
        assert opened_a.get_run_by_id("only-in-a") is not None and opened_b.get_run_by_id("only-in-a") is None


def test_a_context_built_around_an_instance_uses_that_instance():
    with dg.instance_for_test() as instance:
        assert sensor_instance(dg.build_sensor_context(instance=instance)) is instance


def test_the_cancel_and_lost_workers_sensors_read_the_shared_instance(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(cancel, "stop_canceled_batch_runs", lambda inst: seen.append(inst) or {})
    monkeypatch.setattr(lost_workers, "lost_runs", lambda inst, suspects: seen.append(inst) or ([], set()))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        for _ in range(2):
            cancel.stop_canceled_batches(tick_context(instance))
            lost_workers.fail_runs_of_lost_workers(tick_context(instance))
    assert len(seen) == 4 and all(inst is seen[0] for inst in seen)

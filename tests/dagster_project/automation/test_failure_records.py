"""Failed products are recorded where apps read video records, with the stage and reason our Failure names."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets import product_image, product_record
from dagster_project.automation.failure_records import failure_details, record_product_failures
from dagster_project.resources import BatchSettingsResource, CatalogResource, LocalPublishingResource, WorkspaceResource


def test_failure_details_prefer_our_failure_metadata():
    class Data:
        def __init__(self, description, metadata):
            self.user_failure_data = type("U", (), {"description": description, "metadata": metadata})()
            self.error = None

    event = type("E", (), {"step_key": "product_image", "step_failure_data": Data(
        "product X, field image_link: not found", {"product_id": dg.MetadataValue.text("X"), "stage": dg.MetadataValue.text("product_image")})})()
    details = failure_details({"dagster/partition": "x"}, [event])
    assert details == {"key": "x", "product_id": "X", "stage": "product_image", "message": "product X, field image_link: not found"}
    killed = failure_details({"dagster/partition": "x"}, [], "run process exited unexpectedly")
    assert killed == {"key": "x", "product_id": "x", "stage": "run", "message": "run process exited unexpectedly"}


def test_failure_sensor_records_the_failed_product(tiny_feed, tmp_path):
    from batch_video.records import SQLiteRecords

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("products", ["lipsa-1"])
    publishing = LocalPublishingResource(local_root=str(tmp_path / "output"))
    result = dg.materialize(
        [product_record, product_image], partition_key="lipsa-1", instance=instance, raise_on_error=False,
        resources={"catalog": CatalogResource(feed_url=str(tiny_feed), cache_dir=str(tmp_path / "cache")),
                   "workspace": WorkspaceResource(data_dir=str(tmp_path / "data")),
                   "batch_settings": BatchSettingsResource.of(preset="preview")},
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure_event = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name="record_product_failures", dagster_event=failure_event, dagster_instance=instance,
        dagster_run=run, resources={"publishing": publishing},
    ).for_run_failure()
    record_product_failures(context, publishing=publishing)
    record = SQLiteRecords(tmp_path / "output" / "records.sqlite").get_video("lipsa-1")
    assert record is not None and record.status == "failed"
    assert (record.external_id, record.error_stage) == ("LIPSA-1", "product_image")
    assert "image_link" in record.error_message and record.run_id == result.run_id

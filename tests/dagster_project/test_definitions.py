import dagster as dg

from dagster_project import definitions
from dagster_project.assets import product_video_assets
from dagster_project.resources import BatchSettingsResource
from batch_video.settings import BatchSettings
from dataclasses import fields


def test_definitions_load_with_the_six_stage_chain():
    defs = definitions.defs
    repo = defs.get_repository_def()
    keys = [a.key.to_user_string() for a in product_video_assets]
    assert keys == ["product_record", "product_image", "voiceover_script", "voiceover_audio", "rendered_video", "published_video"]
    graph = repo.asset_graph
    for upstream, downstream in zip(keys, keys[1:]):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys
    for asset in product_video_assets:
        assert isinstance(asset.partitions_def, dg.DynamicPartitionsDefinition)
        assert asset.partitions_def.name == "products"
    assert repo.get_job("product_video_job").executor_def.name == "in_process"
    # Automation: feed sync is opt-in; failure recording and stopping canceled batches always run.
    statuses = {s.name: s.default_status for s in repo.sensor_defs}
    assert statuses == {"record_product_failures": dg.DefaultSensorStatus.RUNNING,
                        "product_feed_sensor": dg.DefaultSensorStatus.STOPPED,
                        "stop_canceled_batches": dg.DefaultSensorStatus.RUNNING}


def test_settings_resource_mirrors_batch_settings():
    resource_fields = set(BatchSettingsResource.model_fields)
    assert {f.name for f in fields(BatchSettings)} <= resource_fields
    assert BatchSettingsResource().to_settings() == BatchSettings()


def test_settings_resource_reads_env(monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_PRESET", "reels")
    assert BatchSettingsResource.from_env().to_settings().preset == "reels"


def test_catalog_resource_takes_the_shop_currency_from_env(monkeypatch):
    assert definitions.build_resources()["catalog"].currency == "RON"
    monkeypatch.setenv("BATCH_VIDEO_FEED_CURRENCY", "EUR")
    assert definitions.build_resources()["catalog"].currency == "EUR"

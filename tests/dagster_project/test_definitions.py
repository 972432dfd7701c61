"""The code location: the six-stage chain, its automation, and batch settings resolved once per run."""

from __future__ import annotations

import dagster as dg
import pytest

from batch_video.errors import ConfigError
from batch_video.settings import BatchSettings
from batch_video.stages import STAGES
from dagster_project import definitions
from dagster_project.assets import product_video_assets
from dagster_project.resources import (
    BatchSettingsResource,
    CatalogResource,
    LocalPublishingResource,
    SupabasePublishingResource,
    SupabaseResource,
)


def test_definitions_load_with_the_six_stage_chain():
    defs = definitions.defs
    repo = defs.get_repository_def()
    keys = [a.key.to_user_string() for a in product_video_assets]
    assert keys == list(STAGES)
    graph = repo.asset_graph
    for upstream, downstream in zip(keys, keys[1:]):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys
    for asset in product_video_assets:
        assert isinstance(asset.partitions_def, dg.DynamicPartitionsDefinition)
        assert asset.partitions_def.name == "products"
    assert repo.get_job("product_video_job").executor_def.name == "in_process"
    # Automation: feed sync is opt-in; failure recording, stopping canceled batches, failing the runs of
    # lost workers and batch reports always run.
    statuses = {s.name: s.default_status for s in repo.sensor_defs}
    assert statuses == {"record_product_failures": dg.DefaultSensorStatus.RUNNING,
                        "product_feed_sensor": dg.DefaultSensorStatus.STOPPED,
                        "stop_canceled_batches": dg.DefaultSensorStatus.RUNNING,
                        "fail_runs_of_lost_workers": dg.DefaultSensorStatus.RUNNING,
                        "batch_reports": dg.DefaultSensorStatus.RUNNING}
    # The reports' asset stands apart from the chain (no partitions; the sensor records its events).
    assert dg.AssetKey("batch_report") in graph.get_all_asset_keys()
    assert graph.get(dg.AssetKey("batch_report")).partitions_def is None


def test_publishing_is_one_resource_per_backend_sharing_the_catalogs_supabase_project(monkeypatch):
    monkeypatch.delenv("BATCH_VIDEO_PUBLISH_BACKEND", raising=False)
    resources = definitions.build_resources()
    assert isinstance(resources["publishing"], LocalPublishingResource)
    assert isinstance(resources["catalog"].supabase, SupabaseResource)  # a `supabase:products` catalog reads through it
    monkeypatch.setenv("BATCH_VIDEO_PUBLISH_BACKEND", "supabase")
    resources = definitions.build_resources()
    assert isinstance(resources["publishing"], SupabasePublishingResource)
    assert resources["catalog"].supabase is resources["publishing"].supabase  # one project, one client


def test_an_unknown_publishing_backend_stops_the_code_location_from_loading(monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_PUBLISH_BACKEND", "s3")
    with pytest.raises(ConfigError) as info:
        definitions.build_resources()
    assert info.value.field == "BATCH_VIDEO_PUBLISH_BACKEND" and "local, supabase" in str(info.value)


def test_a_supabase_catalog_without_a_supabase_project_is_a_clear_error(tmp_path):
    catalog = CatalogResource(feed_url="supabase:products", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ConfigError) as info:
        catalog.read()
    assert info.value.field == "feed_url" and "CatalogResource(supabase=...)" in str(info.value)


def test_settings_resource_defaults_and_env(monkeypatch):
    assert BatchSettingsResource().defaults == BatchSettings()
    monkeypatch.setenv("BATCH_VIDEO_PRESET", "reels")
    monkeypatch.setenv("BATCH_VIDEO_CAPTIONS", "no")
    resource = BatchSettingsResource.from_env()
    assert resource.overrides == {"preset": "reels", "captions": "false"}
    assert resource.defaults == BatchSettings(preset="reels", captions=False)
    monkeypatch.setenv("BATCH_VIDEO_DURATION_MIN_S", "soon")
    with pytest.raises(ConfigError) as err:
        BatchSettingsResource.from_env()  # at load time, naming the setting
    assert err.value.field == "duration_min_s"


@dg.asset
def seen_settings(batch_settings: BatchSettingsResource) -> dict:
    return {"same_object": batch_settings.settings is batch_settings.settings, **batch_settings.settings.to_dict()}


def test_a_run_resolves_config_then_its_tags_once():
    result = dg.materialize(
        [seen_settings],
        resources={"batch_settings": BatchSettingsResource.of(preset="reels", tail_s=0.5)},
        tags={"batch_video/setting/preset": "preview", "batch_video/setting/captions": "false"},
    )
    seen = result.output_for_node("seen_settings")
    assert seen["same_object"] is True
    assert (seen["preset"], seen["captions"], seen["tail_s"]) == ("preview", False, 0.5)


def test_a_bad_setting_tag_fails_the_first_stage_naming_the_tag(tiny_feed, tmp_path):
    from dagster_project.assets import product_record
    from dagster_project.resources import CatalogResource, WorkspaceResource

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("products", ["cana-1"])
    result = dg.materialize(
        [product_record], partition_key="cana-1", instance=instance, raise_on_error=False,
        tags={"batch_video/setting/tail_s": "long"},
        resources={"catalog": CatalogResource(feed_url=str(tiny_feed), cache_dir=str(tmp_path / "cache")),
                   "workspace": WorkspaceResource(data_dir=str(tmp_path / "data")), "batch_settings": BatchSettingsResource()},
    )
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    user = failure.step_failure_data.user_failure_data
    assert "backfill tag batch_video/setting/tail_s" in user.description
    assert user.metadata["stage"].value == "settings" and user.metadata["field"].value == "tail_s"


def test_catalog_resource_takes_the_shop_currency_from_env(monkeypatch):
    assert definitions.build_resources()["catalog"].currency == "RON"
    monkeypatch.setenv("BATCH_VIDEO_FEED_CURRENCY", "EUR")
    assert definitions.build_resources()["catalog"].currency == "EUR"

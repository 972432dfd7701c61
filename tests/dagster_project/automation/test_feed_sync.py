"""The feed sensor and schedule against an ephemeral instance, with recorded hashes from real materializations."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import httpx
import pytest
import respx
from dagster_project.dagster_internals import DATA_VERSION_TAG

from batch_video.feed import read_feed
from dagster_project.assets import product_record
from dagster_project.partitions import products_partitions
from dagster_project.resources import BatchSettingsResource, CatalogResource, LocalPublishingResource, WorkspaceResource
from dagster_project.automation.feed_sync import (
    FEED_SCHEDULE_NAME,
    FEED_SENSOR_NAME,
    SyncOptions,
    apply_partition_changes,
    build_feed_sync_schedule,
    build_feed_sync_sensor,
    partitions_in_flight,
    product_feed_schedule,
    product_feed_sensor,
    recorded_hashes,
    sync_feed_partitions,
)
from dagster_project.run_tags import CONTENT_HASH_TAG

FEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
FEED_KEYS = ["sku-001", "sku-002", "sku-003-xl", "sku-004"]


@pytest.fixture
def feed_path(tmp_path) -> Path:
    path = tmp_path / "shop" / "feed.xml"
    path.parent.mkdir()
    shutil.copy(FEEDS / "merchant_rss.xml", path)
    # These tests are about what changed; every product is in stock here (test_stock_sync.py is about stock).
    edit_feed(path, "<g:availability>out_of_stock</g:availability>", "<g:availability>in stock</g:availability>")
    return path


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def catalog_for(feed: str | Path, tmp_path: Path) -> CatalogResource:
    return CatalogResource(feed_url=str(feed), cache_dir=str(tmp_path / "cache" / "feeds"))


def publishing_for(catalog: CatalogResource) -> LocalPublishingResource:
    """Local publishing in the folder beside the catalog's cache (each test's own tmp_path)."""
    return LocalPublishingResource(local_root=str(Path(catalog.cache_dir).parents[1] / "output"))


def tick(sensor, instance, catalog, cursor=None):
    resources = {"catalog": catalog, "publishing": publishing_for(catalog)}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def schedule_tick(instance, catalog, schedule=None):
    # A schedule context enters an instance reopened from the ref; `with` exits it before the next test.
    resources = {"catalog": catalog, "publishing": publishing_for(catalog)}
    with dg.build_schedule_context(instance=instance, resources=resources) as context:
        return (schedule or product_feed_schedule)(context)


def apply(instance, result: dg.SensorResult) -> None:
    """What the daemon does with a sensor result's partition requests."""
    for request in result.dynamic_partitions_requests or ():
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def record_hashes(instance, hashes: dict[str, str]) -> None:
    """Stand-in for finished runs: a product_record materialization carrying the data version."""
    for key, digest in hashes.items():
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=product_record.key, partition=key, tags={DATA_VERSION_TAG: digest})
        )


def rendered_once(instance, feed_path: Path, tmp_path: Path) -> tuple[CatalogResource, dg.SensorResult]:
    """The feed's first tick, applied, and every product it requested rendered (stood in by record_hashes)."""
    catalog = catalog_for(feed_path, tmp_path)
    first = tick(product_feed_sensor, instance, catalog)
    apply(instance, first)
    record_hashes(instance, {r.partition_key: r.tags[CONTENT_HASH_TAG] for r in first.run_requests})
    return catalog, first


def edit_feed(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def requested(result) -> list[str]:
    return [request.partition_key for request in result.run_requests]


def sensor_with(**options) -> dg.SensorDefinition:
    return build_feed_sync_sensor(name="test_feed_sensor", options=SyncOptions(**options))


def test_first_tick_adds_all_keys_and_requests_their_runs(instance, feed_path, tmp_path):
    result = tick(product_feed_sensor, instance, catalog_for(feed_path, tmp_path))
    assert isinstance(result, dg.SensorResult)
    (add,) = result.dynamic_partitions_requests
    assert isinstance(add, dg.AddDynamicPartitionsRequest)
    assert add.partitions_def_name == products_partitions.name
    assert sorted(add.partition_keys) == FEED_KEYS
    assert requested(result) == FEED_KEYS
    hashes = {p.key: p.content_hash for p in read_feed(feed_path).products}
    for request in result.run_requests:
        assert request.tags[CONTENT_HASH_TAG] == hashes[request.partition_key]
        assert request.run_key == f"{request.partition_key}@{hashes[request.partition_key]}"


def test_unchanged_feed_requests_nothing(instance, feed_path, tmp_path):
    catalog = catalog_for(feed_path, tmp_path)
    first = tick(product_feed_sensor, instance, catalog)
    apply(instance, first)
    second = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert isinstance(second, dg.SkipReason)
    assert "unchanged" in second.skip_message
    feed_path.touch()  # a new mtime with the same bytes is still the same feed
    assert isinstance(tick(product_feed_sensor, instance, catalog, first.cursor), dg.SkipReason)


def test_one_changed_price_requests_exactly_that_product(instance, feed_path, tmp_path):
    catalog, first = rendered_once(instance, feed_path, tmp_path)

    edit_feed(feed_path, "<g:price>49.99 RON</g:price>", "<g:price>44.99 RON</g:price>")
    second = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert requested(second) == ["sku-002"]
    assert not second.dynamic_partitions_requests
    assert second.run_requests[0].tags[CONTENT_HASH_TAG] != first.run_requests[1].tags[CONTENT_HASH_TAG]


@pytest.mark.slow
def test_hashes_recorded_by_real_product_record_runs(instance, feed_path, tmp_path):
    catalog = catalog_for(feed_path, tmp_path)
    first = tick(product_feed_sensor, instance, catalog)
    apply(instance, first)
    resources = {
        "catalog": catalog,
        "workspace": WorkspaceResource(data_dir=str(tmp_path / "data")),
        "batch_settings": BatchSettingsResource(),
    }
    for key in FEED_KEYS:
        assert dg.materialize([product_record], partition_key=key, instance=instance, resources=resources).success
    assert recorded_hashes(instance) == {r.partition_key: r.tags[CONTENT_HASH_TAG] for r in first.run_requests}

    edit_feed(feed_path, "<g:title>Ceas de perete</g:title>", "<g:title>Ceas de perete modern</g:title>")
    second = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert requested(second) == ["sku-004"]


def test_changed_product_with_a_run_in_flight_waits_for_it(instance, feed_path, tmp_path):
    catalog, first = rendered_once(instance, feed_path, tmp_path)
    running = dg.DagsterRun(job_name="product_video_job", run_id="running-2", status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": "sku-002"})
    instance.add_run(running)

    edit_feed(feed_path, "<g:price>49.99 RON</g:price>", "<g:price>44.99 RON</g:price>")
    second = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert requested(second) == []  # a run of sku-002 is still writing its files
    third = tick(product_feed_sensor, instance, catalog, second.cursor)  # same feed, but work is left
    assert requested(third) == []
    instance.handle_run_event(running.run_id, dg.DagsterEvent(event_type_value="PIPELINE_SUCCESS", job_name="product_video_job"))
    fourth = tick(product_feed_sensor, instance, catalog, third.cursor)
    assert requested(fourth) == ["sku-002"]
    assert isinstance(tick(product_feed_sensor, instance, catalog, fourth.cursor), dg.SkipReason)


def test_removed_product_is_reported_and_kept_by_default(instance, feed_path, tmp_path):
    catalog, first = rendered_once(instance, feed_path, tmp_path)

    edit_feed(feed_path, "<g:id>SKU-001</g:id>", "<g:id>SKU-101</g:id>")  # 001 leaves, 101 arrives
    second = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert requested(second) == ["sku-101"]
    assert [type(r) for r in second.dynamic_partitions_requests] == [dg.AddDynamicPartitionsRequest]
    (observation,) = second.asset_events
    assert observation.partition == "sku-001"
    assert observation.metadata["status"].value == "removed_from_feed"
    assert isinstance(tick(product_feed_sensor, instance, catalog, second.cursor), dg.SkipReason)


def test_removed_product_partition_is_deleted_when_configured(instance, feed_path, tmp_path):
    catalog = catalog_for(feed_path, tmp_path)
    sensor = sensor_with(delete_removed=True)
    first = tick(sensor, instance, catalog)
    apply(instance, first)
    edit_feed(feed_path, "<g:id>SKU-002</g:id>", "<g:id>SKU-102</g:id>")
    second = tick(sensor, instance, catalog, first.cursor)
    delete = [r for r in second.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)]
    assert [list(r.partition_keys) for r in delete] == [["sku-002"]]
    apply(instance, second)
    assert "sku-002" not in instance.get_dynamic_partitions(products_partitions.name)


def test_invalid_product_keeps_its_partition(instance, feed_path, tmp_path):
    catalog = catalog_for(feed_path, tmp_path)
    sensor = sensor_with(delete_removed=True)
    first = tick(sensor, instance, catalog)
    apply(instance, first)
    edit_feed(feed_path, "<g:price>249 lei</g:price>", "<g:price>la cerere</g:price>")  # SKU-004 breaks
    second = tick(sensor, instance, catalog, first.cursor)
    assert not any(isinstance(r, dg.DeleteDynamicPartitionsRequest) for r in second.dynamic_partitions_requests or ())
    assert "sku-004" not in requested(second)


def test_run_cap_carries_the_rest_over_even_if_the_feed_is_unchanged(instance, feed_path, tmp_path):
    catalog = catalog_for(feed_path, tmp_path)
    sensor = sensor_with(max_runs_per_tick=3)
    first = tick(sensor, instance, catalog)
    assert requested(first) == FEED_KEYS[:3]
    assert sorted(first.dynamic_partitions_requests[0].partition_keys) == FEED_KEYS  # all keys exist at once
    apply(instance, first)
    second = tick(sensor, instance, catalog, first.cursor)
    assert requested(second) == FEED_KEYS[3:]
    third = tick(sensor, instance, catalog, second.cursor)
    assert isinstance(third, dg.SkipReason)


def test_backlog_ticks_do_not_report_removals_again(instance, feed_path, tmp_path):
    catalog = catalog_for(feed_path, tmp_path)
    sensor = sensor_with(max_runs_per_tick=1)
    first = tick(sensor, instance, catalog)
    apply(instance, first)
    edit_feed(feed_path, "<g:id>SKU/003 [XL]</g:id>", "<g:id>SKU-103</g:id>")
    changed = tick(sensor, instance, catalog, first.cursor)
    assert [e.partition for e in changed.asset_events] == ["sku-003-xl"]
    backlog_tick = tick(sensor, instance, catalog, changed.cursor)
    assert backlog_tick.run_requests and not backlog_tick.asset_events


def test_unreadable_feed_skips_the_tick_and_keeps_the_cursor(instance, feed_path, tmp_path):
    catalog = catalog_for(feed_path, tmp_path)
    first = tick(product_feed_sensor, instance, catalog)
    feed_path.write_text("<rss><channel><item>", encoding="utf-8")
    broken = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert isinstance(broken, dg.SkipReason) and "not well-formed" in broken.skip_message
    missing = tick(product_feed_sensor, instance, catalog_for(tmp_path / "nope.xml", tmp_path), first.cursor)
    assert isinstance(missing, dg.SkipReason)


REMOTE_FEED = "https://shop.example.ro/feed.xml"
REMOTE_BODY = (FEEDS / "merchant_atom.xml").read_bytes()


def first_tick_of_remote_feed(instance, tmp_path):
    """A remote feed (ETag "v1") ticked once: its route, the catalog and the first result."""
    route = respx.get(REMOTE_FEED)
    route.mock(return_value=httpx.Response(200, content=REMOTE_BODY, headers={"ETag": '"v1"'}))
    catalog = catalog_for(REMOTE_FEED, tmp_path)
    first = tick(product_feed_sensor, instance, catalog)
    assert requested(first) == ["a2"] and route.call_count == 1  # a1 is a preorder: not rendered by default
    return route, catalog, first


@respx.mock
def test_remote_feed_not_modified_is_skipped_without_parsing(instance, tmp_path):
    route, catalog, first = first_tick_of_remote_feed(instance, tmp_path)
    route.mock(return_value=httpx.Response(304))
    second = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert isinstance(second, dg.SkipReason)
    assert route.call_count == 2  # one conditional request, no download
    assert route.calls.last.request.headers["If-None-Match"] == '"v1"'


@respx.mock
def test_changed_remote_feed_is_downloaded_once_per_tick_and_refreshes_the_runs_cache(instance, tmp_path):
    route, catalog, first = first_tick_of_remote_feed(instance, tmp_path)
    apply(instance, first)
    changed = REMOTE_BODY.replace(b"<g:id>A2</g:id>", b"<g:id>A3</g:id>")
    assert changed != REMOTE_BODY
    route.mock(return_value=httpx.Response(200, content=changed, headers={"ETag": '"v2"'}))
    second = tick(product_feed_sensor, instance, catalog, first.cursor)
    assert route.call_count == 2  # one conditional request brought the new version, parsed from that copy
    assert route.calls.last.request.headers["If-None-Match"] == '"v1"'
    assert requested(second) == ["a3"]
    # The runs of this tick read the catalog cache: it already holds the new version.
    assert sorted(p.key for p in catalog.read().products) == ["a1", "a3"]
    assert route.call_count == 2


@pytest.fixture
def persistent_instance():
    # A schedule context reopens the instance from its ref, which an in-memory instance lacks.
    with dg.instance_for_test() as on_disk:
        yield on_disk


def test_schedule_adds_partitions_and_requests_runs_once(persistent_instance, feed_path, tmp_path):
    instance = persistent_instance
    catalog = catalog_for(feed_path, tmp_path)
    first = schedule_tick(instance, catalog)
    assert sorted(r.partition_key for r in first) == FEED_KEYS
    assert sorted(instance.get_dynamic_partitions(products_partitions.name)) == FEED_KEYS
    record_hashes(instance, {r.partition_key: r.tags[CONTENT_HASH_TAG] for r in first})
    again = schedule_tick(instance, catalog)
    assert isinstance(again, dg.SkipReason)

    edit_feed(feed_path, "<g:id>SKU-001</g:id>", "<g:id>SKU-101</g:id>")
    third = schedule_tick(instance, catalog)
    assert [r.partition_key for r in third] == ["sku-101"]
    assert "sku-001" in instance.get_dynamic_partitions(products_partitions.name)  # kept, only reported
    (observation,) = instance.fetch_observations(product_record.key, limit=10).records
    assert observation.partition_key == "sku-001"
    assert observation.asset_observation.metadata["status"].value == "removed_from_feed"


def test_schedule_leaves_out_partitions_with_a_run_in_flight(persistent_instance, feed_path, tmp_path):
    instance = persistent_instance
    catalog = catalog_for(feed_path, tmp_path)
    instance.add_dynamic_partitions(products_partitions.name, FEED_KEYS)
    instance.add_run(
        dg.DagsterRun(job_name="product_video_job", run_id="running-1", status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": "sku-002"})
    )
    assert partitions_in_flight(instance) == {"sku-002"}
    runs = schedule_tick(instance, catalog)
    assert sorted(r.partition_key for r in runs) == ["sku-001", "sku-003-xl", "sku-004"]


def test_schedule_defaults_and_env(monkeypatch):
    assert product_feed_schedule.cron_schedule == "0 2 * * *"
    assert product_feed_schedule.execution_timezone == "Europe/Bucharest"
    assert product_feed_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert product_feed_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    monkeypatch.setenv("BATCH_VIDEO_FEED_SYNC_CRON", "30 5 * * 1-5")
    monkeypatch.setenv("BATCH_VIDEO_FEED_SYNC_TIMEZONE", "UTC")
    custom = build_feed_sync_schedule(name="custom")
    assert (custom.cron_schedule, custom.execution_timezone) == ("30 5 * * 1-5", "UTC")
    assert (product_feed_sensor.name, product_feed_schedule.name) == (FEED_SENSOR_NAME, FEED_SCHEDULE_NAME)


def test_sync_options_from_env():
    assert SyncOptions.from_env({}) == SyncOptions(max_runs_per_tick=200, delete_removed=False)
    assert SyncOptions.from_env(
        {"BATCH_VIDEO_FEED_SYNC_MAX_RUNS": "25", "BATCH_VIDEO_FEED_SYNC_DELETE_REMOVED": "yes"}
    ) == SyncOptions(max_runs_per_tick=25, delete_removed=True)


def test_cli_sync_helpers(instance, feed_path):
    result = read_feed(feed_path)
    plan, applied = sync_feed_partitions(instance, result, dry_run=True)
    assert plan.new == tuple(FEED_KEYS) and applied == {"added": 0, "deleted": 0}
    assert instance.get_dynamic_partitions(products_partitions.name) == []
    plan, applied = sync_feed_partitions(instance, result)
    assert applied == {"added": 4, "deleted": 0}
    instance.add_dynamic_partitions(products_partitions.name, ["old-one"])
    plan, _ = sync_feed_partitions(instance, result)
    assert plan.removed == ("old-one",) and plan.unrendered == tuple(FEED_KEYS)
    assert apply_partition_changes(instance, plan, delete_removed=True) == {"added": 0, "deleted": 1}
    assert sorted(instance.get_dynamic_partitions(products_partitions.name)) == FEED_KEYS
    assert partitions_in_flight(instance) == set()



def test_shop_export_ticks_add_its_products_and_a_product_taken_off_sale_leaves(instance, tmp_path):
    export = tmp_path / "shop" / "products_export.csv"
    export.parent.mkdir()
    shutil.copy(FEEDS / "shopify_export.csv", export)
    catalog = catalog_for(export, tmp_path)
    sensor = sensor_with(delete_removed=True)
    first = tick(sensor, instance, catalog)
    apply(instance, first)
    expected = ["cana-emailata", "set-ceai", "tricou-bumbac-alb-l", "tricou-bumbac-alb-m", "tricou-bumbac-rosu-l", "tricou-bumbac-rosu-m"]
    # The white T-shirts are sold out (0 in stock; the M may be backordered): they get no run by default.
    assert sorted(requested(first)) == ["cana-emailata", "set-ceai", "tricou-bumbac-rosu-l", "tricou-bumbac-rosu-m"]
    assert sorted(instance.get_dynamic_partitions(products_partitions.name)) == expected

    # The shop sets the mug back to draft and re-exports: it is no longer for sale, so its partition goes.
    text = export.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("cana-emailata,"))
    export.write_text(text.replace(row, row.rsplit(",", 1)[0] + ",draft"), encoding="utf-8")
    second = tick(sensor, instance, catalog, first.cursor)
    delete = [r for r in second.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)]
    assert [list(r.partition_keys) for r in delete] == [["cana-emailata"]]
    assert requested(second) == []

"""Stock-aware publishing through the feed sensor and schedule: a real published video, real records.

A product goes out of stock in the feed: the next sync takes its video down
(off the public folder, the record `unpublished`, an observation on
`published_video`) and renders nothing for it; back in stock, unchanged, the
next sync puts the same video back, and the records keep both events.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster_project.dagster_internals import DATA_VERSION_TAG

from batch_video.feed import read_feed
from batch_video.publish import LocalStorage, publish_video
from batch_video.records import SQLiteRecords
from batch_video import shelf
from batch_video.shelf import drop_withdrawn
from batch_video.stock import StockPolicy
from dagster_project.automation.feed_sync import SyncOptions, build_feed_sync_schedule, build_feed_sync_sensor
from dagster_project.partitions import PRODUCT_RECORD_KEY, PUBLISHED_VIDEO_KEY, products_partitions
from dagster_project.resources import CatalogResource, LocalPublishingResource
from tests.conftest import service_url

FEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
IN_STOCK = "<g:availability>in stock</g:availability>"
OUT_OF_STOCK = "<g:availability>out_of_stock</g:availability>"
ESPRESSOR = "sku-001"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    video, poster = folder / "v.mp4", folder / "p.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=red:s=64x64:d=0.5:r=10",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(video)], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=blue:s=32x32",
                    "-frames:v", "1", str(poster)], check=True)
    return video, poster


class Shop:
    """A feed file, the catalog and publishing resources over it, and what the pipeline would have published."""

    def __init__(self, root: Path, media) -> None:
        self.feed = root / "shop" / "feed.xml"
        self.feed.parent.mkdir(parents=True)
        shutil.copy(FEEDS / "merchant_rss.xml", self.feed)
        self.edit(OUT_OF_STOCK, IN_STOCK)  # SKU-002 comes in stock: every product sells at first
        self.output = root / "output"
        self.catalog = CatalogResource(feed_url=str(self.feed), cache_dir=str(root / "cache" / "feeds"))
        self.publishing = LocalPublishingResource(local_root=str(self.output))
        self.storage = LocalStorage(self.output)
        self.records = SQLiteRecords(self.output / "records.sqlite")
        self.media = media

    def edit(self, old: str, new: str, *, within: str = "") -> None:
        text = self.feed.read_text(encoding="utf-8")
        start = text.index(within) if within else 0
        end = text.index("</item>", start) if within else len(text)
        assert old in text[start:end]
        self.feed.write_text(text[:start] + text[start:end].replace(old, new) + text[end:], encoding="utf-8")

    def render_and_publish(self, instance, keys) -> None:
        """What the runs the sync asked for end with: product_record's data version, a published video and its row."""
        products = read_feed(self.feed).by_key()
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=PRODUCT_RECORD_KEY, partition=key, tags={DATA_VERSION_TAG: products[key].content_hash}))
            publish_video(self.storage, self.records, key=key, product_id=products[key].id, video_path=self.media[0],
                          poster_path=self.media[1], content_hash=products[key].content_hash, run_id=f"run-{key}")
            drop_withdrawn(self.storage, key)  # as pipeline.publish does

    def resources(self) -> dict:
        return {"catalog": self.catalog, "publishing": self.publishing}


def sensor_tick(sensor, instance, shop: Shop, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=shop.resources()) as context:
        result = sensor(context)
    for request in getattr(result, "dynamic_partitions_requests", None) or ():  # what the daemon does with them
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def requested(result) -> list[str]:
    return [r.partition_key for r in getattr(result, "run_requests", None) or ()]


def shelf_events(result) -> list[tuple[str, str, str]]:
    return [(e.partition, e.metadata["status"].value, e.metadata["reason"].value)
            for e in getattr(result, "asset_events", None) or () if e.asset_key == PUBLISHED_VIDEO_KEY]


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def test_out_of_stock_unpublishes_at_the_next_sync_and_back_in_stock_republishes(instance, tmp_path, media):
    shop = Shop(tmp_path, media)
    sensor = build_feed_sync_sensor(name="stock_sensor", options=SyncOptions())
    first = sensor_tick(sensor, instance, shop)
    keys = requested(first)
    assert ESPRESSOR in keys
    shop.render_and_publish(instance, keys)
    live = shop.storage.read_entry(ESPRESSOR)
    video_file = shop.output / live["video"]
    assert video_file.exists() and ESPRESSOR in shop.storage.manifest()["videos"]

    # The shop runs out of espresso machines.
    shop.edit(IN_STOCK, OUT_OF_STOCK, within="<g:id>SKU-001</g:id>")
    out = sensor_tick(sensor, instance, shop, first.cursor)
    assert requested(out) == []  # nothing is rendered for a product out of stock
    assert shelf_events(out) == [(ESPRESSOR, "unpublished", "out_of_stock")]
    assert shop.storage.read_entry(ESPRESSOR) is None and not video_file.exists()  # off the public folder
    assert ESPRESSOR not in shop.storage.manifest()["videos"]
    row = shop.records.get_video(ESPRESSOR)
    assert (row.status, row.unpublish_reason) == ("unpublished", "out_of_stock")
    others = {key: shop.records.get_video(key).status for key in keys if key != ESPRESSOR}
    assert set(others.values()) == {"published"}  # nothing else lost
    assert isinstance(sensor_tick(sensor, instance, shop, out.cursor), dg.SkipReason)  # same feed: nothing again

    # Back in stock, as it was: the same video returns, nothing is rendered again.
    shop.edit(OUT_OF_STOCK, IN_STOCK, within="<g:id>SKU-001</g:id>")
    back = sensor_tick(sensor, instance, shop, out.cursor)
    assert requested(back) == []
    assert shelf_events(back) == [(ESPRESSOR, "republished", "back_in_stock")]
    assert shop.storage.read_entry(ESPRESSOR) == live and video_file.read_bytes() == media[0].read_bytes()
    assert shop.storage.manifest()["videos"][ESPRESSOR] == live
    row = shop.records.get_video(ESPRESSOR)
    assert (row.status, row.unpublished_at, row.storage_path) == ("published", None, live["video"])
    assert [(e["event"], e["reason"]) for e in shop.records.video_events(ESPRESSOR)] == [
        ("unpublished", "out_of_stock"), ("republished", "back_in_stock")]
    assert {key: shop.records.get_video(key).status for key in keys if key != ESPRESSOR} == others


def test_a_product_repriced_while_out_of_stock_is_rendered_again_not_restored(instance, tmp_path, media):
    shop = Shop(tmp_path, media)
    sensor = build_feed_sync_sensor(name="stock_sensor", options=SyncOptions())
    first = sensor_tick(sensor, instance, shop)
    shop.render_and_publish(instance, requested(first))
    shop.edit(IN_STOCK, OUT_OF_STOCK, within="<g:id>SKU-001</g:id>")
    out = sensor_tick(sensor, instance, shop, first.cursor)
    shop.edit(OUT_OF_STOCK, IN_STOCK, within="<g:id>SKU-001</g:id>")
    shop.edit("<g:price>1.249,00 RON</g:price>", "<g:price>1.199,00 RON</g:price>")
    back = sensor_tick(sensor, instance, shop, out.cursor)
    assert requested(back) == [ESPRESSOR] and shelf_events(back) == []  # the old price never goes back up
    shop.render_and_publish(instance, [ESPRESSOR])
    assert shop.records.get_video(ESPRESSOR).status == "published" and shop.storage.read_entry(ESPRESSOR) is not None
    assert not (shop.output / "withdrawn" / ESPRESSOR).exists()  # the withdrawn copy is gone once the new video is live


def test_a_product_gone_from_the_feed_is_unpublished_and_a_shop_may_keep_videos_up(instance, tmp_path, media):
    shop = Shop(tmp_path, media)
    keep = build_feed_sync_sensor(name="keeping_sensor", options=SyncOptions(stock=StockPolicy(unpublish=False)))
    first = sensor_tick(keep, instance, shop)
    shop.render_and_publish(instance, requested(first))
    shop.edit(IN_STOCK, OUT_OF_STOCK, within="<g:id>SKU-001</g:id>")
    kept = sensor_tick(keep, instance, shop, first.cursor)
    assert shelf_events(kept) == [] and shop.records.get_video(ESPRESSOR).status == "published"

    sensor = build_feed_sync_sensor(name="stock_sensor", options=SyncOptions())
    shop.edit("<g:id>SKU-002</g:id>", "<g:id>SKU-102</g:id>")  # SKU-002 leaves the feed
    gone = sensor_tick(sensor, instance, shop, kept.cursor)
    assert sorted(shelf_events(gone)) == [(ESPRESSOR, "unpublished", "out_of_stock"), ("sku-002", "unpublished", "removed_from_feed")]
    assert shop.records.get_video("sku-002").status == "unpublished" and shop.storage.read_entry("sku-002") is None


def test_the_schedule_takes_down_and_puts_back_too(tmp_path, media):
    shop = Shop(tmp_path, media)
    schedule = build_feed_sync_schedule(name="stock_schedule", options=SyncOptions())
    with dg.instance_for_test() as instance:
        def schedule_tick():
            with dg.build_schedule_context(instance=instance, resources=shop.resources()) as context:
                return schedule(context)

        first = schedule_tick()
        shop.render_and_publish(instance, [r.partition_key for r in first])
        shop.edit(IN_STOCK, OUT_OF_STOCK, within="<g:id>SKU-001</g:id>")
        assert isinstance(schedule_tick(), dg.SkipReason)  # nothing to render...
        assert shop.records.get_video(ESPRESSOR).status == "unpublished"  # ...but the video came down
        shop.edit(OUT_OF_STOCK, IN_STOCK, within="<g:id>SKU-001</g:id>")
        schedule_tick()
        assert shop.records.get_video(ESPRESSOR).status == "published"
        observed = instance.fetch_observations(dg.AssetKey("published_video"), limit=10).records
        assert [(o.partition_key, o.asset_observation.metadata["status"].value) for o in reversed(observed)] == [
            (ESPRESSOR, "unpublished"), (ESPRESSOR, "republished")]


@contextlib.contextmanager
def instance_on(storage: str):
    """A Dagster instance on SQLite (the local profile) or on its own PostgreSQL database (the cluster profile)."""
    if storage == "sqlite":
        with dg.instance_for_test() as instance:
            yield instance
        return
    import psycopg

    dsn = service_url("BATCH_VIDEO_TEST_PG_DSN", "scripts/start_test_postgres.sh")
    name = f"stock_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = re.sub(r"^postgresql://", "postgresql+psycopg2://", dsn.rsplit("/", 1)[0]) + f"/{name}"
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as instance:
        yield instance


class FlakyShelf:
    """The local folder refusing to move one product's files (a full disk, a broken mount) until it is healed."""

    def __init__(self, monkeypatch, key: str) -> None:
        self.key, self.broken = key, True
        move = shelf._move

        def flaky_move(source, target):
            if self.broken and f"{key}/" in f"{source}/{target}":
                raise OSError(28, "No space left on device")
            return move(source, target)

        monkeypatch.setattr(shelf, "_move", flaky_move)


def shelf_errors(result) -> list[tuple[str, str, str]]:
    return [(e.partition, e.metadata["status"].value, e.metadata["error"].value)
            for e in getattr(result, "asset_events", None) or () if "error" in e.metadata]


@pytest.mark.parametrize("storage", ["sqlite", "postgres"])
def test_a_failed_withdrawal_or_restore_is_retried_at_every_tick_without_a_feed_change(tmp_path, media, monkeypatch, capfd,
                                                                                       storage):
    with instance_on(storage) as instance:
        failed_moves_are_retried_at_every_tick(instance, tmp_path, media, monkeypatch, capfd)


def failed_moves_are_retried_at_every_tick(instance, tmp_path, media, monkeypatch, capfd):
    shop = Shop(tmp_path, media)
    sensor = build_feed_sync_sensor(name="stock_sensor", options=SyncOptions())
    first = sensor_tick(sensor, instance, shop)
    shop.render_and_publish(instance, requested(first))
    flaky = FlakyShelf(monkeypatch, ESPRESSOR)

    # Both go out of stock; the espresso machine's files cannot move, which does not stop SKU-002's withdrawal.
    shop.edit(IN_STOCK, OUT_OF_STOCK, within="<g:id>SKU-001</g:id>")
    shop.edit(IN_STOCK, OUT_OF_STOCK, within="<g:id>SKU-002</g:id>")
    out = sensor_tick(sensor, instance, shop, first.cursor)
    assert shelf_events(out) == [(ESPRESSOR, "not unpublished", "out_of_stock"), ("sku-002", "unpublished", "out_of_stock")]
    assert [(key, status) for key, status, _ in shelf_errors(out)] == [(ESPRESSOR, "not unpublished")]
    assert "No space left on device" in shelf_errors(out)[0][2]
    logged = capfd.readouterr().err  # the sensor's log, as the tick's page in the UI shows it
    assert f"product {ESPRESSOR}: could not be unpublished" in logged and "No space left on device" in logged
    assert shop.records.get_video(ESPRESSOR).status == "published" and shop.records.get_video("sku-002").status == "unpublished"

    # The feed does not change: the next ticks try again, and only the failed one.
    again = sensor_tick(sensor, instance, shop, out.cursor)
    assert shelf_events(again) == [(ESPRESSOR, "not unpublished", "out_of_stock")]
    flaky.broken = False
    healed = sensor_tick(sensor, instance, shop, again.cursor)
    assert shelf_events(healed) == [(ESPRESSOR, "unpublished", "out_of_stock")]
    assert shop.records.get_video(ESPRESSOR).status == "unpublished" and shop.storage.read_entry(ESPRESSOR) is None
    assert isinstance(sensor_tick(sensor, instance, shop, healed.cursor), dg.SkipReason)  # done: unchanged feed, nothing to do

    # Back in stock: a failed restore is retried the same way.
    flaky.broken = True
    shop.edit(OUT_OF_STOCK, IN_STOCK, within="<g:id>SKU-001</g:id>")
    shop.edit(OUT_OF_STOCK, IN_STOCK, within="<g:id>SKU-002</g:id>")
    back = sensor_tick(sensor, instance, shop, healed.cursor)
    assert shelf_events(back) == [(ESPRESSOR, "not republished", "back_in_stock"), ("sku-002", "republished", "back_in_stock")]
    flaky.broken = False
    restored = sensor_tick(sensor, instance, shop, back.cursor)
    assert shelf_events(restored) == [(ESPRESSOR, "republished", "back_in_stock")]
    assert shop.storage.read_entry(ESPRESSOR) is not None
    assert isinstance(sensor_tick(sensor, instance, shop, restored.cursor), dg.SkipReason)
    for key in (ESPRESSOR, "sku-002"):  # each moved once, however many ticks it took
        assert [e["event"] for e in shop.records.video_events(key)] == ["unpublished", "republished"]


@pytest.mark.parametrize("storage", ["sqlite", "postgres"])
def test_the_schedule_keeps_a_removed_products_partition_until_its_video_is_down(tmp_path, media, monkeypatch, storage):
    shop = Shop(tmp_path, media)
    schedule = build_feed_sync_schedule(name="stock_schedule", options=SyncOptions(delete_removed=True))
    with instance_on(storage) as instance:
        def schedule_tick():
            with dg.build_schedule_context(instance=instance, resources=shop.resources()) as context:
                return schedule(context)

        shop.render_and_publish(instance, [r.partition_key for r in schedule_tick()])
        flaky = FlakyShelf(monkeypatch, "sku-002")
        shop.edit("<g:id>SKU-002</g:id>", "<g:id>SKU-102</g:id>")  # SKU-002 leaves the feed; its video cannot move yet
        schedule_tick()
        assert shop.records.get_video("sku-002").status == "published"
        assert "sku-002" in instance.get_dynamic_partitions(products_partitions.name)  # kept: the next sync tries again
        flaky.broken = False
        schedule_tick()
        assert shop.records.get_video("sku-002").status == "unpublished" and shop.storage.read_entry("sku-002") is None
        assert "sku-002" not in instance.get_dynamic_partitions(products_partitions.name)
        observed = instance.fetch_observations(PUBLISHED_VIDEO_KEY, limit=10).records
        assert [(o.partition_key, o.asset_observation.metadata["status"].value) for o in observed] == [
            ("sku-002", "not unpublished")]  # the failure shows on the product's page; the deleted partition has no more

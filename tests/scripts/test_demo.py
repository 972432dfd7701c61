"""`make demo`'s second run: unchanged products are skipped, a changed one is rendered again.

The demo decides with `stale_products` from what the last run published; here the products are published
through the real chain first (espeak-ng, ffmpeg, the `preview` preset), then the feed or the settings change.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from batch_video.catalog import load_catalog
from batch_video.feed import slugify_key
from batch_video.publish import LocalStorage
from dagster_project.assets import product_video_assets
from scripts.demo import stale_products
from tests.dagster_project.conftest import FEED_TEMPLATE, chain_resources, write_photo

pytestmark = pytest.mark.slow

MUG, OTHER = slugify_key("CANA 1"), slugify_key("LIPSA-1")

def render_and_publish(instance: dg.DagsterInstance, feed: Path, root: Path, keys: list[str]) -> None:
    resources = chain_resources(feed, root)
    for key in keys:
        assert dg.materialize(product_video_assets, partition_key=key, resources=resources, instance=instance).success


def test_the_second_run_skips_unchanged_products_and_redoes_a_changed_one(tmp_path):
    tiny_feed = tmp_path / "feed" / "feed.xml"
    write_photo(tiny_feed.parent / "images" / "mug.jpg")
    write_photo(tiny_feed.parent / "images" / "does-not-exist.jpg")  # both products of the feed are good here
    tiny_feed.write_text(FEED_TEMPLATE, encoding="utf-8")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("products", [MUG, OTHER])
    settings = chain_resources(tiny_feed, tmp_path)["batch_settings"].defaults
    settings_hash = settings.settings_hash()

    assert stale_products(instance, load_catalog(str(tiny_feed)), settings_hash) == ([MUG, OTHER], [], {})
    render_and_publish(instance, tiny_feed, tmp_path, [MUG, OTHER])
    assert stale_products(instance, load_catalog(str(tiny_feed)), settings_hash) == ([], [MUG, OTHER], {})

    # One price changes (and the file's length with it, whatever the catalog cache keys on).
    tiny_feed.write_text(tiny_feed.read_text(encoding="utf-8").replace("<g:price>10,00 RON", "<g:price>12,50 RON"),
                         encoding="utf-8")
    assert stale_products(instance, load_catalog(str(tiny_feed)), settings_hash) == ([OTHER], [MUG], {})
    live = LocalStorage(tmp_path / "output")
    before = live.live_video(OTHER).read_bytes()
    render_and_publish(instance, tiny_feed, tmp_path, [OTHER])  # what the demo's backfill does for it
    assert live.live_video(OTHER).read_bytes() != before
    assert stale_products(instance, load_catalog(str(tiny_feed)), settings_hash) == ([], [MUG, OTHER], {})

    # Other settings (another preset, say) make every product stale.
    other_settings = settings.merged({"preset": "square"}).settings_hash()
    assert stale_products(instance, load_catalog(str(tiny_feed)), other_settings) == ([MUG, OTHER], [], {})

"""Full-chain materializations with real ffmpeg and espeak-ng on a tiny render."""

from __future__ import annotations

import json
import subprocess

import dagster as dg
import pytest

from batch_video.feed import slugify_key
from batch_video.publish import LocalStorage
from dagster_project.assets import product_video_assets
from dagster_project.partitions import products_partitions
from tests.dagster_project.conftest import chain_resources

pytestmark = pytest.mark.slow


def ffprobe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def materializations(result):
    return {e.asset_key.to_user_string(): e.event_specific_data.materialization for e in result.get_asset_materialization_events()}


def test_good_product_materializes_and_broken_one_fails_alone(tiny_feed, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    good, broken = slugify_key("CANA 1"), slugify_key("LIPSA-1")
    instance.add_dynamic_partitions("products", [good, broken])
    resources = chain_resources(tiny_feed, tmp_path)

    ok = dg.materialize(product_video_assets, partition_key=good, resources=resources, instance=instance)
    assert ok.success
    bad = dg.materialize(product_video_assets, partition_key=broken, resources=resources, instance=instance, raise_on_error=False)
    assert not bad.success

    failures = [e for e in bad.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["product_image"]
    message = failures[0].step_failure_data.user_failure_data.description
    assert "LIPSA-1" in message and "image_link" in message and "not allowed or not readable" in message
    assert str(tiny_feed.parent) not in message  # no server path in what the shop owner reads

    statuses = instance.get_status_by_partition(dg.AssetKey("published_video"), [good, broken], products_partitions)
    assert statuses[good] == dg.AssetPartitionStatus.MATERIALIZED
    image_status = instance.get_status_by_partition(dg.AssetKey("product_image"), [good, broken], products_partitions)
    assert image_status[broken] == dg.AssetPartitionStatus.FAILED

    published = LocalStorage(tmp_path / "output").live_video(good)
    assert published.with_suffix(".jpg").exists()
    info = ffprobe(published)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert any(s["codec_type"] == "audio" for s in info["streams"])

    mats = materializations(ok)
    audio_meta = mats["voiceover_audio"].metadata
    assert audio_meta["provider"].value == "espeak"
    voice_s = audio_meta["duration_s"].value
    assert abs(float(info["format"]["duration"]) - (voice_s + 0.5)) < 0.5
    assert "data:image/jpeg;base64," in mats["rendered_video"].metadata["preview"].value


def test_rematerializing_reuses_the_render(tiny_feed, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    key = slugify_key("CANA 1")
    instance.add_dynamic_partitions("products", [key])
    resources = chain_resources(tiny_feed, tmp_path)
    dg.materialize(product_video_assets, partition_key=key, resources=resources, instance=instance)
    again = dg.materialize(product_video_assets, partition_key=key, resources=resources, instance=instance)
    mats = materializations(again)
    assert mats["rendered_video"].metadata["reused"].value is True
    assert mats["voiceover_audio"].metadata["cache_hit"].value is True

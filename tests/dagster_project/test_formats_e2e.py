"""Several formats from one batch: each product rendered, checked and published as 9:16, 1:1 and 16:9,
from one voiceover (the TTS is called once per product, not once per format)."""

from __future__ import annotations

import dagster as dg
import pytest

from batch_video import media
from batch_video.feed import slugify_key
from batch_video.publish import LocalStorage
from batch_video.records import SQLiteRecords
from batch_video.tts.espeak import EspeakProvider
from dagster_project.assets import product_video_assets
from dagster_project.console.cli import main
from tests.dagster_project.conftest import chain_resources
from tests.dagster_project.test_product_chain import materializations

pytestmark = pytest.mark.slow

FORMATS = "tiktok,square,landscape"
SIZES = {"tiktok": (1080, 1920), "square": (1080, 1080), "landscape": (1920, 1080)}


@pytest.fixture
def tts_calls(monkeypatch) -> list[str]:
    """Every text the espeak-ng provider is asked to speak."""
    calls: list[str] = []
    original = EspeakProvider.synthesize

    def counted(self, text, *args, **kwargs):
        calls.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(EspeakProvider, "synthesize", counted)
    return calls


def video_size(path) -> tuple[int, int]:
    stream = next(s for s in media.probe(path)["streams"] if s["codec_type"] == "video")
    return stream["width"], stream["height"]


def test_a_three_format_batch_publishes_three_checked_videos_from_one_voiceover(tiny_feed, tmp_path, tts_calls):
    key = slugify_key("CANA 1")
    resources = chain_resources(tiny_feed, tmp_path, formats=FORMATS)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("products", [key])
        result = dg.materialize(product_video_assets, partition_key=key, resources=resources, instance=instance)
    assert result.success
    assert len(tts_calls) == 1
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    mats = materializations(result)
    rendered = mats["rendered_video"].metadata
    assert rendered["formats_passed"].value == 3
    rows = rendered["formats"].value.records
    assert [(r.data["format"], r.data["resolution"]) for r in rows] == [
        (name, "x".join(map(str, SIZES[name]))) for name in FORMATS.split(",")]
    published = {r.data["format"]: r.data["location"] for r in mats["published_video"].metadata["formats"].value.records}
    storage = LocalStorage(tmp_path / "output")
    names = {"tiktok": key, "square": f"{key}--square", "landscape": f"{key}--landscape"}
    for fmt, name in names.items():
        video = storage.live_video(name)  # each format is a product entry of its own, its files named by content
        assert video_size(video) == SIZES[fmt]
        assert video.with_suffix(".jpg").is_file()
        assert name in published[fmt]
    records = SQLiteRecords(tmp_path / "output" / "records.sqlite")
    assert {name: records.get_video(name) is not None for name in names.values()} == dict.fromkeys(names.values(), True)


def test_render_writes_every_format_into_the_folder(tiny_feed, tmp_path, tts_calls, monkeypatch, capsys):
    monkeypatch.setenv("BATCH_VIDEO_FORMATS", FORMATS)
    monkeypatch.setenv("BATCH_VIDEO_TTS_PROVIDER", "espeak")
    monkeypatch.setenv("BATCH_VIDEO_SCRIPT_TEMPLATE", "Preț: {price} lei.")
    monkeypatch.setenv("BATCH_VIDEO_DURATION_MIN_S", "1")
    out = tmp_path / "D"
    assert main(["render", "--feed", str(tiny_feed), "--product", "CANA 1", "--out", str(out)]) == 0
    key = slugify_key("CANA 1")
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted(
        [f"{key}.mp4", f"{key}--square.mp4", f"{key}--landscape.mp4"])
    assert video_size(out / f"{key}.mp4") == SIZES["tiktok"]
    assert video_size(out / f"{key}--square.mp4") == SIZES["square"]
    assert video_size(out / f"{key}--landscape.mp4") == SIZES["landscape"]
    assert len(tts_calls) == 1
    assert capsys.readouterr().out.count("video checks passed") == 3


def test_a_format_that_is_not_a_preset_is_refused_before_any_work(tiny_feed, tmp_path, capsys):
    assert main(["render", "--feed", str(tiny_feed), "--product", "CANA 1", "--out", str(tmp_path / "D"),
                 "--formats", "tiktok,vertical"]) == 2
    assert "unknown preset 'vertical'" in capsys.readouterr().err
    assert not (tmp_path / "D").exists()

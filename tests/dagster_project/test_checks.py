"""The blocking checks on rendered_video: a bad video fails its stage and is never published.

The videos are made by ffmpeg and dropped into the product's workspace as an
up-to-date render, so rendered_video reuses them: these tests exercise the
checks and the blocking, not the renderer. The last one renders a product for
real, with `batch-video render` and with a batch run, and compares their verdicts.
"""

from __future__ import annotations

import dataclasses
import subprocess
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from batch_video import pipeline, quality
from batch_video.models import PreparedImage, Product, RenderedVideo, Voiceover
from batch_video.publish import LocalStorage
from batch_video.render.presets import PRESETS
from batch_video.workspace import ProductWorkspace
from dagster_project.assets import product_video_assets, published_video, rendered_video
from dagster_project.console import cli
from dagster_project.resources import (
    BatchSettingsResource,
    CatalogResource,
    LocalPublishingResource,
    TTSResource,
    WorkspaceResource,
)
from tests.dagster_project.conftest import write_photo

KEY = "cana-1"
PREVIEW = PRESETS["preview"]
SETTINGS = BatchSettingsResource.of(preset="preview", tts_provider="espeak", duration_min_s=1.0, tail_s=0.5)
VOICE_S = 1.5  # video = voiceover + tail = 2.0 s


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_video(path: Path, *, size: str = f"{PREVIEW.width}x{PREVIEW.height}", silent: bool = False) -> Path:
    audio = ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "2"] if silent else [
        "-f", "lavfi", "-i", "sine=frequency=330:duration=2:sample_rate=48000", "-af", "loudnorm=I=-14:TP=-1.5:LRA=11,aresample=48000"]
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={PREVIEW.fps}:duration=2", *audio,
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", "-movflags", "+faststart", str(path))
    return path


def prepare_workspace(data_dir: Path, corruption: str | None, key: str = KEY) -> ProductWorkspace:
    """A product whose upstream stages are done and whose render is up to date (so it is reused)."""
    ws = ProductWorkspace(data_dir, key)
    product = Product(id=key.upper().replace("-", " "), key=key, title="Cană", price=Decimal("49.99"), currency="RON",
                      image_link="x.jpg", content_hash="c1")
    ws.save_product(product)
    photo = write_photo(ws.path("image.jpg"), (320, 240))
    image = PreparedImage(path=photo, width=320, height=240, source_width=320, source_height=240, source_format="JPEG")
    ws.save_image(image)
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=220:duration={VOICE_S}:sample_rate=24000", str(ws.path("voiceover.wav")))
    voiceover = Voiceover(audio_path=ws.path("voiceover.wav"), duration_s=VOICE_S, provider="espeak", voice="ro")
    ws.save_voiceover(voiceover, ())
    video_path = ws.path("video.mp4")
    make_video(video_path, size="320x640" if corruption == "wrong_resolution" else f"{PREVIEW.width}x{PREVIEW.height}",
               silent=corruption == "silent")
    if corruption == "truncated":
        video_path.write_bytes(video_path.read_bytes()[: video_path.stat().st_size // 2])
    write_photo(ws.path("poster.jpg"), (180, 320))
    video = RenderedVideo(video_path=video_path, poster_path=ws.path("poster.jpg"), duration_s=2.0, width=PREVIEW.width,
                          height=PREVIEW.height, fps=PREVIEW.fps, size_bytes=video_path.stat().st_size, preset="preview")
    ws.save_render(video, pipeline.render_inputs_hash(product, image, voiceover, SETTINGS.defaults))
    return ws


def run_render_and_publish(tmp_path: Path, corruption: str | None):
    ws = prepare_workspace(tmp_path / "data", corruption)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("products", [KEY])
    resources = {
        "workspace": WorkspaceResource(data_dir=str(tmp_path / "data")),
        "batch_settings": SETTINGS,
        "publishing": LocalPublishingResource(local_root=str(tmp_path / "output")),
    }
    result = dg.materialize([rendered_video, published_video], partition_key=KEY, resources=resources,
                            instance=instance, raise_on_error=False)
    return ws, instance, result


def check_evaluations(result) -> dict[str, bool]:
    return {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_check_specs_are_blocking_on_rendered_video():
    specs = {spec.name: spec for spec in rendered_video.check_specs}
    assert set(specs) == set(quality.CHECK_NAMES)
    assert all(spec.blocking and spec.asset_key == dg.AssetKey("rendered_video") for spec in specs.values())


def test_a_good_video_passes_and_is_published(tmp_path):
    ws, _, result = run_render_and_publish(tmp_path, None)
    assert result.success, [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert check_evaluations(result) == {name: True for name in quality.CHECK_NAMES}
    mats = {e.asset_key.to_user_string(): e.event_specific_data.materialization for e in result.get_asset_materialization_events()}
    assert mats["rendered_video"].metadata["reused"].value is True  # the checks, not a re-render, decided
    assert LocalStorage(tmp_path / "output").live_video(KEY).exists()


@pytest.mark.parametrize(
    "corruption, failed_check",
    [("truncated", "decodes_completely"), ("silent", "audio_present"), ("wrong_resolution", "format_matches_preset")],
)
def test_a_corrupted_video_fails_its_stage_and_is_not_published(tmp_path, corruption, failed_check):
    _, instance, result = run_render_and_publish(tmp_path, corruption)
    assert not result.success
    assert check_evaluations(result)[failed_check] is False
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["rendered_video"]
    user = failures[0].step_failure_data.user_failure_data
    assert user.metadata["stage"].value == "rendered_video" and user.metadata["product_id"].value == "CANA 1"
    assert failed_check in user.metadata["failed_checks"].value
    assert "CANA 1" in user.description and failed_check in user.description
    assert not result.get_asset_materialization_events()
    assert LocalStorage(tmp_path / "output").read_entry(KEY) is None
    status = instance.get_status_by_partition(dg.AssetKey("rendered_video"), [KEY], rendered_video.partitions_def)
    assert status[KEY] == dg.AssetPartitionStatus.FAILED


@pytest.mark.slow
def test_the_cli_refuses_what_a_batch_refuses_for_the_same_reasons(tiny_feed, tmp_path, monkeypatch, capsys):
    # A real render of a real product, checked against a platform cap lowered below any video's size.
    monkeypatch.setitem(PRESETS, "preview", dataclasses.replace(PREVIEW, max_bytes=1_000))
    monkeypatch.setenv("BATCH_VIDEO_TTS_PROVIDER", "espeak")
    out = tmp_path / "out"
    assert cli.main(["render", "--feed", str(tiny_feed), "--product", "CANA 1", "--out", str(out), "--preset", "preview"]) == 1
    cli_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("cana-1: FAILED: ")]
    assert not (out / "cana-1.mp4").exists()  # refused: nothing is written where videos are delivered

    # A batch run of the same product over the same work folder: the same video, the same verdict.
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("products", [KEY])
    resources = {
        "catalog": CatalogResource(feed_url=str(tiny_feed), cache_dir=str(tmp_path / "cache")),
        "workspace": WorkspaceResource(data_dir=str(out / "work")),
        "batch_settings": BatchSettingsResource.of(preset="preview", tts_provider="espeak"),
        "tts": TTSResource(cache_dir=str(out / "work" / "tts-cache")),
        "publishing": LocalPublishingResource(local_root=str(tmp_path / "output")),
    }
    result = dg.materialize(product_video_assets, partition_key=KEY, resources=resources, instance=instance,
                            raise_on_error=False)
    assert check_evaluations(result)["size_under_platform_cap"] is False
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "rendered_video"
    reason = failure.step_failure_data.user_failure_data.description
    assert reason.startswith("product CANA 1, field video: video checks failed: size_under_platform_cap: ")
    assert cli_lines == [f"cana-1: FAILED: {reason}"]
    assert LocalStorage(tmp_path / "output").read_entry(KEY) is None

"""The one path of a product: what the render stage expects of a video, and what the publish stage refuses."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest

from batch_video import pipeline, quality
from batch_video.models import Product, RenderedVideo, Voiceover
from batch_video.publish import LocalStorage
from batch_video.records import SQLiteRecords
from batch_video.render.presets import PRESETS
from batch_video.settings import BatchSettings
from batch_video.workspace import ProductWorkspace, StageOutputMissing

PREVIEW = PRESETS["preview"]
SETTINGS = BatchSettings(preset="preview", duration_min_s=1.0, tail_s=0.5)


def test_expectations_come_from_the_preset_and_the_voiceover():
    settings = SETTINGS.merged({"duration_min_s": 5.0})
    expected = pipeline.expectations(settings, 1.5)
    assert (expected.width, expected.height, expected.fps) == (PREVIEW.width, PREVIEW.height, float(PREVIEW.fps))
    assert expected.max_bytes == PREVIEW.max_bytes
    assert expected.expected_duration_s == 5.0  # clamped up to the minimum
    assert pipeline.expectations(settings.merged({"preset": "tiktok"}), 10.0).expected_duration_s == 10.5


def test_a_verdict_with_a_failed_check_refuses_naming_product_field_and_every_failed_check():
    verdict = quality.Verdict((
        quality.CheckOutcome("decodes_completely", True, "ok"),
        quality.CheckOutcome("audio_present", False, "no audio stream"),
        quality.CheckOutcome("size_under_platform_cap", False, "5.1 MB over the 4 MB cap"),
    ))
    refusal = verdict.refusal(product_id="CANA 1")
    assert isinstance(refusal, quality.VideoCheckFailed) and not refusal.retryable
    assert str(refusal) == ("product CANA 1, field video: video checks failed: audio_present: no audio stream; "
                            "size_under_platform_cap: 5.1 MB over the 4 MB cap")
    assert refusal.failed_checks == ("audio_present", "size_under_platform_cap") and refusal.stage == "rendered_video"
    assert quality.Verdict(verdict.outcomes[:1]).refusal(product_id="CANA 1") is None


@pytest.fixture
def rendered_workspace(tmp_path) -> ProductWorkspace:
    """A product whose render is done (a tiny real MP4), not yet checked."""
    ws = ProductWorkspace(tmp_path / "data", "cana-1")
    ws.save_product(Product(id="CANA 1", key="cana-1", title="Cană", price=Decimal("9.99"), currency="RON", image_link="x.jpg"))
    for name, source, frames in (("video.mp4", "color=red:s=32x32:d=0.3:r=10", "3"), ("poster.jpg", "color=blue:s=16x16", "1")):
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source, "-frames:v", frames,
                        "-pix_fmt", "yuv420p", str(ws.path(name))], check=True)
    ws.save_voiceover(Voiceover(audio_path=ws.path("voiceover.wav"), duration_s=0.3, provider="espeak", voice="ro"), ())
    video = RenderedVideo(video_path=ws.path("video.mp4"), poster_path=ws.path("poster.jpg"), duration_s=0.3, width=32,
                          height=32, fps=10, size_bytes=ws.path("video.mp4").stat().st_size, preset="preview")
    ws.save_render(video, "hash-1")
    return ws


def publish(ws: ProductWorkspace, tmp_path):
    records = SQLiteRecords(tmp_path / "out" / "records.sqlite")
    return pipeline.publish(ws, LocalStorage(tmp_path / "out"), records, SETTINGS), records


def test_publish_refuses_a_video_that_failed_its_checks(rendered_workspace, tmp_path):
    rendered_workspace.save_verdict("hash-1", False, "audio_present: no audio stream")
    with pytest.raises(quality.VideoCheckFailed) as err:
        publish(rendered_workspace, tmp_path)
    assert str(err.value) == "product CANA 1, field video: video checks failed: audio_present: no audio stream"
    assert not (tmp_path / "out" / "videos").exists() or not any((tmp_path / "out" / "videos").iterdir())


def test_publish_refuses_a_render_that_was_never_checked(rendered_workspace, tmp_path):
    with pytest.raises(StageOutputMissing):
        publish(rendered_workspace, tmp_path)
    rendered_workspace.save_verdict("an-older-render", True, "all 7 video checks passed")
    with pytest.raises(StageOutputMissing, match="has not been checked"):
        publish(rendered_workspace, tmp_path)


def test_publish_publishes_a_checked_video_and_records_it(rendered_workspace, tmp_path):
    rendered_workspace.save_verdict("hash-1", True, "all 7 video checks passed")
    result, records = publish(rendered_workspace, tmp_path)
    assert LocalStorage(tmp_path / "out").live_video("cana-1").read_bytes() == rendered_workspace.path("video.mp4").read_bytes()
    assert result.inputs_hash == "hash-1" and result.voiceover.provider == "espeak"
    assert records.get_video("cana-1").external_id == "CANA 1"

"""Real (tiny) renders checked with ffprobe, the render deadline, and the encoder's frame pipe."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch_video.errors import ProductDataError, ProgramTimeout
from batch_video.media import probe
from batch_video.models import CaptionCue, PreparedImage, Product, Voiceover, WordTiming
from batch_video.render import PRESETS, build_spec, contact_sheet, render_deadline_s, render_video
from batch_video.render.encoder import run_piped
from batch_video.settings import BatchSettings


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("render_assets")
    rng = np.random.default_rng(2)
    photo = folder / "image.jpg"
    arr = (rng.random((100, 100, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).resize((1000, 1000), Image.Resampling.BICUBIC).save(photo)
    image = PreparedImage(photo, 1000, 1000, 1000, 1000, "JPEG")
    # A quiet (about -30 LUFS) warbling tone: loud enough to normalize, short enough to be quick.
    tone = folder / "voice.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=330:duration=3,volume=0.05,tremolo=f=4", "-ar", "22050", str(tone)], check=True)
    # Quiet body with full-scale clicks, like TTS: a plain gain to -14 LUFS would clip,
    # so this one goes through the gain + peak limiter path.
    peaky = folder / "peaky.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "aevalsrc=0.08*sin(2*PI*220*t)+0.95*lt(mod(t\\,0.25)\\,0.002):s=22050:d=3",
                    str(peaky)], check=True)
    silence = folder / "silence.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono",
                    "-t", "2", str(silence)], check=True)
    return {"image": image, "tone": tone, "silence": silence, "peaky": peaky}


def product(**kw) -> Product:
    base = dict(id="SKU-9", key="sku-9", title="Rucsac urban ș ț, 20 L", price=Decimal("199.90"),
                sale_price=Decimal("149.90"), currency="RON", image_link="x", brand="Ionescu")
    base.update(kw)
    return Product(**base)


def voice(path: Path, seconds: float) -> Voiceover:
    return Voiceover(path, seconds, "espeak", "ro")


CUES = (CaptionCue(0.0, 0.9, (WordTiming("Rucsac", 0.0, 0.4), WordTiming("urban", 0.4, 0.9))),)


def integrated_loudness(path: Path) -> float:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a", "-af",
                          "ebur128", "-f", "null", "-"], capture_output=True, text=True).stderr
    summary = out[out.rfind("Summary:"):]
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))


def video_stream(info: dict) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def audio_stream(info: dict) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == "audio")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_real_render_per_preset(tmp_path, assets, name):
    preset = PRESETS[name]
    seconds = 2.0 if name == "preview" else 1.0
    settings = BatchSettings(preset=name, duration_min_s=seconds, duration_max_s=seconds, tail_s=0)
    calls = []
    result = render_video(product(), assets["image"], voice(assets["tone"], 3.0), tmp_path / "v.mp4",
                          tmp_path / "p.jpg", settings, cues=CUES, progress=lambda a, b: calls.append((a, b)))
    assert result.video_path.exists() and result.size_bytes == result.video_path.stat().st_size
    assert (result.width, result.height, result.fps) == (preset.width, preset.height, preset.fps)
    assert result.size_bytes < preset.max_bytes
    info = probe(result.video_path)
    video, audio = video_stream(info), audio_stream(info)
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert (video["width"], video["height"]) == (preset.width, preset.height)
    assert video["r_frame_rate"] == f"{preset.fps}/1"
    assert int(video["nb_frames"]) == round(seconds * preset.fps)
    assert video.get("color_space") == "bt709"
    assert audio["codec_name"] == "aac" and int(audio["sample_rate"]) == preset.audio_rate
    assert int(audio["channels"]) == preset.audio_channels
    assert abs(float(info["format"]["duration"]) - seconds) < 0.1
    # +faststart: the index comes before the media data.
    head = result.video_path.read_bytes()[:4096]
    assert b"moov" in head and (b"mdat" not in head or head.index(b"moov") < head.index(b"mdat"))
    assert abs(integrated_loudness(result.video_path) + 14.0) <= 1.0
    assert result.extra["limiter_gain_db"] is None  # the quiet tone takes the exact linear path
    with Image.open(result.poster_path) as poster:
        assert poster.format == "JPEG" and poster.size == (preset.width, preset.height)
    assert calls[-1] == (result.extra["frames"], result.extra["frames"])
    assert [a for a, _ in calls] == sorted(a for a, _ in calls)
    # Only the published names remain: no partial files.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jpg", "v.mp4"]


@pytest.mark.slow
def test_peaky_voiceover_is_limited_and_still_reaches_the_target(tmp_path, assets):
    settings = BatchSettings(preset="preview", duration_min_s=2.0, duration_max_s=2.0, tail_s=0)
    result = render_video(product(), assets["image"], voice(assets["peaky"], 3.0), tmp_path / "v.mp4",
                          tmp_path / "p.jpg", settings)
    assert result.extra["limiter_gain_db"] is not None
    assert abs(integrated_loudness(result.video_path) + 14.0) <= 1.0
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(result.video_path), "-af",
                          "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True).stderr
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", out[out.rfind("Summary:"):]).group(1))
    assert peak <= -1.0


@pytest.mark.slow
def test_long_voiceover_is_trimmed_with_a_warning(tmp_path, assets):
    settings = BatchSettings(preset="preview", duration_min_s=1.0, duration_max_s=1.5)
    result = render_video(product(), assets["image"], voice(assets["tone"], 3.0), tmp_path / "v.mp4",
                          tmp_path / "p.jpg", settings)
    # Whole frames at 15 fps: as close to 1.5 s as possible without going over the maximum.
    assert 1.5 - 1 / 15 <= result.duration_s <= 1.5
    assert any("trimmed" in w for w in result.warnings)
    assert abs(float(probe(result.video_path)["format"]["duration"]) - result.duration_s) < 0.07


@pytest.mark.slow
def test_silent_voiceover_still_renders(tmp_path, assets):
    settings = BatchSettings(preset="preview", duration_min_s=1.0, duration_max_s=1.0, tail_s=0)
    result = render_video(product(sale_price=None), assets["image"], voice(assets["silence"], 2.0),
                          tmp_path / "v.mp4", tmp_path / "p.jpg", settings, cues=CUES)
    assert result.extra["loudness_input_lufs"] is None
    assert audio_stream(probe(result.video_path))["codec_name"] == "aac"


@pytest.mark.slow
def test_timeout_leaves_no_file_behind(tmp_path, assets):
    settings = BatchSettings(preset="tiktok", duration_min_s=20, duration_max_s=20)
    with pytest.raises(ProgramTimeout) as err:
        render_video(product(), assets["image"], voice(assets["tone"], 3.0), tmp_path / "v.mp4",
                     tmp_path / "p.jpg", settings, timeout_s=1.5)
    assert err.value.retryable and err.value.product_id == "SKU-9"
    assert list(tmp_path.iterdir()) == []


def test_missing_voiceover_is_a_product_error(tmp_path, assets):
    with pytest.raises(ProductDataError) as err:
        render_video(product(), assets["image"], voice(tmp_path / "none.wav", 2.0), tmp_path / "v.mp4",
                     tmp_path / "p.jpg", BatchSettings(preset="preview"))
    assert err.value.product_id == "SKU-9" and "none.wav" in str(err.value)


def test_the_render_deadline_grows_with_the_frames_and_their_size(assets):
    voiceover = voice(assets["tone"], 3.0)
    preview = build_spec(product(), assets["image"], voiceover, BatchSettings(preset="preview", duration_min_s=5, duration_max_s=5))
    short = build_spec(product(), assets["image"], voiceover, BatchSettings(preset="tiktok", duration_min_s=5, duration_max_s=5))
    long = build_spec(product(), assets["image"], voiceover, BatchSettings(preset="tiktok", duration_min_s=60, duration_max_s=60))
    assert render_deadline_s(preview) < render_deadline_s(short) < render_deadline_s(long)
    # Generous: ten times what a render takes on two busy cores, so load alone never fails a product.
    assert render_deadline_s(short) >= 120 + 150 * 0.5 * 1080 * 1920 / 1e6 * 0.99


def test_an_interrupt_between_frames_kills_the_encoder(tmp_path, started_processes):
    argv = ["ffmpeg", "-hide_banner", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "16x16", "-r", "10", "-i", "pipe:0",
            "-progress", "pipe:1", "-y", str(tmp_path / "out.mkv")]

    def produce(n: int, buf: np.ndarray) -> None:
        if n == 5:
            raise KeyboardInterrupt
        buf[:] = n

    with pytest.raises(KeyboardInterrupt):
        run_piped(argv, produce, [np.zeros((16, 16), np.uint8) for _ in range(3)], total_frames=100)
    assert started_processes[0].poll() is not None


@pytest.mark.slow
def test_contact_sheet(tmp_path, assets):
    settings = BatchSettings(preset="preview", duration_min_s=1.0, duration_max_s=1.0, tail_s=0)
    videos = []
    for i, motion in enumerate(("zoom_in", "pan_left")):
        result = render_video(product(key=f"k{i}"), assets["image"], voice(assets["tone"], 3.0),
                              tmp_path / f"v{i}.mp4", tmp_path / f"p{i}.jpg", settings.merged({"motion": motion}))
        videos.append(result.video_path)
    sheet = contact_sheet(videos, tmp_path / "sheet.png", thumb_height=200)
    with Image.open(sheet) as im:
        # 3 columns of 9:16 thumbnails, 2 rows.
        assert im.width >= 3 * 112 and im.height >= 2 * 200
        assert im.height < 3 * 260


@pytest.mark.slow
def test_five_photos_render_five_scenes_and_the_contact_sheet_shows_each(tmp_path, assets):
    colours = [(200, 40, 40), (40, 40, 200), (40, 170, 60), (220, 200, 40), (160, 60, 200)]
    photos = []
    for i, colour in enumerate(colours):
        path = tmp_path / f"photo{i}.jpg"
        Image.new("RGB", (600, 600), colour).save(path)
        photos.append(PreparedImage(path, 600, 600, 600, 600, "JPEG"))
    settings = BatchSettings(preset="preview", template="sale", duration_min_s=10.0, tail_s=0)
    result = render_video(product(), photos[0], voice(assets["tone"], 3.0), tmp_path / "v.mp4", tmp_path / "p.jpg",
                          settings, extra_images=photos[1:])
    assert result.duration_s == pytest.approx(10.0)
    assert len(result.extra["scenes"]) == 5 and len(result.extra["transitions"]) == 4
    assert result.extra["template"].startswith("sale:")
    info = probe(result.video_path)
    assert float(info["format"]["duration"]) == pytest.approx(10.0, abs=0.1)
    # The middle of each scene shows that scene's photo.
    sheet = contact_sheet([result.video_path], tmp_path / "sheet.png", scenes=[result.extra["scenes"]],
                          thumb_height=160)
    with Image.open(sheet) as im:
        rgb = np.asarray(im.convert("RGB"))
    thumb_w = 90  # 9:16 at 160 px high
    assert rgb.shape[1] == 6 * thumb_w + 7 * 8  # five scenes and the last frame
    for k, colour in enumerate(colours):
        x = 8 + k * (thumb_w + 8) + thumb_w // 2
        centre = rgb[36 + 70, x].astype(int)  # the photo box's middle row
        assert np.abs(centre - colour).max() < 40, (k, centre)

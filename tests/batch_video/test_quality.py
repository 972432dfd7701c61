"""Video checks against real (tiny) files made by ffmpeg: a good one and deliberately broken ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from batch_video import quality
from batch_video.render.presets import PRESETS

PREVIEW = PRESETS["preview"]
SECONDS = 2.0


def make_video(path: Path, *, video: str = "testsrc2", size: str | None = None, audio: str | None = "sine",
               loudnorm: bool = True, seconds: float = SECONDS) -> Path:
    size = size or f"{PREVIEW.width}x{PREVIEW.height}"
    argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{video}:size={size}:rate={PREVIEW.fps}:duration={seconds}" if "=" in video else f"{video}=size={size}:rate={PREVIEW.fps}:duration={seconds}"]
    if audio == "sine":
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000"]
        if loudnorm:
            # ffmpeg's own loudness normalizer sets the level, independently of the code under test.
            argv += ["-af", "loudnorm=I=-14:TP=-1.5:LRA=11,aresample=48000"]
    elif audio == "silence":
        argv += ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", str(seconds)]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        argv += ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
    argv += ["-movflags", "+faststart", str(path)]
    subprocess.run(argv, check=True)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    good = make_video(root / "good.mp4")
    truncated = root / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 6 // 10])
    return {
        "good": good,
        "truncated": truncated,
        "silent": make_video(root / "silent.mp4", audio="silence"),
        "quiet": make_video(root / "quiet.mp4", loudnorm=False),
        "no_audio": make_video(root / "no_audio.mp4", audio=None),
        "wrong_resolution": make_video(root / "wrong_resolution.mp4", size="320x640"),
        "black": make_video(root / "black.mp4", video="color=c=black"),
        "frozen": make_video(root / "frozen.mp4", video="color=c=0x3366aa"),
    }


def expected(expected_duration_s: float = SECONDS, **overrides) -> quality.VideoExpectations:
    return quality.VideoExpectations.for_preset(PREVIEW, expected_duration_s=expected_duration_s, **overrides)


def outcomes_by_name(path: Path, expectations: quality.VideoExpectations | None = None) -> dict[str, quality.CheckOutcome]:
    outcomes = quality.check_video(path, expectations or expected())
    assert [o.name for o in outcomes] == list(quality.CHECK_NAMES)
    return {o.name: o for o in outcomes}


def failing(path: Path, expectations: quality.VideoExpectations | None = None) -> set[str]:
    return {name for name, o in outcomes_by_name(path, expectations).items() if not o.passed}


def test_a_good_video_passes_every_check(videos):
    results = outcomes_by_name(videos["good"])
    assert all(o.passed for o in results.values()), quality.summary(list(results.values()))
    assert abs(results["loudness_on_target"].metadata["integrated_lufs"] - -14.0) <= 1.0
    assert results["format_matches_preset"].metadata["resolution"] == "360x640"


def test_a_truncated_file_is_caught(videos):
    results = outcomes_by_name(videos["truncated"])
    assert not results["decodes_completely"].passed
    assert "truncated" in results["decodes_completely"].message or "damaged" in results["decodes_completely"].message


def test_silent_audio_is_caught(videos):
    bad = failing(videos["silent"])
    assert {"audio_present", "loudness_on_target"} <= bad
    assert "decodes_completely" not in bad and "format_matches_preset" not in bad


def test_audio_off_the_loudness_target_is_caught(videos):
    results = outcomes_by_name(videos["quiet"])
    assert results["audio_present"].passed
    assert not results["loudness_on_target"].passed
    assert "off the target -14" in results["loudness_on_target"].message


def test_a_missing_audio_stream_is_caught(videos):
    results = outcomes_by_name(videos["no_audio"])
    assert not results["audio_present"].passed and results["audio_present"].message == "no audio stream"


def test_the_wrong_resolution_is_caught(videos):
    results = outcomes_by_name(videos["wrong_resolution"])
    assert failing(videos["wrong_resolution"]) == {"format_matches_preset"}
    assert "resolution 320x640, expected 360x640" in results["format_matches_preset"].message


def test_wrong_fps_codec_and_pix_fmt_are_named():
    streams = quality.StreamInfo(size_bytes=10, format_duration_s=2.0, video_codec="hevc", pix_fmt="yuv444p",
                                 width=360, height=640, fps=25.0)
    outcome = quality._format(streams, expected())
    assert not outcome.passed
    assert "codec hevc" in outcome.message and "pix_fmt yuv444p" in outcome.message and "fps 25.0" in outcome.message


@pytest.mark.parametrize("name", ["black", "frozen"])
def test_black_or_frozen_pictures_are_caught(videos, name):
    results = outcomes_by_name(videos[name])
    assert not results["not_black_or_frozen"].passed
    assert ("black" in results["not_black_or_frozen"].message) == (name == "black")


def test_duration_far_from_the_voiceover_is_caught(videos):
    results = outcomes_by_name(videos["good"], expected(expected_duration_s=SECONDS + 1.0))
    assert not results["duration_matches_voiceover"].passed
    assert "-1.00 s off" in results["duration_matches_voiceover"].message


def test_a_file_over_the_platform_cap_is_caught(videos):
    size = videos["good"].stat().st_size
    assert "size_under_platform_cap" in failing(videos["good"], expected(max_bytes=size - 1))
    assert "size_under_platform_cap" not in failing(videos["good"], expected(max_bytes=size))


def test_a_missing_or_unreadable_file_fails_every_check(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    for path in (tmp_path / "absent.mp4", junk):
        outcomes = quality.check_video(path, expected())
        assert not any(o.passed for o in outcomes)
        assert outcomes[0].message.startswith("unreadable video")


def test_expectations_follow_the_preset():
    tiktok = quality.VideoExpectations.for_preset(PRESETS["tiktok"], expected_duration_s=8.0)
    assert (tiktok.width, tiktok.height, tiktok.fps, tiktok.max_bytes) == (1080, 1920, 30.0, PRESETS["tiktok"].max_bytes)
    # At least two frames of slack: 2/15 s for preview is below the 0.3 s floor, 2/5 s would not be.
    assert expected().duration_tolerance_s == pytest.approx(0.3)


def test_frame_statistics_counts_black_frames_and_differences():
    w, h = 4, 2
    frames = [np.full((h, w), 16, np.uint8), np.full((h, w), 16, np.uint8), np.full((h, w), 116, np.uint8)]
    count, black, diffs = quality.frame_statistics(b"".join(f.tobytes() for f in frames) + b"\x00", w, h)
    assert (count, black) == (3, 2)
    assert diffs == (0.0, 100.0)


def test_decode_argv_maps_only_the_streams_that_exist():
    with_audio = quality.StreamInfo(size_bytes=1, format_duration_s=1.0, video_codec="h264", width=1080, height=1920, has_audio=True)
    argv = quality.decode_argv("v.mp4", with_audio)
    graph = argv[argv.index("-filter_complex") + 1]
    assert argv.count("-map") == 2 and "ebur128=framelog=info" in graph
    assert f"fps={quality.SAMPLE_FPS}" in graph and "scale=64:114:flags=area" in graph and "format=gray" in graph
    silent = quality.StreamInfo(size_bytes=1, format_duration_s=1.0, video_codec="h264", width=1080, height=1920)
    assert "ebur128" not in " ".join(quality.decode_argv("v.mp4", silent))


def test_parse_probe_reads_the_first_video_and_audio_streams():
    data = {
        "format": {"duration": "7.533"},
        "streams": [
            {"codec_type": "video", "codec_name": "h264", "pix_fmt": "yuv420p", "width": 360, "height": 640, "avg_frame_rate": "15/1"},
            {"codec_type": "audio", "codec_name": "aac", "channels": 2, "sample_rate": "48000"},
        ],
    }
    info = quality.parse_probe(data, 1234)
    assert (info.width, info.height, info.fps, info.format_duration_s) == (360, 640, 15.0, 7.533)
    assert info.has_audio and info.audio_rate == 48000 and info.size_bytes == 1234

"""Checks a rendered video before it is published: is it the video we meant to make?

One ffprobe call reads the container and streams; one ffmpeg pass decodes the
whole file, measuring the audio's loudness (EBU R128) and sampling small grey
frames, so a truncated file, silent audio, a black or frozen picture and the
wrong format are all caught. Argument lists (ffmpeg-python builds the graph)
and parsers are pure functions; `analyze_video` runs them through the one runner
(`batch_video.runner`: deadlines, minimal environment) and `evaluate` turns the
numbers into pass/fail outcomes against `VideoExpectations` (usually built from
the render preset, see `batch_video.pipeline.expectations`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import ffmpeg
import numpy as np

from batch_video import media, runner
from batch_video.errors import ProductDataError, ProgramError
from batch_video.stages import RENDERED_VIDEO

logger = logging.getLogger(__name__)

# Frames are sampled this often; also the resolution of the "decoded length" measurement.
SAMPLE_FPS = 2
SAMPLE_WIDTH = 64
# Mean absolute luma difference (0-255) below which two samples count as the same picture.
FROZEN_DIFF = 0.5
# Mean luma (limited range: black is 16) below which a sample counts as black.
BLACK_LUMA = 24.0
# Decoding the whole file may take this long, plus so many seconds per second of media, before it is killed.
DECODE_TIMEOUT_BASE_S = 120.0
DECODE_TIMEOUT_PER_MEDIA_S = 10.0

CHECK_NAMES = (
    "decodes_completely",
    "duration_matches_voiceover",
    "format_matches_preset",
    "audio_present",
    "loudness_on_target",
    "size_under_platform_cap",
    "not_black_or_frozen",
)


@dataclass(frozen=True)
class VideoExpectations:
    """What a rendered video must be; `None` skips that part of a check."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = "h264"
    pix_fmt: str | None = "yuv420p"
    max_bytes: int | None = None
    expected_duration_s: float | None = None
    duration_tolerance_s: float = 0.3
    target_lufs: float | None = media.LOUDNESS_TARGET_LUFS
    loudness_tolerance_lu: float = 1.0
    max_black_fraction: float = 0.2
    preset: str = ""

    @classmethod
    def for_preset(cls, preset: Any, *, expected_duration_s: float | None = None, **overrides: Any) -> "VideoExpectations":
        """From a `batch_video.render.presets.Preset` (anything with width/height/fps/max_bytes/name)."""
        values: dict[str, Any] = dict(
            width=preset.width,
            height=preset.height,
            fps=float(preset.fps),
            max_bytes=preset.max_bytes,
            expected_duration_s=expected_duration_s,
            preset=getattr(preset, "name", ""),
        )
        if expected_duration_s is not None and "duration_tolerance_s" not in overrides:
            # At least two frames of slack: encoders round the last frame, AAC adds priming samples.
            values["duration_tolerance_s"] = max(cls.duration_tolerance_s, 2.0 / preset.fps)
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class StreamInfo:
    """What ffprobe says about the file (the first video and first audio stream)."""

    size_bytes: int
    format_duration_s: float | None
    video_codec: str = ""
    pix_fmt: str = ""
    width: int = 0
    height: int = 0
    fps: float | None = None
    video_duration_s: float | None = None
    has_audio: bool = False
    audio_codec: str = ""
    audio_channels: int = 0
    audio_rate: int = 0
    audio_duration_s: float | None = None

    @property
    def has_video(self) -> bool:
        return bool(self.video_codec)


@dataclass(frozen=True)
class DecodeResult:
    """What decoding the whole file showed."""

    sample_count: int
    black_samples: int
    frame_diffs: tuple[float, ...]  # mean |luma difference| between consecutive samples
    integrated_lufs: float | None
    decoded_audio_s: float | None
    errors: tuple[str, ...] = ()

    @property
    def decoded_video_s(self) -> float:
        return self.sample_count / SAMPLE_FPS


@dataclass(frozen=True)
class VideoAnalysis:
    path: Path
    streams: StreamInfo | None  # None: ffprobe could not read the file at all
    decode: DecodeResult | None
    probe_error: str = ""


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    message: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


# -- argument lists (pure) ----------------------------------------------------


def sample_size(width: int, height: int, sample_width: int = SAMPLE_WIDTH) -> tuple[int, int]:
    """The small grey frame size keeping the aspect ratio (even, at least 2)."""
    if width <= 0 or height <= 0:
        return sample_width, sample_width
    sample_height = max(2, int(round(sample_width * height / width / 2.0)) * 2)
    return sample_width, sample_height


def decode_argv(path: Path | str, streams: StreamInfo) -> list[str]:
    """One decoding pass: grey samples to stdout, ebur128 (per-100 ms lines and summary) to stderr."""
    source = ffmpeg.input("file:" + str(Path(path).resolve()))
    outputs = []
    if streams.has_video:
        w, h = sample_size(streams.width, streams.height)
        samples = source["v:0"].filter("fps", SAMPLE_FPS).filter("scale", w, h, flags="area").filter("format", "gray")
        outputs.append(samples.output("pipe:1", f="rawvideo"))
    if streams.has_audio:
        outputs.append(source["a:0"].filter("ebur128", framelog="info").output("-", f="null"))
    graph = ffmpeg.merge_outputs(*outputs).global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel", "info")
    return graph.compile()


def decode_timeout_s(streams: StreamInfo) -> float:
    length = streams.format_duration_s or streams.video_duration_s or streams.audio_duration_s or 60.0
    return DECODE_TIMEOUT_BASE_S + DECODE_TIMEOUT_PER_MEDIA_S * length


# -- parsers (pure) ------------------------------------------------------------


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rate(value: str | None) -> float | None:
    if not value or value in {"0/0", "0"}:
        return None
    try:
        return float(Fraction(value))
    except (ValueError, ZeroDivisionError):
        return None


def parse_probe(data: dict[str, Any], size_bytes: int) -> StreamInfo:
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = data.get("format") or {}
    values: dict[str, Any] = dict(size_bytes=size_bytes, format_duration_s=_float(fmt.get("duration")))
    if video:
        values.update(
            video_codec=video.get("codec_name", ""),
            pix_fmt=video.get("pix_fmt", ""),
            width=int(video.get("width") or 0),
            height=int(video.get("height") or 0),
            fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
            video_duration_s=_float(video.get("duration")),
        )
    if audio:
        values.update(
            has_audio=True,
            audio_codec=audio.get("codec_name", ""),
            audio_channels=int(audio.get("channels") or 0),
            audio_rate=int(audio.get("sample_rate") or 0),
            audio_duration_s=_float(audio.get("duration")),
        )
    return StreamInfo(**values)


# Messages from demuxers/decoders that mean the file is damaged.
_DAMAGE = re.compile(
    r"(invalid data|error while decoding|partial file|moov atom not found|corrupt|truncat|"
    r"error reading|premature|missing picture|concealing|end of file)",
    re.IGNORECASE,
)


def damage_lines(stderr: str) -> tuple[str, ...]:
    """ffmpeg's complaints about damaged data (not ebur128's per-frame lines)."""
    found = []
    for line in stderr.splitlines():
        if "ebur128" in line:
            continue
        if _DAMAGE.search(line):
            found.append(line.strip())
    return tuple(found[:10])


def frame_statistics(raw: bytes, width: int, height: int) -> tuple[int, int, tuple[float, ...]]:
    """(samples, black samples, consecutive mean |differences|) from concatenated grey frames."""
    frame_bytes = width * height
    count = len(raw) // frame_bytes if frame_bytes else 0
    if count == 0:
        return 0, 0, ()
    frames = np.frombuffer(raw[: count * frame_bytes], dtype=np.uint8).reshape(count, height, width).astype(np.int16)
    means = frames.reshape(count, -1).mean(axis=1)
    black = int((means < BLACK_LUMA).sum())
    diffs = tuple(float(d) for d in np.abs(np.diff(frames, axis=0)).reshape(count - 1, -1).mean(axis=1)) if count > 1 else ()
    return count, black, diffs


# -- running ffprobe/ffmpeg -----------------------------------------------------


def run_probe(path: Path, *, timeout_s: float = media.PROBE_TIMEOUT_S) -> StreamInfo:
    return parse_probe(media.probe(path, timeout_s=timeout_s), path.stat().st_size)


def run_decode(path: Path, streams: StreamInfo, *, timeout_s: float | None = None) -> DecodeResult:
    completed = runner.run(decode_argv(path, streams), timeout_s=timeout_s or decode_timeout_s(streams), check=False)
    w, h = sample_size(streams.width, streams.height)
    count, black, diffs = frame_statistics(completed.stdout, w, h) if streams.has_video else (0, 0, ())
    loudness = media.parse_ebur128(completed.stderr) if streams.has_audio else None
    errors = damage_lines(completed.stderr)
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-3:])
        errors = errors + (f"ffmpeg exited {completed.returncode}: {tail}",)
    return DecodeResult(count, black, diffs, loudness.integrated_lufs if loudness else None,
                        loudness.measured_s if loudness else None, errors)


def analyze_video(path: Path | str, *, timeout_s: float | None = None) -> VideoAnalysis:
    """Probe and decode `path`; never raises for a damaged file (that is what checks report)."""
    path = Path(path)
    if not path.exists():
        return VideoAnalysis(path, None, None, probe_error=f"{path} does not exist")
    try:
        streams = run_probe(path)
    except ProgramError as err:
        return VideoAnalysis(path, None, None, probe_error=str(err))
    if not streams.has_video and not streams.has_audio:
        return VideoAnalysis(path, streams, None, probe_error="no audio or video stream")
    return VideoAnalysis(path, streams, run_decode(path, streams, timeout_s=timeout_s))


# -- evaluation (pure) ----------------------------------------------------------


def evaluate(analysis: VideoAnalysis, expected: VideoExpectations) -> list[CheckOutcome]:
    """One outcome per name in CHECK_NAMES."""
    if analysis.streams is None or analysis.decode is None:
        reason = f"unreadable video: {analysis.probe_error.splitlines()[0] if analysis.probe_error else 'unknown error'}"
        return [CheckOutcome(name, False, reason, {"path": str(analysis.path)}) for name in CHECK_NAMES]
    return [
        _decodes_completely(analysis.streams, analysis.decode),
        _duration(analysis.streams, analysis.decode, expected),
        _format(analysis.streams, expected),
        _audio_present(analysis.streams, analysis.decode),
        _loudness(analysis.streams, analysis.decode, expected),
        _size(analysis.streams, expected),
        _black_or_frozen(analysis.streams, analysis.decode, expected),
    ]


def check_video(path: Path | str, expected: VideoExpectations, *, timeout_s: float | None = None) -> list[CheckOutcome]:
    """Every check on the file; the decode runs within `timeout_s` (default: from the file's length)."""
    return evaluate(analyze_video(path, timeout_s=timeout_s), expected)


def failed(outcomes: Sequence[CheckOutcome]) -> list[CheckOutcome]:
    return [o for o in outcomes if not o.passed]


def summary(outcomes: Sequence[CheckOutcome]) -> str:
    bad = failed(outcomes)
    if not bad:
        return f"all {len(outcomes)} video checks passed"
    return "; ".join(f"{o.name}: {o.message}" for o in bad)


class VideoCheckFailed(ProductDataError):
    """The rendered video failed a check: it must not be published (a batch and the CLI refuse it alike)."""

    def __init__(self, reasons: str, *, failed_checks: Sequence[str] = (), **kw: Any) -> None:
        self.failed_checks = tuple(failed_checks)
        kw.setdefault("field", "video")
        super().__init__(f"video checks failed: {reasons}", **kw)


@dataclass(frozen=True)
class Verdict:
    """Every check's outcome on one video; it may be published only if all passed."""

    outcomes: tuple[CheckOutcome, ...]

    @property
    def passed(self) -> bool:
        return not failed(self.outcomes)

    @property
    def summary(self) -> str:
        return summary(self.outcomes)

    def refusal(self, *, product_id: str, stage: str = RENDERED_VIDEO) -> VideoCheckFailed | None:
        """The error naming the product and every failed check; None when all passed."""
        bad = failed(self.outcomes)
        if not bad:
            return None
        return VideoCheckFailed(self.summary, failed_checks=[o.name for o in bad], product_id=product_id, stage=stage)


def _decodes_completely(streams: StreamInfo, decode: DecodeResult) -> CheckOutcome:
    claimed = streams.format_duration_s or streams.video_duration_s or 0.0
    decoded = decode.decoded_video_s if streams.has_video else (decode.decoded_audio_s or 0.0)
    meta = {"claimed_s": round(claimed, 3), "decoded_s": round(decoded, 3), "errors": len(decode.errors)}
    # Samples come every 1/SAMPLE_FPS s, so the decoded length is known to that step.
    short = claimed - decoded > 1.0 / SAMPLE_FPS + 0.05
    if decode.errors or short:
        detail = decode.errors[0] if decode.errors else f"decoded {decoded:.2f} s of the {claimed:.2f} s the file claims"
        return CheckOutcome("decodes_completely", False, f"damaged or truncated file: {detail}", meta)
    return CheckOutcome("decodes_completely", True, f"decoded {decoded:.2f} s without errors", meta)


def _duration(streams: StreamInfo, decode: DecodeResult, expected: VideoExpectations) -> CheckOutcome:
    actual = streams.format_duration_s
    meta: dict[str, Any] = {"duration_s": round(actual, 3) if actual is not None else None}
    if actual is None:
        return CheckOutcome("duration_matches_voiceover", False, "the file has no duration", meta)
    if expected.expected_duration_s is None:
        return CheckOutcome("duration_matches_voiceover", True, f"{actual:.2f} s (no expected duration given)", meta)
    meta.update(expected_s=round(expected.expected_duration_s, 3), tolerance_s=round(expected.duration_tolerance_s, 3))
    return _near_target("duration_matches_voiceover", meta, "duration", "expected", actual, expected.expected_duration_s,
                        expected.duration_tolerance_s, digits=2, unit="s")


def _format(streams: StreamInfo, expected: VideoExpectations) -> CheckOutcome:
    meta = {
        "resolution": f"{streams.width}x{streams.height}",
        "video_codec": streams.video_codec,
        "pix_fmt": streams.pix_fmt,
        "fps": round(streams.fps, 3) if streams.fps else None,
    }
    if not streams.has_video:
        return CheckOutcome("format_matches_preset", False, "no video stream", meta)
    wrong = []
    if expected.width is not None and expected.height is not None and (streams.width, streams.height) != (expected.width, expected.height):
        wrong.append(f"resolution {streams.width}x{streams.height}, expected {expected.width}x{expected.height}")
    if expected.video_codec and streams.video_codec != expected.video_codec:
        wrong.append(f"codec {streams.video_codec}, expected {expected.video_codec}")
    if expected.pix_fmt and streams.pix_fmt != expected.pix_fmt:
        wrong.append(f"pix_fmt {streams.pix_fmt}, expected {expected.pix_fmt}")
    if expected.fps is not None and (streams.fps is None or abs(streams.fps - expected.fps) > 0.01):
        wrong.append(f"fps {streams.fps}, expected {expected.fps:g}")
    label = f" ({expected.preset})" if expected.preset else ""
    if wrong:
        return CheckOutcome("format_matches_preset", False, "; ".join(wrong) + label, meta)
    return CheckOutcome("format_matches_preset", True, f"{meta['resolution']} {streams.video_codec} {streams.pix_fmt} {streams.fps:g} fps{label}", meta)


def _audio_present(streams: StreamInfo, decode: DecodeResult) -> CheckOutcome:
    meta = {"audio_codec": streams.audio_codec, "channels": streams.audio_channels, "sample_rate": streams.audio_rate}
    if not streams.has_audio:
        return CheckOutcome("audio_present", False, "no audio stream", meta)
    loudness = decode.integrated_lufs
    meta["integrated_lufs"] = _finite(loudness)
    if loudness is None or loudness <= media.SILENCE_LUFS:
        return CheckOutcome("audio_present", False, f"the audio is silent (integrated loudness {_lufs(loudness)})", meta)
    return CheckOutcome("audio_present", True, f"{streams.audio_codec} {streams.audio_channels} ch, {_lufs(loudness)}", meta)


def _loudness(streams: StreamInfo, decode: DecodeResult, expected: VideoExpectations) -> CheckOutcome:
    loudness = decode.integrated_lufs
    meta: dict[str, Any] = {"integrated_lufs": _finite(loudness), "target_lufs": expected.target_lufs}
    if expected.target_lufs is None:
        return CheckOutcome("loudness_on_target", True, f"{_lufs(loudness)} (no target given)", meta)
    if not streams.has_audio or loudness is None or loudness == float("-inf"):
        return CheckOutcome("loudness_on_target", False, "no measurable audio", meta)
    return _near_target("loudness_on_target", meta, "loudness", "target", loudness, expected.target_lufs,
                        expected.loudness_tolerance_lu, digits=1, unit="LUFS", off_unit="LU")


def _near_target(name: str, meta: dict[str, Any], what: str, target_word: str, measured: float, target: float,
                 tolerance: float, *, digits: int, unit: str, off_unit: str = "") -> CheckOutcome:
    """A measure held against its target: it passes within `tolerance` either side; a failure says how far off."""
    off, off_unit = measured - target, off_unit or unit
    shown, target_shown = f"{measured:.{digits}f} {unit}", f"{target:.{digits}f} {unit}"
    if abs(off) > tolerance:
        return CheckOutcome(name, False, f"{what} {shown} is {off:+.{digits}f} {off_unit} off the {target_word} "
                                         f"{target_shown} (tolerance {tolerance:.{digits}f} {off_unit})", meta)
    return CheckOutcome(name, True, f"{shown} ({target_word} {target_shown})", meta)


def _size(streams: StreamInfo, expected: VideoExpectations) -> CheckOutcome:
    meta = {"size_bytes": streams.size_bytes, "max_bytes": expected.max_bytes}
    if streams.size_bytes <= 0:
        return CheckOutcome("size_under_platform_cap", False, "the file is empty", meta)
    if expected.max_bytes is not None and streams.size_bytes > expected.max_bytes:
        return CheckOutcome(
            "size_under_platform_cap", False,
            f"{streams.size_bytes / 1e6:.1f} MB exceeds the platform cap of {expected.max_bytes / 1e6:.1f} MB", meta,
        )
    cap = f" (cap {expected.max_bytes / 1e6:.1f} MB)" if expected.max_bytes else ""
    return CheckOutcome("size_under_platform_cap", True, f"{streams.size_bytes / 1e6:.2f} MB{cap}", meta)


def _black_or_frozen(streams: StreamInfo, decode: DecodeResult, expected: VideoExpectations) -> CheckOutcome:
    count = decode.sample_count
    max_diff = max(decode.frame_diffs) if decode.frame_diffs else 0.0
    meta = {
        "samples": count,
        "black_samples": decode.black_samples,
        "max_sample_difference": round(max_diff, 3),
        "mean_sample_difference": round(float(np.mean(decode.frame_diffs)), 3) if decode.frame_diffs else 0.0,
    }
    if not streams.has_video or count == 0:
        return CheckOutcome("not_black_or_frozen", False, "no video frames decoded", meta)
    if decode.black_samples / count > expected.max_black_fraction:
        return CheckOutcome(
            "not_black_or_frozen", False, f"{decode.black_samples} of {count} sampled frames are black", meta
        )
    if count > 1 and max_diff < FROZEN_DIFF:
        return CheckOutcome(
            "not_black_or_frozen", False,
            f"the picture never changes: {count} sampled frames differ by at most {max_diff:.2f} grey levels", meta,
        )
    return CheckOutcome("not_black_or_frozen", True, f"{count} sampled frames, picture moves (max difference {max_diff:.1f})", meta)


def _finite(value: float | None) -> float | None:
    if value is None or value in (float("inf"), float("-inf")):
        return None
    return round(value, 2)


def _lufs(value: float | None) -> str:
    if value is None:
        return "unmeasured"
    return f"{value:.1f} LUFS"

"""Rendering engine: product + photo + voiceover -> H.264/AAC MP4 and a poster.

Public API: `render_video`, `probe`, `contact_sheet`, `PRESETS`; the pieces
(`build_spec`, `encode_argv`, `Scene`) are exported for tests and benchmarks.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from PIL import Image

from batch_video.errors import BatchVideoError, FFmpegError, ProductDataError
from batch_video.models import CaptionCue, PreparedImage, Product, RenderedVideo, Voiceover
from batch_video.render.ffmpeg import FFmpegTimeoutError, parse_ebur128_summary, probe, run_ffmpeg, run_piped
from batch_video.render.presets import PRESETS, Preset, get_preset
from batch_video.render.scene import Scene
from batch_video.render.spec import (
    AudioSpec,
    Loudness,
    RenderSpec,
    build_spec,
    LIMITER_PROBE_STEPS_DB,
    encode_argv,
    limiter_probe_argv,
    measure_argv,
    video_duration,
)
from batch_video.settings import BatchSettings

__all__ = [
    "PRESETS", "Preset", "get_preset", "render_video", "probe", "contact_sheet", "build_spec", "encode_argv",
    "Scene", "RenderSpec", "measure_loudness", "render_still", "video_duration", "FFmpegTimeoutError",
]

logger = logging.getLogger(__name__)

# The poster is taken where the motion is halfway: the photo is settled and representative.
POSTER_AT = 0.5
FRAME_BUFFERS = 3


def measure_loudness(audio: AudioSpec, *, timeout_s: float | None = 120.0) -> Loudness | None:
    """Loudness and peak of the final audio timeline; None for silence (nothing to normalize)."""
    stderr = run_ffmpeg(measure_argv(audio), timeout_s=timeout_s)
    try:
        integrated, peak = parse_ebur128_summary(stderr)
    except ValueError as exc:
        raise FFmpegError(f"could not read the loudness measurement: {exc}", stderr=stderr, stage="render") from exc
    result = Loudness(integrated, peak if peak is not None else 0.0)
    if result.is_silent:
        return None
    if result.needs_limiter(audio.target_lufs):
        result = replace(result, limiter_gain_db=_limiter_gain(audio, result, timeout_s=timeout_s))
    return result


def _limiter_gain(audio: AudioSpec, measured: Loudness, *, timeout_s: float | None) -> float:
    """Gain that lands on the target after the peak limiter, interpolated from a few probes."""
    base = measured.gain_db(audio.target_lufs)
    stderr = run_ffmpeg(limiter_probe_argv(audio, base), timeout_s=timeout_s)
    points = []
    for i, step in enumerate(LIMITER_PROBE_STEPS_DB):
        try:
            points.append((base + step, parse_ebur128_summary(stderr, f"g{i}")[0]))
        except ValueError:
            continue
    if len(points) < 2:
        raise FFmpegError("could not read the limiter loudness probe", stderr=stderr, stage="render")
    target = audio.target_lufs
    for (g0, l0), (g1, l1) in zip(points, points[1:]):
        if l0 <= target <= l1 or (g1, l1) == points[-1]:
            if abs(l1 - l0) < 1e-6:
                return g1
            gain = g0 + (target - l0) * (g1 - g0) / (l1 - l0)
            return max(points[0][0], min(gain, points[-1][0] + 6.0))
    return points[0][0]


def render_video(
    product: Product,
    image: PreparedImage,
    voiceover: Voiceover,
    out_path: str | os.PathLike,
    poster_path: str | os.PathLike,
    settings: BatchSettings,
    *,
    cues: Sequence[CaptionCue] = (),
    progress: Callable[[int, int], None] | None = None,
    timeout_s: float | None = None,
    duration_s: float | None = None,
    x264_preset: str | None = None,
    crf: int | None = None,
) -> RenderedVideo:
    """Render the product video to `out_path` and a poster JPEG to `poster_path`.

    Written under temporary names and renamed at the end, so a killed render
    never leaves a half file behind. `duration_s`, `x264_preset` and `crf`
    override the voiceover rule and the preset (benchmarks and tests).
    """
    started = time.monotonic()
    out_path, poster_path = Path(out_path), Path(poster_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    poster_path.parent.mkdir(parents=True, exist_ok=True)
    if voiceover is not None and not Path(voiceover.audio_path).is_file():
        raise ProductDataError(f"voiceover audio not found: {voiceover.audio_path}", product_id=product.id,
                               field="voiceover", stage="render")
    try:
        spec = build_spec(product, image, voiceover, settings, cues=tuple(cues), duration_s=duration_s)
        tmp_video = out_path.with_name(f".{out_path.stem}.{os.getpid()}.partial.mp4")
        tmp_poster = poster_path.with_name(f".{poster_path.stem}.{os.getpid()}.partial.jpg")
        try:
            # The audio analysis (an ffmpeg child) runs while this process draws the
            # static canvas and the poster: two cores, two jobs, before the encoder needs both.
            with ThreadPoolExecutor(max_workers=1) as pool:
                loudness = (pool.submit(measure_loudness, spec.audio, timeout_s=timeout_s)
                            if spec.audio is not None else None)
                scene = Scene(spec)
                _write_poster(scene, tmp_poster)
                measured = loudness.result() if loudness is not None else None
            if spec.audio is not None:
                spec = _with_loudness(spec, measured)
            argv = encode_argv(spec, tmp_video, x264_preset=x264_preset, crf=crf)
            remaining = None if timeout_s is None else max(1.0, timeout_s - (time.monotonic() - started))
            figures = run_piped(argv, scene.compose, [scene.new_buffer() for _ in range(FRAME_BUFFERS)],
                                spec.frames, progress=progress, timeout_s=remaining)
            os.replace(tmp_video, out_path)
            os.replace(tmp_poster, poster_path)
        finally:
            for leftover in (tmp_video, tmp_poster):
                try:
                    leftover.unlink()
                except FileNotFoundError:
                    pass
    except BatchVideoError as err:
        raise err.with_context(product_id=product.id, stage="render")

    warnings = list(spec.warnings) + scene.warnings
    size = out_path.stat().st_size
    if size > spec.preset.max_bytes:
        warnings.append(f"video is {size} bytes, over the {spec.preset.name} limit of {spec.preset.max_bytes}")
    for note in warnings:
        logger.warning("product %s: %s", product.id, note)
    elapsed = time.monotonic() - started
    return RenderedVideo(
        video_path=out_path, poster_path=poster_path, duration_s=spec.duration_s, width=spec.width,
        height=spec.height, fps=spec.fps, size_bytes=size, preset=spec.preset.name, render_seconds=elapsed,
        warnings=tuple(warnings),
        extra={
            "frames": spec.frames,
            "motion": spec.photo.motion.direction,
            "x264_preset": x264_preset or spec.preset.x264_preset,
            "crf": crf if crf is not None else spec.preset.crf,
            "loudness_input_lufs": spec.audio.measured.integrated_lufs if spec.audio and spec.audio.measured else None,
            "limiter_gain_db": spec.audio.measured.limiter_gain_db if spec.audio and spec.audio.measured else None,
            "encode_wall_s": round(figures["wall_s"], 3),
            "compose_s": round(figures["produce_s"], 3),
            "box": [scene.box.x, scene.box.y, scene.box.w, scene.box.h],
        },
    )


def _with_loudness(spec: RenderSpec, loudness: Loudness | None) -> RenderSpec:
    return replace(spec, audio=replace(spec.audio, measured=loudness))


def _write_poster(scene: Scene, path: Path) -> None:
    n = int(round((scene.spec.frames - 1) * POSTER_AT))
    rgb = scene.frame_rgb(n, captions=False)
    Image.fromarray(rgb, "RGB").save(path, "JPEG", quality=88, optimize=True)


def render_still(
    product: Product, image: PreparedImage, settings: BatchSettings, *, at: float = 0.5,
    cues: Sequence[CaptionCue] = (), duration_s: float = 5.0,
):
    """One frame as an RGB numpy array without running ffmpeg (layout checks, previews)."""
    spec = build_spec(product, image, None, settings, cues=tuple(cues), duration_s=duration_s)
    scene = Scene(spec)
    return scene.frame_rgb(int(round((spec.frames - 1) * at)))


def contact_sheet(
    video_paths: Sequence[str | os.PathLike],
    out_png: str | os.PathLike,
    *,
    frames: Sequence[str] = ("start", "middle", "end"),
    thumb_height: int = 480,
    timeout_s: float = 120.0,
) -> Path:
    """A PNG grid: one row per video, one column per frame position (start/middle/end)."""
    from PIL import ImageDraw

    from batch_video.render.text import DEFAULT_FONT, load_font

    out_png = Path(out_png)
    rows = []
    for video in video_paths:
        info = probe(video)
        duration = float(info.get("format", {}).get("duration") or 0.0)
        thumbs = []
        for position in frames:
            at = {"start": 0.0, "middle": duration / 2, "end": max(0.0, duration - 0.1)}.get(position)
            if at is None:
                raise ValueError(f"unknown frame position {position!r} (start, middle, end)")
            thumbs.append(_grab_frame(Path(video), at, thumb_height, timeout_s))
        rows.append((Path(video).name, thumbs))
    label_h = 36
    gap = 8
    width = max(sum(t.width for t in thumbs) + gap * (len(thumbs) + 1) for _, thumbs in rows) if rows else 1
    height = sum(thumb_height + label_h + gap for _ in rows) + gap
    sheet = Image.new("RGB", (width, max(1, height)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = load_font(DEFAULT_FONT, 20)
    y = gap
    for name, thumbs in rows:
        draw.text((gap, y + 6), name, font=font, fill=(230, 230, 230))
        x = gap
        for thumb in thumbs:
            sheet.paste(thumb, (x, y + label_h))
            x += thumb.width + gap
        y += thumb_height + label_h + gap
    out_png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_png, "PNG")
    return out_png


def _grab_frame(video: Path, at: float, height: int, timeout_s: float) -> Image.Image:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        frame = Path(tmp) / "frame.png"
        argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-ss", f"{at:.3f}",
                "-i", "file:" + str(video.resolve()), "-frames:v", "1", "-vf", f"scale=-2:{height}",
                "file:" + str(frame)]
        run_ffmpeg(argv, timeout_s=timeout_s)
        if not frame.exists():  # seeking past the last frame yields nothing: take the last one
            argv[argv.index("-ss"):argv.index("-ss") + 2] = ["-sseof", "-0.5"]
            run_ffmpeg(argv, timeout_s=timeout_s)
        with Image.open(frame) as im:
            return im.convert("RGB")

"""Rendering engine: product + photo + voiceover -> H.264/AAC MP4 and a poster.

Public API: `render_video`, `render_still`, `contact_sheet`, `PRESETS`; the
pieces (`build_spec`, `encode_argv`, `Composer`) are exported for tests and
benchmarks. Every ffmpeg command runs through `batch_video.runner` (deadline,
minimal environment, killed when the caller leaves early).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import ffmpeg
from PIL import Image

from batch_video import files, media, music, runner
from batch_video.errors import BatchVideoError, ProductDataError, ProgramError
from batch_video.models import CaptionCue, PreparedImage, Product, RenderedVideo, Voiceover
from batch_video.render.encoder import run_piped
from batch_video.render.presets import PRESETS, Preset, get_preset
from batch_video.render.scene import Composer
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
    "PRESETS", "Preset", "get_preset", "render_video", "contact_sheet", "build_spec", "encode_argv",
    "Composer", "RenderSpec", "measure_loudness", "render_still", "video_duration", "render_deadline_s",
]

logger = logging.getLogger(__name__)

FRAME_BUFFERS = 3
# A stuck render fails its product instead of holding the run slot; the deadline grows with the work.
# Measured: about 0.05 s per 1080x1920 frame on 2 idle cores, ten times that under heavy load.
RENDER_DEADLINE_BASE_S = 120.0
RENDER_DEADLINE_S_PER_MEGAPIXEL_FRAME = 0.5
LOUDNESS_TIMEOUT_S = 120.0
FRAME_GRAB_TIMEOUT_S = 60.0


def render_deadline_s(spec: RenderSpec) -> float:
    """How long the whole render of `spec` may take (measuring, poster, encoding) before it is killed."""
    megapixel_frames = spec.frames * spec.width * spec.height / 1e6
    return RENDER_DEADLINE_BASE_S + RENDER_DEADLINE_S_PER_MEGAPIXEL_FRAME * megapixel_frames


def measure_loudness(audio: AudioSpec, *, timeout_s: float | None = LOUDNESS_TIMEOUT_S) -> Loudness | None:
    """Loudness and peak of the final audio timeline; None for silence (nothing to normalize)."""
    stderr = runner.run(measure_argv(audio), timeout_s=timeout_s, stage="render").stderr
    measured = media.parse_ebur128(stderr)
    if measured.integrated_lufs is None:
        raise ProgramError("could not read the loudness measurement: no integrated loudness in ffmpeg's output",
                           stderr=stderr, stage="render")
    peak = measured.sample_peak_dbfs
    result = Loudness(measured.integrated_lufs, peak if peak is not None else 0.0)
    if result.is_silent:
        return None
    if result.needs_limiter(audio.target_lufs):
        result = replace(result, limiter_gain_db=_limiter_gain(audio, result, timeout_s=timeout_s))
    return result


def _limiter_gain(audio: AudioSpec, measured: Loudness, *, timeout_s: float | None) -> float:
    """Gain that lands on the target after the peak limiter, interpolated from a few probes."""
    base = measured.gain_db(audio.target_lufs)
    stderr = runner.run(limiter_probe_argv(audio, base), timeout_s=timeout_s, stage="render").stderr
    points = []
    for i, step in enumerate(LIMITER_PROBE_STEPS_DB):
        loudness = media.parse_ebur128(stderr, f"g{i}").integrated_lufs
        if loudness is not None:
            points.append((base + step, loudness))
    if len(points) < 2:
        raise ProgramError("could not read the limiter loudness probe", stderr=stderr, stage="render")
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
    extra_images: Sequence[PreparedImage] = (),
) -> RenderedVideo:
    """Render the product video to `out_path` and a poster JPEG to `poster_path`.

    `image` is the main photo (the first scene); `extra_images` are the
    product's additional photos, already prepared and de-duplicated, which
    become the following scenes as far as the video's length allows.
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
    mixed: music.MixResult | None = None
    try:
        spec = build_spec(product, image, voiceover, settings, cues=tuple(cues), duration_s=duration_s,
                          extra_images=extra_images)
        deadline = runner.Deadline(render_deadline_s(spec) if timeout_s is None else timeout_s)
        with contextlib.ExitStack() as stack:
            tmp_video = stack.enter_context(files.atomic_path(out_path, suffix=".mp4"))
            tmp_poster = stack.enter_context(files.atomic_path(poster_path, suffix=".jpg"))
            if settings.music_path and spec.audio is not None:
                # The bed is mixed under the voice first; the mix is then measured and normalized as a whole.
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".mix-")))
                mixed = music.mix_voice_and_music(
                    Path(voiceover.audio_path), voiceover.words, music.pick_track(settings.music_path, product.key),
                    folder / "mix.wav", duration_s=spec.duration_s, lead_s=spec.audio.lead_s,
                    levels=music.MusicLevels(settings.music_bed_lu, settings.music_duck_lu))
                spec = replace(spec, audio=replace(spec.audio, path=mixed.path, source_duration_s=spec.duration_s,
                                                   lead_s=0.0))
            # The audio analysis (an ffmpeg child) runs while this process draws the
            # static canvas and the poster: two cores, two jobs, before the encoder needs both.
            with ThreadPoolExecutor(max_workers=1) as pool:
                loudness = (pool.submit(measure_loudness, spec.audio, timeout_s=min(LOUDNESS_TIMEOUT_S, deadline.remaining()))
                            if spec.audio is not None else None)
                composer = Composer(spec)
                _write_poster(composer, tmp_poster)
                measured = loudness.result() if loudness is not None else None
            if spec.audio is not None:
                spec = _with_loudness(spec, measured)
            argv = encode_argv(spec, tmp_video, x264_preset=x264_preset, crf=crf)
            figures = run_piped(argv, composer.compose, [composer.new_buffer() for _ in range(FRAME_BUFFERS)],
                                spec.frames, progress=progress, timeout_s=max(1.0, deadline.remaining()))
    except BatchVideoError as err:
        raise err.with_context(product_id=product.id, stage="render")

    warnings = list(spec.warnings) + composer.warnings
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
            "template": spec.template,
            "scenes": [[round(sc.cut_in / spec.fps, 3), round(sc.cut_out / spec.fps, 3)] for sc in spec.scenes],
            "scene_motions": [sc.photo.motion.direction for sc in spec.scenes],
            "transitions": [t.kind for t in spec.transitions],
            "price_scene": spec.price_scene,
            "x264_preset": x264_preset or spec.preset.x264_preset,
            "crf": crf if crf is not None else spec.preset.crf,
            "loudness_input_lufs": spec.audio.measured.integrated_lufs if spec.audio and spec.audio.measured else None,
            "music": {"track": mixed.track.name, "voice_lufs": mixed.voice_lufs, "track_lufs": mixed.track_lufs,
                      "bed_gain_db": mixed.bed_gain_db, "duck_db": mixed.duck_db,
                      "voice_starts_s": settings.music_lead_s} if mixed else None,
            "limiter_gain_db": spec.audio.measured.limiter_gain_db if spec.audio and spec.audio.measured else None,
            "encode_wall_s": round(figures["wall_s"], 3),
            "compose_s": round(figures["produce_s"], 3),
            "box": [spec.box.x, spec.box.y, spec.box.w, spec.box.h],
        },
    )


def _with_loudness(spec: RenderSpec, loudness: Loudness | None) -> RenderSpec:
    return replace(spec, audio=replace(spec.audio, measured=loudness))


def _write_poster(composer: Composer, path: Path) -> None:
    rgb = composer.poster_rgb()
    Image.fromarray(rgb, "RGB").save(path, "JPEG", quality=88, optimize=True)


def render_still(
    product: Product, image: PreparedImage, settings: BatchSettings, *, at: float = 0.5,
    cues: Sequence[CaptionCue] = (), duration_s: float = 5.0, extra_images: Sequence[PreparedImage] = (),
):
    """One frame as an RGB numpy array without running ffmpeg (layout checks, previews)."""
    spec = build_spec(product, image, None, settings, cues=tuple(cues), duration_s=duration_s,
                      extra_images=extra_images)
    return Composer(spec).frame_rgb(int(round((spec.frames - 1) * at)))


def contact_sheet(
    video_paths: Sequence[str | os.PathLike],
    out_png: str | os.PathLike,
    *,
    frames: Sequence[str] = ("start", "middle", "end"),
    scenes: Sequence[Sequence[Sequence[float]] | None] | None = None,
    thumb_height: int = 480,
    timeout_s: float = FRAME_GRAB_TIMEOUT_S,
) -> Path:
    """A PNG grid, one row per video.

    Columns are the `frames` positions (start/middle/end), or, for a video
    whose `scenes` ([start_s, end_s] per scene, as in RenderedVideo.extra) are
    given, the middle of each scene followed by the last frame (the call to action).
    """
    from PIL import ImageDraw

    from batch_video.render.text import DEFAULT_FONT, load_font

    out_png = Path(out_png)
    rows = []
    for i, video in enumerate(video_paths):
        info = media.probe(video)
        duration = float(info.get("format", {}).get("duration") or 0.0)
        spans = scenes[i] if scenes is not None and i < len(scenes) else None
        if spans:
            positions = [(f"scene {k + 1}", (start + end) / 2) for k, (start, end) in enumerate(spans)]
            positions.append(("end", max(0.0, duration - 0.1)))
        else:
            positions = []
            for position in frames:
                at = {"start": 0.0, "middle": duration / 2, "end": max(0.0, duration - 0.1)}.get(position)
                if at is None:
                    raise ValueError(f"unknown frame position {position!r} (start, middle, end)")
                positions.append((position, at))
        thumbs = [(label, _grab_frame(Path(video), at, thumb_height, timeout_s)) for label, at in positions]
        rows.append((Path(video).name, thumbs))
    label_h = 36
    gap = 8
    width = max(sum(t.width for _, t in thumbs) + gap * (len(thumbs) + 1) for _, thumbs in rows) if rows else 1
    height = sum(thumb_height + 2 * label_h + gap for _ in rows) + gap
    sheet = Image.new("RGB", (width, max(1, height)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = load_font(DEFAULT_FONT, 20)
    y = gap
    for name, thumbs in rows:
        draw.text((gap, y + 6), name, font=font, fill=(230, 230, 230))
        x = gap
        for label, thumb in thumbs:
            sheet.paste(thumb, (x, y + label_h))
            draw.text((x + 4, y + label_h + thumb_height + 6), label, font=font, fill=(170, 170, 170))
            x += thumb.width + gap
        y += thumb_height + 2 * label_h + gap
    with files.atomic_open(out_png) as handle:
        sheet.save(handle, "PNG")
    return out_png


def grab_frame_argv(video: Path, frame: Path, *, at: float | None, height: int) -> list[str]:
    """One frame at `at` seconds (None: half a second before the end), scaled to `height`, as PNG."""
    seek = {"ss": f"{at:.3f}"} if at is not None else {"sseof": "-0.5"}
    source = ffmpeg.input("file:" + str(video.resolve()), **seek)
    out = source.video.filter("scale", -2, height).output("file:" + str(frame), vframes=1)
    return out.global_args("-hide_banner", "-loglevel", "error", "-nostdin").overwrite_output().compile()


def _grab_frame(video: Path, at: float, height: int, timeout_s: float) -> Image.Image:
    with tempfile.TemporaryDirectory() as tmp:
        frame = Path(tmp) / "frame.png"
        runner.run(grab_frame_argv(video, frame, at=at, height=height), timeout_s=timeout_s)
        if not frame.exists():  # seeking past the last frame yields nothing: take the last one
            runner.run(grab_frame_argv(video, frame, at=None, height=height), timeout_s=timeout_s)
        with Image.open(frame) as im:
            return im.convert("RGB")

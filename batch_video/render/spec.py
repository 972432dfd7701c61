"""The declarative render spec and the pure spec -> ffmpeg argv function.

A `RenderSpec` says what the video is (canvas, timing, background, photo and
motion, text layers, captions, audio, encoding) without any pixels. It is
built from a product and the batch settings by `build_spec`, and turned into
an ffmpeg command by `encode_argv`. Neither runs anything, so both are tested
without ffmpeg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg

from batch_video.errors import ConfigError
from batch_video.media import LOUDNESS_TARGET_LUFS, SILENCE_LUFS
from batch_video.models import CaptionCue, PreparedImage, Product, Voiceover
from batch_video.money import format_amount
from batch_video.render.motion import Motion, choose_direction
from batch_video.render.presets import Preset, get_preset
from batch_video.render.text import parse_color, readable_on, resolve_font_path
from batch_video.settings import BatchSettings

# Sample-peak ceiling: 0.5 dB under a -1.5 dBTP true-peak budget leaves room for
# inter-sample peaks from resampling and AAC.
PEAK_CEILING_DBFS = -2.0
# A trimmed voiceover fades out over this long instead of clicking.
AUDIO_FADE_S = 0.08
# Photo boxes never get more extreme than these aspect ratios; wider/taller photos are cropped.
BOX_ASPECT_MIN, BOX_ASPECT_MAX = 0.6, 1.8


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def intersects(self, other: "Rect") -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom

    def contains(self, other: "Rect") -> bool:
        return self.x <= other.x and self.y <= other.y and other.right <= self.right and other.bottom <= self.bottom

    def even(self) -> "Rect":
        """The largest even-aligned, even-sized rect inside this one (I420 chroma is 2x2)."""
        x, y = self.x + self.x % 2, self.y + self.y % 2
        w, h = self.right - x, self.bottom - y
        return Rect(x, y, max(2, w - w % 2), max(2, h - h % 2))


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    safe: Rect
    header: Rect
    title: Rect
    title_lines: int
    photo_region: Rect
    price: Rect
    cta: Rect
    captions: Rect
    scale: float  # font scale relative to the 1080-wide design


@dataclass(frozen=True)
class TextLayer:
    """Text fitted into `rect` (anchored top-left; `align` within the rect's width)."""

    role: str  # brand | title | price | price_original | cta | badge
    text: str
    rect: Rect
    size_max: int
    size_min: int
    max_lines: int = 1
    color: tuple[int, int, int, int] = (255, 255, 255, 255)
    align: str = "left"
    style: str = "plain"  # plain | strike | pill
    fill: tuple[int, int, int, int] | None = None  # pill colour


@dataclass(frozen=True)
class ImageLayer:
    role: str  # logo
    path: Path
    rect: Rect  # fitted inside, keeping aspect


@dataclass(frozen=True)
class PhotoLayer:
    path: Path
    width: int
    height: int
    has_alpha: bool
    box: Rect
    motion: Motion
    card_color: tuple[int, int, int, int] = (244, 244, 244, 255)
    denoise: bool = False
    sharpen: bool = False
    color_correct: bool = False


@dataclass(frozen=True)
class Background:
    kind: str = "blur"  # blur (the photo, blurred and dimmed) | color
    color: tuple[int, int, int, int] = (24, 26, 34, 255)
    dim: float = 0.55


@dataclass(frozen=True)
class CaptionTrack:
    cues: tuple[CaptionCue, ...]
    rect: Rect
    size_max: int
    size_min: int
    color: tuple[int, int, int, int] = (255, 255, 255, 255)
    highlight: tuple[int, int, int, int] = (255, 214, 10, 255)


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurement of exactly the (trimmed, padded) audio the video will carry."""

    integrated_lufs: float
    sample_peak_dbfs: float
    # Set when a plain gain to the target would push peaks over the ceiling
    # (typical of TTS): the gain to use in front of the peak limiter instead.
    limiter_gain_db: float | None = None

    @property
    def is_silent(self) -> bool:
        return not math.isfinite(self.integrated_lufs) or self.integrated_lufs <= SILENCE_LUFS

    def gain_db(self, target_lufs: float = LOUDNESS_TARGET_LUFS) -> float:
        return target_lufs - self.integrated_lufs

    def needs_limiter(self, target_lufs: float = LOUDNESS_TARGET_LUFS) -> bool:
        return self.sample_peak_dbfs + self.gain_db(target_lufs) > PEAK_CEILING_DBFS


@dataclass(frozen=True)
class AudioSpec:
    path: Path
    source_duration_s: float
    duration_s: float
    sample_rate: int
    channels: int
    bitrate_kbps: int
    measured: Loudness | None = None
    target_lufs: float = LOUDNESS_TARGET_LUFS


@dataclass(frozen=True)
class RenderSpec:
    width: int
    height: int
    fps: int
    frames: int
    preset: Preset
    background: Background
    photo: PhotoLayer
    texts: tuple[TextLayer, ...]
    images: tuple[ImageLayer, ...]
    captions: CaptionTrack | None
    audio: AudioSpec | None
    font_path: str
    layout: Layout
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


def video_duration(voiceover_s: float, settings: BatchSettings) -> float:
    """clamp(voiceover + tail, min, max)."""
    lo, hi = settings.duration_min_s, settings.duration_max_s
    if hi < lo:
        raise ConfigError(f"duration_max_s {hi} is below duration_min_s {lo}", field="duration_max_s")
    return min(hi, max(lo, voiceover_s + settings.tail_s))


def frame_count(duration_s: float, fps: int) -> int:
    return max(1, int(math.floor(duration_s * fps + 0.5)))


def compute_layout(preset: Preset, *, on_sale: bool) -> Layout:
    w, h = preset.width, preset.height
    ins = preset.safe
    left, top = math.ceil(w * ins.left), math.ceil(h * ins.top)
    safe = Rect(left, top, w - left - math.ceil(w * ins.right), h - top - math.ceil(h * ins.bottom))
    orientation = preset.orientation
    if orientation == "portrait":
        s = w / 1080
        header = Rect(safe.x, safe.y, safe.w, round(60 * s))
        title = Rect(safe.x, header.bottom + round(8 * s), safe.w, round(250 * s))
        cta = Rect(safe.x, safe.bottom - round(112 * s), safe.w, round(112 * s))
        price_h = round((160 if on_sale else 120) * s)
        price = Rect(safe.x, cta.y - round(12 * s) - price_h, safe.w, price_h)
        region_top = title.bottom + round(16 * s)
        photo_region = Rect(0, region_top, w, price.y - round(14 * s) - region_top)
        captions = Rect(safe.x, photo_region.bottom - round(150 * s), safe.w, round(140 * s)).even()
        return Layout(w, h, safe, header, title, 3, photo_region, price, cta, captions, s)
    if orientation == "square":
        s = w / 1080
        header = Rect(safe.x, safe.y, safe.w, round(52 * s))
        title = Rect(safe.x, header.bottom + round(6 * s), safe.w, round(140 * s))
        row_h = round((150 if on_sale else 112) * s)
        price = Rect(safe.x, safe.bottom - row_h, safe.w // 2, row_h)
        cta = Rect(safe.x + safe.w // 2, safe.bottom - round(112 * s), safe.w - safe.w // 2, round(112 * s))
        region_top = title.bottom + round(10 * s)
        photo_region = Rect(0, region_top, w, price.y - round(10 * s) - region_top)
        captions = Rect(safe.x, photo_region.bottom - round(130 * s), safe.w, round(120 * s)).even()
        return Layout(w, h, safe, header, title, 2, photo_region, price, cta, captions, s)
    s = h / 1080
    photo_region = Rect(0, 0, round(w * 0.53), h)
    column_x = photo_region.right + round(48 * s)
    column = Rect(column_x, safe.y, safe.right - column_x, safe.h)
    header = Rect(column.x, column.y + round(110 * s), column.w, round(64 * s))
    title = Rect(column.x, header.bottom + round(10 * s), column.w, round(270 * s))
    price = Rect(column.x, title.bottom + round(30 * s), column.w, round(170 * s))
    cta = Rect(column.x, price.bottom + round(24 * s), column.w, round(116 * s))
    captions = Rect(safe.x, safe.bottom - round(140 * s), photo_region.right - safe.x - round(24 * s),
                    round(130 * s)).even()
    return Layout(w, h, safe, header, title, 3, photo_region, price, cta, captions, s)


def fit_box(region: Rect, image_w: int, image_h: int) -> Rect:
    """The largest box of the photo's (clamped) aspect centred in `region`, even-aligned."""
    aspect = min(BOX_ASPECT_MAX, max(BOX_ASPECT_MIN, image_w / max(1, image_h)))
    bw = min(region.w, region.h * aspect)
    bh = bw / aspect
    x = region.x + (region.w - bw) / 2
    y = region.y + (region.h - bh) / 2
    return Rect(int(round(x)), int(round(y)), int(bw), int(bh)).even()


def build_spec(
    product: Product,
    image: PreparedImage,
    voiceover: Voiceover | None,
    settings: BatchSettings,
    *,
    cues: tuple[CaptionCue, ...] = (),
    duration_s: float | None = None,
    loudness: Loudness | None = None,
) -> RenderSpec:
    """Everything about the video except pixels. `duration_s` overrides the voiceover rule."""
    preset = get_preset(settings.preset)
    font_path = resolve_font_path(settings.font_path)
    accent = parse_color(settings.accent_color)
    notes: list[str] = []
    vo_s = voiceover.duration_s if voiceover is not None else 0.0
    duration = duration_s if duration_s is not None else video_duration(vo_s, settings)
    frames = frame_count(duration, preset.fps)
    if duration_s is None:
        # Rounding to whole frames must never take the video past the platform-facing maximum.
        frames = max(1, min(frames, int(math.floor(settings.duration_max_s * preset.fps + 1e-6))))
    if voiceover is not None and vo_s > frames / preset.fps + 1e-3:
        notes.append(f"voiceover ({vo_s:.2f}s) is longer than the video ({frames / preset.fps:.2f}s): trimmed")

    layout = compute_layout(preset, on_sale=product.on_sale)
    s = layout.scale
    box = fit_box(layout.photo_region, image.width, image.height)
    motion = Motion(choose_direction(settings.motion, product.key), float(settings.motion_strength))
    photo = PhotoLayer(
        path=Path(image.path), width=image.width, height=image.height, has_alpha=image.has_alpha,
        box=box, motion=motion, denoise=settings.denoise, sharpen=settings.sharpen,
        color_correct=settings.color_correct,
    )

    texts: list[TextLayer] = []
    images: list[ImageLayer] = []
    header = layout.header
    if settings.logo_path:
        logo = Path(settings.logo_path)
        if not logo.is_file():
            raise ConfigError(f"logo file not found: {logo}", field="logo_path")
        logo_rect = Rect(header.x, header.y, header.h * 3, header.h)
        images.append(ImageLayer("logo", logo, logo_rect))
        header = Rect(header.x + header.h * 3 + round(16 * s), header.y, header.w - header.h * 3 - round(16 * s), header.h)
    if product.brand.strip():
        texts.append(TextLayer("brand", product.brand, header, round(42 * s), round(28 * s),
                               color=(accent[0], accent[1], accent[2], 255) if _bright_enough(accent) else
                               (235, 235, 235, 255)))
    title_max = round((68 if preset.orientation != "square" else 56) * s)
    texts.append(TextLayer("title", product.title, layout.title, title_max, round(40 * s), layout.title_lines))

    language = settings.language
    price_rect = layout.price
    if product.on_sale:
        main_h = round(price_rect.h * 0.62)
        texts.append(TextLayer("price", format_amount(product.display_price, product.currency, language),
                               Rect(price_rect.x, price_rect.y, price_rect.w, main_h), round(92 * s), round(50 * s)))
        texts.append(TextLayer("price_original", format_amount(product.price, product.currency, language),
                               Rect(price_rect.x, price_rect.y + main_h, price_rect.w, price_rect.h - main_h),
                               round(46 * s), round(30 * s), color=(205, 205, 205, 255), style="strike"))
        if product.discount_percent:
            badge_x = max(box.x + round(20 * s), layout.safe.x)
            badge_y = max(box.y + round(20 * s), layout.safe.y)
            texts.append(TextLayer("badge", f"-{product.discount_percent}%",
                                   Rect(badge_x, badge_y, round(260 * s), round(96 * s)), round(52 * s), round(32 * s),
                                   color=_text_on(accent), style="pill", fill=accent))
    else:
        texts.append(TextLayer("price", format_amount(product.price, product.currency, language), price_rect,
                               round(92 * s), round(50 * s)))
    if settings.cta_text.strip():
        texts.append(TextLayer("cta", settings.cta_text, layout.cta, round(54 * s), round(32 * s),
                               color=_text_on(accent), style="pill", fill=accent,
                               align="left" if preset.orientation != "square" else "right"))

    captions = None
    if settings.captions and cues:
        captions = CaptionTrack(tuple(cues), layout.captions, round(60 * s), round(36 * s),
                                highlight=(255, 214, 10, 255) if _too_close(accent) else accent)

    audio = None
    if voiceover is not None:
        audio = AudioSpec(
            path=Path(voiceover.audio_path), source_duration_s=vo_s, duration_s=frames / preset.fps,
            sample_rate=preset.audio_rate, channels=preset.audio_channels,
            bitrate_kbps=preset.audio_bitrate_kbps, measured=loudness,
        )
    return RenderSpec(
        width=preset.width, height=preset.height, fps=preset.fps, frames=frames, preset=preset,
        background=_background(image.has_alpha, accent), photo=photo, texts=tuple(texts),
        images=tuple(images), captions=captions, audio=audio, font_path=font_path, layout=layout,
        warnings=tuple(notes),
    )


def _background(has_alpha: bool, accent: tuple[int, int, int, int]) -> Background:
    """A cut-out photo has no scenery to blur: use a deep shade of the brand colour instead."""
    if not has_alpha:
        return Background("blur")
    r, g, b = (int(c * 0.3 + 12) for c in accent[:3])
    return Background("color", color=(r, g, b, 255))


def _text_on(color: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return readable_on(color)


def _bright_enough(color: tuple[int, int, int, int]) -> bool:
    r, g, b = color[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 90


def _too_close(color: tuple[int, int, int, int]) -> bool:
    """An accent too dark or too white to highlight a word against white text."""
    r, g, b = color[:3]
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return luminance < 70 or min(r, g, b) > 200


def _ff_path(path: Path | str) -> str:
    """An absolute `file:` URL-ish path, so a name starting with '-' or 'concat:' is just a file."""
    return "file:" + str(Path(path).resolve())


@dataclass(frozen=True)
class AudioFilter:
    """One ffmpeg audio filter: written into an `-af` chain, or applied to an ffmpeg-python stream in a graph."""

    name: str  # may carry an instance name: "ebur128@g0"
    args: tuple[object, ...] = ()
    options: tuple[tuple[str, object], ...] = ()

    def __str__(self) -> str:
        parts = [str(a) for a in self.args] + [f"{k}={v}" for k, v in self.options]
        return self.name + ("=" + ":".join(parts) if parts else "")

    def apply(self, stream):
        return stream.filter(self.name, *self.args, **dict(self.options))


def _timeline(audio: AudioSpec, *, resample: bool = True) -> list[AudioFilter]:
    """Pad with silence / trim to the video length; a trimmed end fades instead of clicking."""
    d = audio.duration_s
    chain = [AudioFilter("aresample", (audio.sample_rate,))] if resample else []
    chain += [AudioFilter("apad"), AudioFilter("atrim", (0, f"{d:.6f}"))]
    if audio.source_duration_s > d:
        chain.append(AudioFilter("afade", options=(("t", "out"), ("st", f"{max(0.0, d - AUDIO_FADE_S):.6f}"), ("d", AUDIO_FADE_S))))
    return chain


# A sample-peak limiter at the ceiling (-2 dBFS), compensating its own lookahead delay.
LIMITER = AudioFilter("alimiter", options=(("limit", 0.794), ("attack", 5), ("release", 50), ("level", "false"), ("latency", "true")))
LIMITER_PROBE_STEPS_DB = (0.0, 3.0, 6.0, 9.0)


def _gain(db: float) -> AudioFilter:
    return AudioFilter("volume", (f"{db:.3f}dB",))


def audio_filter(audio: AudioSpec) -> str:
    """Pad/trim to the video length and bring it to the target loudness.

    A plain gain when the peaks allow it (exact, like loudnorm's linear mode but
    without its 192 kHz resampling), else gain + peak limiter. Only numbers go
    into this graph, never product text.
    """
    parts = _timeline(audio)
    m = audio.measured
    if m is not None and not m.is_silent:
        if m.limiter_gain_db is not None:
            parts += [_gain(m.limiter_gain_db), LIMITER]
        else:
            parts.append(_gain(m.gain_db(audio.target_lufs)))
    return ",".join(map(str, parts))


def _chain(stream, filters):
    for audio_filter_ in filters:
        stream = audio_filter_.apply(stream)
    return stream


def measure_argv(audio: AudioSpec) -> list[str]:
    """Integrated loudness and sample peak, at the source rate (cheap), of the final timeline."""
    meter = AudioFilter("ebur128", options=(("peak", "sample"), ("framelog", "verbose")))
    measured = _chain(ffmpeg.input(_ff_path(audio.path)).audio, [*_timeline(audio, resample=False), meter])
    return measured.output("-", f="null").global_args("-hide_banner", "-nostdin").compile()


def limiter_probe_argv(audio: AudioSpec, base_gain_db: float) -> list[str]:
    """One pass measuring the loudness after gain + limiter at a few gains (limiting eats loudness).

    The meters are named `ebur128@g<i>` so each one's summary can be told apart in the log.
    """
    steps = LIMITER_PROBE_STEPS_DB
    split = _chain(ffmpeg.input(_ff_path(audio.path)).audio, _timeline(audio)).filter_multi_output("asplit", len(steps))
    outputs = [
        _chain(split.stream(i), [_gain(base_gain_db + step), LIMITER, AudioFilter(f"ebur128@g{i}", options=(("framelog", "verbose"),))])
        .output("-", f="null")
        for i, step in enumerate(steps)
    ]
    return ffmpeg.merge_outputs(*outputs).global_args("-hide_banner", "-nostdin").compile()


def video_codec_args(preset: Preset, *, x264_preset: str | None = None, crf: int | None = None) -> list[str]:
    return [
        "-c:v", "libx264",
        "-preset", x264_preset or preset.x264_preset,
        "-crf", str(crf if crf is not None else preset.crf),
        "-profile:v", preset.profile,
        "-level:v", preset.level,
        "-pix_fmt", "yuv420p",
        "-g", str(preset.gop),
        "-keyint_min", str(max(1, preset.gop // 2)),
        "-maxrate", f"{preset.maxrate_kbps}k",
        "-bufsize", f"{preset.bufsize_kbps}k",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
    ]


def audio_codec_args(audio: AudioSpec) -> list[str]:
    return ["-c:a", "aac", "-b:a", f"{audio.bitrate_kbps}k", "-ar", str(audio.sample_rate),
            "-ac", str(audio.channels)]


def encode_argv(spec: RenderSpec, out_path: Path | str, *, video_input: str = "pipe:0",
                x264_preset: str | None = None, crf: int | None = None) -> list[str]:
    """ffmpeg reading raw I420 frames from `video_input` (stdin by default) plus the voiceover."""
    argv = [
        "ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostats", "-progress", "pipe:1", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{spec.width}x{spec.height}",
        "-framerate", str(spec.fps), "-color_range", "tv", "-colorspace", "bt709",
        "-i", video_input,
    ]
    if spec.audio is not None:
        argv += ["-i", _ff_path(spec.audio.path)]
    argv += ["-map", "0:v:0"]
    if spec.audio is not None:
        argv += ["-map", "1:a:0", "-af", audio_filter(spec.audio)]
    argv += video_codec_args(spec.preset, x264_preset=x264_preset, crf=crf)
    argv += ["-frames:v", str(spec.frames)]
    if spec.audio is not None:
        argv += audio_codec_args(spec.audio)
    argv += ["-movflags", "+faststart", "-f", "mp4", _ff_path(out_path)]
    return argv

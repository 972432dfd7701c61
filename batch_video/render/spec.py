"""The declarative render spec and the pure spec -> ffmpeg argv function.

A `RenderSpec` says what the video is (canvas, timing, background, the photo
scenes with their motion and transitions, text layers and when they show,
captions, audio, encoding) without any pixels. `build_spec` resolves the
batch's template against the preset and the product, and plans the scenes on
the voiceover's word timings; `encode_argv` turns the spec into an ffmpeg
command. Neither runs anything, so both are tested without ffmpeg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import ffmpeg

from batch_video.errors import ConfigError
from batch_video.media import LOUDNESS_TARGET_LUFS, SILENCE_LUFS
from batch_video.models import CaptionCue, PreparedImage, Product, Voiceover, WordTiming
from batch_video.money import format_amount
from batch_video.render import templates as tpl
from batch_video.render import timeline
from batch_video.render.motion import Motion, scene_directions
from batch_video.render.presets import Preset, get_preset
from batch_video.render.text import REGULAR_FONT, parse_color, readable_on, resolve_font_path
from batch_video.settings import BatchSettings

# Sample-peak ceiling: 0.5 dB under a -1.5 dBTP true-peak budget leaves room for
# inter-sample peaks from resampling and AAC.
PEAK_CEILING_DBFS = -2.0
# A trimmed voiceover fades out over this long instead of clicking.
AUDIO_FADE_S = 0.08
# Photo boxes never get more extreme than these aspect ratios; wider/taller photos are cropped.
BOX_ASPECT_MIN, BOX_ASPECT_MAX = 0.6, 1.8
TRANSITIONS = ("auto",) + tpl.TRANSITION_KINDS
# Words that say a price is coming when the amount itself is not found in the word timings.
PRICE_WORDS = ("preț", "pret", "prețul", "pretul", "price", "costă", "costa", "doar", "only")

Color = tuple[int, int, int, int]


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

    def clip(self, bounds: "Rect") -> "Rect":
        x0, y0 = max(self.x, bounds.x), max(self.y, bounds.y)
        x1, y1 = min(self.right, bounds.right), min(self.bottom, bounds.bottom)
        return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


@dataclass(frozen=True)
class Layout:
    """The template's boxes resolved to pixels for one preset."""

    width: int
    height: int
    safe: Rect
    scale: float  # font scale relative to the 1080 px design canvas
    photo_region: Rect
    boxes: tuple[tuple[str, Rect], ...] = ()  # (layer name, rect) for each layer that applies, in template order

    def box(self, name: str) -> Rect:
        """The first applying layer of that name (a role or type unless the template names it)."""
        for key, rect in self.boxes:
            if key == name:
                return rect
        raise KeyError(name)


@dataclass(frozen=True)
class TextLayer:
    """Text fitted into `rect` (anchored top-left; `align` within the rect's width)."""

    role: str  # brand | title | price | price_original | cta | badge | text
    text: str
    rect: Rect
    size_max: int
    size_min: int
    max_lines: int = 1
    color: Color = (255, 255, 255, 255)
    align: str = "left"
    style: str = "plain"  # plain | strike | pill
    fill: Color | None = None  # pill colour
    font_path: str = ""  # empty: the spec's font
    timing: timeline.Timing | None = None  # None: shown, still, for the whole video


@dataclass(frozen=True)
class ImageLayer:
    role: str  # logo
    path: Path
    rect: Rect  # fitted inside, keeping aspect


@dataclass(frozen=True)
class BandLayer:
    """A translucent colour band behind text (a gradient fades it towards one edge)."""

    rect: Rect
    color: Color
    gradient: str = "none"  # none | up (fades out upwards) | down


@dataclass(frozen=True)
class PhotoLayer:
    path: Path
    width: int
    height: int
    has_alpha: bool
    box: Rect
    motion: Motion
    card_color: Color = (244, 244, 244, 255)
    denoise: bool = False
    sharpen: bool = False
    color_correct: bool = False


@dataclass(frozen=True)
class SceneSpec:
    """One photo on the timeline: visible from `start` to `end` (transitions included)."""

    photo: PhotoLayer
    start: int
    end: int
    cut_in: int  # where it becomes the main picture
    cut_out: int


@dataclass(frozen=True)
class Background:
    kind: str = "blur"  # blur (the photo, blurred and dimmed) | color
    color: Color = (24, 26, 34, 255)
    dim: float = 0.55


@dataclass(frozen=True)
class CaptionTrack:
    cues: tuple[CaptionCue, ...]
    rect: Rect
    size_max: int
    size_min: int
    color: Color = (255, 255, 255, 255)
    highlight: Color = (255, 214, 10, 255)
    font_path: str = ""


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
    lead_s: float = 0.0  # silence before the source starts (the music's intro, until the bed is mixed in)


@dataclass(frozen=True)
class RenderSpec:
    width: int
    height: int
    fps: int
    frames: int
    preset: Preset
    background: Background
    scenes: tuple[SceneSpec, ...]
    transitions: tuple[timeline.TransitionPlan, ...]
    texts: tuple[TextLayer, ...]
    images: tuple[ImageLayer, ...]
    bands: tuple[BandLayer, ...]
    captions: CaptionTrack | None
    audio: AudioSpec | None
    font_path: str
    layout: Layout
    template: str = "classic"  # name:file-hash
    photo_fill: bool = False  # the photo fills its region (no box shadow)
    price_scene: int = 0
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    @property
    def photo(self) -> PhotoLayer:
        """The main photo (the first scene)."""
        return self.scenes[0].photo

    @property
    def box(self) -> Rect:
        """Where the photos are drawn: the same box for every scene."""
        return self.scenes[0].photo.box


def voice_lead_s(settings: BatchSettings) -> float:
    """Seconds before the voice starts: the music's intro when there is a music bed, else none."""
    return float(settings.music_lead_s) if settings.music_path else 0.0


def video_duration(voiceover_s: float, settings: BatchSettings) -> float:
    """clamp(voiceover + tail, min, max); with a music bed, its intro and outro count too."""
    lo, hi = settings.duration_min_s, settings.duration_max_s
    if hi < lo:
        raise ConfigError(f"duration_max_s {hi} is below duration_min_s {lo}", field="duration_max_s")
    outro = float(settings.music_outro_s) if settings.music_path else 0.0
    return min(hi, max(lo, voice_lead_s(settings) + voiceover_s + settings.tail_s + outro))


def shift_words(words: Sequence[WordTiming], by_s: float) -> tuple[WordTiming, ...]:
    return tuple(replace(w, start=w.start + by_s, end=w.end + by_s) for w in words)


def shift_cues(cues: Sequence[CaptionCue], by_s: float) -> tuple[CaptionCue, ...]:
    return tuple(CaptionCue(c.start + by_s, c.end + by_s, shift_words(c.words, by_s)) for c in cues)


def frame_count(duration_s: float, fps: int) -> int:
    return max(1, int(math.floor(duration_s * fps + 0.5)))


def safe_rect(preset: Preset) -> Rect:
    w, h = preset.width, preset.height
    ins = preset.safe
    left, top = math.ceil(w * ins.left), math.ceil(h * ins.top)
    return Rect(left, top, w - left - math.ceil(w * ins.right), h - top - math.ceil(h * ins.bottom))


def design_scale(preset: Preset) -> float:
    """Font sizes in templates are px on a 1080-wide (landscape: 1080-high) design canvas."""
    return (preset.height if preset.orientation == "landscape" else preset.width) / 1080


def place(box: tpl.Box, safe: Rect, canvas: Rect, photo: Rect | None = None) -> Rect:
    """A template box in pixels; photo-anchored boxes are kept inside the safe zone."""
    ref = safe if box.frame == "safe" else canvas
    origin_x, origin_y = (photo.x, photo.y) if box.anchor == "photo" and photo is not None else (ref.x, ref.y)
    rect = Rect(origin_x + round(box.x * ref.w), origin_y + round(box.y * ref.h),
                max(1, round(box.w * ref.w)), max(1, round(box.h * ref.h)))
    if box.anchor == "photo":
        x = max(safe.x, min(rect.x, safe.right - rect.w))
        y = max(safe.y, min(rect.y, safe.bottom - rect.h))
        rect = Rect(x, y, rect.w, rect.h)
    return rect


def resolve_layout(template: tpl.Template, preset: Preset, *, on_sale: bool, logo: bool = False,
                   image_w: int = 1, image_h: int = 1) -> tuple[Layout, tuple[tpl.Layer, ...], Rect]:
    """-> (layout, the layers that apply, photo box)."""
    layers = tuple(layer for layer in template.layers_for(preset.orientation)
                   if layer.applies(on_sale=on_sale, logo=logo))
    safe = safe_rect(preset)
    canvas = Rect(0, 0, preset.width, preset.height)
    photo_layer = next(layer for layer in layers if layer.type == "photo")
    region = place(photo_layer.box, safe, canvas).clip(canvas)
    box = fit_box(region, image_w, image_h) if photo_layer.fit == "aspect" else region.even()
    boxes = tuple((layer.name, place(layer.box, safe, canvas, box)) for layer in layers)
    return Layout(preset.width, preset.height, safe, design_scale(preset), region, boxes), layers, box


def fit_box(region: Rect, image_w: int, image_h: int) -> Rect:
    """The largest box of the photo's (clamped) aspect centred in `region`, even-aligned."""
    aspect = min(BOX_ASPECT_MAX, max(BOX_ASPECT_MIN, image_w / max(1, image_h)))
    bw = min(region.w, region.h * aspect)
    bh = bw / aspect
    x = region.x + (region.w - bw) / 2
    y = region.y + (region.h - bh) / 2
    return Rect(int(round(x)), int(round(y)), int(bw), int(bh)).even()


def validate_settings(settings: BatchSettings) -> BatchSettings:
    """Everything that would otherwise fail every product the same way (template, preset, formats, transition,
    music) checked now: one ConfigError naming the setting (for a template: the file, the field and the allowed
    values), at the `settings` stage. Returns the settings, for chaining."""
    try:
        check_settings(settings)
    except ConfigError as err:
        err.with_context(stage="settings")
        raise
    return settings


def check_settings(settings: BatchSettings) -> tpl.Template:
    """The renderer's settings (template, preset, transition, motion, colours) are usable; -> the template."""
    template = tpl.load_template(settings.template)
    preset = get_preset(settings.preset)
    template.layers_for(preset.orientation)
    names = settings.format_names()
    if len(set(names)) != len(names):
        raise ConfigError(f"formats {settings.formats!r} names a format twice", field="formats")
    for name in names:
        try:
            template.layers_for(get_preset(name).orientation)
        except ConfigError as err:
            raise ConfigError(f"formats: {err.message}", field="formats") from None
    if settings.transition not in TRANSITIONS:
        raise ConfigError(f"unknown transition {settings.transition!r}; use {', '.join(TRANSITIONS)}",
                          field="transition")
    if settings.max_extra_photos < 0:
        raise ConfigError(f"max_extra_photos must be 0 or more, got {settings.max_extra_photos}",
                          field="max_extra_photos")
    if settings.music_path:
        from batch_video.music import list_tracks

        list_tracks(settings.music_path)
        if settings.music_duck_lu > -12:
            raise ConfigError(f"music_duck_lu must be -12 or lower (the music at least 12 LU under the voice), "
                              f"got {settings.music_duck_lu:g}", field="music_duck_lu")
        if not settings.music_duck_lu < settings.music_bed_lu <= 0:
            raise ConfigError(f"music_bed_lu must be above music_duck_lu ({settings.music_duck_lu:g}) and at most 0, "
                              f"got {settings.music_bed_lu:g}", field="music_bed_lu")
        for name in ("music_lead_s", "music_outro_s"):
            if not 0 <= getattr(settings, name) <= 5:
                raise ConfigError(f"{name} must be between 0 and 5 s, got {getattr(settings, name):g}", field=name)
    parse_color(settings.accent_color)
    resolve_font_path(settings.font_path)
    Motion(scene_directions(settings.motion, "check", 1)[0], float(settings.motion_strength))
    return template


def build_spec(
    product: Product,
    image: PreparedImage,
    voiceover: Voiceover | None,
    settings: BatchSettings,
    *,
    cues: tuple[CaptionCue, ...] = (),
    duration_s: float | None = None,
    loudness: Loudness | None = None,
    extra_images: Sequence[PreparedImage] = (),
) -> RenderSpec:
    """Everything about the video except pixels. `duration_s` overrides the voiceover rule."""
    template = check_settings(settings)
    preset = get_preset(settings.preset)
    font_path = resolve_font_path(settings.font_path)
    accent = parse_color(settings.accent_color)
    notes: list[str] = []
    vo_s = voiceover.duration_s if voiceover is not None else 0.0
    duration = duration_s if duration_s is not None else video_duration(vo_s, settings)
    lead = voice_lead_s(settings) if voiceover is not None else 0.0
    if lead:
        # The voice starts after the music's intro: its words, and so the cuts, captions and text timeline, too.
        voiceover = replace(voiceover, words=shift_words(voiceover.words, lead))
        cues = shift_cues(cues, lead)
    frames = frame_count(duration, preset.fps)
    if duration_s is None:
        # Rounding to whole frames must never take the video past the platform-facing maximum.
        frames = max(1, min(frames, int(math.floor(settings.duration_max_s * preset.fps + 1e-6))))
    if voiceover is not None and lead + vo_s > frames / preset.fps + 1e-3:
        notes.append(f"voiceover ({vo_s:.2f}s) is longer than the video ({frames / preset.fps:.2f}s): trimmed")

    has_logo = bool(settings.logo_path)
    layout, layers, box = resolve_layout(template, preset, on_sale=product.on_sale, logo=has_logo,
                                         image_w=image.width, image_h=image.height)
    s = layout.scale
    photo_def = next(layer for layer in layers if layer.type == "photo")
    photos = [image, *extra_images[: max(0, settings.max_extra_photos)]]
    count = timeline.scene_count(len(photos), frames / preset.fps)
    if count < len(photos):
        notes.append(f"{count} of {len(photos)} photos used: a {frames / preset.fps:.1f} s video fits {count} "
                     f"scene{'s' if count > 1 else ''} of at least {timeline.MIN_SCENE_S:g} s")
    words = _spoken_words(voiceover, cues)
    cuts = timeline.plan_cuts(count, frames, preset.fps, words)
    kinds = timeline.transition_kinds(settings.transition, template.transitions.kinds, len(cuts), product.key)
    plans, transitions = timeline.plan_scenes(cuts, frames, kinds,
                                              round(template.transitions.duration_s * preset.fps))
    card = _color(photo_def.card, accent)
    scenes = tuple(
        SceneSpec(
            PhotoLayer(path=Path(photo.path), width=photo.width, height=photo.height, has_alpha=photo.has_alpha,
                       box=box, motion=Motion(direction, float(settings.motion_strength)), card_color=card,
                       denoise=settings.denoise, sharpen=settings.sharpen, color_correct=settings.color_correct),
            plan.start, plan.end, plan.cut_in, plan.cut_out)
        for photo, plan, direction in zip(photos, plans, scene_directions(settings.motion, product.key, count))
    )
    price_scene = _price_scene(product, settings, words, cuts, preset.fps, count)

    texts: list[TextLayer] = []
    images: list[ImageLayer] = []
    bands: list[BandLayer] = []
    captions = None
    canvas = Rect(0, 0, preset.width, preset.height)
    for layer, (_, rect) in zip(layers, layout.boxes):
        if layer.type == "logo":
            if has_logo:
                logo = Path(settings.logo_path)
                if not logo.is_file():
                    raise ConfigError(f"logo file not found: {logo}", field="logo_path")
                images.append(ImageLayer("logo", logo, rect))
        elif layer.type == "band":
            bands.append(BandLayer(rect.clip(canvas), _color(layer.color, accent), layer.gradient))
        elif layer.type == "captions":
            if settings.captions and cues:
                highlight = ((255, 214, 10, 255) if _too_close(accent) else accent) if layer.highlight == "auto" \
                    else _color(layer.highlight, accent)
                captions = CaptionTrack(tuple(cues), rect.even(), round(layer.size_max * s),
                                        round(layer.size_min * s), _color(layer.color, accent), highlight,
                                        _font(layer.font, font_path))
        elif layer.type == "text":
            content = _text_for(layer, product, settings)
            if not content.strip():
                continue
            timing = timeline.resolve_show(layer.show, layer.enter, layer.leave, scenes=plans,
                                           price_scene=price_scene, frames=frames, fps=preset.fps)
            texts.append(TextLayer(
                layer.role, content, rect, round(layer.size_max * s), round(layer.size_min * s), layer.lines,
                color=_color(layer.color, accent), align=layer.align, style=layer.style,
                fill=_color(layer.fill, accent) if layer.style == "pill" else None,
                font_path=_font(layer.font, font_path), timing=timing))
    if has_logo and not images:
        notes.append(f"logo_path is set but template {template.name!r} has no logo layer for this layout")

    audio = None
    if voiceover is not None:
        audio = AudioSpec(
            path=Path(voiceover.audio_path), source_duration_s=vo_s, duration_s=frames / preset.fps,
            sample_rate=preset.audio_rate, channels=preset.audio_channels,
            bitrate_kbps=preset.audio_bitrate_kbps, measured=loudness, lead_s=lead,
        )
    return RenderSpec(
        width=preset.width, height=preset.height, fps=preset.fps, frames=frames, preset=preset,
        background=_background(photo_def.background, image.has_alpha, accent), scenes=scenes,
        transitions=transitions, texts=tuple(texts), images=tuple(images), bands=tuple(bands),
        captions=captions, audio=audio, font_path=font_path, layout=layout, template=template.fingerprint,
        photo_fill=photo_def.fit == "fill" or not photo_def.shadow, price_scene=price_scene,
        warnings=tuple(notes),
    )


def _spoken_words(voiceover: Voiceover | None, cues: Sequence[CaptionCue]) -> tuple[WordTiming, ...]:
    if voiceover is not None and voiceover.words:
        return tuple(voiceover.words)
    return tuple(word for cue in cues for word in cue.words)


def _price_scene(product: Product, settings: BatchSettings, words: Sequence[WordTiming], cuts: Sequence[int],
                 fps: int, count: int) -> int:
    """The scene during which the voice says the price (the last scene when it never does)."""
    from batch_video.script import say_amount

    language = (settings.language or "ro").split("-")[0].lower()
    candidates = [say_amount(product.display_price, product.currency, language),
                  format_amount(product.display_price, product.currency, settings.language)]
    at = None
    for phrase in candidates:
        at = timeline.phrase_time(words, phrase)
        if at is not None:
            break
    if at is None:
        hits = [timeline.phrase_time(words, word, max_tokens=1) for word in PRICE_WORDS]
        found = [t for t in hits if t is not None]
        at = min(found) if found else None
    if at is None:
        return count - 1
    return min(count - 1, timeline.scene_at(cuts, int(round(at * fps))))


def _text_for(layer: tpl.Layer, product: Product, settings: BatchSettings) -> str:
    language = settings.language
    if layer.role == "brand":
        return product.brand
    if layer.role == "title":
        return product.title
    if layer.role == "price":
        return format_amount(product.display_price, product.currency, language)
    if layer.role == "price_original":
        return format_amount(product.price, product.currency, language) if product.on_sale else ""
    if layer.role == "badge":
        return f"-{product.discount_percent}%" if product.discount_percent else ""
    if layer.role == "cta":
        return settings.cta_text
    values = {
        "title": product.title, "brand": product.brand,
        "price": format_amount(product.display_price, product.currency, language),
        "old_price": format_amount(product.price, product.currency, language) if product.on_sale else "",
        "discount": f"-{product.discount_percent}%" if product.discount_percent else "",
        "cta": settings.cta_text,
    }
    return layer.text.format(**values)


def _color(value: str, accent: Color) -> Color:
    named = {
        "accent": accent,
        "on_accent": readable_on(accent),
        "accent_text": (accent[0], accent[1], accent[2], 255) if _bright_enough(accent) else (235, 235, 235, 255),
        "white": (255, 255, 255, 255),
        "black": (0, 0, 0, 255),
        "light": (235, 235, 235, 255),
        "muted": (205, 205, 205, 255),
    }
    return named[value] if value in named else parse_color(value, field="template")


def _font(value: str, brand_font: str) -> str:
    if value == "brand":
        return brand_font
    if value == "regular":
        return REGULAR_FONT if Path(REGULAR_FONT).is_file() else brand_font
    return value


def _background(kind: str, has_alpha: bool, accent: Color) -> Background:
    """A cut-out photo has no scenery to blur: use a deep shade of the brand colour instead."""
    if kind == "blur" and not has_alpha:
        return Background("blur")
    if kind in ("blur", "accent"):
        r, g, b = (int(c * 0.3 + 12) for c in accent[:3])
        return Background("color", color=(r, g, b, 255))
    return Background("color", color=parse_color(kind, field="template"))


def _bright_enough(color: Color) -> bool:
    r, g, b = color[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 90


def _too_close(color: Color) -> bool:
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
    if audio.lead_s > 0:
        chain.append(AudioFilter("adelay", options=(("delays", int(round(audio.lead_s * 1000))), ("all", 1))))
    chain += [AudioFilter("apad"), AudioFilter("atrim", (0, f"{d:.6f}"))]
    if audio.lead_s + audio.source_duration_s > d:
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

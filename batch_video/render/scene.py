"""Turn a RenderSpec into pixels: static canvases, the scenes' photo sources and the per-frame composer.

Design for speed: everything that does not move (background, bands, logo,
text that is on screen and still) is drawn once and kept as I420 canvases, one
per set of still text layers (a handful per video). Per frame we only warp the
photo box straight on the Y/U/V planes (chroma at half resolution with the same
window, so there is no per-frame colour conversion), blend the second scene
during a transition, tint the part of a band over the photo, and blend the
few layers that sit on the photo or are moving, plus the current caption.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from batch_video.errors import ConfigError, ProductDataError
from batch_video.render import text as txt
from batch_video.render.motion import Window, cover_window, ease, inverse_affine
from batch_video.render.spec import BandLayer, CaptionTrack, ImageLayer, PhotoLayer, Rect, RenderSpec, TextLayer
from batch_video.render.timeline import LayerState, TransitionPlan, layer_state
from batch_video.render.yuv import (
    KB,
    KG,
    KR,
    Overlay,
    blend_overlay,
    i420_to_rgb,
    make_overlay,
    rgb_to_i420,
)

logger = logging.getLogger(__name__)

WARP_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
# How far a sliding text travels, as a share of the canvas's shorter side.
SLIDE_SHARE = 0.06
# Zoom-through: the outgoing photo rushes this much closer, the incoming one settles from as close.
ZOOM_THROUGH = 0.3
# Distinct still-text canvases kept (each one I420 frame).
CANVAS_CACHE = 12


# ---------------------------------------------------------------- text layers

def render_text_layer(layer: TextLayer, font_path: str) -> tuple[Image.Image, bool]:
    """-> (RGBA image to paste at layer.rect's top-left, truncated?)."""
    font_path = layer.font_path or font_path
    clean = txt.clean_text(layer.text, font_path)
    rect = layer.rect
    if layer.style == "pill":
        pad_x, pad_y = max(4, layer.size_max // 2), max(2, layer.size_max // 4)
        fitted = txt.fit_text(clean, font_path, rect.w - 2 * pad_x, 1, layer.size_max, layer.size_min)
        font = txt.load_font(font_path, fitted.size)
        image = txt.pill(fitted.lines[0] if fitted.lines else "", font, fill=layer.fill or (0, 0, 0, 255),
                         text_fill=layer.color, pad_x=pad_x, pad_y=pad_y)
        if layer.align in ("right", "center") and image.width < rect.w:
            padded = Image.new("RGBA", (rect.w, image.height), (0, 0, 0, 0))
            padded.paste(image, (rect.w - image.width if layer.align == "right" else (rect.w - image.width) // 2, 0))
            image = padded
        return image, fitted.truncated
    stroke = max(1, layer.size_max // 22)
    shadow = max(1, layer.size_max // 18)
    pad = stroke + shadow + 2
    fitted = txt.fit_text(clean, font_path, rect.w - 2 * pad, layer.max_lines,
                          layer.size_max, layer.size_min, max_height=rect.h - 2 * pad)
    font = txt.load_font(font_path, fitted.size)
    image = txt.draw_lines(fitted.lines, font, rect.w, fill=layer.color, align=layer.align, stroke=stroke,
                           stroke_fill=(0, 0, 0, 200), shadow=shadow, strike=layer.style == "strike")
    if image.height > rect.h:  # never spill into the neighbour's space
        image = image.crop((0, 0, rect.w, rect.h))
    return image, fitted.truncated


def render_image_layer(layer: ImageLayer) -> Image.Image:
    try:
        with Image.open(layer.path) as raw:
            logo = ImageOps.exif_transpose(raw).convert("RGBA")
    except OSError as exc:
        raise ConfigError(f"cannot read logo {layer.path}: {exc}", field="logo_path") from exc
    logo.thumbnail((layer.rect.w, layer.rect.h), Image.Resampling.LANCZOS)
    return logo


# ---------------------------------------------------------------- photo and background

def load_photo(photo: PhotoLayer, *, field: str = "image_link") -> np.ndarray:
    """A prepared photo as RGB uint8 (alpha flattened onto the card colour), enhanced once."""
    try:
        with Image.open(photo.path) as raw:
            image = raw.convert("RGBA") if photo.has_alpha or raw.mode in ("RGBA", "LA", "P") else raw.convert("RGB")
    except OSError as exc:
        raise ProductDataError(f"cannot read prepared image {photo.path}: {exc}", field=field) from exc
    if image.mode == "RGBA":
        card = Image.new("RGBA", image.size, photo.card_color)
        image = Image.alpha_composite(card, image).convert("RGB")
    rgb = np.asarray(image, dtype=np.uint8)
    return enhance_photo(rgb, denoise=photo.denoise, sharpen=photo.sharpen, color_correct=photo.color_correct)


def enhance_photo(rgb: np.ndarray, *, denoise: bool, sharpen: bool, color_correct: bool) -> np.ndarray:
    """Optional clean-ups, applied once to the still (never per frame)."""
    out = rgb
    if denoise:
        out = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(out), None, 5, 5, 7, 21)
    if color_correct:
        f = out.astype(np.float32)
        # Grey-world white balance, gently (halfway), then a 0.5 %..99.5 % levels stretch.
        means = f.reshape(-1, 3).mean(axis=0) + 1e-3
        gains = 1.0 + 0.5 * (means.mean() / means - 1.0)
        f *= gains
        lo, hi = np.percentile(f, [0.5, 99.5])
        if hi - lo > 10:
            f = (f - lo) * (255.0 / (hi - lo))
        out = np.clip(f, 0, 255).astype(np.uint8)
    if sharpen:
        blurred = cv2.GaussianBlur(out, (0, 0), 1.2)
        out = cv2.addWeighted(out, 1.6, blurred, -0.6, 0)
    return np.ascontiguousarray(out)


def background_rgb(spec: RenderSpec, photo_rgb: np.ndarray) -> Image.Image:
    w, h = spec.width, spec.height
    bg = spec.background
    if bg.kind == "color":
        top = np.array(bg.color[:3], np.float32)
        bottom = top * 0.55
        ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        grad = top * (1 - ramp) + bottom * ramp
        return Image.fromarray(np.broadcast_to(grad, (h, w, 3)).astype(np.uint8), "RGB")
    # Blur at low resolution and upscale smoothly: as soft as a huge kernel, far cheaper,
    # and no blocky artefacts.
    small_w, small_h = max(8, w // 12), max(8, h // 12)
    ph, pw = photo_rgb.shape[:2]
    scale = max(small_w / pw, small_h / ph)
    sw, sh = max(small_w, int(np.ceil(pw * scale))), max(small_h, int(np.ceil(ph * scale)))
    small = cv2.resize(photo_rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    x0, y0 = (sw - small_w) // 2, (sh - small_h) // 2
    small = small[y0:y0 + small_h, x0:x0 + small_w]
    small = cv2.GaussianBlur(small, (0, 0), max(small_w, small_h) / 30.0)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big *= bg.dim
    # Darker towards top and bottom where the text sits.
    ramp = np.abs(np.linspace(-1.0, 1.0, h, dtype=np.float32))[:, None, None]
    big *= 1.0 - 0.35 * ramp ** 2
    return Image.fromarray(np.clip(big, 0, 255).astype(np.uint8), "RGB")


def prescale_source(photo_rgb: np.ndarray, box: Rect, max_zoom: float) -> np.ndarray:
    """Resample once so that at the strongest zoom a source pixel maps to about one box pixel.

    Per-frame bilinear then only ever shrinks by at most `max_zoom`, which keeps
    it free of aliasing, and the source stays small in memory.
    """
    ph, pw = photo_rgb.shape[:2]
    window = cover_window(pw, ph, box.w, box.h, 1.0, 0.0, 0.0)
    ratio = box.w * max_zoom / window.width
    tw, th = max(2, int(round(pw * ratio))), max(2, int(round(ph * ratio)))
    tw += tw % 2
    th += th % 2
    interp = cv2.INTER_AREA if ratio < 1 else cv2.INTER_CUBIC
    return cv2.resize(photo_rgb, (tw, th), interpolation=interp)


# ---------------------------------------------------------------- captions

@dataclass(frozen=True)
class CaptionState:
    cue: int
    word: int  # -1: between words, nothing highlighted


class CaptionRenderer:
    """Caption strips, one per (cue, highlighted word), rendered lazily and cached."""

    def __init__(self, track: CaptionTrack, font_path: str, cache_size: int = 8) -> None:
        self.track = track
        self.font_path = track.font_path or font_path
        self.starts = [c.start for c in track.cues]
        self._cache: dict[CaptionState, Overlay] = {}
        self._cache_size = cache_size
        self._words = [[txt.clean_text(w.word, self.font_path) for w in cue.words] for cue in track.cues]

    def state_at(self, t: float) -> CaptionState | None:
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return None
        cue = self.track.cues[i]
        if not cue.start <= t < cue.end:
            return None
        current = -1
        for j, word in enumerate(cue.words):
            if word.start <= t:
                current = j
        return CaptionState(i, current)

    def overlay(self, state: CaptionState) -> Overlay:
        found = self._cache.get(state)
        if found is None:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            strip = self.render_strip(state)
            rect = self.track.rect
            found = _cropped_overlay(strip, rect.x, rect.y)
            self._cache[state] = found
        return found

    def render_strip(self, state: CaptionState) -> Image.Image:
        """RGBA image of the caption rect: words centred, the current one highlighted."""
        track, rect = self.track, self.track.rect
        shown = [(w, j == state.word) for j, w in enumerate(self._words[state.cue]) if w]
        image = Image.new("RGBA", (rect.w, rect.h), (0, 0, 0, 0))
        if not shown:
            return image
        text = " ".join(w for w, _ in shown)
        stroke = max(2, track.size_max // 12)
        fitted = txt.fit_text(text, self.font_path, rect.w - 4 * stroke, 2, track.size_max, track.size_min)
        font = txt.load_font(self.font_path, fitted.size)
        lh = txt.line_height(font)
        draw = ImageDraw.Draw(image)
        space = font.getlength(" ")
        word_iter = iter(shown)
        top = (rect.h - lh * len(fitted.lines)) / 2
        for li, line in enumerate(fitted.lines):
            x = (rect.w - font.getlength(line)) / 2
            y = top + li * lh
            # Walk the line word by word so the highlight lands on the right one; a
            # word broken over lines or ellipsized falls back to plain drawing.
            tokens = line.split(" ")
            for token in tokens:
                word, highlighted = next(word_iter, (token, False))
                fill = track.highlight if highlighted and word.startswith(token.rstrip(txt.ELLIPSIS)) else track.color
                draw.text((x, y), token, font=font, fill=fill, stroke_width=stroke, stroke_fill=(0, 0, 0, 235))
                x += font.getlength(token) + space
        return image


# ---------------------------------------------------------------- bands

class Tint:
    """A band of colour over part of the frame, applied straight on I420 planes.

    out = in * (1 - a) + colour * a per row (a gradient varies `a` by row),
    in 8.8 fixed point; the same maths bakes a band into the still canvas and
    tints the part of it over the moving photo, so the two meet without a seam.
    """

    def __init__(self, band: BandLayer, rect: Rect) -> None:
        self.rect = rect
        r, g, b, a = (c / 255.0 for c in band.color)
        luma = KR * r + KG * g + KB * b
        yc = 16.0 + 219.0 * luma
        uc = 128.0 + 224.0 * (b - luma) / (2.0 * (1.0 - KB))
        vc = 128.0 + 224.0 * (r - luma) / (2.0 * (1.0 - KR))
        rows = np.arange(band.rect.h, dtype=np.float64) + 0.5
        ramp = np.ones(band.rect.h)
        if band.gradient != "none":
            t = rows / band.rect.h
            ramp = t if band.gradient == "up" else 1.0 - t
            ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no visible edge where it ends
        alpha = (a * ramp)[rect.y - band.rect.y: rect.bottom - band.rect.y]
        chroma_alpha = (alpha[0::2] + alpha[1::2]) / 2.0
        self.y_mul = np.rint(256.0 * (1.0 - alpha)).astype(np.uint16)[:, None]
        self.y_add = (np.rint(256.0 * alpha * yc) + 128).astype(np.uint16)[:, None]
        self.c_mul = np.rint(256.0 * (1.0 - chroma_alpha)).astype(np.uint16)[:, None]
        self.u_add = (np.rint(256.0 * chroma_alpha * uc) + 128).astype(np.uint16)[:, None]
        self.v_add = (np.rint(256.0 * chroma_alpha * vc) + 128).astype(np.uint16)[:, None]

    def apply(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        r = self.rect
        _tint(y[r.y:r.bottom, r.x:r.right], self.y_mul, self.y_add)
        cy, cx = slice(r.y // 2, r.bottom // 2), slice(r.x // 2, r.right // 2)
        _tint(u[cy, cx], self.c_mul, self.u_add)
        _tint(v[cy, cx], self.c_mul, self.v_add)


def _tint(plane: np.ndarray, mul: np.ndarray, add: np.ndarray) -> None:
    scratch = np.multiply(plane, mul, dtype=np.uint16)
    scratch += add
    scratch >>= 8
    plane[...] = scratch


# ---------------------------------------------------------------- the composer

class PhotoSource:
    """One scene's photo: prescaled once, in I420, and its camera path over the scene's frames."""

    def __init__(self, scene, rgb: np.ndarray, box: Rect) -> None:
        self.scene = scene
        src = prescale_source(rgb, box, scene.photo.motion.max_zoom)
        self.planes = rgb_to_i420(src)
        self.h, self.w = self.planes[0].shape

    def matrices(self, n: int, box: Rect, extra_zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Inverse affine matrices (luma, chroma) for frame n."""
        span = self.scene.end - self.scene.start
        u = (n - self.scene.start) / (span - 1) if span > 1 else 0.0
        zoom, ox, oy = self.scene.photo.motion.view_at(min(1.0, max(0.0, u)))
        window = cover_window(self.w, self.h, box.w, box.h, zoom * extra_zoom, ox, oy)
        luma = np.array(inverse_affine(window, box.w, box.h), np.float64)
        # Chroma is the same picture at half size: same window, halved.
        half_window = Window(window.center_x / 2, window.center_y / 2, window.width / 2, window.height / 2)
        chroma = np.array(inverse_affine(half_window, box.w // 2, box.h // 2), np.float64)
        return luma, chroma

    def warp(self, n: int, box: Rect, dst: tuple[np.ndarray, np.ndarray, np.ndarray], *, extra_zoom: float = 1.0,
             x0: int = 0, x1: int | None = None, shift: int = 0) -> None:
        """Draw box columns [x0, x1) of this scene into the box-sized planes `dst`.

        Column x shows the scene's column x + shift (a slide); x0, x1 and shift are even.
        """
        x1 = box.w if x1 is None else x1
        if x1 <= x0:
            return
        luma, chroma = self.matrices(n, box, extra_zoom)
        luma[0, 2] += luma[0, 0] * (x0 + shift)
        chroma[0, 2] += chroma[0, 0] * ((x0 + shift) // 2)
        y, u, v = dst
        sy, su, sv = self.planes
        cv2.warpAffine(sy, luma, (x1 - x0, box.h), dst=y[:, x0:x1], flags=WARP_FLAGS,
                       borderMode=cv2.BORDER_REFLECT)
        csize = ((x1 - x0) // 2, box.h // 2)
        cv2.warpAffine(su, chroma, csize, dst=u[:, x0 // 2:x1 // 2], flags=WARP_FLAGS, borderMode=cv2.BORDER_REFLECT)
        cv2.warpAffine(sv, chroma, csize, dst=v[:, x0 // 2:x1 // 2], flags=WARP_FLAGS, borderMode=cv2.BORDER_REFLECT)


@dataclass
class _Text:
    layer: TextLayer
    overlay: Overlay  # the inked part, still
    on_photo: bool
    index: int


@dataclass
class _BufferRecord:
    canvas_key: tuple[int, ...]
    drawn: list[Rect] = field(default_factory=list)


class Composer:
    """Still canvases + photo sources + the per-frame composer for one RenderSpec."""

    def __init__(self, spec: RenderSpec) -> None:
        self.spec = spec
        self.warnings: list[str] = []
        w, h = spec.width, spec.height
        self.canvas_rect = Rect(0, 0, w, h)
        self.box = box = spec.box
        self.frame_size = w * h * 3 // 2
        self.slide_px = SLIDE_SHARE * min(w, h)

        self.sources: list[PhotoSource] = []
        for i, scene in enumerate(spec.scenes):
            rgb = load_photo(scene.photo, field="image_link" if i == 0 else "additional_image_link")
            if i == 0:
                base = background_rgb(spec, rgb).convert("RGBA")
                if not spec.photo_fill:
                    base = Image.alpha_composite(base, self._box_shadow(base.size, box))
                base_planes = rgb_to_i420(np.asarray(base.convert("RGB"), dtype=np.uint8))
                del base
            self.sources.append(PhotoSource(scene, rgb, box))
            del rgb

        # Bands: baked into the still canvas, and re-applied per frame where they cover the photo.
        self.tints: list[Tint] = []
        for band in spec.bands:
            rect = band.rect.even().clip(self.canvas_rect)
            if rect.w <= 0 or rect.h <= 0:
                continue
            Tint(band, rect).apply(*base_planes)
            over = rect.clip(box)
            if over.w > 0 and over.h > 0:
                self.tints.append(Tint(band, over.even()))

        # Logo: still, on the canvas unless it sits on the photo.
        self.photo_overlays: list[Overlay] = []
        for layer in spec.images:
            overlay = _cropped_overlay(render_image_layer(layer), layer.rect.x, layer.rect.y)
            if self._on_photo(overlay):
                self.photo_overlays.append(overlay)
            else:
                blend_overlay(*base_planes, overlay)

        self.texts: list[_Text] = []
        for i, layer in enumerate(spec.texts):
            image, truncated = render_text_layer(layer, spec.font_path)
            if truncated:
                self.warnings.append(f"{layer.role} text did not fit: shortened with an ellipsis")
            if image.getchannel("A").getbbox() is None:
                continue
            overlay = _cropped_overlay(image, layer.rect.x, layer.rect.y)
            self.texts.append(_Text(layer, overlay, self._on_photo(overlay), i))

        self._base = np.concatenate([p.reshape(-1) for p in base_planes])
        self._canvases: dict[tuple[int, ...], np.ndarray] = {}
        self._buffers: dict[int, _BufferRecord] = {}
        self._scratch = (np.empty((box.h, box.w), np.uint8), np.empty((box.h // 2, box.w // 2), np.uint8),
                         np.empty((box.h // 2, box.w // 2), np.uint8))
        self.captions = CaptionRenderer(spec.captions, spec.font_path) if spec.captions else None
        logger.debug("composer: canvas %dx%d box %s, %d scenes, %d text layers", w, h, box, len(self.sources),
                     len(self.texts))

    def _on_photo(self, overlay: Overlay) -> bool:
        return Rect(overlay.x, overlay.y, overlay.width, overlay.height).intersects(self.box)

    @staticmethod
    def _box_shadow(size: tuple[int, int], box: Rect) -> Image.Image:
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        pad = max(4, box.w // 40)
        shadow = Image.new("L", (box.w + 4 * pad, box.h + 4 * pad), 0)
        shadow.paste(150, (2 * pad, 2 * pad, 2 * pad + box.w, 2 * pad + box.h))
        shadow = shadow.filter(ImageFilter.GaussianBlur(pad))
        black = Image.new("RGBA", shadow.size, (0, 0, 0, 255))
        black.putalpha(shadow)
        layer.alpha_composite(black, (max(0, box.x - 2 * pad), max(0, box.y - 2 * pad + pad // 2)),
                              (max(0, 2 * pad - box.x), max(0, 2 * pad - box.y - pad // 2)))
        return layer

    # ------------------------------------------------------------ canvases

    def planes(self, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w, h = self.spec.width, self.spec.height
        ysz, csz = w * h, (w // 2) * (h // 2)
        return (buf[:ysz].reshape(h, w), buf[ysz:ysz + csz].reshape(h // 2, w // 2),
                buf[ysz + csz:ysz + 2 * csz].reshape(h // 2, w // 2))

    def canvas(self, key: tuple[int, ...]) -> np.ndarray:
        """The still frame with the given still text layers drawn in (flat I420)."""
        found = self._canvases.get(key)
        if found is None:
            if len(self._canvases) >= CANVAS_CACHE:
                self._canvases.pop(next(iter(self._canvases)))
            found = self._base.copy()
            planes = self.planes(found)
            for text in self.texts:
                if text.index in key:
                    blend_overlay(*planes, text.overlay)
            self._canvases[key] = found
        return found

    @property
    def canvas_planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The still canvas of the first frame."""
        return self.planes(self.canvas(self._layers_at(0)[0]))

    def new_buffer(self) -> np.ndarray:
        buf = self.canvas(self._layers_at(0)[0]).copy()
        self._remember(buf, _BufferRecord(self._layers_at(0)[0]))
        return buf

    def _remember(self, buf: np.ndarray, record: _BufferRecord) -> None:
        if id(buf) not in self._buffers and len(self._buffers) >= 16:
            self._buffers.pop(next(iter(self._buffers)))
        self._buffers[id(buf)] = record

    def drawn_rects(self, buf: np.ndarray) -> list[Rect]:
        """Where the last compose into `buf` drew over the still canvas."""
        record = self._buffers.get(id(buf))
        return list(record.drawn) if record else []

    # ------------------------------------------------------------ per frame

    def _layers_at(self, n: int) -> tuple[tuple[int, ...], list[tuple[_Text, LayerState]]]:
        """(key of the still canvas, layers to blend this frame with their state)."""
        key, moving = [], []
        for text in self.texts:
            state = layer_state(text.layer.timing, n, self.slide_px)
            if state is None:
                continue
            if state.still and not text.on_photo:
                key.append(text.index)
            else:
                moving.append((text, state))
        return tuple(key), moving

    def transition_at(self, n: int) -> TransitionPlan | None:
        for t in self.spec.transitions:
            if t.frames and t.start <= n < t.end:
                return t
        return None

    def scene_index_at(self, n: int) -> int:
        return sum(1 for scene in self.spec.scenes[1:] if scene.cut_in <= n)

    def matrices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Inverse affine matrices (luma, chroma) of the scene shown at frame n."""
        return self.sources[self.scene_index_at(n)].matrices(n, self.box)

    def compose(self, n: int, buf: np.ndarray, *, captions: bool = True, text_at: int | None = None) -> None:
        """Draw frame n into `buf` (a buffer from `new_buffer`, reused frame after frame).

        `text_at` draws the text as it is at another frame (the poster).
        """
        y, u, v = self.planes(buf)
        key, moving = self._layers_at(n if text_at is None else text_at)
        canvas = self.canvas(key)
        record = self._buffers.get(id(buf))
        if record is None or record.canvas_key != key:
            buf[...] = canvas
        else:
            # Only what the previous frame drew over the canvas needs the canvas back (the box
            # is drawn over completely anyway).
            cy, cu, cv = self.planes(canvas)
            for r in record.drawn:
                if self.box.contains(r):
                    continue
                y[r.y:r.bottom, r.x:r.right] = cy[r.y:r.bottom, r.x:r.right]
                u[r.y // 2:r.bottom // 2, r.x // 2:r.right // 2] = cu[r.y // 2:r.bottom // 2, r.x // 2:r.right // 2]
                v[r.y // 2:r.bottom // 2, r.x // 2:r.right // 2] = cv[r.y // 2:r.bottom // 2, r.x // 2:r.right // 2]
        box = self.box
        drawn = [box]
        self._draw_photo(n, (y[box.y:box.bottom, box.x:box.right], u[box.y // 2:box.bottom // 2, box.x // 2:box.right // 2],
                             v[box.y // 2:box.bottom // 2, box.x // 2:box.right // 2]))
        for tint in self.tints:
            tint.apply(y, u, v)
        for overlay in self.photo_overlays:
            blend_overlay(y, u, v, overlay)
        for text, state in moving:
            overlay = text.overlay if state.still else self._moved(text, state)
            if overlay is None:
                continue
            blend_overlay(y, u, v, overlay)
            drawn.append(_overlay_rect(overlay).clip(self.canvas_rect))
        if captions and self.captions is not None:
            state = self.captions.state_at(n / self.spec.fps)
            if state is not None:
                overlay = self.captions.overlay(state)
                blend_overlay(y, u, v, overlay)
                drawn.append(_overlay_rect(overlay).clip(self.canvas_rect))
        self._remember(buf, _BufferRecord(key, [r for r in drawn if r.w > 0 and r.h > 0]))

    def _draw_photo(self, n: int, dst: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        box = self.box
        t = self.transition_at(n)
        if t is None:
            self.sources[self.scene_index_at(n)].warp(n, box, dst)
            return
        before, after = self.sources[t.before], self.sources[t.after]
        p = ease(t.progress(n))
        if t.kind == "slide":
            # The next photo pushes the current one out to the left.
            split = int(round((1.0 - p) * box.w / 2)) * 2
            before.warp(n, box, dst, x0=0, x1=split, shift=box.w - split)
            after.warp(n, box, dst, x0=split, x1=box.w, shift=-split)
            return
        extra = (1.0 + ZOOM_THROUGH * p, 1.0 + ZOOM_THROUGH * (1.0 - p)) if t.kind == "zoom_through" else (1.0, 1.0)
        before.warp(n, box, dst, extra_zoom=extra[0])
        after.warp(n, box, self._scratch, extra_zoom=extra[1])
        for plane, other in zip(dst, self._scratch):
            cv2.addWeighted(plane, 1.0 - p, other, p, 0.0, dst=plane)

    def _moved(self, text: _Text, state: LayerState) -> Overlay | None:
        """The layer's overlay faded, shifted or scaled for one animation frame."""
        if state.alpha <= 0.0:
            return None
        base = text.overlay
        dx, dy = int(round(state.dx / 2)) * 2, int(round(state.dy / 2)) * 2
        overlay = _scaled(base, state.scale) if abs(state.scale - 1.0) > 1e-3 else base
        if dx or dy:
            overlay = Overlay(overlay.x + dx, overlay.y + dy, overlay.y_premul, overlay.y_inv_alpha,
                              overlay.u_premul, overlay.v_premul, overlay.c_inv_alpha)
        if state.alpha < 1.0:
            overlay = _faded(overlay, state.alpha)
        return overlay

    def frame_rgb(self, n: int, *, captions: bool = True) -> np.ndarray:
        """One frame as RGB (for posters, stills and tests)."""
        buf = self.new_buffer()
        self.compose(n, buf, captions=captions)
        return i420_to_rgb(*self.planes(buf))

    def poster_rgb(self) -> np.ndarray:
        """The cover: the main photo halfway through its scene, with the text on screen at rest in the middle
        of the scene where the price is said (title, price, badge; no caption)."""
        main, priced = self.spec.scenes[0], self.spec.scenes[self.spec.price_scene]
        buf = self.new_buffer()
        self.compose(_middle(main), buf, captions=False, text_at=_middle(priced))
        return i420_to_rgb(*self.planes(buf))


def _middle(scene) -> int:
    return int(round((scene.cut_in + scene.cut_out - 1) * 0.5))


def _overlay_rect(overlay: Overlay) -> Rect:
    return Rect(overlay.x, overlay.y, overlay.width, overlay.height)


def _faded(overlay: Overlay, alpha: float) -> Overlay:
    a = float(alpha)

    def scale(plane: np.ndarray) -> np.ndarray:
        return np.rint(plane * a).astype(np.uint16)

    return Overlay(overlay.x, overlay.y, scale(overlay.y_premul), (255 - scale(255 - overlay.y_inv_alpha)),
                   scale(overlay.u_premul), scale(overlay.v_premul), (255 - scale(255 - overlay.c_inv_alpha)))


def _scaled(overlay: Overlay, factor: float) -> Overlay:
    """The overlay scaled about its centre: its premultiplied planes resize linearly, no colour maths."""
    w = max(2, int(round(overlay.width * factor / 2)) * 2)
    h = max(2, int(round(overlay.height * factor / 2)) * 2)
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR

    def luma(plane: np.ndarray) -> np.ndarray:
        return cv2.resize(plane, (w, h), interpolation=interp)

    def chroma(plane: np.ndarray) -> np.ndarray:
        return cv2.resize(plane, (w // 2, h // 2), interpolation=interp)

    x = int(round((overlay.x + (overlay.width - w) / 2) / 2)) * 2
    y = int(round((overlay.y + (overlay.height - h) / 2) / 2)) * 2
    return Overlay(x, y, luma(overlay.y_premul), luma(overlay.y_inv_alpha), chroma(overlay.u_premul),
                   chroma(overlay.v_premul), chroma(overlay.c_inv_alpha))


def _cropped_overlay(image: Image.Image, x: int, y: int) -> Overlay:
    """Overlay of only the inked part of `image` (blending transparent pixels is wasted work)."""
    bbox = image.getchannel("A").getbbox()
    if bbox is None:
        bbox = (0, 0, 2, 2)
    left, top, right, bottom = bbox
    return make_overlay(np.asarray(image.crop(bbox), dtype=np.uint8), x + left, y + top)

"""Turn a RenderSpec into pixels: the static canvas, the photo source and the per-frame composer.

Design for speed: everything that does not move (blurred fill, text, logo) is
drawn once with Pillow and converted once to I420. Per frame we only warp the
photo box straight on the Y/U/V planes (chroma at half resolution with the same
window, so there is no per-frame colour conversion), blend the few small
layers that sit on top of the box, and the current caption strip.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from batch_video.errors import ConfigError, ProductDataError
from batch_video.render import text as txt
from batch_video.render.motion import Window, cover_window, inverse_affine
from batch_video.render.spec import CaptionTrack, ImageLayer, Rect, RenderSpec, TextLayer
from batch_video.render.yuv import Overlay, blend_overlay, i420_to_rgb, make_overlay, rgb_to_i420

logger = logging.getLogger(__name__)

WARP_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP


# ---------------------------------------------------------------- text layers

def render_text_layer(layer: TextLayer, font_path: str) -> tuple[Image.Image, bool]:
    """-> (RGBA image to paste at layer.rect's top-left, truncated?)."""
    clean = txt.clean_text(layer.text, font_path)
    rect = layer.rect
    if layer.style == "pill":
        pad_x, pad_y = max(4, layer.size_max // 2), max(2, layer.size_max // 4)
        fitted = txt.fit_text(clean, font_path, rect.w - 2 * pad_x, 1, layer.size_max, layer.size_min)
        font = txt.load_font(font_path, fitted.size)
        image = txt.pill(fitted.lines[0] if fitted.lines else "", font, fill=layer.fill or (0, 0, 0, 255),
                         text_fill=layer.color, pad_x=pad_x, pad_y=pad_y)
        if layer.align == "right" and image.width < rect.w:
            padded = Image.new("RGBA", (rect.w, image.height), (0, 0, 0, 0))
            padded.paste(image, (rect.w - image.width, 0))
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

def load_photo(spec: RenderSpec) -> np.ndarray:
    """The prepared photo as RGB uint8 (alpha flattened onto the card colour), enhanced once."""
    photo = spec.photo
    try:
        with Image.open(photo.path) as raw:
            image = raw.convert("RGBA") if photo.has_alpha or raw.mode in ("RGBA", "LA", "P") else raw.convert("RGB")
    except OSError as exc:
        raise ProductDataError(f"cannot read prepared image {photo.path}: {exc}", field="image_link") from exc
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
        self.font_path = font_path
        self.starts = [c.start for c in track.cues]
        self._cache: dict[CaptionState, Overlay] = {}
        self._cache_size = cache_size
        self._words = [[txt.clean_text(w.word, font_path) for w in cue.words] for cue in track.cues]

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


# ---------------------------------------------------------------- the scene

class Scene:
    """Static canvas + photo source + per-frame composer for one RenderSpec."""

    def __init__(self, spec: RenderSpec) -> None:
        self.spec = spec
        self.warnings: list[str] = []
        w, h = spec.width, spec.height
        self.box = spec.photo.box
        photo_rgb = load_photo(spec)
        canvas = background_rgb(spec, photo_rgb).convert("RGBA")
        self.box_overlays: list[Overlay] = []
        box = self.box
        shadow = self._box_shadow(canvas.size, box)
        canvas = Image.alpha_composite(canvas, shadow)
        for layer in spec.texts:
            image, truncated = render_text_layer(layer, spec.font_path)
            if truncated:
                self.warnings.append(f"{layer.role} text did not fit: shortened with an ellipsis")
            self._place(canvas, image, layer.rect.x, layer.rect.y)
        for layer in spec.images:
            self._place(canvas, render_image_layer(layer), layer.rect.x, layer.rect.y)
        canvas_rgb = np.asarray(canvas.convert("RGB"), dtype=np.uint8)
        self.canvas_planes = rgb_to_i420(canvas_rgb)
        del canvas, canvas_rgb

        src = prescale_source(photo_rgb, box, spec.photo.motion.max_zoom)
        del photo_rgb
        self.src_planes = rgb_to_i420(src)
        self.src_h, self.src_w = self.src_planes[0].shape
        self.captions = CaptionRenderer(spec.captions, spec.font_path) if spec.captions else None
        self.frame_size = w * h * 3 // 2
        canvas_rect = Rect(0, 0, w, h)
        dirty = [Rect(o.x, o.y, o.width, o.height) for o in self.box_overlays]
        if self.captions is not None:
            dirty.append(spec.captions.rect.even())
        self.dirty_rects = [_clip(r, canvas_rect) for r in dirty]
        logger.debug("scene: canvas %dx%d box %s source %dx%d", w, h, box, self.src_w, self.src_h)

    def _place(self, canvas: Image.Image, image: Image.Image, x: int, y: int) -> None:
        """Bake into the canvas, or keep as a per-frame overlay when it sits on the moving box."""
        rect = Rect(x, y, image.width, image.height)
        alpha_box = image.getchannel("A").getbbox()
        if alpha_box is None:
            return
        if rect.intersects(self.box):
            self.box_overlays.append(_cropped_overlay(image, x, y))
        else:
            canvas.alpha_composite(image, (x, y))

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

    # ------------------------------------------------------------ frames

    def new_buffer(self) -> np.ndarray:
        buf = np.empty(self.frame_size, np.uint8)
        y, u, v = self.planes(buf)
        y[...] = self.canvas_planes[0]
        u[...] = self.canvas_planes[1]
        v[...] = self.canvas_planes[2]
        return buf

    def planes(self, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w, h = self.spec.width, self.spec.height
        ysz, csz = w * h, (w // 2) * (h // 2)
        return (buf[:ysz].reshape(h, w), buf[ysz:ysz + csz].reshape(h // 2, w // 2),
                buf[ysz + csz:ysz + 2 * csz].reshape(h // 2, w // 2))

    def matrices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Inverse affine matrices (luma, chroma) for frame n."""
        frames = self.spec.frames
        u = n / (frames - 1) if frames > 1 else 0.0
        zoom, ox, oy = self.spec.photo.motion.view_at(u)
        box = self.box
        window = cover_window(self.src_w, self.src_h, box.w, box.h, zoom, ox, oy)
        luma = np.array(inverse_affine(window, box.w, box.h), np.float64)
        # Chroma is the same picture at half size: same window, halved.
        half_window = Window(window.center_x / 2, window.center_y / 2, window.width / 2, window.height / 2)
        chroma = np.array(inverse_affine(half_window, box.w // 2, box.h // 2), np.float64)
        return luma, chroma

    def compose(self, n: int, buf: np.ndarray, *, captions: bool = True) -> None:
        """Draw frame n into `buf`, which holds the static canvas outside the box and caption strip."""
        y, u, v = self.planes(buf)
        box = self.box
        # The buffer still holds the previous frame's captions and overlays: restore their
        # background from the static canvas before drawing this frame.
        for rect in self.dirty_rects:
            y[rect.y:rect.bottom, rect.x:rect.right] = self.canvas_planes[0][rect.y:rect.bottom, rect.x:rect.right]
            cy0, cy1, cx0, cx1 = rect.y // 2, rect.bottom // 2, rect.x // 2, rect.right // 2
            u[cy0:cy1, cx0:cx1] = self.canvas_planes[1][cy0:cy1, cx0:cx1]
            v[cy0:cy1, cx0:cx1] = self.canvas_planes[2][cy0:cy1, cx0:cx1]
        luma, chroma = self.matrices(n)
        sy, su, sv = self.src_planes
        cv2.warpAffine(sy, luma, (box.w, box.h), dst=y[box.y:box.bottom, box.x:box.right],
                       flags=WARP_FLAGS, borderMode=cv2.BORDER_REFLECT)
        cbox = (slice(box.y // 2, box.bottom // 2), slice(box.x // 2, box.right // 2))
        cv2.warpAffine(su, chroma, (box.w // 2, box.h // 2), dst=u[cbox], flags=WARP_FLAGS,
                       borderMode=cv2.BORDER_REFLECT)
        cv2.warpAffine(sv, chroma, (box.w // 2, box.h // 2), dst=v[cbox], flags=WARP_FLAGS,
                       borderMode=cv2.BORDER_REFLECT)
        for overlay in self.box_overlays:
            blend_overlay(y, u, v, overlay)
        if captions and self.captions is not None:
            state = self.captions.state_at(n / self.spec.fps)
            if state is not None:
                blend_overlay(y, u, v, self.captions.overlay(state))

    def frame_rgb(self, n: int, *, captions: bool = True) -> np.ndarray:
        """One frame as RGB (for posters, stills and tests)."""
        buf = self.new_buffer()
        self.compose(n, buf, captions=captions)
        return i420_to_rgb(*self.planes(buf))


def _clip(rect: Rect, bounds: Rect) -> Rect:
    x0, y0 = max(rect.x, bounds.x), max(rect.y, bounds.y)
    x1, y1 = min(rect.right, bounds.right), min(rect.bottom, bounds.bottom)
    return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _cropped_overlay(image: Image.Image, x: int, y: int) -> Overlay:
    """Overlay of only the inked part of `image` (blending transparent pixels is wasted work)."""
    bbox = image.getchannel("A").getbbox()
    if bbox is None:
        bbox = (0, 0, 2, 2)
    left, top, right, bottom = bbox
    return make_overlay(np.asarray(image.crop(bbox), dtype=np.uint8), x + left, y + top)

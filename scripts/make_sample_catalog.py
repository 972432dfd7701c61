"""Generate the bundled sample catalog (feed, CSV export and product photos).

    python scripts/make_sample_catalog.py                  # rewrite batch_video/sample/
    python scripts/make_sample_catalog.py --feed-only      # keep photos, rewrite feed.xml + products.csv
    python scripts/make_sample_catalog.py --count 20 --out /tmp/bench   # larger feed for benchmarks

The photos are painted procedurally (numpy + Pillow, OpenCV only for Gaussian
blur) from a fixed seed, so regenerating gives the same pixels. They are
committed, so nobody needs to run this to use the demo. A few products also
list additional photos (other shots of the same painted product: mirrored on
another backdrop, or a closer look), so the demo videos have several scenes;
one product lists a missing additional photo and a smaller copy of its main
photo, so the demo shows both being skipped with a warning.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import shutil
import sys
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Sequence
from xml.sax.saxutils import escape

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / "batch_video" / "sample"
GOOGLE_NS = "http://base.google.com/ns/1.0"
BROKEN_IMAGE = "images/missing-photo.jpg"
DEFAULT_SEED = 20241125
JPEG_QUALITY = 88
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_REGULAR = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# ---------------------------------------------------------------------------
# A tiny studio: masks drawn supersampled with Pillow, shaded with numpy.
# ---------------------------------------------------------------------------

SUPERSAMPLE = 3
KEY_LIGHT = np.array([-0.45, -0.62, 0.64], dtype=np.float32)
KEY_LIGHT /= np.linalg.norm(KEY_LIGHT)
FILL_LIGHT = np.array([0.75, -0.15, 0.64], dtype=np.float32)
FILL_LIGHT /= np.linalg.norm(FILL_LIGHT)
VIEW = np.array([0.0, 0.0, 1.0], dtype=np.float32)

Point = tuple[float, float]


def blur(array: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return array.astype(np.float32)
    return cv2.GaussianBlur(array.astype(np.float32), (0, 0), sigma)


def normalize(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-6)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def catmull_rom(points: Sequence[Point], samples_per_segment: int = 12, closed: bool = True) -> list[Point]:
    """A smooth curve through `points`, so organic outlines need only a few control points."""
    pts = list(points)
    if closed:
        pts = [pts[-1], *pts, pts[0], pts[1]]
    else:
        pts = [pts[0], *pts, pts[-1]]
    out: list[Point] = []
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = (np.array(p, dtype=np.float64) for p in pts[i - 1 : i + 3])
        for t in np.linspace(0, 1, samples_per_segment, endpoint=False):
            t2, t3 = t * t, t * t * t
            q = 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
            out.append((float(q[0]), float(q[1])))
    if not closed:
        out.append(tuple(points[-1]))  # type: ignore[arg-type]
    return out


def ellipse_points(cx: float, cy: float, rx: float, ry: float, angle_deg: float = 0.0, n: int = 96) -> list[Point]:
    a = math.radians(angle_deg)
    pts = []
    for t in np.linspace(0, 2 * math.pi, n, endpoint=False):
        x, y = rx * math.cos(t), ry * math.sin(t)
        pts.append((cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)))
    return pts


class Studio:
    """One photo being painted: premultiplied colour + alpha, both float32."""

    def __init__(self, width: int, height: int, seed: int, *, transparent: bool = False) -> None:
        self.w, self.h = width, height
        self.rng = np.random.default_rng(seed)
        self.transparent = transparent
        self.backdrop_tint = np.ones(3, np.float32)  # another studio sweep for an additional shot
        self.color = np.zeros((height, width, 3), np.float32)
        self.alpha = np.zeros((height, width), np.float32) if transparent else np.ones((height, width), np.float32)
        ys, xs = np.mgrid[0:height, 0:width]
        self.xx = xs.astype(np.float32)
        self.yy = ys.astype(np.float32)

    # -- masks ------------------------------------------------------------
    def mask(self, draw: Callable[[ImageDraw.ImageDraw, Callable[..., object]], None]) -> np.ndarray:
        s = SUPERSAMPLE
        canvas = Image.new("L", (self.w * s, self.h * s), 0)
        pen = ImageDraw.Draw(canvas)

        def scale(value):
            if isinstance(value, (list, tuple)):
                return type(value)(scale(v) for v in value)
            return value * s

        draw(pen, scale)
        small = canvas.resize((self.w, self.h), Image.Resampling.BOX)
        return np.asarray(small, np.float32) / 255.0

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
        if angle:
            return self.polygon(ellipse_points(cx, cy, rx, ry, angle, n=180))
        return self.mask(lambda d, s: d.ellipse(s((cx - rx, cy - ry, cx + rx, cy + ry)), fill=255))

    def rect(self, x0: float, y0: float, x1: float, y1: float, radius: float = 0.0) -> np.ndarray:
        return self.mask(lambda d, s: d.rounded_rectangle(s((x0, y0, x1, y1)), radius=s(radius), fill=255))

    def polygon(self, points: Sequence[Point]) -> np.ndarray:
        return self.mask(lambda d, s: d.polygon([s(tuple(p)) for p in points], fill=255))

    def line(self, points: Sequence[Point], width: float) -> np.ndarray:
        def draw(d, s):
            d.line([s(tuple(p)) for p in points], fill=255, width=max(1, int(round(s(width)))), joint="curve")
            r = s(width) / 2
            for x, y in (points[0], points[-1]):
                d.ellipse((s(x) - r, s(y) - r, s(x) + r, s(y) + r), fill=255)

        return self.mask(draw)

    def arc(self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, width: float) -> np.ndarray:
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        return self.mask(lambda d, s: d.arc(s(box), start, end, fill=255, width=int(round(s(width)))))

    def text(self, x: float, y: float, text: str, size: float, *, bold: bool = True, spacing: float = 0.0) -> np.ndarray:
        font = ImageFont.truetype(FONT_BOLD if bold else FONT_REGULAR, int(size * SUPERSAMPLE))

        def draw(d, s):
            if not spacing:
                d.text((s(x), s(y)), text, font=font, fill=255, anchor="mm")
                return
            widths = [font.getlength(ch) + s(spacing) for ch in text]
            cursor = s(x) - sum(widths) / 2
            for ch, w in zip(text, widths):
                d.text((cursor, s(y)), ch, font=font, fill=255, anchor="lm")
                cursor += w

        return self.mask(draw)

    def profile(self, cx: float, outline: Sequence[Point]) -> np.ndarray:
        """Mask of a body of revolution given (y, radius) pairs from top to bottom."""
        right = [(cx + r, y) for y, r in outline]
        left = [(cx - r, y) for y, r in reversed(outline)]
        return self.polygon(right + left)

    # -- surface normals ----------------------------------------------------
    def pillow_normals(self, mask: np.ndarray, sigma: float, strength: float = 1.0) -> np.ndarray:
        """Normals of a soft 'inflated' shape: edges curve away, the middle faces the camera."""
        height = blur(mask, sigma)
        gy, gx = np.gradient(height)
        k = strength * sigma * 2.5
        return normalize(np.stack([-gx * k, -gy * k, np.ones_like(gx)], axis=-1))

    def revolution_normals(self, cx: float, outline: Sequence[Point]) -> np.ndarray:
        """Normals of a vertical body of revolution (bottle, mug, pot) seen from the front."""
        ys = np.array([y for y, _ in outline], np.float32)
        rs = np.array([r for _, r in outline], np.float32)
        row_r = np.interp(self.yy[:, 0], ys, rs).astype(np.float32)
        slope = np.gradient(row_r)  # radius growing downwards means the surface tilts up
        nx = np.clip((self.xx - cx) / np.maximum(row_r[:, None], 1.0), -0.995, 0.995)
        nz = np.sqrt(1 - nx * nx)
        ny = np.broadcast_to((-slope * 0.9)[:, None], nx.shape) * nz
        return normalize(np.stack([nx, ny, nz], axis=-1))

    def flat_normals(self, nx: float = 0.0, ny: float = 0.0) -> np.ndarray:
        n = normalize(np.array([nx, ny, 1.0], np.float32))
        return np.broadcast_to(n, (self.h, self.w, 3))

    # -- materials ------------------------------------------------------------
    def shade(
        self,
        normals: np.ndarray,
        albedo,
        *,
        ambient: float = 0.30,
        diffuse: float = 0.78,
        fill: float = 0.22,
        specular: float = 0.25,
        shininess: float = 30.0,
        metal: bool = False,
    ) -> np.ndarray:
        albedo = np.asarray(albedo, np.float32)
        key = np.clip(normals @ KEY_LIGHT, 0, 1)[..., None]
        fill_term = np.clip(normals @ FILL_LIGHT, 0, 1)[..., None]
        half = normalize(KEY_LIGHT + VIEW)
        half_fill = normalize(FILL_LIGHT + VIEW)
        spec = np.clip(normals @ half, 0, 1)[..., None] ** shininess
        spec += 0.45 * np.clip(normals @ half_fill, 0, 1)[..., None] ** shininess
        lit = albedo * (ambient + diffuse * key + fill * fill_term)
        highlight = albedo * 1.4 if metal else np.ones(3, np.float32)
        return lit + specular * spec * highlight

    def texture(self, scale: float, amount: float, seed_offset: int = 0) -> np.ndarray:
        """Multiplicative surface noise (leather grain, clay, glaze speckle)."""
        noise = self.rng.standard_normal((self.h, self.w)).astype(np.float32)
        noise = blur(noise, scale)
        noise /= max(float(noise.std()), 1e-6)
        return (1 + amount * noise)[..., None]

    # -- compositing -----------------------------------------------------------
    def paint(self, mask: np.ndarray, rgb) -> None:
        m = np.clip(mask, 0, 1)[..., None]
        rgb = np.broadcast_to(np.asarray(rgb, np.float32), self.color.shape)
        self.color = self.color * (1 - m) + rgb * m
        self.alpha = self.alpha * (1 - m[..., 0]) + m[..., 0]

    def darken(self, mask: np.ndarray, strength: float, *, tint=(0.0, 0.0, 0.0)) -> None:
        """Shadows and occlusion: pull the existing colour towards `tint`."""
        m = np.clip(mask * strength, 0, 1)[..., None]
        self.color = self.color * (1 - m) + np.asarray(tint, np.float32) * m * self.alpha[..., None]

    def glow(self, mask: np.ndarray, rgb, strength: float) -> None:
        self.color = self.color + np.asarray(rgb, np.float32) * (mask * strength)[..., None] * self.alpha[..., None]

    def backdrop(self, top, bottom, *, horizon: float = 0.62, spot: Point | None = None, spot_strength: float = 0.10) -> None:
        """Seamless studio sweep: wall colour fading into floor colour, a soft spot and vignette."""
        t = smoothstep(horizon - 0.22, horizon + 0.12, self.yy / self.h)[..., None]
        rgb = (np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t) * self.backdrop_tint
        cx, cy = spot if spot else (self.w * 0.5, self.h * 0.45)
        diag = math.hypot(self.w, self.h)
        dist = np.sqrt((self.xx - cx) ** 2 + (self.yy - cy) ** 2) / diag
        rgb *= (1 + spot_strength * np.exp(-(dist / 0.32) ** 2))[..., None]
        rgb *= (1 - 0.16 * smoothstep(0.35, 0.75, dist))[..., None]
        self.paint(np.ones((self.h, self.w), np.float32), rgb)

    def contact_shadow(self, cx: float, cy: float, rx: float, ry: float, *, strength: float = 0.55) -> None:
        """A wide soft shadow cast away from the key light plus a tight dark line where it touches."""
        wide = blur(self.ellipse(cx + rx * 0.12, cy, rx * 1.15, ry * 1.6), max(rx, ry) * 0.22)
        tight = blur(self.ellipse(cx, cy, rx * 0.92, ry * 0.45), max(ry * 0.18, 2))
        self.darken(wide, strength * 0.55, tint=(0.08, 0.07, 0.06))
        self.darken(tight, strength, tint=(0.05, 0.04, 0.04))

    def drop_shadow(self, mask: np.ndarray, dx: float, dy: float, sigma: float, strength: float) -> None:
        shifted = np.roll(np.roll(mask, int(round(dy)), axis=0), int(round(dx)), axis=1)
        self.darken(blur(shifted, sigma), strength)

    # -- output ---------------------------------------------------------------------
    def finish(self, *, grain: float = 0.010, warmth: float = 0.01) -> Image.Image:
        """Camera-ish finishing: gentle tone curve, a touch of warmth, fine luminance grain."""
        a = self.alpha[..., None]
        rgb = np.where(a > 1e-4, self.color / np.maximum(a, 1e-4), 0.0)
        rgb = np.clip(rgb, 0, 1)
        rgb = rgb + 0.06 * (rgb - rgb * rgb) * (rgb - 0.5) * -4  # soft S-curve
        rgb = rgb * np.array([1 + warmth, 1.0, 1 - warmth], np.float32)
        noise = blur(self.rng.standard_normal((self.h, self.w)).astype(np.float32), 0.7)
        noise /= max(float(noise.std()), 1e-6)
        rgb = rgb + grain * noise[..., None]
        rgb8 = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
        if not self.transparent:
            return Image.fromarray(rgb8, "RGB")
        alpha8 = (np.clip(self.alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
        return Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA")


# ---------------------------------------------------------------------------
# The products. Coordinates are in output pixels; each painter builds the
# object back to front.
# ---------------------------------------------------------------------------


def _cylinder_outline(top: float, bottom: float, radius: float, ry: float, *, bottom_radius: float | None = None) -> list[Point]:
    """(y, r) pairs for a straight or tapered cylinder whose base is seen slightly from above."""
    bottom_radius = radius if bottom_radius is None else bottom_radius
    outline = [(y, radius + (bottom_radius - radius) * (y - top) / (bottom - top)) for y in np.linspace(top, bottom, 40)]
    for t in np.linspace(0, 1, 24)[1:]:
        outline.append((bottom + ry * t, bottom_radius * math.sqrt(max(0.0, 1 - t * t))))
    return outline


def paint_mug(st: Studio) -> None:
    st.backdrop((0.86, 0.82, 0.77), (0.93, 0.90, 0.86), horizon=0.58, spot=(760, 620))
    cx, top, bottom, r, ry = 780.0, 560.0, 1150.0, 290.0, 62.0
    st.contact_shadow(cx + 40, bottom + ry * 0.6, r * 1.1, ry * 0.9, strength=0.6)
    glaze = np.array([0.36, 0.52, 0.47], np.float32)

    outer = st.ellipse(cx + r + 95, 840, 165, 205)
    inner = st.ellipse(cx + r + 80, 840, 92, 132)
    handle = outer * (1 - inner) * (st.xx > cx + r - 40)
    st.paint(handle, st.shade(st.pillow_normals(handle, 16, 1.2), glaze, specular=0.55, shininess=55))

    outline = _cylinder_outline(top, bottom, r, ry)
    body = st.profile(cx, outline)
    normals = st.revolution_normals(cx, outline)
    speckle = st.texture(1.2, 0.05)
    st.paint(body, st.shade(normals, glaze * speckle, specular=0.7, shininess=70))
    # unglazed clay foot
    foot = body * smoothstep(bottom + 2, bottom + 8, st.yy)
    st.paint(foot, st.shade(normals, np.array([0.90, 0.82, 0.72]) * st.texture(1.0, 0.04), specular=0.05, ambient=0.4))

    rim = st.ellipse(cx, top, r, ry)
    st.paint(rim, st.shade(st.flat_normals(-0.1, -0.6), glaze * 1.1, specular=0.3))
    mouth = st.ellipse(cx, top + 3, r - 20, ry - 7)
    depth = smoothstep(top - ry, top + ry, st.yy)
    interior = glaze[None, None, :] * (0.55 - 0.25 * depth[..., None]) * np.ones((st.h, st.w, 1), np.float32)
    st.paint(mouth, interior)
    st.darken(mouth * smoothstep(top + ry * 0.2, top - ry, st.yy), 0.35)


def paint_olive_oil(st: Studio) -> None:
    st.backdrop((0.90, 0.89, 0.84), (0.80, 0.77, 0.70), horizon=0.70, spot=(560, 620), spot_strength=0.14)
    cx, bottom, r = 540.0, 1200.0, 150.0
    st.contact_shadow(cx + 20, bottom + 30, r * 1.2, 40, strength=0.6)
    outline: list[Point] = [(350.0, 44.0), (470.0, 44.0)]
    for t in np.linspace(0, 1, 30)[1:]:
        outline.append((470 + 190 * t, 44 + (r - 44) * (3 * t * t - 2 * t * t * t)))
    outline += _cylinder_outline(660, bottom, r, 34)[1:]
    glass = st.profile(cx, outline)
    normals = st.revolution_normals(cx, outline)
    nx, nz = normals[..., 0], normals[..., 2]

    oil = np.array([0.62, 0.52, 0.10], np.float32)
    behind = st.color.copy()
    transmit = (0.30 + 0.70 * nz**2)[..., None]
    oil_color = behind * oil * 1.1 * transmit + oil * 0.08
    oil_color = oil_color + np.array([0.45, 0.35, 0.05]) * (np.exp(-((st.yy - 1050) / 160) ** 2) * np.exp(-(nx / 0.5) ** 2))[..., None] * 0.5
    fill_line = 500.0
    oil_mask = glass * smoothstep(fill_line - 2, fill_line + 2, st.yy)
    air_color = behind * np.array([0.80, 0.86, 0.78]) * (0.55 + 0.45 * nz)[..., None]
    st.paint(glass * (1 - oil_mask), air_color)
    st.paint(oil_mask, oil_color)
    # reflections of two softboxes on the glass
    streaks = 0.85 * np.exp(-((nx + 0.55) / 0.07) ** 2) + 0.45 * np.exp(-((nx - 0.72) / 0.04) ** 2)
    st.glow(glass * streaks * smoothstep(380, 420, st.yy), (1.0, 1.0, 0.97), 0.8)
    st.darken(glass * np.clip(np.abs(nx) - 0.85, 0, 1) * 6, 0.5)

    label_top, label_bottom = 760.0, 1060.0
    label = glass * smoothstep(label_top - 1, label_top + 1, st.yy) * (1 - smoothstep(label_bottom - 1, label_bottom + 1, st.yy))
    paper = np.array([0.93, 0.89, 0.80], np.float32) * st.texture(0.8, 0.02)
    st.paint(label, st.shade(normals, paper, specular=0.08, ambient=0.42))
    ink = np.array([0.18, 0.27, 0.12], np.float32)
    band = label * smoothstep(800, 802, st.yy) * (1 - smoothstep(836, 838, st.yy))
    st.paint(band, st.shade(normals, ink, specular=0.05, ambient=0.45))
    for text, y, size in (("LIVADA", 900, 46), ("SUDULUI", 950, 34), ("ULEI DE MĂSLINE", 1000, 17), ("EXTRAVIRGIN · 750 ml", 1028, 14)):
        st.paint(st.text(cx, y, text, size, spacing=1.5) * label, st.shade(normals, ink, specular=0.05, ambient=0.45))
    st.paint(st.text(cx, 818, "PRESAT LA RECE", 15, spacing=2) * label, st.shade(normals, paper, ambient=0.45))

    cap_outline = [(y, 50.0) for y in np.linspace(250, 350, 20)]
    cap = st.profile(cx, cap_outline)
    ribs = (1 + 0.12 * np.sin(st.xx * 1.2))[..., None]
    st.paint(cap, st.shade(st.revolution_normals(cx, cap_outline), np.array([0.14, 0.20, 0.12]) * ribs, specular=0.6, shininess=40, metal=True))
    st.paint(st.ellipse(cx, 250, 50, 9), st.shade(st.flat_normals(0, -0.8), (0.20, 0.26, 0.17), specular=0.3))


def paint_backpack(st: Studio) -> None:
    st.backdrop((0.78, 0.80, 0.80), (0.88, 0.89, 0.88), horizon=0.66, spot=(600, 700))
    cx = 600.0
    leather = np.array([0.56, 0.30, 0.15], np.float32)
    dark_leather = leather * 0.72
    grain = st.texture(1.0, 0.035) * st.texture(12.0, 0.05)  # fine pebbling plus broad mottling of real hide
    st.contact_shadow(cx + 30, 1335, 330, 45, strength=0.65)

    for side in (-1, 1):
        strap = st.rect(cx + side * 330 - 28, 470, cx + side * 330 + 28, 1290, 24)
        st.paint(strap, st.shade(st.pillow_normals(strap, 10), dark_leather * 0.8 * grain, specular=0.15))
    handle = st.arc(cx, 420, 115, 95, 180, 360, 34)
    st.paint(handle, st.shade(st.pillow_normals(handle, 9, 1.3), dark_leather * grain, specular=0.25))

    body = st.polygon(catmull_rom([(300, 620), (330, 430), (450, 360), (750, 360), (870, 430), (900, 620), (910, 1280), (870, 1332), (600, 1342), (330, 1332), (290, 1280)], 16))
    st.paint(body, st.shade(st.pillow_normals(body, 70, 1.2), leather * grain, specular=0.22, shininess=18))
    st.darken(body * smoothstep(1200, 1345, st.yy), 0.25)

    zipper = st.line(catmull_rom([(360, 520), (600, 470), (840, 520)], 10, closed=False), 16)
    teeth = (0.75 + 0.25 * np.sin(st.xx * 1.6))[..., None]
    st.paint(zipper, st.shade(st.pillow_normals(zipper, 3), np.array([0.55, 0.46, 0.30]) * teeth, specular=0.8, shininess=50, metal=True))
    puller = st.rect(826, 508, 850, 590, 8)
    st.drop_shadow(puller, 6, 8, 5, 0.4)
    st.paint(puller, st.shade(st.pillow_normals(puller, 4), (0.78, 0.62, 0.34), specular=0.9, shininess=40, metal=True))

    pocket = st.rect(380, 820, 820, 1260, 80)
    st.drop_shadow(pocket, 8, 14, 14, 0.35)
    st.paint(pocket, st.shade(st.pillow_normals(pocket, 36, 1.2), leather * 0.93 * grain, specular=0.2, shininess=18))
    inset = st.rect(400, 840, 800, 1240, 64) * (1 - st.rect(404, 844, 796, 1236, 60))
    dashes = (np.sin((st.xx + st.yy) * 0.55) > 0.1).astype(np.float32)
    st.paint(inset * dashes, (0.80, 0.66, 0.45))
    for x in (480, 720):
        belt = st.rect(x - 24, 780, x + 24, 1080, 10)
        st.drop_shadow(belt, 5, 8, 6, 0.4)
        st.paint(belt, st.shade(st.pillow_normals(belt, 8), dark_leather * grain, specular=0.25))
        buckle = st.rect(x - 34, 990, x + 34, 1050, 8) * (1 - st.rect(x - 22, 1002, x + 22, 1038, 4))
        st.drop_shadow(buckle, 4, 6, 4, 0.45)
        st.paint(buckle, st.shade(st.pillow_normals(buckle, 3, 1.5), (0.80, 0.64, 0.34), specular=1.0, shininess=45, metal=True))


def paint_sneaker(st: Studio) -> None:
    st.backdrop((0.93, 0.80, 0.72), (0.86, 0.72, 0.64), horizon=0.64, spot=(940, 560))
    x0, ground, length = 400.0, 930.0, 1120.0

    def p(u: float, v: float) -> Point:
        return (x0 + u * length, ground - v * length)

    st.contact_shadow(x0 + 0.52 * length, ground + 4, 0.52 * length, 26, strength=0.7)
    white = np.array([0.94, 0.94, 0.93], np.float32)
    suede = np.array([0.66, 0.67, 0.66], np.float32) * st.texture(0.9, 0.035)

    upper_pts = [p(0.03, 0.08), p(0.012, 0.20), p(0.04, 0.34), p(0.10, 0.37), p(0.22, 0.31), p(0.33, 0.36),
                 p(0.40, 0.43), p(0.45, 0.41), p(0.50, 0.30), p(0.66, 0.225), p(0.80, 0.19), p(0.92, 0.155),
                 p(0.982, 0.11), p(0.985, 0.07), p(0.60, 0.06)]
    upper = st.polygon(catmull_rom(upper_pts, 14))
    st.paint(upper, st.shade(st.pillow_normals(upper, 45, 1.0), white * st.texture(0.8, 0.015), specular=0.18, shininess=20))
    collar = st.polygon(catmull_rom([p(0.04, 0.33), p(0.10, 0.36), p(0.22, 0.30), p(0.32, 0.35), p(0.25, 0.33), p(0.12, 0.34)], 12))
    st.paint(collar, st.shade(st.pillow_normals(collar, 6), (0.25, 0.25, 0.26), specular=0.1))
    tongue = st.polygon(catmull_rom([p(0.33, 0.36), p(0.40, 0.44), p(0.455, 0.42), p(0.44, 0.36)], 10))
    st.paint(tongue, st.shade(st.pillow_normals(tongue, 8), suede, specular=0.05))

    panels = [
        [p(0.70, 0.07), p(0.78, 0.17), p(0.88, 0.165), p(0.97, 0.12), p(0.995, 0.07)],  # toe cap
        [p(0.02, 0.08), p(0.015, 0.25), p(0.08, 0.28), p(0.20, 0.16), p(0.23, 0.08)],  # heel counter
        [p(0.30, 0.08), p(0.50, 0.28), p(0.56, 0.26), p(0.44, 0.08)],  # side stripe
    ]
    for outline in panels:
        panel = st.polygon(catmull_rom(outline, 12)) * upper
        st.drop_shadow(panel, 3, 5, 5, 0.28)
        st.paint(panel, st.shade(st.pillow_normals(panel, 10, 1.2), suede, specular=0.06, shininess=12))

    lace_line = [p(0.36 + 0.032 * i, 0.345 - 0.027 * i) for i in range(6)]
    for x, y in lace_line:
        eyelet = st.ellipse(x, y, 11, 11) * (1 - st.ellipse(x, y, 5, 5))
        st.paint(eyelet, st.shade(st.pillow_normals(eyelet, 2), (0.6, 0.6, 0.62), specular=0.8, metal=True))
    for i, (x, y) in enumerate(lace_line[:-1]):
        lace = st.line([(x - 4, y - 22), (lace_line[i + 1][0] + 30, lace_line[i + 1][1] - 34)], 14)
        st.drop_shadow(lace, 3, 6, 4, 0.3)
        st.paint(lace, st.shade(st.pillow_normals(lace, 3, 1.5), (0.97, 0.97, 0.96), specular=0.1))

    sole_pts = [p(0.03, 0.0), p(0.008, 0.03), p(0.012, 0.092), p(0.20, 0.098), p(0.60, 0.088), p(0.90, 0.082),
                p(0.985, 0.078), p(0.998, 0.05), p(0.975, 0.018), p(0.90, 0.0), p(0.50, -0.004)]
    sole = st.polygon(catmull_rom(sole_pts, 14))
    st.drop_shadow(sole, 0, -4, 6, 0.25)
    st.paint(sole, st.shade(st.pillow_normals(sole, 10, 0.9), (0.96, 0.95, 0.92), specular=0.1))
    outsole = sole * smoothstep(ground - 22, ground - 18, st.yy)
    st.paint(outsole, st.shade(st.pillow_normals(sole, 8), np.array([0.70, 0.50, 0.30]) * st.texture(0.7, 0.04), specular=0.15))
    groove = st.line(catmull_rom([p(0.02, 0.05), p(0.5, 0.045), p(0.985, 0.05)], 12, closed=False), 3) * sole
    st.darken(groove, 0.18)


def paint_desk_lamp(st: Studio) -> None:
    st.backdrop((0.80, 0.81, 0.83), (0.90, 0.90, 0.90), horizon=0.74, spot=(560, 700))
    black = np.array([0.07, 0.07, 0.08], np.float32)
    brass = np.array([0.78, 0.60, 0.32], np.float32)
    base_cx, base_top, base_r, base_ry = 760.0, 1390.0, 230.0, 52.0
    head = (430.0, 560.0)
    elbow = (880.0, 880.0)

    pool = blur(st.ellipse(400, 1420, 380, 90), 60)
    st.glow(pool, (1.0, 0.86, 0.62), 0.18)
    st.contact_shadow(base_cx + 20, base_top + 36, base_r * 1.05, base_ry * 0.9, strength=0.6)

    base_outline = _cylinder_outline(base_top, base_top + 36, base_r, base_ry)
    base = st.profile(base_cx, base_outline)
    st.paint(base, st.shade(st.revolution_normals(base_cx, base_outline), black, specular=0.5, shininess=25))
    st.paint(st.ellipse(base_cx, base_top, base_r, base_ry), st.shade(st.flat_normals(-0.15, -0.75), black * 1.6, specular=0.2))

    lower_arm = st.line([(base_cx, base_top - 10), elbow], 30)
    upper_arm = st.line([elbow, (head[0] + 40, head[1] + 10)], 26)
    for arm in (lower_arm, upper_arm):
        st.paint(arm, st.shade(st.pillow_normals(arm, 9, 1.4), black, specular=0.55, shininess=30))
    for x, y, r in ((base_cx, base_top - 10, 34), (*elbow, 30), (head[0] + 40, head[1] + 10, 26)):
        joint = st.ellipse(x, y, r, r)
        st.drop_shadow(joint, 4, 6, 5, 0.3)
        st.paint(joint, st.shade(st.pillow_normals(joint, r * 0.4, 1.5), brass, specular=1.0, shininess=45, metal=True))

    cx = head[0]
    shade_outline = [(y, 46.0) for y in np.linspace(520, 560, 8)]
    for t in np.linspace(0, 1, 40)[1:]:
        shade_outline.append((560 + 200 * t, 46 + 174 * t**1.4))
    shade = st.profile(cx, shade_outline)
    st.paint(shade, st.shade(st.revolution_normals(cx, shade_outline), black, specular=0.6, shininess=35))
    st.paint(st.ellipse(cx, 520, 46, 10), st.shade(st.flat_normals(0, -0.8), brass, specular=0.8, metal=True))
    opening = st.ellipse(cx, 760, 220, 42)
    warm = np.array([1.0, 0.93, 0.78], np.float32)
    st.paint(opening, warm * (0.75 + 0.25 * smoothstep(720, 800, st.yy))[..., None])
    st.glow(blur(st.ellipse(cx, 772, 140, 28), 14), (1.0, 1.0, 0.95), 0.6)
    st.glow(blur(st.ellipse(cx, 800, 300, 80), 50), (1.0, 0.90, 0.70), 0.15)


def paint_watch(st: Studio) -> None:
    cx, cy, r = 600.0, 600.0, 300.0
    strap_leather = np.array([0.30, 0.17, 0.09], np.float32) * st.texture(1.0, 0.06)
    thread = (0.86, 0.76, 0.58)
    for top, bottom, ends_at_top in ((95, 380, True), (820, 1105, False)):
        outline = [(cx - 150, top if ends_at_top else bottom), (cx - 165, bottom if ends_at_top else top),
                   (cx + 165, bottom if ends_at_top else top), (cx + 150, top if ends_at_top else bottom)]
        strap = st.polygon(outline)
        tip = st.ellipse(cx, top if ends_at_top else bottom, 150, 55)
        strap = np.maximum(strap, tip)
        st.paint(strap, st.shade(st.pillow_normals(strap, 22, 1.2), strap_leather, specular=0.25, shininess=22))
        inner = st.polygon([(x * 0.88 + cx * 0.12, y) for x, y in outline])
        edge = np.clip(blur(inner, 1.0) - blur(st.polygon([(x * 0.86 + cx * 0.14, y) for x, y in outline]), 1.0), 0, 1)
        dashes = (np.sin(st.yy * 0.5) > 0).astype(np.float32)
        st.paint(edge * dashes * strap * 2.2, thread)
    for y in (950, 1000, 1050):
        hole = st.ellipse(cx, y, 11, 11)
        st.paint(hole, (0.06, 0.03, 0.02))
    keeper = st.rect(cx - 175, 880, cx + 175, 925, 12)
    st.paint(keeper, st.shade(st.pillow_normals(keeper, 8), strap_leather * 0.85, specular=0.3))

    steel = np.array([0.72, 0.73, 0.76], np.float32)
    for sx in (-1, 1):
        for sy in (-1, 1):
            lug = st.rect(cx + sx * 135 - 32, cy + sy * 280 - 55, cx + sx * 135 + 32, cy + sy * 280 + 55, 18)
            st.paint(lug, st.shade(st.pillow_normals(lug, 10, 1.4), steel, specular=1.0, shininess=40, metal=True))
    crown = st.rect(cx + r - 10, cy - 38, cx + r + 42, cy + 38, 12)
    ridges = (0.8 + 0.2 * np.sin(st.yy * 2.0))[..., None]
    st.paint(crown, st.shade(st.pillow_normals(crown, 8), steel * ridges, specular=1.0, metal=True))

    case = st.ellipse(cx, cy, r, r)
    st.paint(case, st.shade(st.pillow_normals(case, 28, 1.6), steel, specular=1.2, shininess=35, metal=True))
    bezel = st.ellipse(cx, cy, r - 22, r - 22)
    st.paint(bezel, st.shade(st.pillow_normals(bezel, 6, -1.2), steel * 0.9, specular=1.0, shininess=50, metal=True))
    dial_r = r - 40
    dial = st.ellipse(cx, cy, dial_r, dial_r)
    theta = np.arctan2(st.yy - cy, st.xx - cx)
    sunray = (1 + 0.28 * np.cos(2 * (theta + 2.2)))[..., None]
    radial = np.sqrt((st.xx - cx) ** 2 + (st.yy - cy) ** 2) / dial_r
    blue = np.array([0.06, 0.16, 0.40], np.float32) * sunray * (1 - 0.35 * radial**2)[..., None]
    st.paint(dial, blue)
    st.darken(dial * smoothstep(0.88, 1.0, radial), 0.5)

    silver = np.array([0.88, 0.89, 0.92], np.float32)
    for hour in range(12):
        a = math.radians(hour * 30 - 90)
        inner_r, outer_r = (dial_r - 70, dial_r - 18) if hour % 3 == 0 else (dial_r - 50, dial_r - 18)
        half_w = 11 if hour % 3 == 0 else 6
        nxn, nyn = -math.sin(a), math.cos(a)
        pts = [(cx + math.cos(a) * rr + nxn * w, cy + math.sin(a) * rr + nyn * w) for rr, w in ((inner_r, half_w), (outer_r, half_w), (outer_r, -half_w), (inner_r, -half_w))]
        marker = st.polygon(pts)
        st.drop_shadow(marker, 3, 4, 3, 0.5)
        st.paint(marker, st.shade(st.pillow_normals(marker, 2, 1.5), silver, specular=1.0, metal=True))
    st.paint(st.text(cx, cy - 120, "HOROLOGIA", 26, spacing=3), silver)
    st.paint(st.text(cx, cy + 110, "AUTOMATIC", 17, bold=False, spacing=3), silver * 0.85)

    def hand(angle_deg: float, length: float, width: float, tail: float) -> np.ndarray:
        a = math.radians(angle_deg - 90)
        dx, dy, nx_, ny_ = math.cos(a), math.sin(a), -math.sin(a), math.cos(a)
        pts = [(cx - dx * tail + nx_ * width * 0.6, cy - dy * tail + ny_ * width * 0.6), (cx + dx * length * 0.8 + nx_ * width, cy + dy * length * 0.8 + ny_ * width),
               (cx + dx * length, cy + dy * length), (cx + dx * length * 0.8 - nx_ * width, cy + dy * length * 0.8 - ny_ * width),
               (cx - dx * tail - nx_ * width * 0.6, cy - dy * tail - ny_ * width * 0.6)]
        return st.polygon(pts)

    for angle, length, width in ((302, 150, 14), (58, 215, 10)):  # 10:08, the catalogue time
        h = hand(angle, length, width, 30)
        st.drop_shadow(h, 6, 9, 5, 0.55)
        st.paint(h, st.shade(st.pillow_normals(h, 3, 1.5), silver, specular=1.0, metal=True))
    seconds = st.line([(cx - 50 * math.cos(math.radians(200 - 90)), cy - 50 * math.sin(math.radians(200 - 90))),
                       (cx + 230 * math.cos(math.radians(200 - 90)), cy + 230 * math.sin(math.radians(200 - 90)))], 4)
    st.drop_shadow(seconds, 6, 9, 4, 0.45)
    st.paint(seconds, (0.85, 0.22, 0.16))
    pin = st.ellipse(cx, cy, 14, 14)
    st.paint(pin, st.shade(st.pillow_normals(pin, 4, 1.5), silver, specular=1.0, metal=True))
    # the crystal catches the key light
    crystal = dial * np.clip(1 - ((st.xx - cx) + (st.yy - cy) + 140) / 160, 0, 1) * smoothstep(-0.2, 0.4, -((st.xx - cx) + (st.yy - cy)) / dial_r)
    st.glow(blur(crystal, 8), (1, 1, 1), 0.12)


def paint_headphones(st: Studio) -> None:
    st.backdrop((0.74, 0.82, 0.82), (0.85, 0.89, 0.88), horizon=0.70, spot=(800, 520))
    cx = 800.0
    matte = np.array([0.10, 0.10, 0.11], np.float32)
    accent = np.array([0.80, 0.66, 0.58], np.float32)
    cushion_col = np.array([0.20, 0.20, 0.21], np.float32) * st.texture(0.9, 0.06)
    for side in (-1, 1):
        st.contact_shadow(cx + side * 360, 1040, 150, 26, strength=0.6)

    band = st.arc(cx, 600, 380, 420, 180, 360, 58)
    st.paint(band, st.shade(st.pillow_normals(band, 14, 1.3), matte, specular=0.35, shininess=25))
    pad = st.arc(cx, 612, 352, 392, 200, 340, 30)
    st.paint(pad, st.shade(st.pillow_normals(pad, 9, 1.5), cushion_col, specular=0.15))
    for side in (-1, 1):
        x = cx + side * 380
        slider = st.rect(x - 12, 560, x + 12, 700, 6)
        st.paint(slider, st.shade(st.pillow_normals(slider, 4, 1.4), (0.70, 0.70, 0.73), specular=1.0, metal=True))
        yoke = st.rect(x - 70, 680, x + 70, 720, 16)
        st.paint(yoke, st.shade(st.pillow_normals(yoke, 8), accent, specular=0.9, shininess=40, metal=True))

    for side in (-1, 1):
        x = cx + side * 380
        cushion = st.ellipse(x - side * 60, 850, 95, 165)
        st.paint(cushion, st.shade(st.pillow_normals(cushion, 30, 1.3), cushion_col, specular=0.2, shininess=14))
        cup = st.ellipse(x + side * 10, 850, 118, 175)
        st.drop_shadow(cup, -side * 12, 8, 14, 0.35)
        st.paint(cup, st.shade(st.pillow_normals(cup, 34, 1.4), matte, specular=0.45, shininess=30))
        ring = st.ellipse(x + side * 10, 850, 92, 140) * (1 - st.ellipse(x + side * 10, 850, 84, 130))
        st.paint(ring, st.shade(st.pillow_normals(ring, 2, 1.5), accent, specular=1.0, metal=True))
        logo = st.ellipse(x + side * 10, 850, 18, 18)
        st.paint(logo, st.shade(st.pillow_normals(logo, 4), accent, specular=0.9, metal=True))


def paint_plant(st: Studio) -> None:
    st.backdrop((0.90, 0.88, 0.83), (0.82, 0.79, 0.73), horizon=0.74, spot=(540, 600))
    cx, rim_top, rim_bottom, pot_bottom = 540.0, 900.0, 960.0, 1290.0
    st.contact_shadow(cx + 30, pot_bottom + 30, 190, 40, strength=0.65)
    clay = np.array([0.74, 0.42, 0.27], np.float32) * st.texture(1.1, 0.05)
    rng = st.rng

    soil_y = rim_top + 6
    leaves = []
    for i in range(15):
        a = -math.pi / 2 + rng.uniform(-1.15, 1.15)
        stem_len = rng.uniform(260, 560)
        base = (cx + rng.uniform(-60, 60), soil_y)
        tip = (base[0] + math.cos(a) * stem_len * 0.8, base[1] + math.sin(a) * stem_len)
        leaf_len = rng.uniform(150, 230)
        leaf_angle = math.degrees(a) + rng.uniform(-25, 25)
        leaves.append((stem_len, base, tip, leaf_len, leaf_angle, rng.uniform(0.75, 1.1)))
    leaves.sort(key=lambda leaf: -leaf[0])  # tallest (farthest back) first
    green = np.array([0.13, 0.32, 0.14], np.float32)
    for stem_len, base, tip, leaf_len, leaf_angle, tone in leaves:
        stem = st.line([base, tip], 9)
        st.paint(stem, st.shade(st.pillow_normals(stem, 3), green * 0.8, specular=0.1))
        la = math.radians(leaf_angle)
        centre = (tip[0] + math.cos(la) * leaf_len * 0.45, tip[1] + math.sin(la) * leaf_len * 0.45)
        outline = []
        for t in np.linspace(0, 2 * math.pi, 60, endpoint=False):
            along = math.cos(t) * leaf_len * 0.55
            across = math.sin(t) * leaf_len * 0.24 * (1 - 0.35 * math.cos(t)) * (1 - 0.5 * max(0, math.cos(t)) ** 3)
            outline.append((centre[0] + along * math.cos(la) - across * math.sin(la), centre[1] + along * math.sin(la) + across * math.cos(la)))
        leaf = st.polygon(outline)
        st.drop_shadow(leaf, 8, 12, 12, 0.25)
        normals = st.pillow_normals(leaf, leaf_len * 0.12, 1.0)
        st.paint(leaf, st.shade(normals, green * tone * st.texture(2.0, 0.05), specular=0.55, shininess=28))
        rib = st.line([(centre[0] - math.cos(la) * leaf_len * 0.5, centre[1] - math.sin(la) * leaf_len * 0.5),
                       (centre[0] + math.cos(la) * leaf_len * 0.45, centre[1] + math.sin(la) * leaf_len * 0.45)], 4) * leaf
        st.paint(rib * 0.7, (0.45, 0.58, 0.32))

    body_outline = _cylinder_outline(rim_bottom, pot_bottom, 205, 40, bottom_radius=160)
    body = st.profile(cx, body_outline)
    st.paint(body, st.shade(st.revolution_normals(cx, body_outline), clay, specular=0.05, ambient=0.34))
    st.darken(body * (1 - smoothstep(rim_bottom, rim_bottom + 40, st.yy)), 0.35)
    rim_outline = _cylinder_outline(rim_top, rim_bottom, 232, 40)
    rim = st.profile(cx, rim_outline) * (st.yy < rim_bottom + 40) * (1 - body * (st.yy > rim_bottom))
    st.paint(rim, st.shade(st.revolution_normals(cx, rim_outline), clay * 1.03, specular=0.05, ambient=0.34))
    lip = st.ellipse(cx, rim_top, 232, 40) * (1 - st.ellipse(cx, rim_top + 2, 212, 34))
    st.paint(lip, st.shade(st.flat_normals(-0.1, -0.7), clay * 1.05, specular=0.05))
    soil = st.ellipse(cx, rim_top + 2, 212, 34)
    st.paint(soil, np.array([0.22, 0.15, 0.10]) * st.texture(1.0, 0.25) * 0.8)


# ---------------------------------------------------------------------------
# The catalog
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoSpec:
    filename: str
    width: int
    height: int
    painter: Callable[[Studio], None]
    transparent: bool = False


@dataclass(frozen=True)
class ExtraShot:
    """An additional photo of a product: the same painting, mirrored on another backdrop, closer, or smaller."""

    filename: str
    base: str  # the PhotoSpec filename it is shot from
    mirror: bool = False
    backdrop: tuple[float, float, float] = (1.0, 1.0, 1.0)  # tint of the studio sweep
    crop: tuple[float, float, float, float] | None = None  # (left, top, right, bottom) fractions: a closer look
    scale: float = 1.0  # of the base photo's size (a smaller copy is the same picture: a duplicate)


@dataclass(frozen=True)
class SampleItem:
    id: str
    title: str
    brand: str
    description: str  # may hold HTML, written as CDATA like real shop exports do
    product_type: str
    price: str  # as written in the feed: "1.249,00 RON"
    image: str  # relative to the feed's folder
    slug: str  # for the https://example.ro/ link
    sale_price: str = ""
    availability: str = "in_stock"
    condition: str = "new"
    extra_images: tuple[str, ...] = ()  # additional_image_link values, relative to the feed's folder


PHOTOS: tuple[PhotoSpec, ...] = (
    PhotoSpec("cana-ceramica-salvie.jpg", 1600, 1600, paint_mug),
    PhotoSpec("ulei-masline-extravirgin.jpg", 1080, 1440, paint_olive_oil),
    PhotoSpec("rucsac-piele-coniac.jpg", 1200, 1600, paint_backpack),
    PhotoSpec("pantofi-sport-albi.jpg", 1920, 1280, paint_sneaker),
    PhotoSpec("lampa-birou-articulata.jpg", 1280, 1600, paint_desk_lamp),
    PhotoSpec("ceas-automatic-albastru.png", 1200, 1200, paint_watch, transparent=True),
    PhotoSpec("casti-over-ear-anc.jpg", 1600, 1200, paint_headphones),
    PhotoSpec("ficus-ghiveci-teracota.jpg", 1080, 1440, paint_plant),
)

EXTRA_MAX_SIDE = 1000
EXTRA_SHOTS: tuple[ExtraShot, ...] = (
    ExtraShot("pantofi-sport-albi-2.jpg", "pantofi-sport-albi.jpg", mirror=True, backdrop=(0.78, 0.9, 1.08)),
    ExtraShot("pantofi-sport-albi-3.jpg", "pantofi-sport-albi.jpg", crop=(0.05, 0.25, 0.55, 0.8)),
    ExtraShot("pantofi-sport-albi-4.jpg", "pantofi-sport-albi.jpg", crop=(0.45, 0.15, 0.95, 0.7),
              backdrop=(1.05, 0.95, 0.85)),
    ExtraShot("pantofi-sport-albi-5.jpg", "pantofi-sport-albi.jpg", mirror=True, crop=(0.2, 0.2, 0.9, 0.85),
              backdrop=(0.85, 1.0, 0.85)),
    ExtraShot("cana-ceramica-salvie-2.jpg", "cana-ceramica-salvie.jpg", mirror=True, backdrop=(0.8, 0.95, 1.0)),
    ExtraShot("cana-ceramica-salvie-3.jpg", "cana-ceramica-salvie.jpg", crop=(0.45, 0.3, 0.95, 0.8)),
    ExtraShot("casti-over-ear-anc-2.jpg", "casti-over-ear-anc.jpg", mirror=True, backdrop=(0.7, 0.72, 0.8)),
    ExtraShot("casti-over-ear-anc-mic.jpg", "casti-over-ear-anc.jpg", scale=0.5),
)
MISSING_EXTRA = "images/casti-over-ear-anc-lipsa.jpg"

SAMPLE_ITEMS: tuple[SampleItem, ...] = (
    SampleItem(
        id="CN-350-SALVIE",
        title="Cană ceramică emailată 350 ml, verde salvie",
        brand="Lutul Bun",
        description="Cană lucrată manual din gresie ceramică, emailată în verde salvie. Se poate spăla în mașina de vase și folosi la microunde.",
        product_type="Casă și grădină > Bucătărie > Căni",
        price="49,90 RON",
        sale_price="39,90 RON",
        image="images/cana-ceramica-salvie.jpg",
        slug="cana-ceramica-350-ml-verde-salvie",
        extra_images=("images/cana-ceramica-salvie-2.jpg", "images/cana-ceramica-salvie-3.jpg"),
    ),
    SampleItem(
        id="ULEI-EVO-750",
        title="Ulei de măsline extravirgin presat la rece, 750 ml",
        brand="Livada Sudului",
        description="Ulei de măsline extravirgin din prima presare la rece, aciditate sub 0,3%. Sticlă de 750 ml.",
        product_type="Alimente > Uleiuri și oțet",
        price="89 RON",
        image="images/ulei-masline-extravirgin.jpg",
        slug="ulei-masline-extravirgin-750-ml",
    ),
    SampleItem(
        id="RUCSAC-PIELE-20L",
        title="Rucsac din piele naturală, coniac, 20 l",
        brand="Pielărie Brașov",
        description="Rucsac din piele naturală cu buzunar frontal, catarame din alamă și compartiment pentru laptop de 15 inch.",
        product_type="Genți și accesorii > Rucsacuri",
        price="1.249,00 RON",
        image="images/rucsac-piele-coniac.jpg",
        slug="rucsac-piele-naturala-coniac-20-l",
    ),
    SampleItem(
        id="SKU 1001/RO,alb",
        title="Pantofi sport din piele, albi, talpă din cauciuc",
        brand="Pas Ușor",
        description="Pantofi sport unisex din piele, cu inserții din piele întoarsă și talpă din cauciuc natural.",
        product_type="Îmbrăcăminte și încălțăminte > Încălțăminte > Pantofi sport",
        price="349,99 RON",
        sale_price="279,99 RON",
        image="images/pantofi-sport-albi.jpg",
        slug="pantofi-sport-piele-albi",
        extra_images=tuple(f"images/pantofi-sport-albi-{n}.jpg" for n in range(2, 6)),
    ),
    SampleItem(
        id="LMP-BIROU-02",
        title="Lampă de birou articulată cu LED, negru mat",
        brand="Lumină Caldă",
        description="Lampă de birou cu braț articulat, reglabilă pe înălțime & unghi, bec LED de 8 W inclus, lumină caldă de 2700 K.",
        product_type="Casă și grădină > Iluminat > Lămpi de birou",
        price="249,99 RON",
        image="images/lampa-birou-articulata.jpg",
        slug="lampa-birou-articulata-led-negru-mat",
    ),
    SampleItem(
        id="CEAS_AUT_40mm",
        title="Ceas automatic bărbătesc, cadran albastru, curea din piele",
        brand="Horologia",
        description="Ceas automatic cu carcasă din oțel inoxidabil de 40 mm, geam din safir și curea din piele maro.",
        product_type="Bijuterii și ceasuri > Ceasuri de mână",
        price="1.899,00 RON",
        image="images/ceas-automatic-albastru.png",
        slug="ceas-automatic-barbatesc-cadran-albastru",
        availability="preorder",
    ),
    SampleItem(
        id="HP-ANC-700",
        title="Căști over-ear wireless cu anulare activă a zgomotului",
        brand="Sonor",
        description=(
            "<p>Căști wireless cu <strong>anulare activă a zgomotului</strong>.</p>"
            "<ul><li>Până la 30 de ore de autonomie &amp; încărcare rapidă</li>"
            "<li>Bluetooth 5.3, pernițe din spumă cu memorie</li></ul>"
        ),
        product_type="Electronice > Audio > Căști",
        price="599,00 RON",
        sale_price="449,00 RON",
        image="images/casti-over-ear-anc.jpg",
        slug="casti-over-ear-wireless-anc",
        # One good extra shot, one that does not exist and the main photo again at half size:
        # the video has two scenes and the render's metadata warns about the other two.
        extra_images=("images/casti-over-ear-anc-2.jpg", MISSING_EXTRA, "images/casti-over-ear-anc-mic.jpg"),
    ),
    SampleItem(
        id="PLANTA-FICUS-45",
        title="Ficus elastica în ghiveci de teracotă, 45 cm",
        brand="Grădina Verde",
        description="Plantă de interior ușor de îngrijit, livrată în ghiveci din teracotă. Înălțime totală: aproximativ 45 cm.",
        product_type="Casă și grădină > Plante > Plante de interior",
        price="129,50 RON",
        image="images/ficus-ghiveci-teracota.jpg",
        slug="ficus-elastica-ghiveci-teracota-45-cm",
    ),
    # Deliberately broken: the photo does not exist, so the demo shows one failed partition.
    SampleItem(
        id="PARF-TRANDAFIR-50",
        title="Apă de parfum Trandafir de Dâmbovița, 50 ml",
        brand="Țara Florilor",
        description="Apă de parfum cu note de trandafir, bergamotă și mosc alb.",
        product_type="Sănătate și frumusețe > Parfumuri",
        price="319,00 RON",
        image=BROKEN_IMAGE,
        slug="apa-de-parfum-trandafir-50-ml",
    ),
)

VARIANT_SUFFIXES = ("", "ediția 2", "set cadou", "model nou", "ediție limitată", "pachet economic")


def parse_ro_price(raw: str) -> Decimal:
    """'1.249,00 RON' -> Decimal('1249.00'); only used to derive benchmark prices."""
    number = raw.replace("RON", "").strip().replace(".", "").replace(",", ".")
    return Decimal(number)


def format_ro_price(amount: Decimal) -> str:
    whole, _, cents = f"{amount.quantize(Decimal('0.01')):.2f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{'.'.join(groups)},{cents} RON"


def scaled_items(count: int, *, with_broken: bool = False) -> list[SampleItem]:
    """`count` good products rotating the bundled photos, each with its own id, title and price."""
    good = [item for item in SAMPLE_ITEMS if item.image != BROKEN_IMAGE]
    items = []
    for n in range(count):
        base = good[n % len(good)]
        round_ = n // len(good)
        suffix = VARIANT_SUFFIXES[round_ % len(VARIANT_SUFFIXES)]
        title = base.title if not suffix else f"{base.title} – {suffix}"
        if round_ >= len(VARIANT_SUFFIXES):
            title = f"{title} #{round_ + 1}"
        factor = Decimal(100 + 7 * round_) / 100
        price = format_ro_price(parse_ro_price(base.price) * factor)
        sale = format_ro_price(parse_ro_price(base.sale_price) * factor) if base.sale_price else ""
        items.append(
            replace(
                base,
                id=base.id if round_ == 0 else f"{base.id}-V{round_ + 1}",
                title=title,
                price=price,
                sale_price=sale,
                slug=base.slug if round_ == 0 else f"{base.slug}-v{round_ + 1}",
            )
        )
    if with_broken:
        items.append(next(item for item in SAMPLE_ITEMS if item.image == BROKEN_IMAGE))
    return items


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_feed(items: Iterable[SampleItem], *, shop_name: str = "Magazinul Demo") -> str:
    """A Google Merchant Center RSS 2.0 feed, laid out the way shop platforms export it."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<rss version="2.0" xmlns:g="{GOOGLE_NS}">',
        "  <channel>",
        f"    <title>{escape(shop_name)}</title>",
        "    <link>https://example.ro/</link>",
        "    <description>Catalog de produse pentru Google Merchant Center</description>",
    ]
    for item in items:
        fields = [
            ("g:id", escape(item.id)),
            ("g:title", escape(item.title)),
            ("g:description", _cdata(item.description) if "<" in item.description else escape(item.description)),
            ("g:link", f"https://example.ro/produse/{item.slug}"),
            ("g:image_link", escape(item.image)),
            *(("g:additional_image_link", escape(extra)) for extra in item.extra_images),
            ("g:brand", escape(item.brand)),
            ("g:condition", item.condition),
            ("g:availability", item.availability),
            ("g:price", escape(item.price)),
        ]
        if item.sale_price:
            fields.append(("g:sale_price", escape(item.sale_price)))
        fields.append(("g:product_type", escape(item.product_type)))
        lines.append("    <item>")
        lines += [f"      <{tag}>{value}</{tag}>" for tag, value in fields]
        lines.append("    </item>")
    lines += ["  </channel>", "</rss>", ""]
    return "\n".join(lines)


CSV_HEADER = ("cod", "denumire", "marca", "categorie", "pret", "pret_redus", "moneda", "disponibilitate", "imagine",
              "imagini_suplimentare", "link", "descriere")


def render_csv(items: Iterable[SampleItem]) -> str:
    """The same products as a Romanian spreadsheet export: ';' separated, decimal comma, no currency in the price."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for item in items:
        writer.writerow([
            item.id,
            item.title,
            item.brand,
            item.product_type,
            item.price.replace("RON", "").strip(),
            item.sale_price.replace("RON", "").strip(),
            "RON",
            {"in_stock": "în stoc", "preorder": "precomandă"}.get(item.availability, item.availability),
            item.image,
            "|".join(item.extra_images),
            f"https://example.ro/produse/{item.slug}",
            item.description,
        ])
    return out.getvalue()


def render_photo(spec: PhotoSpec, seed: int) -> Image.Image:
    studio = Studio(spec.width, spec.height, seed + sum(map(ord, spec.filename)), transparent=spec.transparent)
    spec.painter(studio)
    # Grain would make a cut-out PNG several times larger, and real cut-outs are retouched clean anyway.
    return studio.finish(grain=0.0 if spec.transparent else 0.010)


def render_extra(shot: ExtraShot, seed: int) -> Image.Image:
    """The base product painted again (same seed, so the same object) on the shot's backdrop, then framed."""
    spec = next(p for p in PHOTOS if p.filename == shot.base)
    studio = Studio(spec.width, spec.height, seed + sum(map(ord, spec.filename)), transparent=spec.transparent)
    studio.backdrop_tint = np.asarray(shot.backdrop, np.float32)
    spec.painter(studio)
    image = studio.finish(grain=0.0 if spec.transparent else 0.010)
    if shot.crop:
        left, top, right, bottom = shot.crop
        image = image.crop((round(left * image.width), round(top * image.height),
                            round(right * image.width), round(bottom * image.height)))
    if shot.mirror:
        image = ImageOps.mirror(image)
    if shot.scale != 1.0:
        size = (round(image.width * shot.scale), round(image.height * shot.scale))
    else:
        factor = min(1.0, EXTRA_MAX_SIDE / max(image.size))
        size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS)


def write_extra_photos(images_dir: Path, seed: int, only: Sequence[str] = ()) -> list[Path]:
    written = []
    for shot in EXTRA_SHOTS:
        if only and not any(name in shot.filename for name in only):
            continue
        path = images_dir / shot.filename
        render_extra(shot, seed).convert("RGB").save(path, "JPEG", quality=80, optimize=True, progressive=True)
        logger.info("wrote %s (%d KB)", path, path.stat().st_size // 1024)
        written.append(path)
    return written


def write_photos(images_dir: Path, seed: int, only: Sequence[str] = ()) -> list[Path]:
    images_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in PHOTOS:
        if only and not any(name in spec.filename for name in only):
            continue
        image = render_photo(spec, seed)
        path = images_dir / spec.filename
        if spec.transparent:
            image.save(path, "PNG", optimize=True)
        else:
            image.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        logger.info("wrote %s (%dx%d, %d KB)", path, spec.width, spec.height, path.stat().st_size // 1024)
        written.append(path)
    return written


def write_catalog(out_dir: Path, items: Sequence[SampleItem], *, csv_too: bool = True) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "feed.xml").write_text(render_feed(items), encoding="utf-8")
    if csv_too:
        (out_dir / "products.csv").write_text(render_csv(items), encoding="utf-8")


def copy_photos(out_dir: Path, items: Sequence[SampleItem], source_dir: Path = SAMPLE_DIR) -> None:
    """Copy the bundled photos a scaled feed needs next to it, so its relative links resolve."""
    wanted = {item.image for item in items} | {extra for item in items for extra in item.extra_images}
    for image in sorted(wanted - {BROKEN_IMAGE, MISSING_EXTRA}):
        target = out_dir / image
        source = source_dir / image
        if target.resolve() == source.resolve():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder (default: the bundled sample)")
    parser.add_argument("--count", type=int, default=None, help="write N good products reusing the bundled photos")
    parser.add_argument("--with-broken", action="store_true", help="with --count: add the item whose photo is missing")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--feed-only", action="store_true", help="do not repaint the photos")
    parser.add_argument("--only", nargs="*", default=(), help="repaint only photos whose file name contains one of these")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.count is not None:
        if args.count < 1:
            parser.error("--count must be at least 1")
        items = scaled_items(args.count, with_broken=args.with_broken)
        write_catalog(args.out, items, csv_too=True)
        copy_photos(args.out, items)
        logger.info("wrote %s with %d items", args.out / "feed.xml", len(items))
        return 0

    if not args.feed_only:
        write_photos(args.out / "images", args.seed, args.only)
        write_extra_photos(args.out / "images", args.seed, args.only)
    write_catalog(args.out, SAMPLE_ITEMS)
    logger.info("wrote %s and products.csv with %d items", args.out / "feed.xml", len(SAMPLE_ITEMS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

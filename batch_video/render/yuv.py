"""BT.709 limited-range conversions between RGB(A) images and I420 planes.

Everything static is converted once; per frame we only touch Y/U/V planes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB


def _even(value: int) -> int:
    return value - (value % 2)


def rgb_to_yuv_full(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 RGB (H, W, 3) -> float32 Y, U, V at full resolution (limited range values)."""
    f = rgb.astype(np.float32) * (1.0 / 255.0)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = KR * r + KG * g + KB * b
    u = (b - y) / (2.0 * (1.0 - KB))
    v = (r - y) / (2.0 * (1.0 - KR))
    return 16.0 + 219.0 * y, 128.0 + 224.0 * u, 128.0 + 224.0 * v


def half(plane: np.ndarray) -> np.ndarray:
    """2x2 box average (centre-sited chroma)."""
    h, w = plane.shape[:2]
    return cv2.resize(plane, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def to_u8(plane: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(plane), 0, 255).astype(np.uint8)


def rgb_to_i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 RGB with even sides -> (Y, U, V) uint8 planes."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        rgb = rgb[: _even(h), : _even(w)]
    y, u, v = rgb_to_yuv_full(rgb)
    return to_u8(y), to_u8(half(u)), to_u8(half(v))


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of rgb_to_i420 (chroma upsampled bilinearly); for posters and checks."""
    h, w = y.shape
    uf = cv2.resize(u.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    vf = cv2.resize(v.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    yn = (y.astype(np.float32) - 16.0) / 219.0
    pb = (uf - 128.0) / 224.0
    pr = (vf - 128.0) / 224.0
    r = yn + 2.0 * (1.0 - KR) * pr
    b = yn + 2.0 * (1.0 - KB) * pb
    g = (yn - KR * r - KB * b) / KG
    rgb = np.stack([r, g, b], axis=-1) * 255.0
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Overlay:
    """An RGBA layer prepared for blending onto I420 planes (premultiplied, integer maths).

    x, y are even canvas coordinates of the top-left corner.
    """

    x: int
    y: int
    y_premul: np.ndarray  # uint16 alpha*Y
    y_inv_alpha: np.ndarray  # uint16 255-alpha
    u_premul: np.ndarray
    v_premul: np.ndarray
    c_inv_alpha: np.ndarray

    @property
    def width(self) -> int:
        return self.y_premul.shape[1]

    @property
    def height(self) -> int:
        return self.y_premul.shape[0]


def make_overlay(rgba: np.ndarray, x: int, y: int) -> Overlay:
    """RGBA uint8 at canvas (x, y) -> Overlay; x/y/size are made even, cropping one pixel if needed."""
    if x % 2:
        rgba = np.pad(rgba, ((0, 0), (1, 0), (0, 0)))
        x -= 1
    if y % 2:
        rgba = np.pad(rgba, ((1, 0), (0, 0), (0, 0)))
        y -= 1
    h, w = rgba.shape[:2]
    if h % 2 or w % 2:
        rgba = np.pad(rgba, ((0, h % 2), (0, w % 2), (0, 0)))
    alpha = rgba[..., 3].astype(np.float32) * (1.0 / 255.0)
    yf, uf, vf = rgb_to_yuv_full(np.ascontiguousarray(rgba[..., :3]))
    a_half = half(alpha)
    # Premultiply before subsampling so a half-covered chroma sample blends exactly.
    u_pm = half(uf * alpha)
    v_pm = half(vf * alpha)
    a8 = np.rint(alpha * 255.0)
    ac8 = np.rint(a_half * 255.0)
    return Overlay(
        x=x, y=y,
        y_premul=np.rint(yf * a8).astype(np.uint16),
        y_inv_alpha=(255.0 - a8).astype(np.uint16),
        u_premul=np.rint(u_pm * 255.0).astype(np.uint16),
        v_premul=np.rint(v_pm * 255.0).astype(np.uint16),
        c_inv_alpha=(255.0 - ac8).astype(np.uint16),
    )


def _blend_plane(dst: np.ndarray, premul: np.ndarray, inv_alpha: np.ndarray, scratch: np.ndarray) -> None:
    # dst = (premul + inv_alpha*dst) / 255, exact rounding without a slow integer division.
    np.multiply(dst, inv_alpha, out=scratch, dtype=np.uint16)
    scratch += premul
    scratch += 128
    scratch += scratch >> 8
    scratch >>= 8
    dst[...] = scratch


def blend_overlay(y_plane: np.ndarray, u_plane: np.ndarray, v_plane: np.ndarray, ov: Overlay) -> None:
    """Alpha-blend `ov` onto the planes in place (clipped to the canvas)."""
    h, w = y_plane.shape
    x0, y0 = max(ov.x, 0), max(ov.y, 0)
    x1, y1 = min(ov.x + ov.width, w), min(ov.y + ov.height, h)
    if x0 >= x1 or y0 >= y1:
        return
    sx, sy = x0 - ov.x, y0 - ov.y
    ys = (slice(sy, sy + y1 - y0), slice(sx, sx + x1 - x0))
    dst = y_plane[y0:y1, x0:x1]
    _blend_plane(dst, ov.y_premul[ys], ov.y_inv_alpha[ys], np.empty(dst.shape, np.uint16))
    cs = (slice(sy // 2, (sy + y1 - y0) // 2), slice(sx // 2, (sx + x1 - x0) // 2))
    for plane, premul in ((u_plane, ov.u_premul), (v_plane, ov.v_premul)):
        cdst = plane[y0 // 2: y1 // 2, x0 // 2: x1 // 2]
        _blend_plane(cdst, premul[cs], ov.c_inv_alpha[cs], np.empty(cdst.shape, np.uint16))

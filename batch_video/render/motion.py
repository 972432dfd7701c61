"""Ken Burns motion: a smooth, sub-pixel camera path over the product photo."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from batch_video.errors import ConfigError

DIRECTIONS = ("zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down")
EASINGS = ("linear", "ease_in_out")


def choose_direction(motion: str, key: str) -> str:
    """`motion` itself, or for "auto" a direction picked stably from the product key."""
    if motion in DIRECTIONS:
        return motion
    if motion != "auto":
        raise ConfigError(f"unknown motion {motion!r}; use auto or one of {', '.join(DIRECTIONS)}", field="motion")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return DIRECTIONS[digest[0] % len(DIRECTIONS)]


def scene_directions(motion: str, key: str, count: int) -> list[str]:
    """One direction per scene: the first as `choose_direction`, each next one different from the one before."""
    directions = [choose_direction(motion, key)]
    digest = hashlib.sha256(f"{key}/scenes".encode("utf-8")).digest()
    for i in range(1, count):
        options = [d for d in DIRECTIONS if d != directions[-1]]
        directions.append(options[digest[i % len(digest)] % len(options)])
    return directions


def ease(u: float, easing: str = "ease_in_out") -> float:
    u = min(1.0, max(0.0, u))
    if easing == "linear":
        return u
    # Sine ease: starts and ends at rest, so the first and last frames do not lurch.
    return 0.5 - 0.5 * math.cos(math.pi * u)


@dataclass(frozen=True)
class Motion:
    direction: str
    strength: float  # extra zoom, e.g. 0.12 = 12 %
    easing: str = "ease_in_out"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"unknown motion direction {self.direction!r}", field="motion")
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"motion_strength must be within 0..1, got {self.strength}", field="motion_strength")
        if self.easing not in EASINGS:
            raise ConfigError(f"unknown easing {self.easing!r}", field="motion")

    @property
    def max_zoom(self) -> float:
        return 1.0 + self.strength

    def view_at(self, u: float) -> tuple[float, float, float]:
        """Camera at progress u in [0, 1] -> (zoom >= 1, offset_x, offset_y).

        Offsets in [-1, 1] place the window's centre within the slack the zoom
        leaves (-1 = left/top edge, +1 = right/bottom edge).
        """
        e = ease(u, self.easing)
        z_max = self.max_zoom
        if self.direction == "zoom_in":
            return 1.0 + (z_max - 1.0) * e, 0.0, 0.0
        if self.direction == "zoom_out":
            return z_max - (z_max - 1.0) * e, 0.0, 0.0
        sweep = -1.0 + 2.0 * e
        if self.direction == "pan_right":  # the camera travels right
            return z_max, sweep, 0.0
        if self.direction == "pan_left":
            return z_max, -sweep, 0.0
        if self.direction == "pan_down":
            return z_max, 0.0, sweep
        return z_max, 0.0, -sweep  # pan_up


@dataclass(frozen=True)
class Window:
    """The part of the source photo shown in the box, in source pixel-edge coordinates."""

    center_x: float
    center_y: float
    width: float
    height: float


def cover_window(src_w: int, src_h: int, box_w: int, box_h: int, zoom: float, off_x: float, off_y: float) -> Window:
    """The window of the box's aspect that covers the box at `zoom` (1 = largest that fits)."""
    box_aspect = box_w / box_h
    base_w = min(float(src_w), src_h * box_aspect)
    base_h = base_w / box_aspect
    win_w, win_h = base_w / zoom, base_h / zoom
    slack_x, slack_y = (src_w - win_w) / 2.0, (src_h - win_h) / 2.0
    return Window(src_w / 2.0 + off_x * slack_x, src_h / 2.0 + off_y * slack_y, win_w, win_h)


def inverse_affine(window: Window, box_w: int, box_h: int) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Matrix mapping box pixel centres to source coordinates (OpenCV WARP_INVERSE_MAP form).

    Pixel centres sit at integer coordinates, edges at +-0.5, so the window's
    left edge maps to the box's left edge exactly at any zoom.
    """
    kx = window.width / box_w
    ky = window.height / box_h
    bx = window.center_x - window.width / 2.0 + 0.5 * kx - 0.5
    by = window.center_y - window.height / 2.0 + 0.5 * ky - 0.5
    return (kx, 0.0, bx), (0.0, ky, by)

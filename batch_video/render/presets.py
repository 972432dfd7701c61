"""Output presets: canvas, frame rate, x264/AAC settings and platform limits."""

from __future__ import annotations

from dataclasses import dataclass

from batch_video.errors import ConfigError


@dataclass(frozen=True)
class SafeInsets:
    """Margins (fractions of the canvas) that platform UI may cover; text stays inside."""

    top: float
    bottom: float
    left: float
    right: float


# One conservative union of the TikTok, Reels and Shorts overlays on a 9:16
# screen: the top tabs, the caption/music/author block at the bottom and the
# like/comment/share column on the right.
VERTICAL_SAFE = SafeInsets(top=0.08, bottom=0.23, left=0.06, right=0.14)
TITLE_SAFE = SafeInsets(top=0.05, bottom=0.05, left=0.05, right=0.05)


@dataclass(frozen=True)
class Preset:
    name: str
    width: int
    height: int
    fps: int
    x264_preset: str
    crf: int
    profile: str
    level: str
    gop: int  # frames between keyframes
    maxrate_kbps: int
    bufsize_kbps: int
    audio_bitrate_kbps: int
    audio_rate: int
    audio_channels: int
    max_bytes: int  # the platform's upload size cap
    safe: SafeInsets

    @property
    def orientation(self) -> str:
        if self.width == self.height:
            return "square"
        return "portrait" if self.height > self.width else "landscape"


def _vertical(name: str, max_bytes: int, *, maxrate: int = 10_000, audio_kbps: int = 128) -> Preset:
    return Preset(
        name=name, width=1080, height=1920, fps=30, x264_preset="veryfast", crf=23,
        profile="high", level="4.1", gop=60, maxrate_kbps=maxrate, bufsize_kbps=2 * maxrate,
        audio_bitrate_kbps=audio_kbps, audio_rate=48_000, audio_channels=2,
        max_bytes=max_bytes, safe=VERTICAL_SAFE,
    )


PRESETS: dict[str, Preset] = {
    # TikTok in-app upload limit (iOS) 287.6 MB.
    "tiktok": _vertical("tiktok", 287_600_000),
    # Instagram Reels via the content publishing API: 300 MB.
    "reels": _vertical("reels", 300_000_000),
    # YouTube accepts far more; cap at 1 GB so a runaway file is still caught.
    "youtube_shorts": _vertical("youtube_shorts", 1_000_000_000, maxrate=12_000, audio_kbps=192),
    "generic": _vertical("generic", 287_600_000),
    "square": Preset(
        name="square", width=1080, height=1080, fps=30, x264_preset="veryfast", crf=23,
        profile="high", level="4.0", gop=60, maxrate_kbps=8_000, bufsize_kbps=16_000,
        audio_bitrate_kbps=128, audio_rate=48_000, audio_channels=2,
        max_bytes=300_000_000, safe=TITLE_SAFE,
    ),
    "landscape": Preset(
        name="landscape", width=1920, height=1080, fps=30, x264_preset="veryfast", crf=23,
        profile="high", level="4.1", gop=60, maxrate_kbps=10_000, bufsize_kbps=20_000,
        audio_bitrate_kbps=128, audio_rate=48_000, audio_channels=2,
        max_bytes=1_000_000_000, safe=TITLE_SAFE,
    ),
    # Small and fast, for tests and debugging; same 9:16 layout as the platforms.
    "preview": Preset(
        name="preview", width=360, height=640, fps=15, x264_preset="ultrafast", crf=28,
        profile="main", level="3.0", gop=30, maxrate_kbps=1_500, bufsize_kbps=3_000,
        audio_bitrate_kbps=64, audio_rate=48_000, audio_channels=2,
        max_bytes=50_000_000, safe=VERTICAL_SAFE,
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}", field="preset"
        ) from None

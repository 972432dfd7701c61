"""Batch settings: one typed config shared by every stage of a batch.

Defaults can be overridden by environment variables named
`BATCH_VIDEO_<FIELD>` (e.g. `BATCH_VIDEO_PRESET=reels`), so a backfill launched
from the UI picks them up without run config.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from batch_video.errors import ConfigError

DEFAULT_TEMPLATE = "{title}. {brand}. Preț: {price} lei."
ENV_PREFIX = "BATCH_VIDEO_"


@dataclass(frozen=True)
class BatchSettings:
    # voiceover
    tts_provider: str = "auto"  # auto | edge | espeak
    voice: str = "ro-RO-EmilNeural"
    espeak_voice: str = "ro"
    tts_rate: str = "+0%"
    tts_pitch: str = "+0Hz"
    tts_volume: str = "+0%"
    # script
    script_mode: str = "template"  # template | ai
    script_template: str = DEFAULT_TEMPLATE
    language: str = "ro"
    # timing: the voiceover drives the length, clamped to [min, max]
    duration_min_s: float = 5.0
    duration_max_s: float = 60.0
    tail_s: float = 1.0
    # look and encoding
    preset: str = "tiktok"  # tiktok | reels | youtube_shorts | generic | square | landscape | preview
    formats: str = ""  # several presets per product, e.g. "tiktok,square,landscape" (empty: `preset` alone)
    motion: str = "auto"  # auto | zoom_in | zoom_out | pan_left | pan_right | pan_up | pan_down
    motion_strength: float = 0.12
    cta_text: str = "Comandă acum!"
    captions: bool = True
    denoise: bool = False
    sharpen: bool = False
    color_correct: bool = False
    font_path: str = ""  # empty: a bundled/system font with Romanian diacritics
    accent_color: str = "#E4572E"
    logo_path: str = ""
    # scenes and templates
    template: str = "classic"  # classic | showcase | sale, or a path to a shop's own .yaml/.json template
    transition: str = "auto"  # auto | crossfade | slide | zoom_through | cut
    max_extra_photos: int = 4  # additional feed photos that may become scenes after the main one
    # music bed (none when music_path is empty)
    music_path: str = ""  # an audio file, or a folder of them (one picked per product, by its key)
    music_bed_lu: float = -8.0  # the bed's loudness relative to the voice before and after it speaks
    music_duck_lu: float = -20.0  # ...and while it speaks (at most -12: the voice stays intelligible)
    music_lead_s: float = 1.0  # music alone before the voice starts...
    music_outro_s: float = 1.0  # ...and after the tail, before the video ends

    def settings_hash(self) -> str:
        """Stable short hash; part of every asset's data version.

        The template counts by name and file content, so editing a shop's
        template file re-renders its videos even though the setting (a path)
        did not change.
        """
        from batch_video.music import music_fingerprint
        from batch_video.render.templates import template_fingerprint

        data = asdict(self)
        data["template"] = template_fingerprint(self.template)
        if not self.formats:
            data.pop("formats")  # settings without formats keep the hash they had before formats existed
        if self.music_path:
            data["music_path"] = music_fingerprint(self.music_path)
        else:  # settings without music keep the hash they had before music existed
            for name in ("music_path", "music_bed_lu", "music_duck_lu", "music_lead_s", "music_outro_s"):
                data.pop(name)
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def format_names(self) -> tuple[str, ...]:
        """The presets each product is rendered in, the first one published under the plain names."""
        names = tuple(name.strip() for name in self.formats.split(",") if name.strip())
        return names or (self.preset,)

    def for_format(self, fmt: str) -> "BatchSettings":
        """The settings one format's render uses (its preset; equal to a one-format batch's settings)."""
        return replace(self, preset=fmt, formats="")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merged(self, overrides: Mapping[str, Any]) -> "BatchSettings":
        """A copy with `overrides` applied (unknown names are an error)."""
        return replace(self, **_coerce(overrides))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "BatchSettings":
        return cls().merged(env_overrides(environ))


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings given as `BATCH_VIDEO_<FIELD>` environment variables, as written there."""
    environ = os.environ if environ is None else environ
    return {f.name: environ[ENV_PREFIX + f.name.upper()] for f in fields(BatchSettings) if ENV_PREFIX + f.name.upper() in environ}


def as_strings(overrides: Mapping[str, Any]) -> dict[str, str]:
    """Overrides checked against BatchSettings and written as strings (run tags, resource config); ConfigError names a bad one."""
    checked = BatchSettings().merged(overrides)
    out = {}
    for name in overrides:
        value = getattr(checked, name)
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _coerce(values: Mapping[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(BatchSettings)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in types:
            raise ConfigError(f"unknown batch setting {name!r}", field=name)
        kind = types[name]
        try:
            if kind == "bool" and isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                value = lowered in {"1", "true", "yes", "on"}
            elif kind == "float":
                value = float(value)
            elif kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = int(value)
            elif kind == "bool":
                value = bool(value)
            else:
                value = str(value)
        except ValueError:
            raise ConfigError(f"setting {name} has an invalid value {value!r} (expected {kind})", field=name) from None
        out[name] = value
    return out

"""The provider interface shared by every speech engine.

A provider turns text into a WAV file plus word timings. Providers know nothing
about caching, fallback or products: `batch_video.tts.synthesize_voiceover`
composes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from batch_video.models import WordTiming

_RATE_OR_VOLUME = re.compile(r"^[+-]\d{1,3}%$")
_PITCH = re.compile(r"^[+-]\d{1,4}Hz$")


@dataclass(frozen=True)
class Prosody:
    """Edge-style prosody strings: rate `+10%`, pitch `-5Hz`, volume `+0%`."""

    rate: str = "+0%"
    pitch: str = "+0Hz"
    volume: str = "+0%"

    def problems(self) -> list[tuple[str, str]]:
        """(settings field, reason) for every malformed value."""
        found = []
        if not _RATE_OR_VOLUME.match(self.rate):
            found.append(("tts_rate", f"rate {self.rate!r} must look like '+10%' or '-5%'"))
        if not _PITCH.match(self.pitch):
            found.append(("tts_pitch", f"pitch {self.pitch!r} must look like '+0Hz' or '-20Hz'"))
        if not _RATE_OR_VOLUME.match(self.volume):
            found.append(("tts_volume", f"volume {self.volume!r} must look like '+0%' or '-10%'"))
        return found

    @property
    def rate_factor(self) -> float:
        """Speaking-speed multiplier: `+25%` -> 1.25."""
        return 1.0 + int(self.rate.rstrip("%")) / 100.0 if _RATE_OR_VOLUME.match(self.rate) else 1.0

    @property
    def pitch_hz(self) -> int:
        return int(self.pitch[:-2]) if _PITCH.match(self.pitch) else 0

    @property
    def volume_factor(self) -> float:
        return 1.0 + int(self.volume.rstrip("%")) / 100.0 if _RATE_OR_VOLUME.match(self.volume) else 1.0


@dataclass(frozen=True)
class SpeechResult:
    """What a provider made: a WAV file at the requested path and its words."""

    audio_path: Path
    words: tuple[WordTiming, ...]
    timings_estimated: bool
    voice: str


@runtime_checkable
class SpeechProvider(Protocol):
    """One speech engine. `name` is what `Voiceover.provider` records."""

    name: str

    def validate(self, voice: str, prosody: Prosody) -> None:
        """Raise `ConfigError` for a voice or prosody the engine cannot use."""
        ...

    def synthesize(self, text: str, out_wav: Path, *, voice: str, prosody: Prosody) -> SpeechResult:
        """Speak `text` into `out_wav` (WAV). Raise `TransientError` on service failure."""
        ...

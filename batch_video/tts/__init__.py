"""Voiceover synthesis: providers `edge`, `espeak` and `auto`, with a shared cache.

`auto` asks Edge first; when Edge fails for network or service reasons, espeak-ng
speaks instead and the `Voiceover` records that and why. After such a failure
Edge is skipped for a cool-down (remembered in the cache folder), so an offline
batch does not wait through Edge's retries product after product.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from batch_video import files
from batch_video.errors import BatchVideoError, ConfigError, ProductDataError, TransientError
from batch_video.models import Voiceover
from batch_video.settings import BatchSettings
from batch_video.tts.audio import wav_duration
from batch_video.tts.base import Prosody, SpeechProvider, SpeechResult
from batch_video.tts.cache import CachedVoiceover, VoiceoverCache, cache_key, normalize_text
from batch_video.tts.edge import EdgeProvider, RetryPolicy, fetch_live_voice_names
from batch_video.tts.espeak import EspeakProvider
from batch_video.tts.fit import fit_voiceover

__all__ = [
    "EdgeProvider",
    "EdgeOutage",
    "EspeakProvider",
    "Prosody",
    "RetryPolicy",
    "SpeechProvider",
    "SpeechResult",
    "VoiceoverCache",
    "cache_key",
    "default_providers",
    "normalize_text",
    "synthesize_voiceover",
]

logger = logging.getLogger(__name__)

PROVIDERS = ("auto", "edge", "espeak")
EDGE_COOLDOWN_S = 300.0


class EdgeOutage:
    """Remembers that Edge just failed, so `auto` goes straight to espeak for a while.

    Kept in the cache folder when there is one, so separate runs (one per
    partition) share it; otherwise in this process only.
    """

    _memory: dict[str, tuple[float, str]] = {}
    _memory_lock = threading.Lock()

    def __init__(self, cache_dir: Path | None, *, cooldown_s: float = EDGE_COOLDOWN_S) -> None:
        self.path = cache_dir / "edge-outage.json" if cache_dir is not None else None
        self.cooldown_s = cooldown_s

    def current(self) -> str | None:
        """The reason Edge is being skipped, or None when it should be tried."""
        until, reason = 0.0, ""
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                until, reason = float(data["until"]), str(data["reason"])
            except (OSError, ValueError, KeyError):
                return None
        else:
            with self._memory_lock:
                until, reason = self._memory.get("edge", (0.0, ""))
        return reason if time.time() < until else None

    def record(self, reason: str) -> None:
        if self.cooldown_s <= 0:
            return
        until = time.time() + self.cooldown_s
        if self.path is None:
            with self._memory_lock:
                self._memory["edge"] = (until, reason)
            return
        try:
            files.write_json(self.path, {"until": until, "reason": reason})
        except OSError as exc:
            logger.debug("could not record the Edge outage: %s", exc)

    def clear(self) -> None:
        if self.path is None:
            with self._memory_lock:
                self._memory.pop("edge", None)
        elif self.path.exists():
            self.path.unlink(missing_ok=True)


def default_providers(cache_dir: Path | None = None) -> dict[str, SpeechProvider]:
    return {
        "edge": EdgeProvider(
            live_voices=fetch_live_voice_names,
            voice_list_cache=cache_dir / "edge-voices.json" if cache_dir is not None else None,
        ),
        "espeak": EspeakProvider(),
    }


def _voice_setting(provider: str, settings: BatchSettings) -> str:
    return settings.voice if provider == "edge" else settings.espeak_voice


def synthesize_voiceover(
    text: str,
    out_path: Path | str,
    settings: BatchSettings,
    *,
    cache_dir: Path | str | None = None,
    product_id: str | None = None,
    providers: Mapping[str, SpeechProvider] | None = None,
    edge_cooldown_s: float = EDGE_COOLDOWN_S,
) -> Voiceover:
    """Speak `text` into the WAV file `out_path`, using the cache when it can.

    Raises `ConfigError` for a bad voice/provider setting, `ProductDataError`
    for an empty script and `TransientError` when no provider could speak.
    """
    out_path = Path(out_path)
    cache_root = Path(cache_dir) if cache_dir is not None else None
    spoken = normalize_text(text)
    if not spoken:
        raise ProductDataError(
            "the voiceover script is empty", product_id=product_id, field="script", stage="voiceover"
        )
    requested = settings.tts_provider.strip().lower()
    if requested not in PROVIDERS:
        raise ConfigError(
            f"unknown tts_provider {settings.tts_provider!r} (choose one of {', '.join(PROVIDERS)})",
            field="tts_provider", product_id=product_id, stage="voiceover",
        )  # fmt: skip
    providers = dict(providers) if providers is not None else default_providers(cache_root)
    prosody = Prosody(rate=settings.tts_rate, pitch=settings.tts_pitch, volume=settings.tts_volume)
    cache = VoiceoverCache(cache_root / "voiceovers") if cache_root is not None else None
    outage = EdgeOutage(cache_root, cooldown_s=edge_cooldown_s)
    plan = ["edge", "espeak"] if requested == "auto" else [requested]
    fallback_reason: str | None = None
    # speech plus the tail must fit in the longest video; the cache keeps the full audio
    max_speech_s = settings.duration_max_s - settings.tail_s if settings.duration_max_s > settings.tail_s else None

    try:
        for name in plan:
            provider = providers[name]
            voice = _voice_setting(name, settings)
            can_fall_back = requested == "auto" and name != plan[-1]
            try:
                provider.validate(voice, prosody)
            except ConfigError as exc:
                if fallback_reason is None:
                    raise
                # Edge already failed; say both, and let a retry try Edge again
                raise TransientError(f"{fallback_reason}; and {name} cannot speak: {exc.message}",
                                     field=exc.field) from exc  # fmt: skip
            key = cache_key(name, voice, prosody, spoken)
            origin = _Origin(requested=requested, fallback_reason=fallback_reason, key=key, max_speech_s=max_speech_s)

            if cache is not None and (hit := cache.get(key)) is not None:
                return _deliver(hit, out_path, origin, cache_hit=True)
            if can_fall_back and (skipped := outage.current()) is not None:
                fallback_reason = f"edge skipped: it failed recently ({skipped})"
                logger.info("product %s: %s; using %s", product_id, fallback_reason, plan[-1])
                continue
            try:
                return _synthesize(provider, name, voice, prosody, spoken, out_path, cache, origin)
            except TransientError as exc:
                if not can_fall_back:
                    raise
                fallback_reason = f"edge failed: {exc.message}"
                outage.record(exc.message)
                logger.warning("product %s: %s; falling back to %s", product_id, fallback_reason, plan[-1])
    except BatchVideoError as exc:
        raise exc.with_context(product_id=product_id, stage="voiceover") from None
    raise AssertionError("unreachable: the last provider either returns or raises")


@dataclass(frozen=True)
class _Origin:
    """How a voiceover came to be, beyond the audio itself."""

    requested: str
    fallback_reason: str | None
    key: str
    max_speech_s: float | None = None


def _synthesize(
    provider: SpeechProvider,
    name: str,
    voice: str,
    prosody: Prosody,
    text: str,
    out_path: Path,
    cache: VoiceoverCache | None,
    origin: _Origin,
) -> Voiceover:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = files.temp_name_for(out_path, ".wav")  # the provider's output, copied from there or the cache
    try:
        if cache is None:
            result = provider.synthesize(text, scratch, voice=voice, prosody=prosody)
            made = CachedVoiceover(origin.key, scratch, name, result.voice, result.words, result.timings_estimated,
                                   wav_duration(scratch))  # fmt: skip
            return _deliver(made, out_path, origin, cache_hit=False)
        with cache.lock(origin.key):
            # another run may have made this exact audio while we waited for the lock
            if (hit := cache.get(origin.key)) is not None:
                return _deliver(hit, out_path, origin, cache_hit=True)
            result = provider.synthesize(text, scratch, voice=voice, prosody=prosody)
            stored = cache.put(origin.key, result.audio_path, provider=name, voice=result.voice, words=result.words,
                               timings_estimated=result.timings_estimated, text=text)  # fmt: skip
        return _deliver(stored, out_path, origin, cache_hit=False)
    finally:
        scratch.unlink(missing_ok=True)


def _deliver(audio: CachedVoiceover, out_path: Path, origin: _Origin, *, cache_hit: bool) -> Voiceover:
    words = tuple(audio.words)
    if origin.max_speech_s is not None and audio.duration_s > origin.max_speech_s:
        with files.atomic_path(out_path, suffix=".wav") as scratch:
            shutil.copyfile(audio.audio_path, scratch)
            words = fit_voiceover(scratch, words, audio.duration_s, origin.max_speech_s)
    else:
        files.copy_file(audio.audio_path, out_path)
    return Voiceover(
        audio_path=out_path,
        duration_s=wav_duration(out_path),
        provider=audio.provider,
        voice=audio.voice,
        words=words,
        timings_estimated=audio.timings_estimated,
        requested_provider=origin.requested,
        fallback_reason=origin.fallback_reason,
        cache_hit=cache_hit,
        cache_key=origin.key,
    )

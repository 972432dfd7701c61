"""Microsoft Edge's online voices through edge-tts, made dependable.

The service fails in the wild with 403s (clock skew, throttling), 503s,
"No audio received" and stalls. Each attempt has connect/receive timeouts and
an overall deadline; failures that may pass are retried with exponential
backoff and jitter; the final error names the voice and the last cause.
Word boundaries (`boundary="WordBoundary"`) become word timings.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import math
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import aiohttp
import edge_tts
from edge_tts import exceptions as edge_exceptions

from batch_video import files
from batch_video.errors import ConfigError, TransientError
from batch_video.models import WordTiming
from batch_video.tts.alignment import estimate_word_timings
from batch_video.tts.audio import convert_to_wav, read_wav_mono
from batch_video.tts.base import Prosody, SpeechResult
from batch_video.tts.edge_voices import KNOWN_EDGE_VOICES

logger = logging.getLogger(__name__)

TICKS_PER_SECOND = 10_000_000  # Edge offsets and durations are in 100-ns ticks
RETRY_HTTP_STATUSES = frozenset({403, 408, 429, 500, 502, 503, 504})
LIVE_LIST_RETRY_S = 600.0  # after the voice list could not be fetched, use the shipped list this long
_live_list_failed_at: dict[object, float] = {}
VOICE_NAME = re.compile(r"^[a-z]{2,3}-[A-Z]{2}(-[A-Za-z]+)?-[A-Za-z]+Neural$")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": delay n is in [d/2, d], d = base * factor**n."""

    attempts: int = 4
    base_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 8.0

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * self.factor**retry_number)
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def retry_reason(exc: BaseException) -> str | None:
    """A short reason when `exc` is a service/network failure worth retrying, else None."""
    if isinstance(exc, edge_exceptions.NoAudioReceived):
        return "no audio received"
    if isinstance(exc, aiohttp.ClientResponseError):  # includes WSServerHandshakeError
        if exc.status in RETRY_HTTP_STATUSES:
            return f"HTTP {exc.status}"
        return None
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError)):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return f"connection failed ({type(exc).__name__}: {exc})"
    if isinstance(
        exc,
        (
            edge_exceptions.WebSocketError,
            edge_exceptions.UnexpectedResponse,
            edge_exceptions.UnknownResponse,
            edge_exceptions.SkewAdjustmentError,
        ),
    ):
        return f"service error ({type(exc).__name__}: {exc})"
    return None


def _run_coroutine(factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion even when the caller already has an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    outcome: dict[str, Any] = {}

    def worker() -> None:
        try:
            outcome["value"] = asyncio.run(factory())
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=worker, name="edge-tts")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def words_from_boundaries(boundaries: Iterable[dict[str, Any]]) -> tuple[WordTiming, ...]:
    """edge-tts `WordBoundary` chunks (offset/duration in ticks) -> word timings in seconds."""
    words = []
    for chunk in boundaries:
        if not any(char.isalnum() for char in chunk["text"]):
            continue  # the service may time punctuation too; captions show words
        start = chunk["offset"] / TICKS_PER_SECOND
        end = (chunk["offset"] + chunk["duration"]) / TICKS_PER_SECOND
        words.append(WordTiming(word=chunk["text"], start=round(start, 3), end=round(end, 3)))
    return tuple(words)


class EdgeProvider:
    name = "edge"

    def __init__(
        self,
        *,
        retry: RetryPolicy = RetryPolicy(),
        connect_timeout_s: int = 10,
        receive_timeout_s: int = 30,
        attempt_timeout_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        communicate_factory: Callable[..., Any] = edge_tts.Communicate,
        live_voices: Callable[[], Iterable[str]] | None = None,
        voice_list_cache: Path | None = None,
    ) -> None:
        self.retry = retry
        self.connect_timeout_s = max(1, int(math.ceil(connect_timeout_s)))
        self.receive_timeout_s = max(1, int(math.ceil(receive_timeout_s)))
        self.attempt_timeout_s = attempt_timeout_s
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.communicate_factory = communicate_factory
        self.live_voices = live_voices
        self.voice_list_cache = voice_list_cache
        self.attempt_log: list[str] = []  # one line per failed attempt, for tests and logs

    # -- voices ---------------------------------------------------------
    def known_voices(self) -> tuple[frozenset[str], bool]:
        """(voice names, whether the list is the service's complete one)."""
        if self.voice_list_cache is not None and self.voice_list_cache.exists():
            try:
                cached = json.loads(self.voice_list_cache.read_text(encoding="utf-8"))
                if time.time() - cached.get("fetched_at", 0) < 7 * 24 * 3600:
                    return frozenset(cached["voices"]), True
            except (OSError, ValueError, KeyError):
                pass
        failed_at = _live_list_failed_at.get(self.live_voices)
        recently_failed = failed_at is not None and time.monotonic() - failed_at < LIVE_LIST_RETRY_S
        if self.live_voices is not None and not recently_failed:
            try:
                names = frozenset(self.live_voices())
            except Exception as exc:  # offline or throttled: fall back to the shipped list
                _live_list_failed_at[self.live_voices] = time.monotonic()
                logger.info("edge voice list unavailable (%s); validating against the shipped list", exc)
            else:
                if names:
                    self._remember_voices(names)
                    return names, True
        return KNOWN_EDGE_VOICES, False

    def _remember_voices(self, names: frozenset[str]) -> None:
        if self.voice_list_cache is None:
            return
        try:
            files.write_json(self.voice_list_cache, {"fetched_at": time.time(), "voices": sorted(names)})
        except OSError as exc:
            logger.debug("could not save the edge voice list: %s", exc)

    def validate(self, voice: str, prosody: Prosody) -> None:
        for field, reason in prosody.problems():
            raise ConfigError(reason, field=field)
        if voice in KNOWN_EDGE_VOICES:
            return  # no need to ask the service about the usual voices
        names, complete = self.known_voices()
        if voice in names:
            return
        close = difflib.get_close_matches(voice, sorted(names | KNOWN_EDGE_VOICES), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if complete or close or not VOICE_NAME.match(voice):
            raise ConfigError(f"unknown Edge voice {voice!r}{hint} (format: 'ro-RO-EmilNeural')", field="voice")
        logger.warning("Edge voice %r is not in the shipped list and the live list is unreachable; trying it", voice)

    # -- synthesis ------------------------------------------------------
    def synthesize(self, text: str, out_wav: Path, *, voice: str, prosody: Prosody) -> SpeechResult:
        reasons: list[str] = []
        for attempt in range(1, self.retry.attempts + 1):
            try:
                audio, boundaries = _run_coroutine(lambda: self._one_attempt(text, voice, prosody))
            except Exception as exc:
                reason = retry_reason(exc)
                if reason is None:
                    raise TransientError(
                        f"Edge TTS failed for voice {voice} ({type(exc).__name__}: {exc}); not retried",
                        field="voice", stage="voiceover",
                    ) from exc  # fmt: skip
                reasons.append(reason)
                self.attempt_log.append(f"attempt {attempt}: {reason}")
                if attempt < self.retry.attempts:
                    delay = self.retry.delay(attempt - 1, self.rng)
                    logger.warning(
                        "Edge TTS attempt %d/%d for voice %s failed (%s); retrying in %.2fs",
                        attempt, self.retry.attempts, voice, reason, delay,
                    )  # fmt: skip
                    self.sleep(delay)
                continue
            mp3 = files.temp_name_for(out_wav, ".mp3")
            try:
                mp3.write_bytes(audio)
                convert_to_wav(mp3, out_wav)
            finally:
                mp3.unlink(missing_ok=True)
            words = words_from_boundaries(boundaries)
            if words:
                return SpeechResult(audio_path=out_wav, words=words, timings_estimated=False, voice=voice)
            # the service occasionally sends audio without boundaries; captions still need timings
            logger.warning("Edge sent no word boundaries for voice %s; estimating word timings from the audio", voice)
            samples, rate = read_wav_mono(out_wav)
            estimated = estimate_word_timings(samples, rate, text)
            return SpeechResult(audio_path=out_wav, words=estimated, timings_estimated=True, voice=voice)
        history = f" (attempts: {'; '.join(reasons)})" if len(set(reasons)) > 1 else ""
        raise TransientError(
            f"Edge TTS failed for voice {voice} after {self.retry.attempts} attempts; "
            f"last error: {reasons[-1] if reasons else 'none'}{history}",
            field="voice", stage="voiceover",
        )  # fmt: skip

    async def _one_attempt(self, text: str, voice: str, prosody: Prosody) -> tuple[bytes, list[dict[str, Any]]]:
        communicate = self.communicate_factory(
            text,
            voice,
            rate=prosody.rate,
            volume=prosody.volume,
            pitch=prosody.pitch,
            boundary="WordBoundary",
            connect_timeout=self.connect_timeout_s,
            receive_timeout=self.receive_timeout_s,
        )
        audio = bytearray()
        boundaries: list[dict[str, Any]] = []

        async def consume() -> None:
            async for chunk in communicate.stream():
                if chunk["type"] == "audio":
                    audio.extend(chunk["data"])
                elif chunk["type"] == "WordBoundary":
                    boundaries.append(chunk)

        await asyncio.wait_for(consume(), timeout=self.attempt_timeout_s)
        if not audio:
            raise edge_exceptions.NoAudioReceived("the stream ended without audio")
        return bytes(audio), boundaries


def fetch_live_voice_names(timeout_s: float = 10.0) -> list[str]:
    """Short names of every voice the service offers (needs the network)."""

    async def fetch() -> list[str]:
        voices = await asyncio.wait_for(edge_tts.list_voices(), timeout=timeout_s)
        return [v["ShortName"] for v in voices]

    return _run_coroutine(fetch)

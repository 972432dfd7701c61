"""A content-addressed voiceover cache shared by every product and run.

Key: provider, voice, prosody and normalized text. An entry is a folder
holding `audio.wav` and `meta.json`, built in a temporary folder and renamed
into place, so readers see a whole entry or none; when two writers race, the
first rename wins and the loser drops its copy. A per-key lock file keeps
concurrent runs from synthesizing the same audio twice.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from batch_video.hashing import file_sha256
from batch_video.models import WordTiming
from batch_video.tts.audio import wav_duration
from batch_video.tts.base import Prosody

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the audio or timings a provider makes change meaning
_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})


def normalize_text(text: str) -> str:
    """What counts as "the same script": NFC, Romanian comma letters, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_CEDILLA_TO_COMMA)
    return re.sub(r"\s+", " ", text).strip()


def cache_key(provider: str, voice: str, prosody: Prosody, text: str) -> str:
    blob = json.dumps(
        [CACHE_FORMAT, provider, voice, prosody.rate, prosody.pitch, prosody.volume, normalize_text(text)],
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedVoiceover:
    key: str
    audio_path: Path
    provider: str
    voice: str
    words: tuple[WordTiming, ...]
    timings_estimated: bool
    duration_s: float


class VoiceoverCache:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> CachedVoiceover | None:
        entry = self._entry(key)
        meta_path, audio_path = entry / "meta.json", entry / "audio.wav"
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if audio_path.stat().st_size != meta["audio_bytes"]:
                raise ValueError("audio size differs from meta.json")
            if file_sha256(audio_path) != meta["audio_sha256"]:
                raise ValueError("audio content differs from meta.json")  # damaged in place, same size
            with contextlib.suppress(OSError):
                os.utime(meta_path)  # marks the entry as recently used, for prune()
            return CachedVoiceover(
                key=key,
                audio_path=audio_path,
                provider=meta["provider"],
                voice=meta["voice"],
                words=tuple(WordTiming(w, float(s), float(e)) for w, s, e in meta["words"]),
                timings_estimated=bool(meta["timings_estimated"]),
                duration_s=float(meta["duration_s"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("voiceover cache entry %s is damaged (%s); discarding it", key, exc)
            self._discard(entry)
            return None

    def put(
        self,
        key: str,
        wav_path: Path,
        *,
        provider: str,
        voice: str,
        words: tuple[WordTiming, ...],
        timings_estimated: bool,
        text: str,
    ) -> CachedVoiceover:
        """Store a finished WAV under `key`; returns the entry that ended up in the cache."""
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = entry.parent / f".{key}.{uuid.uuid4().hex}.tmp"
        staging.mkdir()
        try:
            audio = staging / "audio.wav"
            shutil.copyfile(wav_path, audio)
            meta = {
                "format": CACHE_FORMAT,
                "provider": provider,
                "voice": voice,
                "text": normalize_text(text),
                "words": [[w.word, w.start, w.end] for w in words],
                "timings_estimated": timings_estimated,
                "duration_s": wav_duration(audio),
                "audio_bytes": audio.stat().st_size,
                "audio_sha256": file_sha256(audio),
                "created_at": time.time(),
            }
            (staging / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            for path in (audio, staging / "meta.json"):
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
            try:
                os.rename(staging, entry)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                logger.debug("voiceover cache entry %s was written by another run first", key)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        stored = self.get(key)
        if stored is None:
            raise OSError(f"voiceover cache entry {key} vanished right after it was written")
        return stored

    @contextlib.contextmanager
    def lock(self, key: str, *, timeout_s: float = 600.0, poll_s: float = 0.05) -> Iterator[bool]:
        """Hold the key's lock while synthesizing; yields False if it could not be had in time.

        Another run holding the lock is making the same audio: waiting for it
        turns our synthesis into a cache hit. After `timeout_s` we go ahead
        anyway, since a duplicate synthesis beats a stuck partition.
        """
        lock_path = self.root / key[:2] / f"{key}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+b") as handle:
            deadline = time.monotonic() + timeout_s
            acquired = False
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    acquired = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        logger.warning("voiceover cache lock %s still held after %.0fs; going ahead", key, timeout_s)
                        break
                    time.sleep(poll_s)
            try:
                yield acquired
            finally:
                if acquired:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def prune(self, *, max_bytes: int | None = None, older_than_s: float | None = None) -> int:
        """Delete entries unused for `older_than_s`, then the least recently used past `max_bytes`.

        Returns how many entries went. A hit refreshes an entry's use time. Meant for
        between batches: an entry pruned while a run copies it out fails that copy.
        """
        entries = []
        for meta in self.root.glob("??/*/meta.json"):
            try:
                stat = meta.stat()
                size = sum(p.stat().st_size for p in meta.parent.iterdir())
            except OSError:
                continue
            entries.append((stat.st_mtime, size, meta.parent))
        entries.sort()  # oldest use first
        now = time.time()
        total = sum(size for _, size, _ in entries)
        removed = 0
        for used_at, size, entry in entries:
            too_old = older_than_s is not None and now - used_at > older_than_s
            too_big = max_bytes is not None and total > max_bytes
            if not (too_old or too_big):
                continue
            self._discard(entry)
            total -= size
            removed += 1
        return removed

    def _discard(self, entry: Path) -> None:
        # rename first so that a concurrent reader never sees a half-deleted entry
        aside = entry.parent / f".{entry.name}.{uuid.uuid4().hex}.discard"
        with contextlib.suppress(OSError):
            os.rename(entry, aside)
            shutil.rmtree(aside, ignore_errors=True)

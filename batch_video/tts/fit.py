"""Keep a voiceover within the longest allowed video, ending on a word, not inside one.

Scripts are trimmed by an estimate of speaking time before synthesis; when the
real audio still runs long, it is cut here at the last pause (or, failing
that, the last word end) before the limit, with a short fade, and the words
past the cut are dropped from the timings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from batch_video.models import WordTiming
from batch_video import files
from batch_video.tts.audio import read_wav_mono, write_wav_mono

logger = logging.getLogger(__name__)

PAUSE_S = 0.25  # a gap this long after a word is a phrase or sentence end
FADE_S = 0.05
PREFER_PAUSE_FROM = 0.6  # end at a pause if it keeps at least this share of the allowed time


@dataclass(frozen=True)
class Cut:
    at_s: float
    words_kept: int


def cut_point(words: Sequence[WordTiming], duration_s: float, max_s: float) -> Cut | None:
    """Where speech running past `max_s` should end, or None when it already fits."""
    if duration_s <= max_s:
        return None
    latest_word: Cut | None = None
    latest_pause: Cut | None = None
    for index, word in enumerate(words):
        if word.end > max_s - FADE_S:
            break
        following = words[index + 1].start if index + 1 < len(words) else duration_s
        gap = max(following - word.end, 0.0)
        cut = Cut(at_s=min(word.end + min(gap / 2, 0.15), max_s), words_kept=index + 1)
        latest_word = cut
        if gap >= PAUSE_S:
            latest_pause = cut
    if latest_pause is not None and latest_pause.at_s >= PREFER_PAUSE_FROM * max_s:
        return latest_pause
    if latest_word is not None:
        return latest_word
    return Cut(at_s=max_s, words_kept=0)  # not one word fits: a hard cut is all that is left


def trim_wav(path: Path, end_s: float, *, fade_s: float = FADE_S) -> None:
    """Shorten a mono WAV to `end_s` seconds with a linear fade-out, atomically."""
    samples, rate = read_wav_mono(path)
    keep = min(len(samples), int(round(end_s * rate)))
    trimmed = samples[:keep].copy()
    fade = min(keep, int(round(fade_s * rate)))
    if fade:
        trimmed[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    with files.atomic_path(path, suffix=".wav") as scratch:
        write_wav_mono(scratch, trimmed, rate)


def fit_voiceover(path: Path, words: tuple[WordTiming, ...], duration_s: float, max_s: float) -> tuple[WordTiming, ...]:
    """Trim the WAV at `path` in place if it is longer than `max_s`; return the words still spoken."""
    cut = cut_point(words, duration_s, max_s)
    if cut is None:
        return words
    trim_wav(path, cut.at_s)
    logger.warning(
        "voiceover of %.2fs is longer than the %.2fs allowed; cut at %.2fs after %d of %d words",
        duration_s, max_s, cut.at_s, cut.words_kept, len(words),
    )  # fmt: skip
    return words[: cut.words_kept]

"""Captions from word timings: cues of a few words, and SRT.

The renderer draws cues (highlighting the current word); this module only
decides which words share a cue and when each cue shows.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from batch_video.models import CaptionCue, WordTiming

PAUSE_BREAK_S = 0.3  # a silence this long starts a new cue even if the current one has room
MAX_CUE_CHARS = 24  # keeps a cue on one or two short lines at any preset
HOLD_S = 0.25  # keep a cue on screen a little after its last word, unless the next starts first
MIN_CUE_S = 0.3


def clean_words(words: Iterable[WordTiming]) -> list[WordTiming]:
    """Drop empty words and make times monotonic (start <= end, no overlap with the next)."""
    cleaned: list[WordTiming] = []
    for word in words:
        text = " ".join(word.word.split())
        if not text:
            continue
        start = max(float(word.start), cleaned[-1].start if cleaned else 0.0)
        end = max(float(word.end), start)
        if cleaned and cleaned[-1].end > start:
            previous = cleaned[-1]
            cleaned[-1] = WordTiming(previous.word, previous.start, max(previous.start, start))
        cleaned.append(WordTiming(text, round(start, 3), round(end, 3)))
    return cleaned


def build_caption_cues(
    words: Sequence[WordTiming],
    *,
    max_words: int = 3,
    max_chars: int = MAX_CUE_CHARS,
    pause_break_s: float = PAUSE_BREAK_S,
) -> tuple[CaptionCue, ...]:
    """Group words into cues of at most `max_words` words / `max_chars` characters.

    A new cue also starts after a pause or after a word ending a sentence, so
    a cue never straddles a breath.
    """
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    groups: list[list[WordTiming]] = []
    for word in clean_words(words):
        current = groups[-1] if groups else None
        if current:
            chars = len(" ".join(w.word for w in current)) + 1 + len(word.word)
            gap = word.start - current[-1].end
            ends_sentence = current[-1].word[-1:] in ".!?…"
            if len(current) < max_words and chars <= max_chars and gap < pause_break_s and not ends_sentence:
                current.append(word)
                continue
        groups.append([word])

    cues: list[CaptionCue] = []
    for index, group in enumerate(groups):
        start = group[0].start
        end = max(group[-1].end + HOLD_S, start + MIN_CUE_S)
        if index + 1 < len(groups):
            end = min(end, groups[index + 1][0].start)  # the next cue replaces this one
        end = max(end, group[-1].end)
        cues.append(CaptionCue(start=round(start, 3), end=round(end, 3), words=tuple(group)))
    return tuple(cues)


def srt_timestamp(seconds: float) -> str:
    """`3.5` -> `00:00:03,500`."""
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def to_srt(cues: Sequence[CaptionCue]) -> str:
    """SubRip text: numbered cues, blank-line separated, ending in a newline."""
    blocks = []
    for number, cue in enumerate(cues, start=1):
        blocks.append(f"{number}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n{cue.text}\n")
    return "\n".join(blocks)

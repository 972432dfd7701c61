"""Word timings estimated from audio and text alone (for engines that give none).

espeak-ng's command line returns audio only. We recover word starts in two
steps: (1) silence segmentation finds the pauses the engine puts at
punctuation, and a small dynamic program decides which detected pauses are
the phrase breaks of the text; (2) inside each phrase, time is shared among
words in proportion to how long each should take to say (a letter-based
weight), and each boundary then moves to the quietest nearby frame, since
word joins often dip in energy. The result is marked `estimated`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from batch_video.models import WordTiming

FRAME_S = 0.01
MIN_PAUSE_S = 0.06  # shorter silences are stop closures inside speech
SNAP_WINDOW_S = 0.06
_PHRASE_BREAK = re.compile(r"[,.;:!?…]+$")
_SENTENCE_END = re.compile(r"[.!?…]+$")
_EDGE_PUNCTUATION = "\"'„”“«»()[]{}<>,.;:!?…*"
_VOWELS = set("aeiouăâîyáéíóúàèìòùäëïöüœæ")


@dataclass(frozen=True)
class SpeechToken:
    word: str  # as shown in captions (outer punctuation removed)
    weight: float  # relative time needed to say it
    break_after: int  # 0 none, 1 clause (comma), 2 sentence


def speech_tokens(text: str) -> list[SpeechToken]:
    """Words of `text` as the engine will say them, with pause hints."""
    tokens: list[SpeechToken] = []
    for raw in text.split():
        stripped = raw.strip(_EDGE_PUNCTUATION + "-–—")
        if not stripped:
            if tokens and _PHRASE_BREAK.search(raw):
                last = tokens[-1]
                tokens[-1] = SpeechToken(last.word, last.weight, max(last.break_after, _break_level(raw)))
            continue
        tokens.append(SpeechToken(stripped, word_weight(stripped), _break_level(raw)))
    return tokens


def _break_level(raw: str) -> int:
    tail = raw.rstrip("\"'”“»)]}")
    if _SENTENCE_END.search(tail):
        return 2
    if _PHRASE_BREAK.search(tail):
        return 1
    return 0


def word_weight(word: str) -> float:
    """Approximate speaking time in letter units; digits are read as whole words."""
    base = unicodedata.normalize("NFD", word.lower())
    weight = 0.6  # every word costs a little: onset, transitions
    for char in base:
        if unicodedata.combining(char):
            continue
        if char.isdigit():
            weight += 2.5
        elif char in _VOWELS:
            weight += 1.0
        elif char.isalpha():
            weight += 0.75
    return weight


def frame_levels_db(samples: np.ndarray, sample_rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level of each frame in dBFS."""
    hop = max(1, int(round(frame_s * sample_rate)))
    count = len(samples) // hop
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    frames = samples[: count * hop].astype(np.float64).reshape(count, hop)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return 20.0 * np.log10(rms + 1e-9)


def silent_frames(levels_db: np.ndarray, *, floor_db: float = -55.0, below_peak_db: float = 40.0) -> np.ndarray:
    if levels_db.size == 0:
        return np.zeros(0, dtype=bool)
    threshold = max(floor_db, float(np.percentile(levels_db, 95)) - below_peak_db)
    return levels_db < threshold


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges where mask is True."""
    runs = []
    start = None
    for index, value in enumerate(mask):
        if value and start is None:
            start = index
        elif not value and start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def estimate_word_timings(samples: np.ndarray, sample_rate: int, text: str) -> tuple[WordTiming, ...]:
    """Word start/end times for `text` spoken in `samples` (mono float)."""
    tokens = speech_tokens(text)
    if not tokens:
        return ()
    levels = frame_levels_db(samples, sample_rate)
    silent = silent_frames(levels)
    voiced = np.flatnonzero(~silent)
    if voiced.size == 0:
        # nothing audible: spread words over the whole clip rather than fail
        total = len(samples) / float(sample_rate) if sample_rate else 0.0
        return _spread(tokens, 0.0, total)
    first, last = int(voiced[0]), int(voiced[-1]) + 1
    min_pause = int(round(MIN_PAUSE_S / FRAME_S))
    pauses = [(s, e) for s, e in _runs(silent[first:last]) if e - s >= min_pause]
    pauses = [(s + first, e + first) for s, e in pauses]

    phrases = _merge_phrases(_phrases(tokens), len(pauses) + 1)
    chosen = _choose_phrase_pauses(phrases, pauses, first, last)
    bounds = [first] + [p for pause in chosen for p in pause] + [last]
    timings: list[WordTiming] = []
    for index, phrase in enumerate(phrases):
        start_f, end_f = bounds[2 * index], bounds[2 * index + 1]
        timings.extend(_align_phrase(phrase, start_f, end_f, levels, silent))
    return tuple(timings)


def _phrases(tokens: list[SpeechToken]) -> list[list[SpeechToken]]:
    phrases: list[list[SpeechToken]] = [[]]
    for token in tokens:
        phrases[-1].append(token)
        if token.break_after:
            phrases.append([])
    return [p for p in phrases if p]


def _merge_phrases(phrases: list[list[SpeechToken]], at_most: int) -> list[list[SpeechToken]]:
    """Join phrases until there are no more than the audio has pauses to separate.

    The engine may run a comma into the next word without a pause; the
    weakest break (comma before full stop, then the lightest pair) goes first.
    """
    phrases = [list(p) for p in phrases]
    while len(phrases) > max(at_most, 1):
        def cost(i: int) -> tuple[int, float]:
            return (phrases[i][-1].break_after, sum(t.weight for t in phrases[i] + phrases[i + 1]))

        weakest = min(range(len(phrases) - 1), key=cost)
        phrases[weakest : weakest + 2] = [phrases[weakest] + phrases[weakest + 1]]
    return phrases


def _choose_phrase_pauses(
    phrases: list[list[SpeechToken]], pauses: list[tuple[int, int]], first: int, last: int
) -> list[tuple[int, int]]:
    """Pick len(phrases)-1 detected pauses (in order) as the phrase breaks.

    Cost of a choice: how far each phrase's spoken length strays (log ratio)
    from its share of the text's weight, minus a bonus for long pauses, since
    punctuation pauses are the longest silences espeak makes.
    """
    needed = len(phrases) - 1
    if needed <= 0:
        return []
    if len(pauses) < needed:
        raise ValueError("merge phrases down to the number of pauses first")
    weights = [sum(t.weight for t in p) for p in phrases]
    total_weight = sum(weights)
    speech_frames = (last - first) - sum(e - s for s, e in pauses)
    frames_per_weight = max(speech_frames, 1) / total_weight

    def phrase_cost(index: int, start: int, end: int, inner_pause_frames: int) -> float:
        spoken = max(end - start - inner_pause_frames, 1)
        expected = weights[index] * frames_per_weight
        return math.log(spoken / expected) ** 2

    pause_frames = [e - s for s, e in pauses]
    prefix = [0]
    for length in pause_frames:
        prefix.append(prefix[-1] + length)

    def inner(a: int, b: int) -> int:  # total length of pauses with index in [a, b)
        return prefix[b] - prefix[a] if b > a else 0

    k = len(pauses)
    inf = float("inf")
    # best[i][j]: phrases 0..i placed, phrase i ends at pause j
    best = [[inf] * k for _ in range(needed)]
    back = [[-1] * k for _ in range(needed)]
    for j in range(k):
        best[0][j] = phrase_cost(0, first, pauses[j][0], inner(0, j)) - _pause_bonus(pause_frames[j])
    for i in range(1, needed):
        for j in range(i, k):
            for prev in range(i - 1, j):
                if best[i - 1][prev] == inf:
                    continue
                cost = best[i - 1][prev] + phrase_cost(i, pauses[prev][1], pauses[j][0], inner(prev + 1, j))
                cost -= _pause_bonus(pause_frames[j])
                if cost < best[i][j]:
                    best[i][j], back[i][j] = cost, prev
    final = inf
    end_at = -1
    for j in range(needed - 1, k):
        if best[needed - 1][j] == inf:
            continue
        cost = best[needed - 1][j] + phrase_cost(needed, pauses[j][1], last, inner(j + 1, k))
        if cost < final:
            final, end_at = cost, j
    chosen_index = [end_at]
    for i in range(needed - 1, 0, -1):
        chosen_index.append(back[i][chosen_index[-1]])
    return [pauses[j] for j in reversed(chosen_index)]


def _pause_bonus(frames: int) -> float:
    return 0.5 * math.log1p(frames * FRAME_S / MIN_PAUSE_S)


def _align_phrase(
    phrase: list[SpeechToken], start_f: int, end_f: int, levels: np.ndarray, silent: np.ndarray
) -> list[WordTiming]:
    weights = np.array([t.weight for t in phrase], dtype=np.float64)
    edges = start_f + np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum() * (end_f - start_f)
    snap = int(round(SNAP_WINDOW_S / FRAME_S))
    boundaries = [float(start_f)]
    for position in edges[1:-1]:
        centre = int(round(position))
        low = max(int(boundaries[-1]) + 1, centre - snap)
        high = min(end_f - 1, centre + snap)
        if high > low:
            window = levels[low:high]
            # prefer the quietest frame; ties (true silence) go to the one nearest the estimate
            quietest = float(window.min())
            candidates = np.flatnonzero(window <= quietest + 1.0) + low
            centre = int(candidates[np.argmin(np.abs(candidates - position))])
        boundaries.append(float(max(centre, int(boundaries[-1]) + 1)))
    boundaries.append(float(end_f))
    return [
        WordTiming(word=token.word, start=round(boundaries[i] * FRAME_S, 3), end=round(boundaries[i + 1] * FRAME_S, 3))
        for i, token in enumerate(phrase)
    ]


def _spread(tokens: list[SpeechToken], start: float, end: float) -> tuple[WordTiming, ...]:
    weights = [t.weight for t in tokens]
    total = sum(weights)
    out = []
    cursor = start
    for token, weight in zip(tokens, weights):
        length = (end - start) * weight / total
        out.append(WordTiming(token.word, round(cursor, 3), round(cursor + length, 3)))
        cursor += length
    return tuple(out)

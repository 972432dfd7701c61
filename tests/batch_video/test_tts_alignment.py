"""Estimated word timings for espeak-ng, checked against espeak-ng's own word positions.

Ground truth: libespeak-ng (through ctypes) reports an `espeakEVENT_WORD` with
the audio position of each word while synthesizing. After a pause the event
sits where the pause begins, so a word's true start is the first audible
frame at or after its event. The estimator sees only the WAV from the
espeak-ng command line and the text.
"""

from __future__ import annotations

import numpy as np
import pytest

from batch_video.models import WordTiming
from batch_video.tts import EspeakProvider, Prosody, espeak_lib
from batch_video.tts.alignment import (
    FRAME_S,
    estimate_word_timings,
    frame_levels_db,
    silent_frames,
    speech_tokens,
    word_weight,
)
from batch_video.tts.audio import read_wav_mono

TOLERANCE_S = 0.150
REFERENCE = [
    "Căști wireless Sony, cu anulare activă a zgomotului. "
    "Preț: o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani.",
    "Aspirator robot Xiaomi. Autonomie de două ore, rezervor de jumătate de litru. Comandă acum!",
    "Pantofi sport pentru alergare, din material respirabil. Reducere de douăzeci la sută. "
    "Livrare gratuită în toată țara.",
    "Espressor automat De Longhi Magnifica, cu râșniță integrată și spumare de lapte. "
    "Preț: două mii o sută de lei.",
    "Set de oale din inox, cinci piese, potrivite pentru toate tipurile de plite, inclusiv inducție.",
]

# Only the comparison against the library needs it; the estimator tests below are plain numpy. The library
# comes with Debian's espeak-ng (libespeak-ng1), which `make test` installs, so there this skip fails the run.
needs_libespeak = pytest.mark.skipif(
    not espeak_lib.available(), reason="libespeak-ng.so.1 is not loadable (install espeak-ng: make system-deps)"
)


def true_starts(words: tuple[espeak_lib.LibraryWord, ...], samples: np.ndarray, rate: int) -> list[float]:
    silent = silent_frames(frame_levels_db(samples, rate))
    starts = []
    for word in words:
        frame = int(round(word.start_s / FRAME_S))
        while frame < len(silent) and silent[frame]:
            frame += 1
        starts.append(frame * FRAME_S)
    return starts


def spoken_words(words: tuple[espeak_lib.LibraryWord, ...]) -> tuple[espeak_lib.LibraryWord, ...]:
    return tuple(w for w in words if any(c.isalnum() for c in w.text))


@needs_libespeak
def test_estimated_word_starts_match_espeak_word_events(tmp_path, capsys):
    provider = EspeakProvider()
    errors: list[float] = []
    raw_errors: list[float] = []  # against the event positions as reported, pauses included
    truths = espeak_lib.synthesize_fresh(REFERENCE, voice="ro")
    for index, (text, truth) in enumerate(zip(REFERENCE, truths)):
        render = provider.synthesize(text, tmp_path / f"r{index}.wav", voice="ro", prosody=Prosody())
        cli_samples, cli_rate = read_wav_mono(render.audio_path)
        library_samples = truth.samples.astype(np.float32) / 32768.0
        # the library and the command line make the same audio, so the events time the CLI render
        assert truth.sample_rate == cli_rate
        assert np.array_equal(cli_samples[: len(library_samples)], library_samples)

        words = spoken_words(truth.words)
        assert [w.word for w in render.words] == [w.text for w in words]
        reference = true_starts(words, library_samples, truth.sample_rate)
        errors.extend(abs(est.start - ref) for est, ref in zip(render.words, reference))
        raw_errors.extend(abs(est.start - w.start_s) for est, w in zip(render.words, words))

    errors_ms = np.array(errors) * 1000
    within = float(np.mean(errors_ms <= TOLERANCE_S * 1000))
    with capsys.disabled():
        print(
            f"\n[caption timing] espeak-ng ro, {len(errors)} words in {len(REFERENCE)} sentences: "
            f"{within:.1%} of estimated starts within {TOLERANCE_S * 1000:.0f} ms of libespeak-ng word events; "
            f"median {np.median(errors_ms):.0f} ms, p90 {np.percentile(errors_ms, 90):.0f} ms, max {errors_ms.max():.0f} ms "
            f"(against the unadjusted event positions: {np.mean(np.array(raw_errors) <= TOLERANCE_S):.1%})"
        )
    assert within >= 0.80


def test_tokens_keep_words_and_phrase_breaks():
    tokens = speech_tokens("Preț: o mie, de lei. „Nou” - acum!")
    assert [t.word for t in tokens] == ["Preț", "o", "mie", "de", "lei", "Nou", "acum"]
    assert [t.break_after for t in tokens] == [1, 0, 1, 0, 2, 0, 2]
    assert word_weight("patruzeci") > word_weight("mie") > word_weight("o")


def test_estimator_finds_phrase_pauses_in_synthetic_audio():
    # three "words" of tone separated by silences; the middle silence is the comma pause
    rate = 16000
    def tone(seconds: float) -> np.ndarray:
        return 0.3 * np.sin(2 * np.pi * 200 * np.arange(int(rate * seconds)) / rate)
    def hush(seconds: float) -> np.ndarray:
        return np.zeros(int(rate * seconds))
    samples = np.concatenate([hush(0.2), tone(0.5), hush(0.4), tone(0.5), tone(0.5), hush(0.3)]).astype(np.float32)
    timings = estimate_word_timings(samples, rate, "mama, tata nana")
    assert [w.word for w in timings] == ["mama", "tata", "nana"]
    assert timings[0].start == pytest.approx(0.2, abs=0.02)
    assert timings[0].end == pytest.approx(0.7, abs=0.02)
    assert timings[1].start == pytest.approx(1.1, abs=0.02)
    assert timings[2].start == pytest.approx(1.6, abs=0.08)
    assert timings[2].end == pytest.approx(2.1, abs=0.02)


def test_estimator_copes_with_fewer_pauses_than_punctuation():
    rate = 16000
    tone = 0.3 * np.sin(2 * np.pi * 200 * np.arange(int(rate * 0.4)) / rate)
    hush = np.zeros(int(rate * 0.3))
    # four punctuated phrases but the audio pauses only once, after the sentence
    samples = np.concatenate([tone, tone, tone, hush, tone]).astype(np.float32)
    timings = estimate_word_timings(samples, rate, "unu, doi, trei. patru")
    assert [w.word for w in timings] == ["unu", "doi", "trei", "patru"]
    assert timings[3].start == pytest.approx(1.5, abs=0.02)
    starts = [w.start for w in timings]
    assert starts == sorted(starts) and timings[2].end <= 1.2 + 0.02
    # no pause at all: the whole utterance is one phrase
    flat = estimate_word_timings(np.concatenate([tone, tone]).astype(np.float32), rate, "unu. doi")
    assert flat[0].start == 0.0 and flat[1].start == pytest.approx(0.4, abs=0.08)


def test_estimator_spreads_words_over_silent_audio_instead_of_failing():
    timings = estimate_word_timings(np.zeros(16000, dtype=np.float32), 16000, "unu doi")
    assert [w.word for w in timings] == ["unu", "doi"]
    assert timings[0].start == 0.0 and timings[-1].end == pytest.approx(1.0)
    assert all(isinstance(w, WordTiming) for w in timings)

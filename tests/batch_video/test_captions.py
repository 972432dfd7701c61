"""Caption cues from word timings, and SRT."""

from __future__ import annotations

import re

import pytest

from batch_video.captions import build_caption_cues, clean_words, srt_timestamp, to_srt
from batch_video.models import WordTiming as W

WORDS = [
    W("Căști", 0.10, 0.42), W("wireless", 0.42, 0.90), W("Sony", 0.90, 1.20),
    W("Preț", 1.60, 1.95), W("o", 2.05, 2.12), W("mie", 2.12, 2.40), W("de", 2.40, 2.52), W("lei", 2.52, 2.90),
]  # fmt: skip


def test_words_are_grouped_a_few_at_a_time_and_split_at_pauses():
    cues = build_caption_cues(WORDS, max_words=3)
    assert [c.text for c in cues] == ["Căști wireless Sony", "Preț o mie", "de lei"]
    assert [len(c.words) for c in cues] == [3, 3, 2]
    # the 0.4 s pause after "Sony" starts a new cue even with max_words=4
    assert [c.text for c in build_caption_cues(WORDS, max_words=4)] == ["Căști wireless Sony", "Preț o mie de", "lei"]
    assert [c.text for c in build_caption_cues(WORDS, max_words=1)] == [w.word for w in WORDS]


def test_cue_times_follow_the_words_and_never_overlap():
    cues = build_caption_cues(WORDS, max_words=3)
    for cue in cues:
        assert cue.start == cue.words[0].start
        assert cue.end >= cue.words[-1].end
    for current, following in zip(cues, cues[1:]):
        assert current.end <= following.start
    # held a little after the last word when nothing follows closely
    assert cues[0].end == pytest.approx(1.45)
    assert cues[-1].end == pytest.approx(2.90 + 0.25)


def test_long_words_respect_the_character_limit():
    words = [W("Extraordinar", 0, 0.5), W("multifuncțional", 0.5, 1.0), W("și", 1.0, 1.1), W("bun", 1.1, 1.3)]
    cues = build_caption_cues(words, max_words=3, max_chars=20)
    assert all(len(c.text) <= 20 or len(c.words) == 1 for c in cues)
    assert [c.text for c in cues] == ["Extraordinar", "multifuncțional și", "bun"]


def test_sentence_punctuation_ends_a_cue():
    words = [W("Gata.", 0, 0.3), W("Acum", 0.32, 0.6), W("comandă!", 0.6, 1.0)]
    assert [c.text for c in build_caption_cues(words)] == ["Gata.", "Acum comandă!"]


def test_messy_timings_are_cleaned():
    messy = [W(" a ", 0.5, 0.4), W("", 0.6, 0.7), W("b", 0.45, 0.9), W("c", 1.0, 1.2)]
    cleaned = clean_words(messy)
    assert [w.word for w in cleaned] == ["a", "b", "c"]
    for word, following in zip(cleaned, cleaned[1:]):
        assert word.start <= word.end <= following.start


def test_srt_format():
    srt = to_srt(build_caption_cues(WORDS, max_words=3))
    blocks = srt.strip("\n").split("\n\n")
    assert len(blocks) == 3
    assert blocks[0] == "1\n00:00:00,100 --> 00:00:01,450\nCăști wireless Sony"
    pattern = re.compile(r"^\d+\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}\n.+$")
    assert all(pattern.match(block) for block in blocks)
    assert srt.endswith("\n") and to_srt(()) == ""


def test_srt_timestamps():
    assert srt_timestamp(0) == "00:00:00,000"
    assert srt_timestamp(3.5) == "00:00:03,500"
    assert srt_timestamp(3661.0456) == "01:01:01,046"
    assert srt_timestamp(-1) == "00:00:00,000"


def test_max_words_must_be_positive():
    with pytest.raises(ValueError):
        build_caption_cues(WORDS, max_words=0)

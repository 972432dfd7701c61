"""Scene cuts on word boundaries, transitions, the spoken price and the text timeline (no pixels)."""

from __future__ import annotations

import random

import pytest

from batch_video.models import WordTiming
from batch_video.render import timeline as tl
from batch_video.render.templates import Animation, Show, ShowAnchor

FPS = 30


def words_at(spec: list[tuple[str, float, float]]) -> list[WordTiming]:
    return [WordTiming(w, a, b) for w, a, b in spec]


def random_speech(seed: int, seconds: float) -> list[WordTiming]:
    """Words back to back or with short gaps, sentence ends now and then, like TTS timings."""
    rng = random.Random(seed)
    out, t = [], rng.uniform(0.0, 0.3)
    while t < seconds - 1.5:
        length = rng.uniform(0.15, 0.6)
        word = "cuvânt" + ("." if rng.random() < 0.12 else "")
        out.append(WordTiming(word, round(t, 3), round(t + length, 3)))
        t += length + (rng.choice([0.0, 0.0, 0.02, 0.08, 0.35]) if not word.endswith(".") else rng.uniform(0.2, 0.5))
    return out


def inside_a_word(frame: int, words: list[WordTiming]) -> bool:
    t = frame / FPS
    half = 0.5 / FPS  # frame times are quantized: a cut is at a boundary to within half a frame
    return any(w.start + half < t < w.end - half for w in words)


@pytest.mark.parametrize("seed", range(12))
def test_cuts_never_fall_inside_a_word(seed):
    seconds = random.Random(seed).uniform(8, 40)
    frames = int(seconds * FPS)
    words = random_speech(seed, seconds)
    for count in range(2, 6):
        cuts = tl.plan_cuts(count, frames, FPS, words)
        assert len(cuts) == count - 1 and cuts == sorted(set(cuts))
        assert all(not inside_a_word(c, words) for c in cuts), (seed, count, cuts)
        bounds = [0, *cuts, frames]
        shortest = min(b - a for a, b in zip(bounds, bounds[1:]))
        assert shortest >= min(tl.MIN_SCENE_S, seconds / count) * FPS * 0.5


def test_cuts_land_near_equal_shares_and_prefer_sentence_ends():
    # 20 s of back-to-back words, one sentence ending at 9.4 s and a 0.3 s breath (the ideal cut is at 10 s).
    words = [WordTiming("cuvânt." if i == 23 else "cuvânt", round(i * 0.4, 3), round(i * 0.4 + 0.4, 3))
             for i in range(24)]
    words += [WordTiming("cuvânt", round(9.7 + i * 0.4, 3), round(10.1 + i * 0.4, 3)) for i in range(23)]
    cuts = tl.plan_cuts(2, 600, FPS, words)
    assert 9.4 <= cuts[0] / FPS <= 9.7  # in the pause after the sentence, not at 10.0 mid-flow
    equal = tl.plan_cuts(4, 600, FPS, [])
    assert equal == [150, 300, 450]


def test_scene_count_follows_photos_and_length():
    assert tl.scene_count(5, 30.0) == 5
    assert tl.scene_count(5, 7.0) == 4 and tl.scene_count(5, 6.9) == 3  # at least 1.75 s per scene
    assert tl.scene_count(1, 30.0) == 1 and tl.scene_count(4, 1.0) == 1


def test_transitions_are_centred_on_cuts_and_fit_short_scenes():
    scenes, transitions = tl.plan_scenes([100, 160], 300, ["crossfade", "slide"], 15)
    assert [(t.kind, t.start, t.frames) for t in transitions] == [("crossfade", 93, 15), ("slide", 153, 15)]
    assert [(s.start, s.end, s.cut_in, s.cut_out) for s in scenes] == [(0, 108, 0, 100), (93, 168, 100, 160),
                                                                       (153, 300, 160, 300)]
    _, short = tl.plan_scenes([20], 300, ["zoom_through"], 15)
    assert short[0].frames == 8  # 40 % of the 20-frame first scene
    _, cut = tl.plan_scenes([100], 300, ["cut"], 15)
    assert cut[0].frames == 0


def test_auto_transitions_vary_and_a_fixed_kind_is_kept():
    kinds = tl.transition_kinds("auto", ("crossfade", "slide", "zoom_through"), 4, "sku-1")
    assert len(kinds) == 4 and all(a != b for a, b in zip(kinds, kinds[1:])) and len(set(kinds)) == 3
    assert kinds == tl.transition_kinds("auto", ("crossfade", "slide", "zoom_through"), 4, "sku-1")
    assert tl.transition_kinds("slide", ("crossfade",), 3, "x") == ["slide"] * 3


def test_the_spoken_price_is_found_in_the_word_timings():
    words = words_at([("Cană", 0.0, 0.4), ("ceramică.", 0.4, 1.0), ("Preț:", 1.3, 1.6), ("treizeci", 1.6, 2.1),
                      ("și", 2.1, 2.2), ("nouă", 2.2, 2.5), ("de", 2.5, 2.6), ("lei.", 2.6, 3.0)])
    assert tl.phrase_time(words, "treizeci și nouă de lei și nouăzeci de bani") == 1.6
    assert tl.phrase_time(words, "Preț", max_tokens=1) == 1.3
    assert tl.phrase_time(words, "patruzeci de lei") is None
    assert tl.scene_at([30, 60], int(1.6 * FPS)) == 1


def scene_plans():
    return tl.plan_scenes([90, 180, 270], 360, ["crossfade"] * 3, 15)[0]


def test_show_anchors_resolve_to_scene_frames():
    scenes = scene_plans()

    def span(start, until="end", enter=None):
        timing = tl.resolve_show(Show(start, ShowAnchor(until) if isinstance(until, str) else until), enter, None,
                                 scenes=scenes, price_scene=2, frames=360, fps=FPS)
        return None if timing is None else (timing.start, timing.end)

    assert span(ShowAnchor("start")) is None  # on screen and still for the whole video
    assert span(ShowAnchor("start"), enter=Animation("fade")) == (0, 360)
    assert span(ShowAnchor("price")) == (180, 360)
    assert span(ShowAnchor("price"), "price") == (180, 270)
    assert span(ShowAnchor("last")) == (270, 360)
    assert span(ShowAnchor("scene", 2), ShowAnchor("scene", 2)) == (90, 180)
    assert span(ShowAnchor("scene", 9)) == (270, 360)  # past the last scene: the last scene
    assert span(ShowAnchor("before_end", 3.0)) == (270, 360)
    assert span(ShowAnchor("at", 1.5), ShowAnchor("at", 4.0)) == (45, 120)


def test_layer_state_present_absent_and_moving():
    timing = tl.Timing(60, 150, Animation("pop", 0.4), Animation("fade", 0.2), fps=FPS)
    assert tl.layer_state(timing, 59, 60) is None
    entering = [tl.layer_state(timing, n, 60) for n in range(60, 71)]
    assert all(s is not None and not s.still for s in entering)
    assert max(s.scale for s in entering) > 1.02  # the pop overshoots, then settles
    assert tl.layer_state(timing, 72, 60).still and tl.layer_state(timing, 143, 60).still
    leaving = [tl.layer_state(timing, n, 60) for n in range(144, 150)]
    assert [round(s.alpha, 2) for s in leaving] == sorted((round(s.alpha, 2) for s in leaving), reverse=True)
    assert tl.layer_state(timing, 150, 60) is None
    assert tl.layer_state(None, 5, 60).still


@pytest.mark.parametrize("effect, axis, sign", [("slide_up", "dy", 1), ("slide_down", "dy", -1),
                                                ("slide_left", "dx", 1), ("slide_right", "dx", -1)])
def test_slides_come_from_behind_their_place(effect, axis, sign):
    timing = tl.Timing(0, 100, Animation(effect, 0.5), Animation(effect, 0.5), fps=FPS)
    first = tl.layer_state(timing, 0, 60)
    assert getattr(first, axis) * sign > 50 and first.alpha < 0.05
    last_in = tl.layer_state(timing, 14, 60)
    assert abs(getattr(last_in, axis)) < abs(getattr(first, axis))
    leaving = tl.layer_state(timing, 99, 60)
    assert getattr(leaving, axis) * sign < -50  # leaves the way it was going


def test_delay_holds_the_layer_back():
    timing = tl.Timing(30, 100, Animation("fade", 0.3, delay_s=0.5), None, fps=FPS)
    assert tl.layer_state(timing, 44, 60) is None
    assert 0 < tl.layer_state(timing, 45, 60).alpha < 0.1

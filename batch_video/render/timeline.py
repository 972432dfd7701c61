"""When things happen: scene cuts on word boundaries, transitions, and when text shows and moves.

Pure functions on seconds, frames and word timings; no pixels. `spec.build_spec`
turns their answers into the frame numbers a RenderSpec carries, and the
composer asks `layer_state` what a text layer looks like at frame n.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from batch_video.models import WordTiming
from batch_video.render.templates import Animation, Show, ShowAnchor

# A scene shorter than this reads as a flicker, not a shot: fewer photos are used instead.
MIN_SCENE_S = 1.75
# A transition never takes more than this share of either scene it joins.
MAX_TRANSITION_SHARE = 0.4
# How much closer to the ideal (equal) split a sentence end or a pause may pull a cut.
SENTENCE_BONUS_S = 0.8
PAUSE_BONUS_S = 0.35
PAUSE_S = 0.2
_SENTENCE_END = re.compile(r"[.!?…]['\"”»)]*$")


@dataclass(frozen=True)
class Quiet:
    """A stretch with no word being spoken: a cut may go anywhere inside it."""

    start: float
    end: float
    bonus: float  # how attractive: sentence end > pause > plain word boundary


def quiet_spans(words: Sequence[WordTiming], duration_s: float) -> list[Quiet]:
    """Where cuts are allowed: before the first word, between words, after the last one."""
    spoken = sorted((w for w in words if w.word.strip() and w.end >= w.start), key=lambda w: w.start)
    if not spoken:
        return [Quiet(0.0, duration_s, 0.0)]
    spans = [Quiet(0.0, max(0.0, spoken[0].start), PAUSE_BONUS_S)]
    for before, after in zip(spoken, spoken[1:]):
        start, end = before.end, max(before.end, after.start)
        if _SENTENCE_END.search(before.word.strip()):
            bonus = SENTENCE_BONUS_S
        elif end - start >= PAUSE_S:
            bonus = PAUSE_BONUS_S
        else:
            bonus = 0.0
        spans.append(Quiet(start, end, bonus))
    spans.append(Quiet(spoken[-1].end, max(spoken[-1].end, duration_s), SENTENCE_BONUS_S))
    return spans


def scene_count(photos: int, duration_s: float, min_scene_s: float = MIN_SCENE_S) -> int:
    """How many of the photos become scenes: all of them, unless the video is too short for that."""
    return max(1, min(photos, int(math.floor(duration_s / min_scene_s + 1e-9))))


def plan_cuts(
    count: int,
    frames: int,
    fps: int,
    words: Sequence[WordTiming] = (),
    *,
    min_scene_s: float = MIN_SCENE_S,
) -> list[int]:
    """Frame numbers where scene i+1 takes over from scene i (count - 1 of them).

    Each cut aims at an equal share of the video and moves to the nearest quiet
    moment (never inside a word), preferring a sentence end or a pause when one
    is close; every scene keeps at least `min_scene_s` where the words allow.
    """
    if count <= 1:
        return []
    duration = frames / fps
    spans = quiet_spans(words, duration)
    min_len = min(min_scene_s, duration / count)
    cuts_s: list[float] = []
    previous = 0.0
    for i in range(1, count):
        ideal = duration * i / count
        lo = previous + min_len
        hi = duration - (count - i) * min_len
        best: tuple[float, float] | None = None
        for span in spans:
            a, b = max(span.start, lo), min(span.end, hi)
            if a > b:
                continue
            if a <= ideal <= b:
                at = ideal
            elif b - a <= 1.0:
                at = (a + b) / 2  # the middle of a short gap, not the edge of a word
            else:
                at = a if ideal < a else b
            cost = abs(at - ideal) - span.bonus
            if best is None or cost < best[0]:
                best = (cost, at)
        at = best[1] if best is not None else min(max(ideal, lo), hi)
        cuts_s.append(at)
        previous = at
    return [_frame_in_quiet(t, spans, fps, frames) for t in cuts_s]


def _frame_in_quiet(t: float, spans: Sequence[Quiet], fps: int, frames: int) -> int:
    """The frame nearest t whose time lies in the same quiet stretch, if one does."""
    n = int(round(t * fps))
    for span in spans:
        if span.start - 1e-9 <= t <= span.end + 1e-9:
            first, last = math.ceil(span.start * fps - 1e-9), math.floor(span.end * fps + 1e-9)
            if first <= last:
                n = min(max(n, first), last)
            break
    return min(max(n, 1), frames - 1)


# ---------------------------------------------------------------- scenes and transitions

@dataclass(frozen=True)
class ScenePlan:
    index: int
    cut_in: int  # the frame where it becomes the main picture (mid-transition)
    cut_out: int
    start: int  # first frame it is visible (its incoming transition included)
    end: int  # one past the last visible frame


@dataclass(frozen=True)
class TransitionPlan:
    kind: str  # crossfade | slide | zoom_through | cut
    start: int
    frames: int
    before: int  # scene index going out
    after: int  # scene index coming in

    @property
    def end(self) -> int:
        return self.start + self.frames

    def progress(self, n: int) -> float:
        """0 (all `before`) .. 1 (all `after`) at frame n, sampled at frame centres."""
        return min(1.0, max(0.0, (n - self.start + 0.5) / self.frames))


def plan_scenes(cuts: Sequence[int], frames: int, kinds: Sequence[str], transition_frames: int
                ) -> tuple[tuple[ScenePlan, ...], tuple[TransitionPlan, ...]]:
    """Scene spans and the transitions centred on each cut (shortened to fit short scenes)."""
    bounds = [0, *cuts, frames]
    transitions = []
    for i, cut in enumerate(cuts):
        kind = kinds[i]
        shorter = min(bounds[i + 1] - bounds[i], bounds[i + 2] - bounds[i + 1])
        length = 0 if kind == "cut" else min(transition_frames, int(shorter * MAX_TRANSITION_SHARE))
        if length < 2:
            kind, length = "cut", 0
        transitions.append(TransitionPlan(kind, cut - length // 2, length, i, i + 1))
    scenes = []
    for i in range(len(bounds) - 1):
        start = transitions[i - 1].start if i > 0 else 0
        end = transitions[i].end if i < len(transitions) else frames
        scenes.append(ScenePlan(i, bounds[i], bounds[i + 1], start, max(end, bounds[i + 1])))
    return tuple(scenes), tuple(transitions)


def transition_kinds(setting: str, allowed: Sequence[str], cuts: int, key: str) -> list[str]:
    """One kind per cut: the setting itself, or for `auto` the template's kinds in a varied order."""
    if setting != "auto":
        return [setting] * cuts
    pool = list(allowed) or ["crossfade"]
    offset = hashlib.sha256(key.encode("utf-8")).digest()[1] % len(pool)
    return [pool[(offset + i) % len(pool)] for i in range(cuts)]


# ---------------------------------------------------------------- the price in the voiceover

def _token(word: str) -> str:
    word = unicodedata.normalize("NFC", word).lower().replace("ş", "ș").replace("ţ", "ț")
    return re.sub(r"[^\w,]+", "", word).strip(",")


def phrase_time(words: Sequence[WordTiming], phrase: str, *, max_tokens: int = 3) -> float | None:
    """Start of the first place the voiceover says `phrase` (its first few words), or None."""
    wanted = [t for t in (_token(w) for w in phrase.split()) if t][:max_tokens]
    if not wanted:
        return None
    tokens = [_token(w.word) for w in words]
    for i in range(len(tokens) - len(wanted) + 1):
        if tokens[i:i + len(wanted)] == wanted:
            return words[i].start
    return None


def scene_at(cuts: Sequence[int], frame: int) -> int:
    return sum(1 for c in cuts if c <= frame)


# ---------------------------------------------------------------- text on the timeline

@dataclass(frozen=True)
class Timing:
    """When a layer shows, in frames, and how it enters and leaves."""

    start: int
    end: int
    enter: Animation | None = None
    leave: Animation | None = None
    fps: int = 30

    def enter_frames(self) -> tuple[int, int]:
        """(first frame drawn, first frame fully in place)."""
        if self.enter is None or self.enter.effect == "none":
            delay = 0 if self.enter is None else round(self.enter.delay_s * self.fps)
            return self.start + delay, self.start + delay
        first = self.start + round(self.enter.delay_s * self.fps)
        return first, first + max(1, round(self.enter.duration_s * self.fps))

    def leave_frames(self) -> tuple[int, int]:
        """(first frame leaving, one past the last frame drawn)."""
        if self.leave is None or self.leave.effect == "none":
            return self.end, self.end
        length = max(1, round(self.leave.duration_s * self.fps))
        end = self.end - round(self.leave.delay_s * self.fps)
        return end - length, end


def resolve_show(show: Show, enter: Animation | None, leave: Animation | None, *, scenes: Sequence[ScenePlan],
                 price_scene: int, frames: int, fps: int) -> Timing | None:
    """Frames of a template's `show`; None when the layer is there, still, for the whole video."""
    start = _anchor_frame(show.start, scenes, price_scene, frames, fps, opening=True)
    end = _anchor_frame(show.until, scenes, price_scene, frames, fps, opening=False)
    if start == 0 and end == frames and _still(enter) and _still(leave):
        return None
    return Timing(start, max(start, end), enter, leave, fps)


def _still(animation: Animation | None) -> bool:
    return animation is None or (animation.effect == "none" and animation.delay_s == 0)


def _anchor_frame(anchor: ShowAnchor, scenes: Sequence[ScenePlan], price_scene: int, frames: int, fps: int,
                  *, opening: bool) -> int:
    last = len(scenes) - 1
    if anchor.kind == "start":
        return 0
    if anchor.kind == "end":
        return frames
    if anchor.kind == "at":
        return min(frames, round(anchor.value * fps))
    if anchor.kind == "before_end":
        return max(0, frames - round(anchor.value * fps))
    # Scene numbers past the video's scene count mean its last scene, so a template
    # written for five photos still shows everything with one.
    index = {"price": price_scene, "last": last}.get(anchor.kind, int(anchor.value) - 1)
    scene = scenes[min(max(index, 0), last)]
    return scene.cut_in if opening else scene.cut_out


@dataclass(frozen=True)
class LayerState:
    """How a text layer is drawn at one frame: opacity, offset in px and scale."""

    alpha: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0

    @property
    def still(self) -> bool:
        return self.alpha >= 1.0 and self.dx == 0 and self.dy == 0 and self.scale == 1.0


_SLIDES = {"slide_up": (0, -1), "slide_down": (0, 1), "slide_left": (-1, 0), "slide_right": (1, 0)}


def layer_state(timing: Timing | None, n: int, slide_px: float) -> LayerState | None:
    """None when the layer is not drawn at frame n."""
    if timing is None:
        return LayerState()
    shown, settled = timing.enter_frames()
    leaving, gone = timing.leave_frames()
    if n < shown or n >= gone or n >= timing.end:
        return None
    if n < settled and timing.enter is not None:
        return _effect(timing.enter.effect, (n - shown + 1) / (settled - shown), slide_px, entering=True)
    if n >= leaving and timing.leave is not None and timing.leave.effect != "none":
        return _effect(timing.leave.effect, (n - leaving + 1) / (gone - leaving), slide_px, entering=False)
    return LayerState()


def _effect(effect: str, p: float, slide_px: float, *, entering: bool) -> LayerState:
    """Effect at progress p (0..1) of entering, or of leaving (mirrored)."""
    p = min(1.0, max(0.0, p))
    smooth = 0.5 - 0.5 * math.cos(math.pi * p)
    shown = smooth if entering else 1.0 - smooth
    if effect == "fade":
        return LayerState(alpha=shown)
    if effect in _SLIDES:
        ux, uy = _SLIDES[effect]
        # Entering: from behind its place, moving in the named direction. Leaving: on in that direction.
        travel = -(1.0 - smooth) if entering else smooth
        return LayerState(alpha=shown, dx=ux * slide_px * travel, dy=uy * slide_px * travel)
    if effect == "pop":
        if entering:
            # Back-ease-out: grows past its size and settles (about 8 % overshoot).
            c = 1.70158
            q = p - 1.0
            grow = 1.0 + (c + 1.0) * q ** 3 + c * q ** 2
            return LayerState(alpha=min(1.0, p * 3.0), scale=max(0.05, 0.4 + 0.6 * grow))
        return LayerState(alpha=1.0 - smooth, scale=max(0.05, 1.0 - 0.5 * smooth))
    return LayerState()

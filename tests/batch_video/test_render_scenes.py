"""Several photos become scenes: count, cuts against word timings, transition frames, the text timeline."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch_video.captions import build_caption_cues
from batch_video.models import PreparedImage, Product, WordTiming
from batch_video.render import Composer, build_spec
from batch_video.settings import BatchSettings

COLOURS = [(200, 40, 40), (40, 40, 200), (40, 170, 60), (220, 200, 40), (160, 60, 200)]


def photo(path: Path, colour, size=(800, 800)) -> PreparedImage:
    """A flat colour with faint texture (so the motion shows) and no structure shared with the others."""
    rng = np.random.default_rng(sum(colour))
    arr = np.clip(np.array(colour, np.float32) + rng.normal(0, 6, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=95)
    return PreparedImage(path, size[0], size[1], size[0], size[1], "JPEG")


@pytest.fixture
def photos(tmp_path) -> list[PreparedImage]:
    return [photo(tmp_path / f"p{i}.jpg", c) for i, c in enumerate(COLOURS)]


def product(**kw) -> Product:
    base = dict(id="P1", key="p1", title="Cană ceramică emailată", price=Decimal("49.90"), currency="RON",
                image_link="x", brand="Lutul Bun", sale_price=Decimal("39.90"))
    base.update(kw)
    return Product(**base)


def speech(seconds: float) -> tuple[WordTiming, ...]:
    """Word timings of a script that says the price in the middle, then a call to action."""
    text = ("Cană ceramică emailată verde salvie lucrată manual. Se spală în mașina de vase. "
            "Preț: treizeci și nouă de lei și nouăzeci de bani. Comandă acum și primești livrarea gratuită azi.")
    words = text.split()
    step = (seconds - 1.0) / len(words)
    return tuple(WordTiming(w, round(i * step, 3), round(i * step + step * 0.85, 3)) for i, w in enumerate(words))


def spec_for(photos, settings, seconds=30.0, words=None, **kw):
    words = speech(seconds) if words is None else words
    return build_spec(product(**kw), photos[0], None, settings, cues=build_caption_cues(words),
                      duration_s=seconds, extra_images=photos[1:])


def box_mean(composer: Composer, n: int, *, part=slice(None)) -> np.ndarray:
    box = composer.box
    rgb = composer.frame_rgb(n, captions=False)
    region = rgb[box.y + box.h // 3: box.y + 2 * box.h // 3, box.x:box.right][:, part]
    return region.reshape(-1, 3).mean(axis=0)


def test_five_photos_make_five_scenes_cut_between_words(photos):
    spec = spec_for(photos, BatchSettings(preset="preview"))
    words = speech(30.0)
    assert len(spec.scenes) == 5 and len(spec.transitions) == 4
    assert [s.photo.path for s in spec.scenes] == [p.path for p in photos]
    for scene in spec.scenes[1:]:
        t = scene.cut_in / spec.fps
        assert not any(w.start + 0.5 / spec.fps < t < w.end - 0.5 / spec.fps for w in words), t
    # Roughly equal shares of the 30 s.
    lengths = [(s.cut_out - s.cut_in) / spec.fps for s in spec.scenes]
    assert all(4.0 < length < 8.0 for length in lengths), lengths
    # The camera moves differently in consecutive scenes.
    motions = [s.photo.motion.direction for s in spec.scenes]
    assert all(a != b for a, b in zip(motions, motions[1:]))
    # "Preț: treizeci și nouă ..." is said in the third scene.
    price_at = next(w.start for w in words if w.word == "treizeci")
    third = spec.scenes[spec.price_scene]
    assert third.cut_in / spec.fps <= price_at < third.cut_out / spec.fps


def test_only_the_main_photo_renders_as_one_scene(photos):
    spec = spec_for(photos[:1], BatchSettings(preset="preview"))
    assert len(spec.scenes) == 1 and spec.transitions == ()
    assert (spec.scenes[0].start, spec.scenes[0].end) == (0, spec.frames)
    single = Composer(spec)
    assert np.array_equal(single.matrices(10)[0], single.sources[0].matrices(10, single.box)[0])


def test_a_short_video_uses_fewer_photos_and_says_so(photos):
    spec = spec_for(photos, BatchSettings(preset="preview"), seconds=5.0)
    assert len(spec.scenes) == 2
    assert any("2 of 5 photos used" in w for w in spec.warnings)
    none = spec_for(photos, BatchSettings(preset="preview", max_extra_photos=0))
    assert len(none.scenes) == 1


@pytest.mark.parametrize("kind", ["crossfade", "zoom_through"])
def test_blending_transition_frames_mix_both_scenes(photos, kind):
    spec = spec_for(photos[:2], BatchSettings(preset="preview", transition=kind), seconds=8.0)
    (t,) = spec.transitions
    assert t.kind == kind and t.frames == round(0.5 * spec.fps)
    composer = Composer(spec)
    red, blue = np.array(COLOURS[0]), np.array(COLOURS[1])
    before, after = box_mean(composer, t.start - 1), box_mean(composer, t.end)
    assert np.abs(before - red).max() < 15 and np.abs(after - blue).max() < 15
    middle = box_mean(composer, t.start + t.frames // 2)
    assert np.abs(middle - (red + blue) / 2).max() < 20, middle  # half of each
    quarter = box_mean(composer, t.start + t.frames // 4)
    assert np.linalg.norm(quarter - red) < np.linalg.norm(quarter - blue)  # still mostly the first


def test_slide_transition_pushes_the_next_photo_in_from_the_right(photos):
    spec = spec_for(photos[:2], BatchSettings(preset="preview", transition="slide"), seconds=8.0)
    (t,) = spec.transitions
    composer = Composer(spec)
    n = t.start + t.frames // 2
    w = composer.box.w
    left, right = box_mean(composer, n, part=slice(0, w // 5)), box_mean(composer, n, part=slice(4 * w // 5, w))
    assert np.abs(left - np.array(COLOURS[0])).max() < 15 and np.abs(right - np.array(COLOURS[1])).max() < 15


def test_cut_means_no_transition_frames(photos):
    spec = spec_for(photos[:3], BatchSettings(preset="preview", transition="cut"), seconds=9.0)
    assert [t.frames for t in spec.transitions] == [0, 0]
    composer = Composer(spec)
    cut = spec.scenes[1].cut_in
    assert np.abs(box_mean(composer, cut - 1) - COLOURS[0]).max() < 15
    assert np.abs(box_mean(composer, cut) - COLOURS[1]).max() < 15


def ink(composer: Composer, role: str, n: int) -> float:
    """How much the layer's box differs from the still background without any text."""
    layer = next(t for t in composer.spec.texts if t.role == role)
    r = layer.rect
    frame = composer.frame_rgb(n, captions=False).astype(int)
    bare = composer.planes(composer.canvas(()))
    from batch_video.render.yuv import i420_to_rgb

    background = i420_to_rgb(*bare).astype(int)
    return float(np.abs(frame[r.y:r.bottom, r.x:r.right] - background[r.y:r.bottom, r.x:r.right]).mean())


def test_showcase_text_timeline(photos):
    settings = BatchSettings(preset="tiktok", template="showcase")
    spec = spec_for(photos, settings)
    composer = Composer(spec)
    price_scene = spec.scenes[spec.price_scene]
    fps = spec.fps
    assert spec.price_scene == 2
    # The price and the struck original price are absent before the price scene, present from it on.
    assert ink(composer, "price", price_scene.cut_in - 5) < 0.5
    assert ink(composer, "price", price_scene.cut_in + fps) > 5
    assert ink(composer, "price_original", price_scene.cut_in + fps) > 1
    # The call to action only in the last three seconds.
    assert ink(composer, "cta", spec.frames - 4 * fps) < 0.5
    assert ink(composer, "cta", spec.frames - 1) > 5
    # The title slides up into place at the start: moving, then still.
    title = next(t for t in composer.texts if t.layer.role == "title")
    key, moving = composer._layers_at(6)
    assert any(text is title and not state.still for text, state in moving)
    key, moving = composer._layers_at(2 * fps)
    assert title.index in key  # still, so drawn once into the canvas, not per frame


def test_still_text_costs_no_per_frame_work(photos):
    composer = Composer(spec_for(photos, BatchSettings(preset="tiktok", template="showcase")))
    buf = composer.new_buffer()
    n = 2 * composer.spec.fps  # nothing is entering or leaving
    composer.compose(n - 1, buf)
    composer.compose(n, buf)
    drawn = composer.drawn_rects(buf)
    off_photo = [t.layer.rect for t in composer.texts if not t.on_photo]
    assert off_photo and drawn[0] == composer.box
    assert not any(rect.intersects(text_rect) for rect in drawn[1:] for text_rect in off_photo)


def test_sale_template_shows_badge_and_price_first_and_the_title_with_the_second_photo(photos):
    spec = spec_for(photos, BatchSettings(preset="tiktok", template="sale"))
    composer = Composer(spec)
    fps = spec.fps
    assert ink(composer, "badge", fps) > 5 and ink(composer, "price", fps) > 5
    second = spec.scenes[1].cut_in
    assert ink(composer, "title", second - 10) < 0.5 and ink(composer, "title", second + fps) > 5


def test_poster_shows_the_main_photo_with_the_price_text(photos):
    composer = Composer(spec_for(photos, BatchSettings(preset="preview", template="showcase")))
    poster = composer.poster_rgb()
    box = composer.box
    middle = poster[box.y + box.h // 2, box.x + box.w // 2].astype(int)
    assert np.abs(middle - COLOURS[0]).max() < 25  # the main photo, not the scene where the price is said
    priced = composer.spec.scenes[composer.spec.price_scene]
    frame = composer.frame_rgb((priced.cut_in + priced.cut_out - 1) // 2, captions=False)
    price = next(t for t in composer.spec.texts if t.role == "price").rect
    region = (slice(price.y, price.bottom), slice(price.x, price.right))
    assert np.array_equal(poster[region], frame[region])  # the price as it is when the voice says it

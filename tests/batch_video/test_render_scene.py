"""Frame composition on I420 planes (no ffmpeg)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch_video.models import CaptionCue, PreparedImage, Product, WordTiming
from batch_video.render import build_spec
from batch_video.render.scene import Composer, enhance_photo
from batch_video.render.yuv import blend_overlay, i420_to_rgb, make_overlay, rgb_to_i420
from batch_video.settings import BatchSettings


def textured(path: Path, size=(900, 900), alpha=False) -> PreparedImage:
    rng = np.random.default_rng(11)
    arr = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC)
    if alpha:
        mask = Image.new("L", size, 0)
        mask.paste(255, (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
        im.putalpha(mask)
        path = path.with_suffix(".png")
    im.save(path)
    return PreparedImage(path, size[0], size[1], size[0], size[1], "PNG" if alpha else "JPEG", has_alpha=alpha)


def product(**kw) -> Product:
    base = dict(id="P1", key="p1", title="Pantofi sport Ionescu", price=Decimal("299"), currency="RON",
                image_link="x", brand="Ionescu", sale_price=Decimal("249"))
    base.update(kw)
    return Product(**base)


CUES = (
    CaptionCue(0.0, 1.0, (WordTiming("Pantofi", 0.0, 0.5), WordTiming("sport", 0.5, 1.0))),
    CaptionCue(1.2, 2.0, (WordTiming("acum", 1.2, 2.0),)),
)


@pytest.fixture
def scene(tmp_path) -> Composer:
    spec = build_spec(product(), textured(tmp_path / "p.jpg"), None,
                      BatchSettings(preset="preview", motion="zoom_in"), cues=CUES, duration_s=3.0)
    return Composer(spec)


def test_rgb_i420_round_trip():
    # Smooth colour (like photos): chroma subsampling loses nothing visible.
    yy, xx = np.mgrid[0:32, 0:48].astype(np.float32)
    rgb = np.stack([xx * 5, yy * 7, 255 - xx * 3 - yy * 2], axis=-1).clip(0, 255).astype(np.uint8)
    back = i420_to_rgb(*rgb_to_i420(rgb))
    error = np.abs(back.astype(int) - rgb.astype(int))
    assert error.max() <= 8 and error.mean() < 2


def test_known_colours_in_bt709_limited_range():
    y, u, v = rgb_to_i420(np.zeros((2, 2, 3), np.uint8))
    assert (y[0, 0], u[0, 0], v[0, 0]) == (16, 128, 128)
    y, u, v = rgb_to_i420(np.full((2, 2, 3), 255, np.uint8))
    assert (y[0, 0], u[0, 0], v[0, 0]) == (235, 128, 128)
    y, u, v = rgb_to_i420(np.tile(np.array([255, 0, 0], np.uint8), (2, 2, 1)))
    assert (y[0, 0], u[0, 0], v[0, 0]) == (63, 102, 240)  # BT.709 red


def test_blend_matches_float_reference():
    rng = np.random.default_rng(5)
    bg = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
    y, u, v = (p.copy() for p in rgb_to_i420(bg))
    rgba = (rng.random((20, 24, 4)) * 255).astype(np.uint8)
    rgba[:, :4, 3] = 0
    rgba[:, -4:, 3] = 255
    before = y.copy()
    blend_overlay(y, u, v, make_overlay(rgba, 10, 6))
    fy, _, _ = rgb_to_i420(rgba[..., :3])
    fy_full = np.rint(16 + 219 * (rgba[..., :3].astype(float) / 255 @ [0.2126, 0.7152, 0.0722]))
    alpha = rgba[..., 3] / 255.0
    expected = fy_full * alpha + before[6:26, 10:34] * (1 - alpha)
    assert np.abs(y[6:26, 10:34] - expected).max() <= 1.0
    assert np.array_equal(y[6:26, 10:14], before[6:26, 10:14])  # transparent: untouched
    assert np.array_equal(y[:6], before[:6])  # outside: untouched


def test_overlay_at_odd_position_and_clipped_at_the_edge():
    y, u, v = (np.full(s, 100, np.uint8) for s in ((20, 20), (10, 10), (10, 10)))
    blend_overlay(y, u, v, make_overlay(np.full((5, 7, 4), 255, np.uint8), 15, 17))
    assert y[17:, 15:].min() == 235 and y[:17].max() == 100 and y[:, :14].max() == 100


def test_pixels_outside_the_box_and_strips_are_the_static_canvas(scene):
    buf = scene.new_buffer()
    y, _, _ = scene.planes(buf)
    box = scene.box
    for n in (0, 7, 20, 44):
        scene.compose(n, buf)
        mask = np.ones(y.shape, bool)
        mask[box.y:box.bottom, box.x:box.right] = False
        drawn = scene.drawn_rects(buf)
        for rect in drawn:
            mask[rect.y:rect.bottom, rect.x:rect.right] = False
        assert np.array_equal(y[mask], scene.canvas_planes[0][mask])
        # Only the box, the badge on it and the caption strip are drawn per frame.
        assert len(drawn) <= 3 and sum(r.w * r.h for r in drawn[1:]) < box.w * box.h


def test_reused_buffer_has_no_leftovers(scene):
    reused = scene.new_buffer()
    for n in (3, 25, 40, 10):  # different caption states pass through the same buffer
        scene.compose(n, reused)
    fresh = scene.new_buffer()
    scene.compose(10, fresh)
    assert np.array_equal(reused, fresh)


def test_frames_are_deterministic_and_every_frame_moves(scene):
    a, b = scene.new_buffer(), scene.new_buffer()
    scene.compose(12, a)
    scene.compose(12, b)
    assert np.array_equal(a, b)
    box = scene.box
    previous = None
    for n in range(5, 40):  # away from the eased ends
        scene.compose(n, a)
        crop = scene.planes(a)[0][box.y:box.bottom, box.x:box.right].copy()
        if previous is not None:
            assert not np.array_equal(crop, previous), f"frame {n} froze"
        previous = crop


def test_zoom_in_magnifies_over_time(scene):
    first, last = scene.matrices(0)[0], scene.matrices(scene.spec.frames - 1)[0]
    assert last[0, 0] < first[0, 0]  # fewer source pixels per box pixel = zoomed in
    assert first[0, 0] / last[0, 0] == pytest.approx(1.12, rel=1e-6)


def test_captions_highlight_the_current_word_and_vanish_between_cues(scene):
    fps = scene.spec.fps
    states = [scene.captions.state_at(t) for t in (0.1, 0.6, 1.1, 1.5, 2.5)]
    assert [(s.cue, s.word) if s else None for s in states] == [(0, 0), (0, 1), None, (1, 0), None]
    first = scene.captions.render_strip(states[0])
    second = scene.captions.render_strip(states[1])
    assert first.size == second.size and np.asarray(first).tobytes() != np.asarray(second).tobytes()
    # Highlight colour appears in the strip.
    highlight = np.array(scene.spec.captions.highlight[:3])
    pixels = np.asarray(first)[..., :3].reshape(-1, 3)
    assert (np.abs(pixels.astype(int) - highlight).sum(axis=1) < 30).any()
    n_gap = int(1.1 * fps)
    assert np.array_equal(scene.frame_rgb(n_gap), scene.frame_rgb(n_gap, captions=False))
    assert not np.array_equal(scene.frame_rgb(2), scene.frame_rgb(2, captions=False))


def test_text_is_drawn_inside_the_safe_zone(tmp_path):
    photo = textured(tmp_path / "p.jpg")
    settings = BatchSettings(preset="tiktok")
    full = Composer(build_spec(product(title="Un titlu foarte lung " * 6), photo, None, settings, duration_s=1))
    bare = Composer(build_spec(product(title="", brand="", sale_price=None, price=Decimal("0")), photo, None,
                            settings.merged({"cta_text": ""}), duration_s=1))
    diff = np.abs(full.canvas_planes[0].astype(int) - bare.canvas_planes[0].astype(int)) > 8
    ys, xs = np.nonzero(diff)
    safe = full.spec.layout.safe
    # Shadows may spill a few pixels past the glyphs, never under the platform UI.
    assert ys.min() >= safe.y - 8 and ys.max() <= safe.bottom + 8
    assert xs.min() >= safe.x - 8 and xs.max() <= safe.right + 8


def test_transparent_photo_sits_on_a_card(tmp_path):
    photo = textured(tmp_path / "cut.png", alpha=True)
    spec = build_spec(product(), photo, None, BatchSettings(preset="preview", motion="zoom_in"), duration_s=1)
    scene = Composer(spec)
    assert spec.background.kind == "color"
    rgb = scene.frame_rgb(0)
    box = scene.box
    corner = rgb[box.y + 3, box.x + box.w - 4]
    assert np.abs(corner.astype(int) - np.array(spec.photo.card_color[:3])).max() < 12


def test_enhancements_change_the_photo():
    rng = np.random.default_rng(1)
    rgb = np.clip(rng.normal(120, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    rgb[..., 2] //= 2  # a colour cast
    plain = enhance_photo(rgb, denoise=False, sharpen=False, color_correct=False)
    assert np.array_equal(plain, rgb)
    for flag in ("denoise", "sharpen", "color_correct"):
        out = enhance_photo(rgb, **{"denoise": False, "sharpen": False, "color_correct": False, flag: True})
        assert out.shape == rgb.shape and not np.array_equal(out, rgb), flag
    # A full-range grey ramp with a yellow cast (blue halved): the cast shrinks.
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.float32), (64, 1))
    cast = np.stack([ramp, ramp, ramp * 0.5], axis=-1).astype(np.uint8)
    corrected = enhance_photo(cast, denoise=False, sharpen=False, color_correct=True).astype(float)
    assert corrected[..., 0].mean() - corrected[..., 2].mean() < 0.7 * (cast[..., 0].mean() - cast[..., 2].mean())


@pytest.mark.parametrize("preset", ["square", "landscape"])
def test_other_layouts_compose(tmp_path, preset):
    photo = textured(tmp_path / "p.jpg", size=(1200, 800))
    scene = Composer(build_spec(product(), photo, None, BatchSettings(preset=preset), cues=CUES, duration_s=1))
    rgb = scene.frame_rgb(3)
    assert rgb.shape == (scene.spec.height, scene.spec.width, 3)


def test_sale_badge_is_drawn_on_the_photo_corner(tmp_path):
    photo = textured(tmp_path / "p.jpg")
    settings = BatchSettings(preset="preview", accent_color="#00C040")
    accent = np.array([0, 192, 64])

    def accent_pixels(prod: Product) -> int:
        scene = Composer(build_spec(prod, photo, None, settings, duration_s=1))
        box = scene.box
        corner = scene.frame_rgb(0)[box.y:box.y + box.h // 3, box.x:box.x + box.w // 2].reshape(-1, 3)
        return int((np.abs(corner.astype(int) - accent).sum(axis=1) < 40).sum())

    assert accent_pixels(product()) > 200  # the -17% pill
    assert accent_pixels(product(sale_price=None)) < 20


@pytest.mark.parametrize("size", [(2400, 400), (400, 2400)])
def test_extreme_aspect_photos_are_cropped_into_a_sane_box(tmp_path, size):
    photo = textured(tmp_path / "p.jpg", size=size)
    scene = Composer(build_spec(product(), photo, None, BatchSettings(preset="preview", motion="pan_left"),
                             duration_s=1))
    assert 0.6 - 0.02 <= scene.box.w / scene.box.h <= 1.8 + 0.02
    first, last = scene.frame_rgb(0), scene.frame_rgb(scene.spec.frames - 1)
    box = scene.box
    assert not np.array_equal(first[box.y:box.bottom, box.x:box.right], last[box.y:box.bottom, box.x:box.right])


def test_logo_is_drawn_in_the_header(tmp_path):
    photo = textured(tmp_path / "p.jpg")
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (300, 100), (0, 255, 255, 255)).save(logo)
    spec = build_spec(product(), photo, None, BatchSettings(preset="tiktok", logo_path=str(logo)), duration_s=1)
    (layer,) = spec.images
    assert spec.layout.safe.contains(layer.rect)
    brand = next(t for t in spec.texts if t.role == "brand")
    assert brand.rect.x >= layer.rect.right  # the brand name moves over to make room
    rgb = Composer(spec).frame_rgb(0)
    region = rgb[layer.rect.y:layer.rect.bottom, layer.rect.x:layer.rect.right].reshape(-1, 3).astype(int)
    assert (np.abs(region - [0, 255, 255]).sum(axis=1) < 30).sum() > 1000

"""Render spec, layout and ffmpeg argument building (no ffmpeg runs)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from batch_video.errors import ConfigError
from batch_video.models import CaptionCue, PreparedImage, Product, Voiceover, WordTiming
from batch_video.render import PRESETS, build_spec, encode_argv, video_duration
from batch_video.render.motion import DIRECTIONS, Motion, choose_direction, cover_window, ease, inverse_affine
from batch_video.render.spec import (
    LIMITER_PROBE_STEPS_DB,
    Loudness,
    Rect,
    audio_filter,
    fit_box,
    limiter_probe_argv,
    measure_argv,
    resolve_layout,
)
from batch_video.render.templates import load_template
from batch_video.settings import BatchSettings

HOSTILE = "Pantofi \"sport\" 'x' : 100% %{pts} \\ back; [in] -vf drawtext=text=a,b\n"


def product(**kw) -> Product:
    base = dict(id="SKU-1", key="sku-1", title="Pantofi sport", price=Decimal("299.99"), currency="RON",
                image_link="/x.jpg", brand="Ionescu")
    base.update(kw)
    return Product(**base)


def image(w=1600, h=1600, alpha=False) -> PreparedImage:
    return PreparedImage(Path("/tmp/image.jpg"), w, h, w, h, "JPEG", has_alpha=alpha)


def voiceover(seconds=8.0) -> Voiceover:
    return Voiceover(Path("/tmp/vo.wav"), seconds, "espeak", "ro")


def cue(t0=0.0) -> CaptionCue:
    words = (WordTiming("Pantofi", t0, t0 + 0.4), WordTiming("sport", t0 + 0.4, t0 + 0.9))
    return CaptionCue(t0, t0 + 0.9, words)


@pytest.mark.parametrize("vo, expected", [(2.0, 5.0), (8.0, 9.0), (70.0, 60.0), (4.0, 5.0), (4.5, 5.5)])
def test_duration_is_voiceover_plus_tail_clamped(vo, expected):
    assert video_duration(vo, BatchSettings()) == pytest.approx(expected)


def test_duration_limits_must_make_sense():
    with pytest.raises(ConfigError):
        video_duration(5, BatchSettings(duration_min_s=10, duration_max_s=5))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_encode_argv_for_each_preset(name):
    preset = PRESETS[name]
    spec = build_spec(product(), image(), voiceover(8.0), BatchSettings(preset=name), cues=(cue(),),
                      loudness=Loudness(-20.0, -9.0))
    argv = encode_argv(spec, Path("/tmp/out.mp4"))
    joined = " ".join(argv)
    assert argv[0] == "ffmpeg"
    assert argv[argv.index("-s") + 1] == f"{preset.width}x{preset.height}"
    assert argv[argv.index("-framerate") + 1] == str(preset.fps)
    assert argv[argv.index("-c:v") + 1] == "libx264"
    assert argv[argv.index("-preset") + 1] == preset.x264_preset
    assert argv[argv.index("-crf") + 1] == str(preset.crf)
    assert argv[argv.index("-profile:v") + 1] == preset.profile
    assert argv[argv.index("-level:v") + 1] == preset.level
    assert argv[argv.index("-g") + 1] == str(preset.gop)
    assert argv[argv.index("-maxrate") + 1] == f"{preset.maxrate_kbps}k"
    assert argv[argv.index("-bufsize") + 1] == f"{preset.bufsize_kbps}k"
    assert argv[argv.index("-b:a") + 1] == f"{preset.audio_bitrate_kbps}k"
    assert argv[argv.index("-ar") + 1] == str(preset.audio_rate)
    assert argv[argv.index("-c:a") + 1] == "aac"
    assert "+faststart" in argv and argv[argv.index("-pix_fmt", argv.index("-c:v")) + 1] == "yuv420p"
    assert argv[argv.index("-frames:v") + 1] == str(spec.frames) and spec.frames == round(9.0 * preset.fps)
    assert "volume=6.000dB" in joined and "alimiter" not in joined
    assert argv[-1] == "file:/tmp/out.mp4"
    assert preset.max_bytes > 10_000_000


def test_presets_cover_the_platforms():
    for name in ("tiktok", "reels", "youtube_shorts", "generic"):
        assert (PRESETS[name].width, PRESETS[name].height) == (1080, 1920)
    assert PRESETS["square"].width == PRESETS["square"].height
    assert PRESETS["landscape"].width * 9 == PRESETS["landscape"].height * 16
    preview = PRESETS["preview"]
    assert preview.width * preview.height < 360 * 640 + 1 and preview.x264_preset == "ultrafast"


def test_unknown_preset_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        build_spec(product(), image(), voiceover(), BatchSettings(preset="vhs"))
    assert err.value.field == "preset"


def test_product_text_never_reaches_ffmpeg_arguments():
    hostile = product(title=HOSTILE, brand=HOSTILE, sale_price=Decimal("1.5"))
    spec = build_spec(hostile, image(), voiceover(), BatchSettings(cta_text=HOSTILE), cues=(cue(),))
    argv = encode_argv(spec, Path("/tmp/out.mp4"))
    for token in ("%{pts}", "drawtext", "back;", "sport", "Ionescu"):
        assert all(token not in arg for arg in argv)


def test_audio_filter_pads_trims_and_fades_only_when_trimmed():
    spec = build_spec(product(), image(), voiceover(70.0), BatchSettings())
    graph = audio_filter(spec.audio)
    assert "apad" in graph and "atrim=0:60.000000" in graph and "afade=t=out" in graph
    assert any("trimmed" in w for w in spec.warnings)
    short = build_spec(product(), image(), voiceover(3.0), BatchSettings())
    assert "afade" not in audio_filter(short.audio) and "atrim=0:5.000000" in audio_filter(short.audio)


def test_plain_gain_when_the_peaks_allow_it():
    quiet = Loudness(-30.0, -20.0)
    assert not quiet.needs_limiter() and quiet.gain_db() == pytest.approx(16.0)
    spec = build_spec(product(), image(), voiceover(), BatchSettings(), loudness=quiet)
    assert audio_filter(spec.audio).endswith("volume=16.000dB")


def test_peaky_audio_uses_gain_and_limiter():
    assert Loudness(-20.5, 0.0).needs_limiter()
    assert Loudness(-20.5, -8.4).needs_limiter() and not Loudness(-20.5, -8.4).needs_limiter(-15.0)
    spec = build_spec(product(), image(), voiceover(), BatchSettings(),
                      loudness=Loudness(-20.5, 0.0, limiter_gain_db=9.75))
    graph = audio_filter(spec.audio)
    assert "volume=9.750dB" in graph and "alimiter=limit=0.794" in graph
    probe_argv = limiter_probe_argv(spec.audio, 6.5)
    graph = probe_argv[probe_argv.index("-filter_complex") + 1]
    assert graph.count("ebur128@g") == len(LIMITER_PROBE_STEPS_DB) and "volume=12.500dB" in graph
    assert probe_argv.count("-map") == len(LIMITER_PROBE_STEPS_DB)


def test_silence_gets_no_gain_instead_of_infinite_gain():
    for silent in (Loudness(float("-inf"), float("-inf")), Loudness(-70.0, -60.0)):
        spec = build_spec(product(), image(), voiceover(), BatchSettings(), loudness=silent)
        assert silent.is_silent and "volume" not in audio_filter(spec.audio)
    spec = build_spec(product(), image(), voiceover(), BatchSettings())
    graph = " ".join(measure_argv(spec.audio))
    assert "ebur128=" in graph and "peak=sample" in graph


def _inside(outer: Rect, inner: Rect) -> bool:
    return outer.contains(inner)


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("on_sale", [False, True])
@pytest.mark.parametrize("aspect", [(1600, 1600), (3000, 1000), (800, 2400)])
def test_text_stays_in_the_safe_zone_and_off_the_photo(name, on_sale, aspect):
    sale = Decimal("199.99") if on_sale else None
    spec = build_spec(product(sale_price=sale), image(*aspect), voiceover(),
                      BatchSettings(preset=name), cues=(cue(),))
    safe = spec.layout.safe
    box = spec.photo.box
    roles = {t.role for t in spec.texts}
    assert {"title", "price", "cta"} <= roles
    assert ("badge" in roles) == on_sale and ("price_original" in roles) == on_sale
    for layer in spec.texts:
        assert _inside(safe, layer.rect), (layer.role, layer.rect, safe)
        if layer.role != "badge":  # the badge deliberately sits on the photo's corner
            assert not layer.rect.intersects(box), (layer.role, layer.rect, box)
    assert _inside(safe, spec.captions.rect)
    assert _inside(Rect(0, 0, spec.width, spec.height), box)
    assert box.x % 2 == box.y % 2 == box.w % 2 == box.h % 2 == 0
    if PRESETS[name].orientation == "portrait":
        # Nothing under the platform UI: bottom 23 % and right 14 %.
        for layer in spec.texts:
            assert layer.rect.bottom <= spec.height * 0.77 and layer.rect.right <= spec.width * 0.86


def test_sale_layout_prices_and_badge():
    spec = build_spec(product(price=Decimal("1249.90"), sale_price=Decimal("999.92")), image(), voiceover(),
                      BatchSettings())
    by_role = {t.role: t for t in spec.texts}
    assert by_role["price"].text == "999,92 lei"
    assert by_role["price_original"].text == "1.249,90 lei" and by_role["price_original"].style == "strike"
    assert by_role["badge"].text == "-20%"
    assert by_role["price"].size_max > by_role["price_original"].size_max


def test_regular_price_has_no_badge():
    spec = build_spec(product(sale_price=Decimal("299.99")), image(), voiceover(), BatchSettings())
    assert {t.role for t in spec.texts} == {"brand", "title", "price", "cta"}


def test_captions_only_when_enabled_and_present():
    assert build_spec(product(), image(), voiceover(), BatchSettings(), cues=(cue(),)).captions is not None
    assert build_spec(product(), image(), voiceover(), BatchSettings(captions=False), cues=(cue(),)).captions is None
    assert build_spec(product(), image(), voiceover(), BatchSettings(), cues=()).captions is None


def test_missing_logo_and_bad_colour_are_config_errors(tmp_path):
    with pytest.raises(ConfigError) as err:
        build_spec(product(), image(), voiceover(), BatchSettings(logo_path=str(tmp_path / "none.png")))
    assert err.value.field == "logo_path"
    with pytest.raises(ConfigError) as err:
        build_spec(product(), image(), voiceover(), BatchSettings(accent_color="orange"))
    assert err.value.field == "accent_color"


def test_box_follows_photo_aspect_within_limits():
    region = Rect(0, 400, 1080, 700)
    assert fit_box(region, 1000, 1000).w == 700
    wide = fit_box(region, 5000, 1000)  # clamped to 1.8:1, the rest is cropped
    assert wide.w == 1080 and abs(wide.w / wide.h - 1.8) < 0.02
    tall = fit_box(region, 600, 1000)
    assert tall.h == 700 and abs(tall.w / tall.h - 0.6) < 0.01


def test_layout_scales_with_the_canvas():
    classic = load_template("classic")
    big = resolve_layout(classic, PRESETS["tiktok"], on_sale=False)[0]
    small = resolve_layout(classic, PRESETS["preview"], on_sale=False)[0]
    assert small.scale == pytest.approx(big.scale / 3)
    assert abs(small.box("title").y * 3 - big.box("title").y) <= 3


# ----------------------------------------------------------------- motion

def test_auto_motion_is_deterministic_and_varied():
    keys = [f"sku-{i}" for i in range(60)]
    first = [choose_direction("auto", k) for k in keys]
    assert first == [choose_direction("auto", k) for k in keys]
    assert set(first) == set(DIRECTIONS)
    assert choose_direction("pan_left", "x") == "pan_left"
    with pytest.raises(ConfigError):
        choose_direction("spin", "x")


def test_easing_starts_and_ends_at_rest():
    assert ease(0) == 0 and ease(1) == 1 and ease(0.5) == pytest.approx(0.5)
    assert ease(0.01) < 0.01 * 0.1 and 1 - ease(0.99) < 0.01 * 0.1


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_motion_path_is_smooth_and_stays_inside_the_photo(direction):
    motion = Motion(direction, 0.15)
    src_w, src_h, box_w, box_h = 1400, 1000, 700, 700
    frames = 300
    previous = None
    steps = []
    for n in range(frames):
        zoom, ox, oy = motion.view_at(n / (frames - 1))
        assert 1.0 <= zoom <= 1.15 + 1e-9 and -1 <= ox <= 1 and -1 <= oy <= 1
        win = cover_window(src_w, src_h, box_w, box_h, zoom, ox, oy)
        assert win.center_x - win.width / 2 >= -1e-6 and win.center_x + win.width / 2 <= src_w + 1e-6
        assert win.center_y - win.height / 2 >= -1e-6 and win.center_y + win.height / 2 <= src_h + 1e-6
        if previous is not None:
            steps.append(abs(win.center_x - previous.center_x) + abs(win.center_y - previous.center_y)
                         + abs(win.width - previous.width))
        previous = win
    # Sub-pixel, continuous: no step is more than a tiny fraction of a pixel bigger than its neighbour.
    jumps = [abs(b - a) for a, b in zip(steps, steps[1:])]
    assert max(jumps) < 0.05
    assert sum(steps) > 10  # it does move


def test_inverse_affine_maps_box_edges_to_window_edges():
    win = cover_window(2000, 1000, 500, 500, 1.25, 0.3, 0.0)
    (kx, _, bx), (_, ky, by) = inverse_affine(win, 500, 500)
    left_edge = kx * -0.5 + bx
    right_edge = kx * 499.5 + bx
    assert left_edge + 0.5 == pytest.approx(win.center_x - win.width / 2)
    assert right_edge + 0.5 == pytest.approx(win.center_x + win.width / 2)
    assert kx == pytest.approx(ky)


def test_invalid_strength_is_rejected():
    with pytest.raises(ConfigError):
        Motion("zoom_in", 3.0)
    spec = build_spec(product(), image(), voiceover(), BatchSettings(motion="pan_up", motion_strength=0.2))
    assert spec.photo.motion == Motion("pan_up", 0.2)
    assert dataclasses.is_dataclass(spec) and spec.__dataclass_params__.frozen

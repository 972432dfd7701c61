"""Text layers: cleaning, wrapping, shrinking, ellipsizing, Romanian diacritics, hostile titles."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch_video.models import PreparedImage, Product
from batch_video.render import render_still
from batch_video.render import text as txt
from batch_video.render.scene import render_text_layer
from batch_video.render.spec import Rect, TextLayer
from batch_video.settings import BatchSettings

FONT = txt.DEFAULT_FONT

HOSTILE_TITLES = [
    "Pantofi \"sport\" cu 'ghilimele'",
    "Raport: 3:2 ratio; a=b:c\\:d",
    "Back\\slash \\\\ and \\n escaped \\' quote",
    "%{pts} %{localtime} %{eif:n:d} %{e:t*100}",
    "100% bumbac, reducere 50%% azi",
    "Line one\nLine two\r\nLine three\ttab",
    "Emoji 😀🔥👟 party 🇷🇴 flag",
    "Supercalifragilisticexpialidocious" * 4,
    "drawtext=text='pwned':fontsize=200,[in]null[out]; movie=/etc/passwd",
    "\x00\x07\x1b[31mcontrol\u200b\u202eRTL override",
    "",
    "   ",
    "ăâîșț ĂÂÎȘȚ şţŞŢ — „ghilimele românești”",
]


@pytest.mark.parametrize("char", list("ăâîșțĂÂÎȘȚşţŞŢ"))
def test_romanian_diacritics_have_real_glyphs(char):
    assert txt.has_glyph(FONT, char)


def test_missing_glyph_detection():
    assert not txt.has_glyph(FONT, "\U0001f9ff")  # nazar amulet: not in DejaVu
    assert txt.has_glyph(FONT, "A")


def test_both_comma_below_and_cedilla_forms_are_kept_distinct():
    cleaned = txt.clean_text("ș ş ț ţ Ș Ş Ț Ţ", FONT)
    assert cleaned == "ș ş ț ţ Ș Ş Ț Ţ"
    font = txt.load_font(FONT, 80)
    comma, cedilla = font.getmask("ș"), font.getmask("ş")
    assert bytes(comma) != bytes(cedilla)


def test_combining_comma_is_composed():
    assert txt.clean_text("s\u0326i t\u0326ara", FONT) == "și țara"


def test_clean_text_removes_controls_and_collapses_whitespace():
    assert txt.clean_text("a\n\nb\t c\x00\x1b\u200b d\u202e", FONT) == "a b c d"


def test_wrap_breaks_very_long_words():
    font = txt.load_font(FONT, 40)
    lines = txt.wrap_words("x" * 200, font, 300)
    assert len(lines) > 3 and all(txt.text_width(font, line) <= 300 for line in lines)
    assert "".join(lines) == "x" * 200


def test_fit_shrinks_before_ellipsizing():
    short = txt.fit_text("Pantofi sport", FONT, 800, 3, 68, 40)
    assert short.size == 68 and short.lines == ("Pantofi sport",) and not short.truncated
    medium = txt.fit_text("Pantofi sport de alergare pentru bărbați, talpă din spumă, mărimea 42", FONT, 700, 3, 68, 40)
    assert len(medium.lines) <= 3 and not medium.truncated and medium.size < 68
    long = txt.fit_text("cuvânt " * 200, FONT, 500, 3, 68, 40)
    assert long.truncated and len(long.lines) == 3 and long.size == 40
    assert long.lines[-1].endswith(txt.ELLIPSIS)
    font = txt.load_font(FONT, 40)
    assert all(txt.text_width(font, line) <= 500 for line in long.lines)


def test_parse_color():
    assert txt.parse_color("#E4572E") == (228, 87, 46, 255)
    assert txt.parse_color("fff") == (255, 255, 255, 255)
    with pytest.raises(Exception):
        txt.parse_color("red")


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_title_layer_renders_within_its_rect(title):
    layer = TextLayer("title", title, Rect(65, 200, 864, 250), 68, 40, 3)
    image, _ = render_text_layer(layer, FONT)
    assert image.mode == "RGBA" and image.width == 864 and image.height <= 250
    has_ink = image.getchannel("A").getbbox() is not None
    assert has_ink == bool(txt.clean_text(title, FONT))


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> PreparedImage:
    path = tmp_path_factory.mktemp("photo") / "image.jpg"
    rng = np.random.default_rng(3)
    Image.fromarray((rng.random((600, 600, 3)) * 255).astype(np.uint8)).save(path)
    return PreparedImage(path, 600, 600, 600, 600, "JPEG")


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_render_a_frame(photo, title):
    product = Product(id="H1", key="h1", title=title, price=Decimal("10"), sale_price=Decimal("5"),
                      currency="RON", image_link=str(photo.path), brand=title)
    frame = render_still(product, photo, BatchSettings(preset="preview", cta_text=title or "Cumpără"))
    assert frame.shape == (640, 360, 3) and frame.dtype == np.uint8
    # The title area differs from the same frame with no title at all: the text was drawn.
    blank = render_still(Product(id="H1", key="h1", title="", price=Decimal("10"), sale_price=Decimal("5"),
                                 currency="RON", image_link=str(photo.path), brand=""),
                         photo, BatchSettings(preset="preview", cta_text=title or "Cumpără"))
    drew_text = not np.array_equal(frame[50:160], blank[50:160])
    assert drew_text == bool(txt.clean_text(title, FONT))


@pytest.mark.parametrize("title", [
    "Căști over-ear wireless cu anulare activă a zgomotului",
    "Ghiveci de teracotă pentru grădină, cu tăviță și găuri de drenaj, gri antracit, 45 cm",
])
def test_title_lines_fit_whole_without_clipping_descenders(title):
    rect = Rect(65, 200, 864, 250)
    layer = TextLayer("title", title, rect, 68, 40, 3)
    pad = max(1, 68 // 22) + max(1, 68 // 18) + 2
    fitted = txt.fit_text(title, FONT, rect.w - 2 * pad, 3, 68, 40, max_height=rect.h - 2 * pad)
    font = txt.load_font(FONT, fitted.size)
    assert txt.line_height(font) * len(fitted.lines) + 2 * pad <= rect.h
    image, _ = render_text_layer(layer, FONT)
    # The drawn lines (ink included) end inside the layer: nothing was cropped away.
    assert image.getchannel("A").getbbox()[3] < image.height
    assert image.height <= rect.h

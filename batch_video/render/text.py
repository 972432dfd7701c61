"""Text layers drawn with Pillow.

Product text never reaches ffmpeg: it is drawn here into RGBA images, so
quotes, colons, `%{...}` or backslashes in a title cannot break a filter graph.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from batch_video.errors import ConfigError

DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
REGULAR_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
ELLIPSIS = "…"
# A code point no font maps: what it draws is the font's "missing glyph" box.
_SURELY_MISSING = "\U0010fffd"

Color = tuple[int, int, int, int]


def resolve_font_path(font_path: str = "") -> str:
    path = font_path or DEFAULT_FONT
    if not Path(path).is_file():
        raise ConfigError(f"font file not found: {path}", field="font_path")
    return path


@functools.lru_cache(maxsize=64)
def load_font(font_path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(font_path, size=max(1, int(size)))
    except OSError as exc:
        raise ConfigError(f"cannot load font {font_path}: {exc}", field="font_path") from exc


@functools.lru_cache(maxsize=4096)
def has_glyph(font_path: str, char: str) -> bool:
    """True when the font draws `char` with a real glyph (not the missing-glyph box)."""
    if char.isspace():
        return True
    font = load_font(font_path, 32)
    missing = font.getmask(_SURELY_MISSING)
    mask = font.getmask(char)
    if mask.size == (0, 0) or mask.getbbox() is None:
        # Nothing drawn: combining marks or zero-width characters are fine
        # only if the font knows them; treat an empty non-space glyph as missing.
        return unicodedata.category(char).startswith("M")
    return not (mask.size == missing.size and bytes(mask) == bytes(missing))


def clean_text(text: str, font_path: str = DEFAULT_FONT) -> str:
    """One line of printable text the font can draw.

    NFC first so `s` + combining comma (U+0326) becomes `ș`; control and format
    characters go, whitespace collapses, and characters the font lacks (emoji
    in DejaVu) are dropped rather than drawn as boxes.
    """
    text = unicodedata.normalize("NFC", text or "")
    out = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\r\n\t\v\f" or category == "Zl" or category == "Zp":
            out.append(" ")
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        elif has_glyph(font_path, char):
            out.append(char)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def text_width(font: ImageFont.FreeTypeFont, text: str) -> float:
    return font.getlength(text)


def _split_long_word(word: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    pieces, current = [], ""
    for char in word:
        if current and text_width(font, current + char) > max_width:
            pieces.append(current)
            current = char
        else:
            current += char
    if current:
        pieces.append(current)
    return pieces


def wrap_words(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy word wrap; a word wider than the line is broken between characters."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if not word:
            continue
        candidate = f"{current} {word}" if current else word
        if text_width(font, candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if text_width(font, word) <= max_width:
            current = word
        else:
            pieces = _split_long_word(word, font, max_width)
            lines.extend(pieces[:-1])
            current = pieces[-1]
    if current:
        lines.append(current)
    return lines


def ellipsize(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    if text_width(font, line + ELLIPSIS) <= max_width:
        return line + ELLIPSIS
    while line and text_width(font, line.rstrip() + ELLIPSIS) > max_width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class FittedText:
    lines: tuple[str, ...]
    size: int
    truncated: bool


def fit_text(
    text: str,
    font_path: str,
    max_width: float,
    max_lines: int,
    size_max: int,
    size_min: int,
    *,
    max_height: float | None = None,
) -> FittedText:
    """Largest font size (down to size_min) whose wrap fits max_lines and max_height; else ellipsize at size_min."""
    size_min = max(1, min(size_min, size_max))
    size = size_max
    while True:
        font = load_font(font_path, size)
        allowed = max_lines
        if max_height is not None:
            # Whole lines only: a clipped descender (g, ț, ș) reads as a rendering bug.
            allowed = max(1, min(max_lines, int(max_height // line_height(font))))
        lines = wrap_words(text, font, max_width)
        if len(lines) <= allowed:
            return FittedText(tuple(lines), size, False)
        if size <= size_min:
            kept = lines[:allowed]
            kept[-1] = ellipsize(kept[-1], font, max_width)
            return FittedText(tuple(kept), size, True)
        size = max(size_min, int(size * 0.92))


def line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return int(round((ascent + descent) * 1.08))


def draw_lines(
    lines: tuple[str, ...] | list[str],
    font: ImageFont.FreeTypeFont,
    box_w: int,
    *,
    fill: Color,
    align: str = "left",
    stroke: int = 0,
    stroke_fill: Color = (0, 0, 0, 255),
    shadow: int = 0,
    strike: bool = False,
) -> Image.Image:
    """RGBA image, `box_w` wide, tall enough for the lines (with stroke and shadow room)."""
    lh = line_height(font)
    pad = stroke + shadow + 2
    height = lh * len(lines) + 2 * pad
    image = Image.new("RGBA", (box_w, max(1, height)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        width = text_width(font, line)
        if align == "center":
            x = (box_w - width) / 2
        elif align == "right":
            x = box_w - width - pad
        else:
            x = pad
        y = pad + i * lh
        if shadow:
            draw.text((x + shadow, y + shadow), line, font=font, fill=(0, 0, 0, 150),
                      stroke_width=stroke, stroke_fill=(0, 0, 0, 150))
        draw.text((x, y), line, font=font, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill)
        if strike:
            ascent, _ = font.getmetrics()
            mid = y + ascent * 0.62
            thickness = max(2, font.size // 12)
            draw.line([(x - 2, mid), (x + width + 2, mid)], fill=fill, width=thickness)
    return image


def pill(text: str, font: ImageFont.FreeTypeFont, *, fill: Color, text_fill: Color,
         pad_x: int, pad_y: int) -> Image.Image:
    """A rounded button/badge with centred text."""
    width = int(text_width(font, text)) + 2 * pad_x
    ascent, descent = font.getmetrics()
    height = ascent + descent + 2 * pad_y
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([(0, 0), (width - 1, height - 1)], radius=height // 2, fill=fill)
    draw.text((width / 2, height / 2), text, font=font, fill=text_fill, anchor="mm")
    return image


def parse_color(value: str, field: str = "accent_color") -> Color:
    raw = (value or "").strip().lstrip("#")
    if len(raw) == 3:
        raw = "".join(c * 2 for c in raw)
    if not re.fullmatch(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?", raw):
        raise ConfigError(f"invalid colour {value!r} (expected #RRGGBB)", field=field)
    r, g, b = int(raw[0:2], 16), int(raw[2:4], 16), int(raw[4:6], 16)
    a = int(raw[6:8], 16) if len(raw) == 8 else 255
    return r, g, b, a


def readable_on(color: Color) -> Color:
    """Black or white, whichever reads better on `color`."""
    r, g, b = color[:3]
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return (20, 20, 20, 255) if luminance > 150 else (255, 255, 255, 255)

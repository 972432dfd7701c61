"""Small inline previews for UIs that cannot read the local disk (e.g. Dagster's)."""

from __future__ import annotations

import base64
import io
import re
import string
from pathlib import Path

from PIL import Image


def thumbnail_data_uri(image_path: Path, width: int = 180, quality: int = 70) -> str:
    """A `data:image/jpeg;base64,...` URI of the image scaled to `width` pixels."""
    with Image.open(image_path) as img:
        # A JPEG decodes straight at 1/2..1/8 scale when that is still larger than the thumbnail: many times faster.
        img.draft("RGB", (width * 2, width * 2 * img.height // max(1, img.width)))
        img = img.convert("RGB")
        height = max(1, round(img.height * width / img.width))
        img = img.resize((width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Alt text is feed content (a product title): at most this long, on one line.
ALT_MAX_CHARS = 120
_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")


def markdown_text(text: str, limit: int = ALT_MAX_CHARS) -> str:
    """`text` as literal Markdown: one line, cut to `limit`, every ASCII punctuation backslash-escaped.

    CommonMark lets any ASCII punctuation be escaped, so a title like `x](https://host/p.png) ![y` or
    `<img src=...>` stays text instead of becoming a link, an image fetched from elsewhere, or HTML.
    """
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def thumbnail_markdown(image_path: Path, alt: str = "preview", width: int = 180) -> str:
    """A Markdown image of the thumbnail; `alt` (feed text) is escaped so it cannot add links, images or HTML."""
    return f"![{markdown_text(alt)}]({thumbnail_data_uri(image_path, width)})"

"""Feed text shown in the Dagster UI's Markdown previews stays text: no link, no outside image, no HTML.

The product title is the alt text of the preview image; rendered by a CommonMark
parser (the UI renders the same syntax), a hostile title must yield exactly one
image, the inline thumbnail, and nothing that points elsewhere.
"""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt
from PIL import Image

from batch_video.thumbnails import ALT_MAX_CHARS, markdown_text, thumbnail_markdown

HOSTILE_TITLES = [
    "Cana](https://tracker.example/pixel.png) ![x",
    "Cana [click](https://phish.example/login)",
    'Cana <img src="https://tracker.example/p.png"> <a href="https://phish.example">x</a>',
    "Cana\n\n# heading\n\n[ref]: https://phish.example",
    "Cana ![inner](https://tracker.example/p.png)",
    "Cana \\](https://tracker.example/p.png)",
]


def tokens(markdown: str) -> list:
    """Every inline token of the rendered document, children included."""
    out = []
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        out.append(token)
        out.extend(token.children or [])
    return out


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "poster.jpg"
    Image.new("RGB", (320, 568), (200, 40, 40)).save(path, "JPEG")
    return path


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_title_with_markdown_or_html_stays_the_alt_text_of_the_one_inline_image(photo, title):
    markdown = thumbnail_markdown(photo, title)
    found = tokens(markdown)
    images = [t for t in found if t.type == "image"]
    assert len(images) == 1
    assert images[0].attrs["src"].startswith("data:image/jpeg;base64,")
    assert not [t for t in found if t.type in ("link_open", "html_inline", "html_block", "heading_open")]
    html = MarkdownIt("commonmark").render(markdown)
    assert 'href="' not in html and "<img src=\"https://" not in html
    # The words are still there for a person to read.
    assert "Cana" in images[0].content


def test_alt_text_is_one_line_and_cut():
    text = markdown_text("a" * 1000 + "\nb")
    assert "\n" not in text
    assert len(text) == ALT_MAX_CHARS and text.endswith("…")

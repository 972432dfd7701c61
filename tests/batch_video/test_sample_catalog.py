"""The bundled sample catalog is consistent: feed, CSV export and photos agree."""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch_video.sample import BROKEN_PRODUCT_ID, CSV_PATH, FEED_PATH, IMAGES_DIR, SAMPLE_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
G = "{http://base.google.com/ns/1.0}"
PRICE_PATTERN = re.compile(r"^\d{1,3}(\.\d{3})*(,\d{2})? RON$")


def _load_generator():
    path = REPO_ROOT / "scripts" / "make_sample_catalog.py"
    spec = importlib.util.spec_from_file_location("make_sample_catalog", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_sample_catalog", module)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def _items(feed_path: Path) -> list[dict[str, str]]:
    root = ET.parse(feed_path).getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    out = []
    for item in root.iter("item"):
        out.append({child.tag.removeprefix(G): (child.text or "") for child in item if child.tag.startswith(G)})
    return out


def _ro_price(raw: str) -> Decimal:
    return Decimal(raw.removesuffix(" RON").replace(".", "").replace(",", "."))


@pytest.fixture(scope="module")
def items() -> list[dict[str, str]]:
    return _items(FEED_PATH)


def test_feed_declares_google_namespace_and_has_nine_items(items):
    raw = FEED_PATH.read_text(encoding="utf-8")
    assert 'xmlns:g="http://base.google.com/ns/1.0"' in raw
    assert len(items) == 9
    required = {"id", "title", "description", "link", "image_link", "brand", "condition", "availability", "price", "product_type"}
    for item in items:
        assert required <= item.keys(), item.get("id")
        assert item["link"].startswith("https://example.ro/")
        assert item["image_link"].startswith("images/")


def test_every_image_exists_except_the_deliberately_broken_item(items):
    missing = [item["id"] for item in items if not (SAMPLE_DIR / item["image_link"]).is_file()]
    assert missing == [BROKEN_PRODUCT_ID]
    broken = next(item for item in items if item["id"] == BROKEN_PRODUCT_ID)
    assert broken["image_link"] == "images/missing-photo.jpg"


def test_photos_have_varied_aspect_ratios_and_modest_sizes(items):
    paths = [SAMPLE_DIR / item["image_link"] for item in items if item["id"] != BROKEN_PRODUCT_ID]
    ratios = set()
    for path in paths:
        with Image.open(path) as image:
            ratios.add(round(image.width / image.height, 2))
        assert path.stat().st_size <= 400 * 1024, path.name
    assert any(r > 1.2 for r in ratios), ratios  # landscape
    assert any(r < 0.85 for r in ratios), ratios  # portrait
    assert 1.0 in ratios  # square
    assert sum(p.stat().st_size for p in IMAGES_DIR.iterdir()) <= 3 * 1024 * 1024


def test_png_cut_out_has_real_transparency(items):
    pngs = [SAMPLE_DIR / item["image_link"] for item in items if item["image_link"].endswith(".png")]
    assert len(pngs) == 1
    with Image.open(pngs[0]) as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255
    assert 0.15 < (alpha == 0).mean() < 0.85  # a product on a transparent background, not a frame
    assert ((alpha > 0) & (alpha < 255)).any()  # anti-aliased edges


def test_photos_are_shaded_not_flat_clip_art(items):
    for item in items:
        path = SAMPLE_DIR / item["image_link"]
        if not path.is_file():
            continue
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB").resize((256, 256)))
        distinct = len(np.unique(rgb.reshape(-1, 3), axis=0))
        # flat vector art of the same size has a few hundred colours; gradients, shading and grain give thousands
        assert distinct > 2000, (path.name, distinct)


def test_titles_use_romanian_comma_below_diacritics(items):
    titles = " ".join(item["title"] for item in items).lower()
    for letter in "șțăîâ":
        assert letter in titles, letter
    assert "\u015f" not in titles and "\u0163" not in titles  # cedilla look-alikes


def test_prices_are_romanian_formatted_with_sales(items):
    for item in items:
        assert PRICE_PATTERN.match(item["price"]), item["price"]
    raw_prices = [item["price"] for item in items]
    assert any("." in p for p in raw_prices) and any("," not in p for p in raw_prices)
    on_sale = [item for item in items if item.get("sale_price")]
    assert len(on_sale) >= 2
    for item in on_sale:
        assert _ro_price(item["sale_price"]) < _ro_price(item["price"])


def test_ids_include_one_that_needs_slugging(items):
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids)
    assert any(" " in i and "/" in i and "," in i for i in ids)


def test_a_description_carries_html_and_an_entity(items):
    html = [item["description"] for item in items if "<p>" in item["description"]]
    assert html and "&amp;" in html[0]


def test_csv_export_matches_the_feed(items):
    text = CSV_PATH.read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    assert {"cod", "denumire", "marca", "pret", "pret_redus", "imagine", "descriere"} <= rows[0].keys()
    assert [r["cod"] for r in rows] == [i["id"] for i in items]
    assert [r["denumire"] for r in rows] == [i["title"] for i in items]
    assert [r["imagine"] for r in rows] == [i["image_link"] for i in items]
    for row, item in zip(rows, items):
        assert _ro_price(row["pret"] + " RON") == _ro_price(item["price"])
        assert "RON" not in row["pret"]


def test_bundled_files_are_what_the_generator_writes():
    assert FEED_PATH.read_text(encoding="utf-8") == generator.render_feed(generator.SAMPLE_ITEMS)
    assert CSV_PATH.read_text(encoding="utf-8") == generator.render_csv(generator.SAMPLE_ITEMS)


def test_scaled_feed_has_distinct_products_and_resolvable_photos(tmp_path):
    assert generator.main(["--count", "20", "--out", str(tmp_path)]) == 0
    items = _items(tmp_path / "feed.xml")
    assert len(items) == 20
    assert len({i["id"] for i in items}) == 20
    assert len({i["title"] for i in items}) == 20
    assert all((tmp_path / i["image_link"]).is_file() for i in items)
    assert all(PRICE_PATTERN.match(i["price"]) for i in items)


def test_scaled_feed_adds_the_broken_item_only_when_asked(tmp_path):
    generator.main(["--count", "3", "--out", str(tmp_path), "--with-broken"])
    items = _items(tmp_path / "feed.xml")
    assert len(items) == 4
    assert [i["id"] for i in items if not (tmp_path / i["image_link"]).is_file()] == [BROKEN_PRODUCT_ID]


def test_studio_is_deterministic_for_a_seed():
    def paint(seed: int) -> np.ndarray:
        studio = generator.Studio(120, 90, seed)
        studio.backdrop((0.8, 0.8, 0.8), (0.9, 0.9, 0.9))
        blob = studio.ellipse(60, 45, 30, 20)
        studio.paint(blob, studio.shade(studio.pillow_normals(blob, 6), (0.5, 0.3, 0.2)) * studio.texture(1.0, 0.05))
        return np.asarray(studio.finish())

    assert np.array_equal(paint(7), paint(7))
    assert not np.array_equal(paint(7), paint(8))


@pytest.mark.slow
def test_regenerated_cut_out_matches_the_bundled_png():
    spec = next(s for s in generator.PHOTOS if s.transparent)
    fresh = np.asarray(generator.render_photo(spec, generator.DEFAULT_SEED), np.int16)
    with Image.open(IMAGES_DIR / spec.filename) as image:
        bundled = np.asarray(image, np.int16)
    assert fresh.shape == bundled.shape
    assert np.abs(fresh - bundled).max() <= 2

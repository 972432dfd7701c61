"""A product's additional photos through the stages: prepared with the main one, saved, rendered as scenes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from batch_video import pipeline
from batch_video.links import LinkPolicy
from batch_video.models import Product, Voiceover
from batch_video.media import probe
from batch_video.sample import IMAGES_DIR
from batch_video.settings import BatchSettings
from batch_video.workspace import ProductWorkspace

SHOTS = [IMAGES_DIR / f"pantofi-sport-albi{suffix}.jpg" for suffix in ("", "-2", "-3", "-4", "-5")]


def workspace(tmp_path: Path, *extra: Path | str) -> ProductWorkspace:
    ws = ProductWorkspace(tmp_path / "data", "p-1")
    ws.save_product(Product(id="P 1", key="p-1", title="Pantofi sport din piele", price=Decimal("349.99"),
                            sale_price=Decimal("279.99"), currency="RON", image_link=str(SHOTS[0]),
                            additional_image_links=tuple(str(e) for e in extra), brand="Pas Ușor"))
    return ws


POLICY = LinkPolicy(local_roots=(IMAGES_DIR.resolve(),))


def test_the_image_stage_keeps_good_extra_photos_and_says_why_others_are_left_out(tmp_path):
    ws = workspace(tmp_path, SHOTS[1], IMAGES_DIR / "lipsa.jpg", SHOTS[2], SHOTS[3], SHOTS[4])
    result = pipeline.image(ws, POLICY, max_extra=3)
    assert [e.source_width for e in result.extras] == [Image.open(s).width for s in SHOTS[1:4]]
    assert len(result.skipped) == 1 and result.skipped[0].startswith("additional photo 2 (")
    assert ws.load_extra_images() == (result.extras, result.skipped)
    assert ws.load_image() == result.image
    assert pipeline.image(ws, POLICY, max_extra=0).extras == () and ws.load_extra_images() == ((), ())


def test_a_workspace_from_before_extra_photos_has_none(tmp_path):
    assert ProductWorkspace(tmp_path, "old").load_extra_images() == ((), ())


def test_the_render_inputs_hash_follows_the_extra_photos(tmp_path):
    ws = workspace(tmp_path, SHOTS[1], SHOTS[2])
    result = pipeline.image(ws, POLICY)
    product = ws.load_product()
    wav = tmp_path / "v.wav"
    wav.write_bytes(b"RIFF")
    spoken = Voiceover(wav, 3.0, "espeak", "ro")
    settings = BatchSettings()
    both = pipeline.render_inputs_hash(product, result.image, spoken, settings, result.extras)
    assert both == pipeline.render_inputs_hash(product, result.image, spoken, settings, result.extras)
    assert both != pipeline.render_inputs_hash(product, result.image, spoken, settings, result.extras[:1])
    assert both != pipeline.render_inputs_hash(product, result.image, spoken, settings, result.extras[::-1])
    assert both != pipeline.render_inputs_hash(product, result.image, spoken, settings.merged({"template": "sale"}),
                                               result.extras)


@pytest.mark.slow
def test_make_video_renders_a_scene_per_photo(tmp_path, monkeypatch):
    from batch_video.feed import read_feed

    feed = tmp_path / "feed.xml"
    links = "".join(f"<g:additional_image_link>{s}</g:additional_image_link>" for s in SHOTS[1:])
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>'
        f"<item><g:id>P 1</g:id><g:title>Pantofi sport</g:title><g:price>349,99 RON</g:price>"
        f"<g:sale_price>279,99 RON</g:sale_price><g:image_link>{SHOTS[0]}</g:image_link>{links}</item>"
        "</channel></rss>", encoding="utf-8")
    catalog = read_feed(str(feed))
    settings = BatchSettings(preset="preview", tts_provider="espeak", template="showcase", duration_min_s=11.0)
    ws = ProductWorkspace(tmp_path / "data", catalog.products[0].key)
    monkeypatch.setenv("BATCH_VIDEO_IMAGE_ROOTS", str(IMAGES_DIR))  # the photos live outside the feed's folder
    result = pipeline.make_video(catalog, ws, settings, cache_dir=tmp_path / "tts")
    assert result.verdict.passed, result.verdict.summary
    assert len(result.video.extra["scenes"]) == 5 and len(result.video.extra["transitions"]) == 4
    assert float(probe(result.video.video_path)["format"]["duration"]) == pytest.approx(11.0, abs=0.1)

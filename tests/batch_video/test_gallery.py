"""Additional photos: prepared and checked like the main one; broken or duplicate ones skipped with a warning."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch_video.errors import ProductDataError
from batch_video.gallery import hamming, perceptual_hash, prepare_gallery as prepare
from batch_video.links import LinkPolicy
from batch_video.models import Product
from batch_video.sample import IMAGES_DIR


def product(main: Path | str, *extra: Path | str) -> Product:
    return Product(id="CN-1", key="cn-1", title="Cană", price=Decimal("10"), currency="RON", image_link=str(main),
                   additional_image_links=tuple(str(e) for e in extra))


# The sample products' main photos (their additional shots are named -2, -3, ... and -mic).
SAMPLES = sorted(p for p in IMAGES_DIR.iterdir() if p.suffix in (".jpg", ".png") and not re.search(r"-(\d|mic)\.", p.name))


def prepare_gallery(product: Product, out_dir: Path, **kw):
    """Local photos from the sample folder and the test's own folder are allowed, nothing else."""
    roots = (IMAGES_DIR.resolve(), Path(out_dir).resolve().parent)
    return prepare(product, out_dir, policy=LinkPolicy(local_roots=roots), **kw)


def test_five_distinct_photos_are_all_kept(tmp_path):
    gallery = prepare_gallery(product(*SAMPLES[:5]), tmp_path)
    assert len(gallery.photos) == 5 and gallery.warnings == ()
    assert all(p.path.is_file() for p in gallery.photos)
    assert gallery.extras[0].path == tmp_path / "extra" / "1" / gallery.extras[0].path.name


def test_broken_and_duplicate_extras_are_skipped_with_a_warning(tmp_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    smaller = tmp_path / "same-smaller.jpg"
    with Image.open(SAMPLES[0]) as im:
        im.convert("RGB").resize((im.width // 3, im.height // 3)).save(smaller, quality=60)
    links = [tmp_path / "missing.jpg", corrupt, smaller, SAMPLES[1], SAMPLES[1], "", "ftp://x/y.jpg", SAMPLES[2]]
    gallery = prepare_gallery(product(SAMPLES[0], *links), tmp_path / "ws")
    assert [p.source_width for p in gallery.extras] == [Image.open(SAMPLES[1]).width, Image.open(SAMPLES[2]).width]
    notes = gallery.warnings
    assert len(notes) == 6
    assert notes[0].startswith("additional photo 1 (") and "the link is not allowed or not readable" in notes[0]
    assert "additional photo 2" in notes[1] and "cannot decode the image" in notes[1]
    assert "additional photo 3" in notes[2] and "the same picture as the main photo" in notes[2]
    assert "additional photo 5" in notes[3] and "the same link as an earlier photo" in notes[3]
    assert "additional photo 6 (empty link): skipped: the link is empty" == notes[4]
    assert "additional photo 7" in notes[5] and "only http and https links" in notes[5]


def test_only_the_main_photo_is_required(tmp_path):
    with pytest.raises(ProductDataError) as info:
        prepare_gallery(product(tmp_path / "none.jpg", SAMPLES[0]), tmp_path)
    assert info.value.field == "image_link"
    alone = prepare_gallery(product(SAMPLES[0]), tmp_path)
    assert alone.extras == () and alone.warnings == ()


def test_at_most_max_extra_distinct_photos_and_no_leftovers(tmp_path):
    gallery = prepare_gallery(product(*SAMPLES), tmp_path, max_extra=2)
    assert len(gallery.extras) == 2
    assert sorted(p.name for p in (tmp_path / "extra").iterdir()) == ["1", "2"]
    again = prepare_gallery(product(SAMPLES[0]), tmp_path)
    assert again.extras == () and not (tmp_path / "extra").exists()


def test_perceptual_hash_tells_pictures_apart_but_not_sizes(tmp_path):
    with Image.open(SAMPLES[3]) as im:
        rgb = im.convert("RGB")
    rgb.resize((rgb.width // 4, rgb.height // 4)).save(tmp_path / "small.jpg", quality=50)
    rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "mirrored.jpg")
    base = perceptual_hash(SAMPLES[3])
    assert hamming(base, perceptual_hash(tmp_path / "small.jpg")) <= 4
    assert hamming(base, perceptual_hash(tmp_path / "mirrored.jpg")) > 16
    others = [perceptual_hash(p) for p in SAMPLES if p != SAMPLES[3]]
    assert min(hamming(base, h) for h in others) > 16
    noise = np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    assert hamming(base, perceptual_hash(tmp_path / "noise.png")) > 16


def test_same_shape_in_other_colours_is_another_picture(tmp_path):
    """A shirt in red and in white (or two plain backdrops) hash alike in grey; their colours tell them apart."""
    with Image.open(SAMPLES[0]) as im:
        rgb = im.convert("RGB")
    rgb.save(tmp_path / "main.jpg", quality=92)
    Image.fromarray(np.asarray(rgb)[:, :, ::-1].copy()).save(tmp_path / "other-colour.jpg", quality=92)  # RGB -> BGR
    rgb.resize((rgb.width // 2, rgb.height // 2)).save(tmp_path / "smaller.jpg", quality=60)
    plain = []
    for name, colour in (("red.jpg", (200, 40, 40)), ("blue.jpg", (40, 60, 200))):
        Image.new("RGB", (640, 800), colour).save(tmp_path / name, quality=95)
        plain.append(tmp_path / name)
    gallery = prepare_gallery(product(tmp_path / "main.jpg", tmp_path / "other-colour.jpg", tmp_path / "smaller.jpg",
                                      *plain), tmp_path / "ws")
    assert [Path(p.path).parent.name for p in gallery.extras] == ["1", "2", "3"]
    assert len(gallery.warnings) == 1 and "additional photo 2" in gallery.warnings[0]
    assert gallery.warnings[0].endswith("the same picture as the main photo")


def test_sample_feed_products_with_additional_photos(tmp_path):
    from batch_video.catalog import load_catalog
    from batch_video.sample import CSV_PATH, FEED_PATH

    feed = {p.id: p for p in load_catalog(str(FEED_PATH)).products}
    csv = {p.id: p for p in load_catalog(str(CSV_PATH)).products}
    assert {k: p.additional_image_links for k, p in feed.items()} == {k: p.additional_image_links for k, p in csv.items()}
    policy = LinkPolicy.for_source(str(FEED_PATH))
    sneakers = prepare(feed["SKU 1001/RO,alb"], tmp_path / "sneakers", policy=policy)
    assert len(sneakers.photos) == 5 and sneakers.warnings == ()
    mug = prepare(feed["CN-350-SALVIE"], tmp_path / "mug", policy=policy)
    assert len(mug.photos) == 3 and mug.warnings == ()
    # The headphones list one good extra shot, one missing file and their main photo at half size.
    phones = prepare(feed["HP-ANC-700"], tmp_path / "phones", policy=policy)
    assert len(phones.photos) == 2
    missing, duplicate = phones.warnings
    assert missing.startswith("additional photo 2 (") and "not allowed or not readable" in missing
    assert duplicate.startswith("additional photo 3 (") and duplicate.endswith("the same picture as the main photo")

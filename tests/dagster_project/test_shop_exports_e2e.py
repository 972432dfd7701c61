"""A WooCommerce and a Shopify product export, as the platforms write them, synced into partitions and rendered.

The exports are the fixtures of the reader tests with their photo URLs pointed
at local files (one flat colour per photo, so the photo a stage used can be
told from its pixels). One product of each, a sale with a gallery, goes through
the whole asset chain on the preview preset.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image

from batch_video import media, runner
from batch_video.publish import LocalStorage
from batch_video.render import grab_frame_argv
from batch_video.script import say_amount
from dagster_project.assets import product_video_assets
from dagster_project.console.cli import main
from tests.dagster_project.conftest import chain_resources
from tests.dagster_project.test_product_chain import materializations

pytestmark = pytest.mark.slow

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
WOO_UPLOADS = "https://magazin.example.ro/wp-content/uploads/2024/05/"
SHOPIFY_CDN = "https://cdn.shopify.com/s/files/1/0612/3456/7890/files/"


def colour_of(name: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(name.encode()).digest()
    return (40 + digest[0] % 180, 40 + digest[1] % 180, 40 + digest[2] % 180)


def local_export(fixture: str, url_prefix: str, folder: Path) -> Path:
    """The fixture export with its photo URLs turned into photos next to it (relative links, resolved against the file)."""
    text = (FEEDS / fixture).read_text(encoding="utf-8-sig").replace(url_prefix, "photos/")
    for name in set(re.findall(r"photos/([\w.-]+\.jpg)", text)):
        path = folder / "photos" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (640, 800), colour_of(name)).save(path, quality=95)
    export = folder / fixture
    export.write_text(text, encoding="utf-8")
    return export


def mean_colour(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)


def sync(export: Path, capsys) -> dict:
    assert main(["feed", "sync", str(export), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# Long enough for five scenes of at least 1.75 s: the quick script alone says about 3 s.
GALLERY_SECONDS = 9.0
MAX_EXTRA_PHOTOS = 4  # the setting's default


def render(export: Path, key: str, tmp_path: Path) -> dict[str, dg.AssetMaterialization]:
    resources = chain_resources(export, tmp_path, duration_min_s=GALLERY_SECONDS)
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(product_video_assets, partition_key=key, resources=resources, instance=instance)
    assert result.success
    return materializations(result)


def check_rendered(mats, tmp_path: Path, key: str, *, price: str, sale_price: str, main_photo: str, gallery: list[str]) -> None:
    record = mats["product_record"].metadata
    assert (record["price"].value, record["sale_price"].value, record["on_sale"].value) == (price, sale_price, True)
    # The voice reads the price the customer pays now: the sale price.
    amount, currency = sale_price.split()
    assert say_amount(Decimal(amount), currency) in mats["voiceover_script"].metadata["text"].value
    work = tmp_path / "data" / "work" / key
    product = json.loads((work / "product.json").read_text(encoding="utf-8"))
    assert [Path(link).name for link in [product["image_link"], *product["additional_image_links"]]] == [main_photo, *gallery]
    # The photo the video was made from is the product's own main photo (told by its colour).
    prepared = next(work.glob("image.*g"))
    assert np.abs(mean_colour(prepared) - np.array(colour_of(main_photo))).max() < 6
    video = LocalStorage(tmp_path / "output").live_video(key)
    assert video.stat().st_size > 10_000
    # The gallery shows in the video: one scene per photo (up to the setting's limit), in the feed's order.
    shown = [main_photo, *gallery][: 1 + MAX_EXTRA_PHOTOS]
    assert mats["product_image"].metadata["photos"].value == len(shown)
    assert mats["rendered_video"].metadata["scenes"].value == len(shown)
    extra = json.loads((work / "render.json").read_text(encoding="utf-8"))["extra"]
    for (start, end), photo in zip(extra["scenes"], shown, strict=True):
        frame = photo_box_colour(video, (start + end) / 2, extra["box"], tmp_path / "frame.png")
        assert np.abs(frame - np.array(colour_of(photo))).max() < 12, (photo, frame)


def photo_box_colour(video: Path, at: float, box: list[int], frame: Path) -> np.ndarray:
    """The median colour inside the photo box at `at` seconds (the median ignores the badge and captions over it)."""
    height = next(s["height"] for s in media.probe(video)["streams"] if s["codec_type"] == "video")
    runner.run(grab_frame_argv(video, frame, at=at, height=height), timeout_s=60)  # full size: box in pixels
    x, y, w, h = box
    pixels = np.asarray(Image.open(frame).convert("RGB"), dtype=float)[y : y + h, x : x + w]
    return np.median(pixels.reshape(-1, 3), axis=0)


def test_woocommerce_and_shopify_exports_sync_and_render(tmp_path, dagster_home, capsys, monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_TTS_PROVIDER", "espeak")
    woo = local_export("woocommerce_export.csv", WOO_UPLOADS, tmp_path / "woo")
    shop = local_export("shopify_export.csv", SHOPIFY_CDN, tmp_path / "shopify")

    woo_sync = sync(woo, capsys)
    assert sorted(woo_sync["new"]) == ["cana-350", "hanorac-rosu-m", "id-104", "set-cutite", "ulei-evo-5l"]
    assert woo_sync["counts"]["skipped"] == 5 and woo_sync["counts"]["invalid"] == 1
    reasons = "\n".join(woo_sync["problems"])
    assert "product HANORAC: skipped: variable product: its variations are the products" in reasons
    assert "product LUMANARE-SOIA: skipped: not published (draft)" in reasons
    assert "product CADOU-ANGAJATI: skipped: hidden from the shop's catalog" in reasons
    assert "product FARA-PRET: field price: missing price" in reasons

    shop_sync = sync(shop, capsys)
    assert sorted(shop_sync["new"]) == [
        "cana-emailata", "set-ceai", "tricou-bumbac-alb-l", "tricou-bumbac-alb-m", "tricou-bumbac-rosu-l", "tricou-bumbac-rosu-m",
    ]
    reasons = "\n".join(shop_sync["problems"])
    assert "product lampa-birou: skipped: Status draft: only active products are for sale" in reasons
    assert "product card-cadou: skipped: gift card" in reasons
    with dg.DagsterInstance.get() as instance:
        partitions = set(instance.get_dynamic_partitions("products"))
    assert {"id-104", "tricou-bumbac-rosu-m"} <= partitions and "hanorac" not in partitions and "lampa-birou" not in partitions

    # A WooCommerce variation without its own photo: on sale, the parent's gallery.
    mats = render(woo, "id-104", tmp_path)
    check_rendered(
        mats, tmp_path, "id-104", price="159 RON", sale_price="129 RON",
        main_photo="hanorac-gri.jpg", gallery=["hanorac-spate.jpg", "hanorac-detaliu.jpg"],
    )
    assert mats["product_record"].metadata["title"].value == "Hanorac cu glugă - Gri, L"

    # A Shopify variant: compare-at price means a sale; its variant image first, then the photos by position.
    mats = render(shop, "tricou-bumbac-rosu-m", tmp_path)
    check_rendered(
        mats, tmp_path, "tricou-bumbac-rosu-m", price="99.00 RON", sale_price="79.00 RON",
        main_photo="tricou-rosu.jpg",
        gallery=["tricou-model.jpg", "tricou-alb-fata.jpg", "tricou-eticheta.jpg", "tricou-spate.jpg", "tricou-detaliu.jpg"],
    )
    assert mats["product_record"].metadata["title"].value == "Tricou din bumbac organic - Roșu / M"

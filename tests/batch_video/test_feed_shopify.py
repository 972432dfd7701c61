"""Shopify product exports read as Shopify writes them: one handle over several rows, variants, galleries, status.

`shopify_export.csv` follows Shopify's documented product CSV columns: the
`tricou-bumbac` handle spreads over six rows (four variants, two photo-only rows,
image positions out of row order, variant images), then single-variant products
(`Default Title`), a sale written `1,299.00` / `1,499.00`, a draft, an archived
product and a gift card.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

from batch_video.feed import read_feed
from batch_video.feed.layouts import GENERIC, SHOPIFY, detect_layout

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
EXPORT = FEEDS / "shopify_export.csv"
CDN = "https://cdn.shopify.com/s/files/1/0612/3456/7890/files/"

# The column names of Shopify's newer product CSV for the same data.
NEW_HEADERS = {
    "Handle": "URL handle",
    "Body (HTML)": "Description",
    "Variant SKU": "SKU",
    "Variant Inventory Tracker": "Inventory tracker",
    "Variant Inventory Qty": "Inventory quantity",
    "Variant Inventory Policy": "Continue selling when out of stock",
    "Variant Price": "Price",
    "Variant Compare At Price": "Compare-at price",
    "Image Src": "Product image URL",
    "Image Position": "Image position",
    "Variant Image": "Variant image URL",
    "Option1 Name": "Option1 name",
    "Option1 Value": "Option1 value",
    "Option2 Name": "Option2 name",
    "Option2 Value": "Option2 value",
}


def by_id(result):
    return {p.id: p for p in result.products}


def export_rows() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(EXPORT.read_text(encoding="utf-8"))))
    return rows[0], rows[1:]


def write_export(path: Path, headers: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([headers, *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_export_is_recognized_from_its_header():
    headers, _ = export_rows()
    assert detect_layout(headers) == SHOPIFY
    assert detect_layout(["Handle", "Title", "Price", "Image"]) == GENERIC  # a plain catalog with a handle column
    assert read_feed(EXPORT).format == "Shopify product export (CSV)"


def test_a_handle_over_six_rows_gives_one_product_per_variant_titled_with_its_options():
    result = read_feed(EXPORT)
    tricou = {p.id: p for p in result.products if p.id.startswith("tricou-bumbac/")}
    assert sorted(tricou) == ["tricou-bumbac/Alb/L", "tricou-bumbac/Alb/M", "tricou-bumbac/Roșu/L", "tricou-bumbac/Roșu/M"]
    assert tricou["tricou-bumbac/Roșu/M"].title == "Tricou din bumbac organic - Roșu / M"
    assert tricou["tricou-bumbac/Roșu/M"].key == "tricou-bumbac-rosu-m"
    # Title, body and vendor are on the first row only; every variant gets them.
    for product in tricou.values():
        assert (product.brand, product.product_type) == ("Bumbăcel", "Tricouri")
        assert product.description == "Tricou unisex din bumbac organic, croială dreaptă."


def test_gallery_in_image_position_order_with_the_variant_image_first():
    tricou = by_id(read_feed(EXPORT))
    by_position = [CDN + n for n in ("tricou-model.jpg", "tricou-alb-fata.jpg", "tricou-rosu.jpg", "tricou-eticheta.jpg", "tricou-spate.jpg", "tricou-detaliu.jpg")]
    rosu = tricou["tricou-bumbac/Roșu/M"]
    assert rosu.image_link == CDN + "tricou-rosu.jpg"
    assert list(rosu.additional_image_links) == [link for link in by_position if link != CDN + "tricou-rosu.jpg"]
    alb = tricou["tricou-bumbac/Alb/M"]  # no variant image: the product's photos as positioned
    assert [alb.image_link, *alb.additional_image_links] == by_position


def test_compare_at_price_is_the_price_and_the_variant_price_the_sale():
    products = by_id(read_feed(EXPORT))
    rosu_m, rosu_l = products["tricou-bumbac/Roșu/M"], products["tricou-bumbac/Roșu/L"]
    assert (rosu_m.price, rosu_m.sale_price, rosu_m.on_sale, rosu_m.currency) == (Decimal("99.00"), Decimal("79.00"), True, "RON")
    # A compare-at price equal to the price is no sale.
    assert (rosu_l.price, rosu_l.sale_price, rosu_l.on_sale) == (Decimal("79.00"), None, False)
    ceai = products["set-ceai"]
    assert (ceai.price, ceai.sale_price, ceai.discount_percent) == (Decimal("1499.00"), Decimal("1299.00"), 13)


def test_a_single_default_title_variant_is_one_product_named_by_its_handle():
    cana = by_id(read_feed(EXPORT))["cana-emailata"]
    assert (cana.key, cana.title, cana.price) == ("cana-emailata", "Cană emailată 400 ml", Decimal("45.00"))
    assert (cana.image_link, cana.additional_image_links) == (CDN + "cana-emailata.jpg", ())


def test_inventory_gives_availability():
    products = by_id(read_feed(EXPORT))
    assert products["tricou-bumbac/Roșu/M"].availability == "in_stock"
    assert products["tricou-bumbac/Alb/M"].availability == "backorder"  # none left, policy continue
    assert products["tricou-bumbac/Alb/L"].availability == "out_of_stock"  # none left, policy deny
    assert products["cana-emailata"].availability == "in_stock"  # inventory not tracked


def test_only_active_products_the_others_reported_with_the_reason():
    result = read_feed(EXPORT)
    assert {p.product_id: (p.field, p.reason) for p in result.problems} == {
        "lampa-birou": ("status", "Status draft: only active products are for sale"),
        "ceas-perete": ("status", "Status archived: only active products are for sale"),
        "card-cadou": ("gift_card", "gift card, not a product to film"),
    }
    assert all(p.skipped for p in result.problems)
    assert len(result.products) == 6


def test_the_newer_export_column_names_give_the_same_products(tmp_path):
    headers, rows = export_rows()
    renamed = [NEW_HEADERS.get(h, h) for h in headers]
    newer = read_feed(write_export(tmp_path / "products_export.csv", renamed, rows))
    assert newer.format == "Shopify product export (CSV)"
    assert [(p.key, p.content_hash) for p in newer.products] == [(p.key, p.content_hash) for p in read_feed(EXPORT).products]


def test_export_without_status_uses_published(tmp_path):
    headers, rows = export_rows()
    keep = [i for i, h in enumerate(headers) if h != "Status"]
    result = read_feed(write_export(tmp_path / "old.csv", [headers[i] for i in keep], [[row[i] for i in keep] for row in rows]))
    reasons = {p.product_id: p.reason for p in result.problems}
    assert reasons["lampa-birou"] == "not published (Published = FALSE)"
    assert "cana-emailata" in by_id(result)


def test_a_handle_that_comes_back_later_is_reported(tmp_path):
    headers, rows = export_rows()
    stray = rows.pop(4)  # a photo row of tricou-bumbac, moved to the end (a sorted spreadsheet does this)
    result = read_feed(write_export(tmp_path / "sorted.csv", headers, rows + [stray]))
    problem = next(p for p in result.problems if p.product_id == "tricou-bumbac")
    assert problem.field == "handle" and "sort by Handle" in problem.reason
    assert not problem.skipped
    assert len(by_id(result)["tricou-bumbac/Roșu/M"].additional_image_links) == 4  # the rows in place still count


def test_a_variant_without_a_price_fails_that_variant_only(tmp_path):
    headers, rows = export_rows()
    rows[3][headers.index("Variant Price")] = ""
    result = read_feed(write_export(tmp_path / "shop.csv", headers, rows))
    problem = next(p for p in result.problems if p.product_id == "tricou-bumbac/Alb/L")
    assert (problem.field, problem.reason) == ("price", "missing price")
    assert "tricou-bumbac/Alb/M" in by_id(result)


def test_re_exported_in_another_order_the_keys_stay_the_same(tmp_path):
    headers, rows = export_rows()
    first = {p.id: p.key for p in read_feed(EXPORT).products}
    reordered = rows[6:] + rows[:6]  # the handles in another order, each one's rows together
    again = {p.id: p.key for p in read_feed(write_export(tmp_path / "again.csv", headers, reordered)).products}
    assert again == first
    assert all(re.fullmatch(r"[a-z0-9._-]{1,64}", key) for key in again.values())


def test_shop_currency_applies():
    assert by_id(read_feed(EXPORT, default_currency="EUR"))["set-ceai"].currency == "EUR"

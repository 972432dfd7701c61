"""WooCommerce product exports read as the built-in exporter writes them: variations, galleries, drafts, sale dates.

`woocommerce_export.csv` follows the exporter's documented columns (WooCommerce
9.x, English headers, BOM, `, `-joined images); its rows are the awkward ones a
real shop has: a variable parent, a variation without its own image, a disabled
variation, a draft, a hidden product, a grouped product, a five-image gallery,
a price written `1,299.00`, a sale that starts in 2099 (dates in the exporter's `Y-m-d G:i:s`
form) and a product without a price.
"""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from batch_video.feed import read_csv_table, read_feed
from batch_video.feed.layouts import WOOCOMMERCE, detect_layout
from batch_video.feed.woocommerce import iter_woocommerce_items, split_list

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
EXPORT = FEEDS / "woocommerce_export.csv"
UPLOADS = "https://magazin.example.ro/wp-content/uploads/2024/05/"

# How a Romanian (ro_RO) WooCommerce admin names the same columns in its export.
ROMANIAN_HEADERS = {
    "Type": "Tip",
    "Name": "Nume",
    "Published": "Publicat",
    "Visibility in catalog": "Vizibilitate în catalog",
    "Short description": "Descriere scurtă",
    "Description": "Descriere",
    "Date sale price starts": "Dată începere promoție",
    "Date sale price ends": "Dată încheiere promoție",
    "In stock?": "În stoc?",
    "Stock": "Stoc",
    "Sale price": "Preț promoțional",
    "Regular price": "Preț obișnuit",
    "Categories": "Categorii",
    "Images": "Imagini",
    "Parent": "Părinte",
    "Brands": "Branduri",
    "Attribute 1 name": "Nume atribut 1",
    "Attribute 1 value(s)": "Valoare (valori) atribut 1",
    "Attribute 2 name": "Nume atribut 2",
    "Attribute 2 value(s)": "Valoare (valori) atribut 2",
}


def by_id(result):
    return {p.id: p for p in result.products}


def skipped(result):
    return {p.product_id: p.reason for p in result.problems if p.skipped}


def export_rows() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(EXPORT.read_text(encoding="utf-8-sig"))))
    return rows[0], rows[1:]


def write_export(path: Path, headers: list[str], rows: list[list[str]], *, delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_export_is_recognized_from_its_header():
    headers, _ = export_rows()
    assert detect_layout(headers) == WOOCOMMERCE
    assert read_feed(EXPORT).format == "WooCommerce product export (CSV)"


def test_simple_products_and_variations_are_products_and_the_variable_parent_is_not():
    result = read_feed(EXPORT)
    assert sorted(by_id(result)) == ["CANA-350", "HANORAC-ROSU-M", "SET-CUTITE", "ULEI-EVO-5L", "id:104"]
    assert skipped(result)["HANORAC"] == "variable product: its variations are the products"
    assert "HANORAC" not in by_id(result)


def test_five_image_gallery_first_is_the_main_photo():
    cana = by_id(read_feed(EXPORT))["CANA-350"]
    assert cana.image_link == UPLOADS + "cana-salvie-1.jpg"
    assert cana.additional_image_links == tuple(UPLOADS + f"cana-salvie-{i}.jpg" for i in range(2, 6))


def test_prices_sale_availability_brand_category_and_html_description():
    cana = by_id(read_feed(EXPORT))["CANA-350"]
    assert (cana.price, cana.sale_price, cana.currency, cana.on_sale) == (Decimal("49.90"), Decimal("39.90"), "RON", True)
    assert cana.availability == "in_stock"
    assert cana.brand == "Lutul Bun"
    assert cana.product_type == "Casă > Bucătărie"
    # Tags stripped, and the exporter's `\n` for a newline is not left in the text.
    assert cana.description == "Cană din gresie ceramică, emailată. 350 ml Se spală în mașina de vase"


def test_variation_with_its_own_image_puts_it_first_then_the_parents_gallery():
    rosu = by_id(read_feed(EXPORT))["HANORAC-ROSU-M"]
    assert rosu.image_link == UPLOADS + "hanorac-rosu.jpg"
    assert rosu.additional_image_links == tuple(UPLOADS + n for n in ("hanorac-gri.jpg", "hanorac-spate.jpg", "hanorac-detaliu.jpg"))
    assert (rosu.title, rosu.price, rosu.sale_price) == ("Hanorac cu glugă - Roșu, M", Decimal("159"), None)
    # What the variation leaves empty comes from its parent.
    assert (rosu.brand, rosu.product_type) == ("Bumbăcel", "Îmbrăcăminte > Hanorace")
    assert rosu.description.startswith("Hanorac unisex din bumbac organic")


def test_variation_without_an_image_uses_its_parents_and_gets_its_attributes_in_the_title():
    gri = by_id(read_feed(EXPORT))["id:104"]  # no SKU: the id form the exporter's Parent column uses
    assert gri.image_link == UPLOADS + "hanorac-gri.jpg"
    assert gri.additional_image_links == (UPLOADS + "hanorac-spate.jpg", UPLOADS + "hanorac-detaliu.jpg")
    # The exporter wrote only the parent's name; the values are added the way WooCommerce titles variations.
    assert gri.title == "Hanorac cu glugă - Gri, L"
    assert (gri.price, gri.sale_price, gri.on_sale) == (Decimal("159"), Decimal("129"), True)
    assert gri.availability == "out_of_stock"
    assert gri.key == "id-104"


def test_rows_that_are_not_for_sale_are_reported_with_the_reason():
    result = read_feed(EXPORT)
    assert skipped(result) == {
        "HANORAC": "variable product: its variations are the products",
        "HANORAC-ROSU-L": "variation disabled in the shop (Published = 0)",
        "LUMANARE-SOIA": "not published (draft)",
        "CADOU-ANGAJATI": "hidden from the shop's catalog (Visibility in catalog = hidden)",
        "KIT-MIC-DEJUN": "grouped product: the products it groups have rows of their own",
    }
    invalid = [(p.product_id, p.field, p.reason) for p in result.problems if not p.skipped]
    assert invalid == [("FARA-PRET", "price", "missing price")]
    positions = {p.product_id: p.position for p in result.problems}
    assert positions["LUMANARE-SOIA"] == 6  # the data row, as in every other reader


def test_backorder_thousands_price_and_the_formula_guard():
    ulei = by_id(read_feed(EXPORT))["ULEI-EVO-5L"]
    assert (ulei.price, ulei.availability) == (Decimal("1299.00"), "backorder")
    # The exporter writes `'+1 …` so spreadsheets do not take the cell for a formula.
    assert ulei.title == "+1 Cadou: ulei de măsline extravirgin 5 l"


def items_on(today: date) -> dict:
    table = read_csv_table(io.BytesIO(EXPORT.read_bytes()))
    return {item.fields.get("id"): item for item in iter_woocommerce_items(table, today=today)}


def test_a_scheduled_sale_counts_only_in_its_window():
    for today, on_sale in ((date(2098, 12, 31), False), (date(2099, 1, 1), True)):
        assert bool(items_on(today)["SET-CUTITE"].fields["sale_price"]) is on_sale
    ended = items_on(date(2100, 1, 1))
    assert ended["id:104"].fields["sale_price"] == ""  # its sale ended 2099-12-31
    assert by_id(read_feed(EXPORT))["SET-CUTITE"].sale_price is None  # today: the 2099 sale has not started


def test_an_unreadable_sale_date_fails_that_product_only(tmp_path):
    headers, rows = export_rows()
    rows[0][headers.index("Date sale price ends")] = "mâine"
    result = read_feed(write_export(tmp_path / "wc.csv", headers, rows))
    problem = next(p for p in result.problems if p.product_id == "CANA-350")
    assert (problem.field, problem.skipped) == ("sale_price", False)
    assert "mâine" in problem.reason
    assert len(result.products) == 4


def test_romanian_export_headers_give_the_same_products(tmp_path):
    headers, rows = export_rows()
    romanian = [ROMANIAN_HEADERS.get(h, h) for h in headers]
    result_ro = read_feed(write_export(tmp_path / "export-ro.csv", romanian, rows))
    result_en = read_feed(EXPORT)
    assert result_ro.format == "WooCommerce product export (CSV)"
    assert [(p.key, p.content_hash) for p in result_ro.products] == [(p.key, p.content_hash) for p in result_en.products]
    assert skipped(result_ro) == skipped(result_en)


def test_semicolon_export_with_decimal_commas(tmp_path):
    headers, rows = export_rows()
    result = read_feed(write_export(tmp_path / "wc-semicolon.csv", headers, rows, delimiter=";"))
    assert by_id(result)["CANA-350"].sale_price == Decimal("39.90")


def test_variations_listed_before_their_parent_still_inherit(tmp_path):
    headers, rows = export_rows()
    parent = rows.pop(1)
    rows.append(parent)
    result = read_feed(write_export(tmp_path / "wc.csv", headers, rows))
    assert by_id(result)["id:104"].image_link == UPLOADS + "hanorac-gri.jpg"
    assert by_id(result)["HANORAC-ROSU-M"].brand == "Bumbăcel"


def test_a_variation_whose_parent_is_missing_is_reported(tmp_path):
    headers, rows = export_rows()
    rows = [row for row in rows if row[headers.index("SKU")] != "HANORAC"]
    result = read_feed(write_export(tmp_path / "wc.csv", headers, rows))
    problem = next(p for p in result.problems if p.product_id == "id:104")
    assert (problem.field, problem.reason) == ("parent", "parent product HANORAC is not in the export")
    # The one that names itself and its photo is still a product.
    assert by_id(result)["HANORAC-ROSU-M"].image_link == UPLOADS + "hanorac-rosu.jpg"


def test_variations_of_an_unpublished_parent_are_not_for_sale(tmp_path):
    headers, rows = export_rows()
    rows[1][headers.index("Published")] = "-1"
    result = read_feed(write_export(tmp_path / "wc.csv", headers, rows))
    assert "HANORAC-ROSU-M" not in by_id(result)
    assert skipped(result)["HANORAC-ROSU-M"] == "its parent product HANORAC is not published (draft)"


def test_re_exported_in_another_order_the_keys_stay_the_same(tmp_path):
    headers, rows = export_rows()
    first = {p.id: p.key for p in read_feed(EXPORT).products}
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    again = {p.id: p.key for p in read_feed(write_export(tmp_path / "wc.csv", headers, shuffled)).products}
    assert again == first
    assert all(re.fullmatch(r"[a-z0-9._-]{1,64}", key) for key in again.values())


def test_shop_currency_applies_to_bare_prices():
    cana = by_id(read_feed(EXPORT, default_currency="EUR"))["CANA-350"]
    assert (cana.price, cana.currency) == (Decimal("49.90"), "EUR")


@pytest.mark.parametrize(
    "text, parts",
    [
        ("a.jpg, b.jpg", ["a.jpg", "b.jpg"]),
        ("https://x/a\\,b.jpg, c.jpg", ["https://x/a,b.jpg", "c.jpg"]),
        ("", []),
        ("Casă > Bucătărie, Cadouri", ["Casă > Bucătărie", "Cadouri"]),
    ],
)
def test_split_list_undoes_the_exporters_joining(text, parts):
    assert split_list(text) == parts

"""Spreadsheet catalogs (XLSX, ODS) read with pandas, sheets named after `#`, and Google Sheets links as CSV feeds."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import openpyxl
import pandas as pd
import pytest
import respx

from batch_video.errors import ConfigError, ProductDataError
from batch_video.feed import google_sheets_csv_url, parse_source, read_feed
from batch_video.feed import spreadsheets
from batch_video.feed.spreadsheets import cell_text

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def csv_rows(path: Path, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=delimiter))


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def as_typed(cell: str) -> object:
    """A cell as someone typing the catalog into Excel leaves it: Romanian decimal prices become numbers."""
    text = cell.strip()
    if text and not any(ch.isalpha() for ch in text):
        try:
            return float(text.replace(".", "").replace(",", "."))
        except ValueError:
            pass
    return cell


def same_products(a, b) -> None:
    assert [(p.key, p.id, p.content_hash) for p in a.products] == [(p.key, p.id, p.content_hash) for p in b.products]
    assert [(p.product_id, p.field, p.reason, p.position) for p in a.problems] == [
        (p.product_id, p.field, p.reason, p.position) for p in b.problems
    ]


@pytest.fixture
def romanian_csv(tmp_path) -> Path:
    return Path(shutil.copy(FEEDS / "export_ro.csv", tmp_path / "export_ro.csv"))


def test_xlsx_with_romanian_headers_gives_the_same_products_as_the_csv(romanian_csv, tmp_path):
    rows = csv_rows(romanian_csv, ";")
    typed = [rows[0]] + [[as_typed(cell) for cell in row] for row in rows[1:]]
    assert isinstance(typed[1][4], float)  # `1.249,00` typed into Excel is the number 1249
    xlsx = write_xlsx(tmp_path / "catalog.xlsx", {"Produse": typed})
    from_csv, from_xlsx = read_feed(romanian_csv), read_feed(xlsx)
    assert len(from_csv.products) == 3 and len(from_csv.problems) == 1
    same_products(from_xlsx, from_csv)
    assert from_xlsx.format == "catalog (XLSX sheet 'Produse')"
    tricou = from_xlsx.products[0]
    assert (tricou.title, tricou.price, tricou.sale_price, tricou.availability) == ("Tricou bumbac", Decimal("1249"), Decimal("999.5"), "in_stock")
    assert tricou.image_link == str(tmp_path / "poze" / "tricou.jpg")  # relative to the workbook, as for a CSV


def test_ods_gives_the_same_products_as_the_csv(romanian_csv, tmp_path):
    rows = csv_rows(romanian_csv, ";")
    frame = pd.DataFrame([[as_typed(cell) for cell in row] for row in rows[1:]], columns=rows[0])
    ods = tmp_path / "catalog.ods"
    frame.to_excel(ods, engine="odf", index=False, sheet_name="Produse")
    result = read_feed(ods)
    same_products(result, read_feed(romanian_csv))
    assert result.format == "catalog (ODS sheet 'Produse')"


@pytest.mark.parametrize("kind, engine", [("XLSX", "openpyxl"), ("ODS", "odf")])
def test_when_calamine_cannot_read_a_workbook_the_formats_own_engine_does(romanian_csv, tmp_path, monkeypatch, caplog, kind, engine):
    rows = csv_rows(romanian_csv, ";")
    path = tmp_path / f"catalog.{kind.lower()}"
    pd.DataFrame([[as_typed(cell) for cell in row] for row in rows[1:]], columns=rows[0]).to_excel(
        path, engine="openpyxl" if kind == "XLSX" else "odf", index=False, sheet_name="Produse"
    )
    fast = read_feed(path)
    monkeypatch.setitem(spreadsheets.ENGINES, kind, ("not-an-engine", engine))
    same_products(read_feed(path), fast)
    same_products(fast, read_feed(romanian_csv))
    assert "engine not-an-engine cannot read it" in caplog.text


def test_named_sheet_by_name_or_position_and_a_clear_error_for_a_missing_one(romanian_csv, tmp_path):
    rows = csv_rows(romanian_csv, ";")
    xlsx = write_xlsx(tmp_path / "catalog.xlsx", {"Instrucțiuni": [["Completați foaia Produse"]], "Produse": rows})
    expected = [p.key for p in read_feed(romanian_csv).products]
    assert [p.key for p in read_feed(f"{xlsx}#Produse").products] == expected
    assert [p.key for p in read_feed(f"{xlsx}#produse").products] == expected  # case does not matter
    assert [p.key for p in read_feed(f"{xlsx}#2").products] == expected
    with pytest.raises(ConfigError, match=r"no sheet 'Stoc'.*'Instrucțiuni', 'Produse'"):
        read_feed(f"{xlsx}#Stoc")
    # The first sheet by default: here it holds no catalog, and the error says which columns are missing.
    with pytest.raises(ProductDataError, match="XLSX sheet 'Instrucțiuni' header has no column for id"):
        read_feed(xlsx)


def test_a_legacy_excel_xls_workbook_is_read_too(tmp_path):
    import xlwt

    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Produse")
    for r, row in enumerate([["Cod", "Denumire", "Preț", "Preț redus", "Imagine"], ["C1", "Cană", 49.9, 39.9, "https://x/c.jpg"]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    workbook.save(str(tmp_path / "catalog-2009.xls"))
    result = read_feed(tmp_path / "catalog-2009.xls")
    assert result.format == "catalog (XLS sheet 'Produse')"
    assert [(p.id, p.title, p.price, p.sale_price) for p in result.products] == [("C1", "Cană", Decimal("49.9"), Decimal("39.9"))]


def test_a_title_row_above_the_header_is_skipped(tmp_path):
    xlsx = write_xlsx(
        tmp_path / "catalog.xlsx",
        {"Foaie1": [["Catalog produse — toamnă 2026"], [], ["Cod", "Denumire", "Preț", "Imagine"], ["C1", "Cană", 19.9, "https://x/c.jpg"]]},
    )
    product = read_feed(xlsx).products[0]
    assert (product.id, product.price, product.currency) == ("C1", Decimal("19.9"), "RON")


def test_cells_are_read_as_written():
    assert cell_text(19.990000000000002) == "19.99"  # Excel's binary noise
    assert cell_text(1249.0) == "1249"
    assert cell_text(True) == "TRUE"
    assert cell_text(datetime(2026, 11, 1)) == "2026-11-01"
    assert cell_text(None) == "" and cell_text(float("nan")) == ""


def test_woocommerce_export_saved_as_xlsx_is_still_read_as_woocommerce(tmp_path):
    rows = csv_rows(FEEDS / "woocommerce_export.csv", ",")
    xlsx = write_xlsx(tmp_path / "wc-product-export.xlsx", {"wc-product-export": rows})
    result = read_feed(xlsx)
    assert result.format == "WooCommerce product export (XLSX sheet 'wc-product-export')"
    same_products(result, read_feed(FEEDS / "woocommerce_export.csv"))


def test_shop_currency_and_price_forms_in_a_sheet(tmp_path):
    xlsx = write_xlsx(
        tmp_path / "c.xlsx",
        {"S": [["SKU", "Name", "Price", "Sale price", "Image"], ["A", "Ceas", "1,299.00", 999, "https://x/a.jpg"], ["B", "Gol", "", "", "https://x/b.jpg"]]},
    )
    result = read_feed(xlsx, default_currency="EUR")
    assert [(p.id, p.price, p.sale_price, p.currency) for p in result.products] == [("A", Decimal("1299.00"), Decimal("999"), "EUR")]
    assert [(p.product_id, p.field, p.reason, p.position) for p in result.problems] == [("B", "price", "missing price", 2)]


def test_workbook_limits_and_damaged_files(tmp_path):
    xlsx = write_xlsx(tmp_path / "big.xlsx", {"S": [["SKU", "Name", "Price", "Image"]] + [["A" * 200, "B" * 200, 1, "x"]] * 500})
    # The file is small, what it unpacks to is not: the cap applies to the unpacked size before any parsing.
    assert xlsx.stat().st_size < 60_000
    with pytest.raises(ProductDataError, match="unpacks to .* byte cap"):
        read_feed(xlsx, max_bytes=60_000)
    not_a_workbook = tmp_path / "photos.zip"
    with zipfile.ZipFile(not_a_workbook, "w") as archive:
        archive.writestr("a.txt", "hello")
    with pytest.raises(ProductDataError, match="not an XLSX or ODS workbook"):
        read_feed(not_a_workbook)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(xlsx.read_bytes()[:2000])
    with pytest.raises(ProductDataError):
        read_feed(broken)
    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)  # an Excel 97-2003 header, then nothing
    with pytest.raises(ProductDataError, match="the XLS workbook old.xls cannot be read"):
        read_feed(legacy)


@respx.mock
def test_remote_xlsx_with_a_sheet_fragment(romanian_csv, tmp_path):
    rows = csv_rows(romanian_csv, ";")
    body = write_xlsx(tmp_path / "c.xlsx", {"A": [["x"]], "Produse": rows}).read_bytes()
    route = respx.get("https://shop.example.ro/export/catalog.xlsx").mock(return_value=httpx.Response(200, content=body))
    result = read_feed("https://shop.example.ro/export/catalog.xlsx#Produse")
    assert route.called and len(result.products) == 3
    assert result.products[1].image_link == "https://cdn.example.ro/pantaloni.jpg"


# --------------------------------------------------------------------------- sources and Google Sheets

SHEET_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.mark.parametrize(
    "link, export",
    [
        (f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=1234", f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=csv&gid=1234"),
        (f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit?gid=55#gid=55", f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=csv&gid=55"),
        (f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit?usp=sharing", f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=csv"),
        (f"https://docs.google.com/spreadsheets/u/1/d/{SHEET_ID}/", f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=csv"),
        (f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=csv&gid=9", f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=csv&gid=9"),
        (f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=xlsx", f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export?format=xlsx"),
        (f"https://docs.google.com/spreadsheets/d/e/2PACX-{SHEET_ID}/pubhtml?gid=3&single=true", f"https://docs.google.com/spreadsheets/d/e/2PACX-{SHEET_ID}/pub?output=csv&gid=3&single=true"),
        (f"https://docs.google.com/spreadsheets/d/e/2PACX-{SHEET_ID}/pub?output=csv", f"https://docs.google.com/spreadsheets/d/e/2PACX-{SHEET_ID}/pub?output=csv"),
        ("https://shop.example.ro/feed.csv", "https://shop.example.ro/feed.csv"),
        ("https://docs.google.com/document/d/abc/edit", "https://docs.google.com/document/d/abc/edit"),
    ],
)
def test_google_sheets_links_become_csv_exports(link, export):
    assert google_sheets_csv_url(link) == export


def test_sheet_names_come_after_a_hash_unless_the_file_is_named_so(tmp_path):
    assert (parse_source("catalog.xlsx#Produse").location, parse_source("catalog.xlsx#Produse").sheet) == ("catalog.xlsx", "Produse")
    assert parse_source("https://x/c.xlsx#Foaie%202").sheet == "Foaie 2"
    named = tmp_path / "catalog#2026.csv"
    named.write_text("x")
    assert (parse_source(str(named)).location, parse_source(str(named)).sheet) == (str(named), "")
    link = f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=7"
    assert parse_source(link).sheet == ""  # `#gid=` picks the sheet of the export, it is not a sheet name


@respx.mock
def test_a_google_sheets_link_is_read_as_a_remote_csv_feed():
    body = (FEEDS / "export_en.csv").read_bytes()
    route = respx.get(f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/export", params={"format": "csv", "gid": "7"}).mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": "text/csv"})
    )
    link = f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=7"
    result = read_feed(link)
    assert route.called
    assert [p.id for p in result.products] == ["EN-1", "EN-2"]
    assert result.source == link

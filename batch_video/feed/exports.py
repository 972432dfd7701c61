"""Generic catalog tables (CSV/TSV exports, spreadsheets) with English or Romanian headers.

`read_csv_table` reads a CSV/TSV (`,` `;` tab or `|` delimiters, UTF-8 with or
without BOM) as a `Table`; `iter_generic_items` maps a table's columns by the
header aliases below. Shop platform exports have their own readers
(`woocommerce`, `shopify`); `layouts` picks one from the headers.
"""

from __future__ import annotations

import csv
import io
from typing import BinaryIO, Iterable, Iterator

from batch_video.errors import ProductDataError
from batch_video.feed.fields import REQUIRED_FIELDS, RawItem
from batch_video.feed.tables import Table, normalize_header

_CSV_HEADERS = {
    "id": ("id", "sku", "cod", "cod_produs", "product_id", "item_id", "cod_articol", "id_produs", "offer_id"),
    "title": ("title", "name", "produs", "denumire", "nume", "nume_produs", "denumire_produs", "product_name", "titlu"),
    "description": ("description", "descriere", "descriere_produs", "product_description"),
    "brand": ("brand", "marca", "producator", "manufacturer"),
    "product_type": ("product_type", "categorie", "category", "tip_produs", "google_product_category"),
    "price": ("price", "pret", "pret_lista", "pret_vanzare", "pret_cu_tva", "regular_price"),
    "sale_price": ("sale_price", "pret_redus", "pret_promo", "pret_promotional", "pret_oferta", "special_price"),
    "currency": ("currency", "moneda", "valuta"),
    "availability": ("availability", "disponibilitate", "stare_stoc"),
    "link": ("link", "url", "url_produs", "product_url", "link_produs"),
    "image_link": ("image_link", "image", "imagine", "image_url", "poza", "imagine_principala", "link_imagine", "main_image"),
    "additional_image_links": (
        "additional_image_link",
        "additional_image_links",
        "imagini_aditionale",
        "imagini_suplimentare",
        "alte_imagini",
    ),
}
_HEADER_TO_FIELD = {alias: field for field, aliases in _CSV_HEADERS.items() for alias in aliases}


def map_headers(headers: Iterable[str]) -> dict[int, str]:
    """Column index -> product field, for the columns we know (first alias wins)."""
    mapping: dict[int, str] = {}
    for index, header in enumerate(headers):
        field = _HEADER_TO_FIELD.get(normalize_header(header))
        if field and field not in mapping.values():
            mapping[index] = field
    return mapping


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in ("\t", ";", ",", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# Long HTML descriptions exceed the csv module's 128 KiB default; the byte cap bounds the feed anyway.
csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))


def read_csv_table(stream: BinaryIO) -> Table:
    """The header of a CSV/TSV export, read now, and its rows, read as they are iterated."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        header_line = text.readline()
    except UnicodeDecodeError as err:
        text.detach()
        raise ProductDataError(f"the feed is not UTF-8 text: {err}", field="feed") from None
    if header_line.lower().startswith("sep=") and len(header_line.strip()) == 5:
        # Excel's hint line (`sep=;`) names the delimiter; the header follows it.
        delimiter = header_line.strip()[4]
        header_line = text.readline()
    else:
        delimiter = _sniff_delimiter(header_line)
    headers = next(csv.reader([header_line], delimiter=delimiter), [])

    def rows() -> Iterator[tuple[int, list[str]]]:
        position = 0
        try:
            for position, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
                yield position, row
        except csv.Error as err:
            raise ProductDataError(f"the CSV cannot be read after row {position}: {err}", field="feed") from None
        except UnicodeDecodeError as err:
            raise ProductDataError(f"the feed is not UTF-8 text: {err}", field="feed") from None
        finally:
            text.detach()

    return Table(headers=headers, rows=rows(), container="CSV")


def iter_generic_items(table: Table) -> Iterator[RawItem]:
    """Rows of a catalog table whose columns are named by the aliases above (English or Romanian)."""
    mapping = map_headers(table.headers)
    missing = [f for f in REQUIRED_FIELDS if f not in mapping.values()]
    if missing:
        raise ProductDataError(
            f"the {table.container} header has no column for {', '.join(missing)} "
            f"(columns: {', '.join(str(h).strip() for h in table.headers)})",
            field=missing[0],
        )
    for position, row in table.rows:
        if not any(str(cell).strip() for cell in row):
            continue
        yield RawItem({field: row[index] for index, field in mapping.items() if index < len(row)}, position)

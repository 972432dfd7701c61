"""CSV/TSV catalog exports, with English or Romanian headers, `,` `;` tab or `|` delimiters."""

from __future__ import annotations

import csv
import io
import re
from typing import BinaryIO, Iterable, Iterator

from batch_video.errors import ProductDataError
from batch_video.feed.fields import REQUIRED_FIELDS, RawItem
from batch_video.feed.keys import fold_ascii

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


def normalize_header(name: str) -> str:
    """`"Preț redus"` -> `"pret_redus"`; `"g:image_link"` -> `"image_link"`."""
    text = fold_ascii(name).strip().lower()
    if text.startswith("g:"):
        text = text[2:]
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


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


def iter_csv_items(stream: BinaryIO) -> Iterator[RawItem]:
    """Yield rows of a CSV/TSV export (`,`, `;`, tab or `|`; UTF-8 with or without BOM)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        header_line = text.readline()
        if header_line.lower().startswith("sep=") and len(header_line.strip()) == 5:
            # Excel's hint line (`sep=;`) names the delimiter; the header follows it.
            delimiter = header_line.strip()[4]
            header_line = text.readline()
        else:
            delimiter = _sniff_delimiter(header_line)
        headers = next(csv.reader([header_line], delimiter=delimiter))
        mapping = map_headers(headers)
        missing = [f for f in REQUIRED_FIELDS if f not in mapping.values()]
        if missing:
            raise ProductDataError(
                f"the CSV header has no column for {', '.join(missing)} (columns: {', '.join(h.strip() for h in headers)})",
                field=missing[0],
            )
        position = 0
        for position, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
            if not any(cell.strip() for cell in row):
                continue
            yield RawItem({field: row[index] for index, field in mapping.items() if index < len(row)}, position)
    except csv.Error as err:
        raise ProductDataError(f"the CSV cannot be read after row {position}: {err}", field="feed") from None
    except UnicodeDecodeError as err:
        raise ProductDataError(f"the feed is not UTF-8 text: {err}", field="feed") from None
    finally:
        text.detach()

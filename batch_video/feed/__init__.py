"""Product feeds as shops publish them: Google Merchant XML (RSS/Atom), CSV/TSV exports, Supabase rows.

Every reader turns raw fields into the same validated `Product`; an item with a
missing or unparseable required field becomes a `FeedProblem` naming the product,
the field and the raw value, and never stops the rest of the feed.

XML is parsed streaming (`iterparse`, each item dropped once read), so memory
stays flat in the size of the feed apart from the products kept. Remote feeds
are streamed to a temporary file with a size cap (which also bounds a gzip bomb).
Titles and descriptions are stored with HTML tags and entities removed and
whitespace collapsed; the script stage does its own speech normalization.

Catalog tables (CSV/TSV, XLSX, ODS, XLS) are told apart by their header: a
WooCommerce or Shopify product export is read with its platform's rules
(variants, galleries, drafts), any other table by the generic header aliases.

Modules: `prices` (parse_price), `keys` (slugify_key, assign_partition_keys),
`fields` (validation, cleanup, content hash), `merchant` (RSS/Atom), `tables`
(the table every tabular reader shares), `exports` (CSV/TSV, generic aliases),
`woocommerce` and `shopify` (platform exports), `layouts` (which one, from the
header), `spreadsheets` (XLSX/ODS/XLS via pandas), `sources` (sheet names, Google
Sheets links), `fetch` (paths and URLs), `rows` (Supabase `products` rows).
"""

from __future__ import annotations

import dataclasses
import io
import logging
from datetime import date
from pathlib import Path
from typing import Iterator

from batch_video.errors import ProductDataError
from batch_video.feed.exports import map_headers, normalize_header, read_csv_table
from batch_video.feed.fetch import DEFAULT_DEADLINE_S, DEFAULT_MAX_BYTES, FetchedFeed, _open_decoded, fetch_feed, is_remote
from batch_video.feed.fields import (
    REQUIRED_FIELDS,
    TEXT_MAX_CHARS,
    RawItem,
    build_product,
    clean_text,
    collect,
    content_hash,
    normalize_availability,
    resolve_link,
    validate_fields,
)
from batch_video.feed.keys import KEY_HASH_LENGTH, KEY_MAX_LENGTH, assign_partition_keys, fold_ascii, slugify_key
from batch_video.feed.layouts import detect_layout, format_label, iter_table_items
from batch_video.feed.merchant import GOOGLE_NS, iter_xml_items
from batch_video.feed.prices import parse_price
from batch_video.feed.rows import products_from_rows
from batch_video.feed.sources import FeedSource, feed_location, google_sheets_csv_url, parse_source
from batch_video.feed.spreadsheets import read_sheet_table, workbook_kind
from batch_video.models import FeedReadResult

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BYTES",
    "GOOGLE_NS",
    "KEY_HASH_LENGTH",
    "KEY_MAX_LENGTH",
    "REQUIRED_FIELDS",
    "FeedItems",
    "FeedSource",
    "TEXT_MAX_CHARS",
    "FetchedFeed",
    "RawItem",
    "assign_partition_keys",
    "build_product",
    "clean_text",
    "collect",
    "content_hash",
    "detect_layout",
    "feed_location",
    "fetch_feed",
    "fold_ascii",
    "google_sheets_csv_url",
    "is_remote",
    "iter_feed_items",
    "iter_table_items",
    "iter_xml_items",
    "map_headers",
    "normalize_availability",
    "normalize_header",
    "parse_price",
    "parse_source",
    "products_from_rows",
    "read_csv_table",
    "read_feed",
    "read_feed_file",
    "read_sheet_table",
    "resolve_link",
    "slugify_key",
    "sniff_format",
    "validate_fields",
]


def sniff_format(stream: io.BufferedReader) -> str:
    """`"xml"`, `"workbook"` (XLSX/ODS: a ZIP; legacy Excel XLS: a Compound File) or `"csv"` from the first bytes."""
    head = stream.peek(4096)[:4096]
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "workbook"
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            head = head[len(bom):].decode(encoding, errors="ignore").encode()
            break
    else:
        if head[:2] == b"<\x00" or head[:2] == b"\x00<":  # UTF-16 without a BOM
            return "xml"
    text = head.lstrip()
    return "xml" if text.startswith(b"<") else "csv"


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


class FeedItems:
    """The raw items of a local feed file, streaming; `format` says what the file turned out to be once read."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, sheet: str = "", today: date | None = None) -> None:
        self.path, self.max_bytes, self.sheet, self.today = Path(path), max_bytes, sheet, today
        self.format = ""

    def __iter__(self) -> Iterator[RawItem]:
        with _open_decoded(self.path, self.max_bytes) as stream:
            kind = sniff_format(stream)  # type: ignore[arg-type]
            if kind == "xml":
                self.format = "Google Merchant feed (XML)"
                yield from iter_xml_items(stream)  # refuses DOCTYPE/entities itself, wherever they appear
                return
            if kind == "csv":
                table = read_csv_table(stream)  # type: ignore[arg-type]
                self.format = format_label(detect_layout(table.headers), table.container)
                yield from iter_table_items(table, today=self.today)
                return
        # A workbook is read from the file itself (pandas needs to seek), not from the stream.
        workbook = workbook_kind(self.path)
        if not workbook:
            raise ProductDataError("the feed is a ZIP archive but not an XLSX or ODS workbook", field="feed")
        table = read_sheet_table(self.path, sheet=self.sheet, max_bytes=self.max_bytes, kind=workbook)
        self.format = format_label(detect_layout(table.headers), table.container)
        yield from iter_table_items(table, today=self.today)


def iter_feed_items(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, sheet: str = "") -> Iterator[RawItem]:
    """Raw items of a local feed file (Merchant XML, CSV/TSV optionally gzipped, XLSX, ODS, XLS), streaming."""
    yield from FeedItems(path, max_bytes=max_bytes, sheet=sheet)


def read_feed_file(
    fetched: FetchedFeed,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    default_currency: str = "RON",
    source: str | None = None,
) -> FeedReadResult:
    """Products of a feed already on disk; `source` (as configured) names the sheet of a workbook after `#`."""
    sheet = parse_source(source).sheet if source else ""
    items = FeedItems(fetched.path, max_bytes=max_bytes, sheet=sheet)
    result = collect(items, base=fetched.base, default_currency=default_currency, source=source or str(fetched.path))
    return dataclasses.replace(result, format=items.format)


def read_feed(
    source: str | Path,
    *,
    timeout_s: float = 30.0,
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
    default_currency: str = "RON",
) -> FeedReadResult:
    """Read a feed from a path or http(s) URL: Merchant RSS/Atom, CSV/TSV, XLSX/ODS/XLS, a shop platform's export.

    `default_currency` is the shop's currency, for prices written without one.
    A workbook's sheet is named after `#` (`catalog.xlsx#Produse`); a Google
    Sheets link is read as its CSV export. Invalid items become `FeedProblem`s;
    a feed that cannot be read at all raises (`ConfigError` missing file or
    4xx, `TransientError` network/5xx, `ProductDataError(field="feed")`
    malformed or over the size cap).
    """
    fetched = fetch_feed(str(source), timeout_s=timeout_s, deadline_s=deadline_s, max_bytes=max_bytes)
    assert fetched is not None  # unconditional request: never 304
    try:
        return read_feed_file(fetched, max_bytes=max_bytes, default_currency=default_currency, source=str(source))
    finally:
        fetched.discard()

"""Product feeds as shops publish them: Google Merchant XML (RSS/Atom), CSV/TSV exports, Supabase rows.

Every reader turns raw fields into the same validated `Product`; an item with a
missing or unparseable required field becomes a `FeedProblem` naming the product,
the field and the raw value, and never stops the rest of the feed.

XML is parsed streaming (`iterparse`, each item dropped once read), so memory
stays flat in the size of the feed apart from the products kept. Remote feeds
are streamed to a temporary file with a size cap (which also bounds a gzip bomb).
Titles and descriptions are stored with HTML tags and entities removed and
whitespace collapsed; the script stage does its own speech normalization.

Modules: `prices` (parse_price), `keys` (slugify_key, assign_partition_keys),
`fields` (validation, cleanup, content hash), `merchant` (RSS/Atom), `exports`
(CSV/TSV), `fetch` (paths and URLs), `rows` (Supabase `products` rows).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Iterator

from batch_video.errors import ProductDataError
from batch_video.feed.exports import iter_csv_items, map_headers, normalize_header
from batch_video.feed.fetch import DEFAULT_MAX_BYTES, FetchedFeed, _open_decoded, fetch_feed, is_remote
from batch_video.feed.fields import (
    REQUIRED_FIELDS,
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
from batch_video.feed.merchant import GOOGLE_NS, iter_xml_items
from batch_video.feed.prices import parse_price
from batch_video.feed.rows import products_from_rows
from batch_video.models import FeedReadResult

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "GOOGLE_NS",
    "KEY_HASH_LENGTH",
    "KEY_MAX_LENGTH",
    "REQUIRED_FIELDS",
    "FetchedFeed",
    "RawItem",
    "assign_partition_keys",
    "build_product",
    "clean_text",
    "collect",
    "content_hash",
    "fetch_feed",
    "fold_ascii",
    "is_remote",
    "iter_csv_items",
    "iter_feed_items",
    "iter_xml_items",
    "map_headers",
    "normalize_availability",
    "normalize_header",
    "parse_price",
    "products_from_rows",
    "read_feed",
    "read_feed_file",
    "resolve_link",
    "slugify_key",
    "sniff_format",
    "validate_fields",
]


def sniff_format(stream: io.BufferedReader) -> str:
    """`"xml"` or `"csv"` from the first bytes (after a BOM and whitespace)."""
    head = stream.peek(4096)[:4096]
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return "xml" if text.startswith(b"<") else "csv"


def iter_feed_items(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawItem]:
    """Raw items of a local feed file (XML or CSV/TSV, optionally gzipped), streaming."""
    with _open_decoded(path, max_bytes) as stream:
        kind = sniff_format(stream)  # type: ignore[arg-type]
        if kind == "xml":
            # Merchant feeds never declare entities; refusing them up front keeps an
            # entity-expansion bomb from reaching the parser (expat's own limit is the backstop).
            if b"<!ENTITY" in stream.peek(1 << 16).upper():  # type: ignore[attr-defined]
                raise ProductDataError("the feed declares XML entities, which product feeds never need", field="feed")
            yield from iter_xml_items(stream)
        else:
            yield from iter_csv_items(stream)


def read_feed_file(
    fetched: FetchedFeed,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    default_currency: str = "RON",
    source: str | None = None,
) -> FeedReadResult:
    items = iter_feed_items(fetched.path, max_bytes=max_bytes)
    return collect(items, base=fetched.base, default_currency=default_currency, source=source or str(fetched.path))


def read_feed(
    source: str | Path,
    *,
    timeout_s: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    default_currency: str = "RON",
) -> FeedReadResult:
    """Read a Google Merchant RSS/Atom or CSV/TSV feed from a path or http(s) URL.

    Invalid items become `FeedProblem`s; a feed that cannot be read at all raises
    (`ConfigError` missing file or 4xx, `TransientError` network/5xx,
    `ProductDataError(field="feed")` malformed or over the size cap).
    """
    fetched = fetch_feed(str(source), timeout_s=timeout_s, max_bytes=max_bytes)
    assert fetched is not None  # unconditional request: never 304
    try:
        return read_feed_file(fetched, max_bytes=max_bytes, default_currency=default_currency, source=str(source))
    finally:
        fetched.discard()

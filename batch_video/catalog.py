"""Catalog reads with a small on-disk cache, so a batch of N runs parses a feed once.

A source is a feed path, an http(s) feed URL, or `supabase:products` (the
shop's Supabase `products` table, read through a rows callable). A local feed
is cached by its content (sha256 of its bytes, with its folder, which relative
image links resolve against), never by time stamps: a feed rewritten in place
within the file system's time resolution is parsed again. A remote source is
cached for `ttl_s` seconds (a 5,000-product batch must not download the feed
5,000 times).

The cache is plain JSON: whoever can write `data/cache` can change what a
batch renders, but can't run code in it (a pickle would let them).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from batch_video import feed, files
from batch_video.errors import ConfigError
from batch_video.feed.prices import currency_code
from batch_video.hashing import file_sha256
from batch_video.models import FeedProblem, FeedReadResult, Product

logger = logging.getLogger(__name__)


SUPABASE_SOURCE = "supabase:products"
# Bump when parsing or validation changes what a feed yields: older cache entries are then ignored.
CACHE_FORMAT = 2

RowsLoader = Callable[[], Iterable[Mapping[str, Any]]]


def is_remote(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def is_supabase(source: str) -> bool:
    return source.startswith("supabase:")


def catalog_digest(result: FeedReadResult) -> str:
    """A version of the catalog's content (for sources without ETags, like a table)."""
    digest = hashlib.sha256()
    for product in sorted(result.products, key=lambda p: p.key):
        digest.update(f"{product.key}={product.content_hash};".encode())
    for problem in result.problems:
        digest.update(f"!{problem.product_id}:{problem.field}:{problem.raw_value};".encode())
    return digest.hexdigest()


FEED_CURRENCY_ENV = "BATCH_VIDEO_FEED_CURRENCY"
DEFAULT_FEED_CURRENCY = "RON"


def feed_currency(environ: Mapping[str, str] | None = None) -> str:
    """The shop's currency (`BATCH_VIDEO_FEED_CURRENCY`, default RON): prices written without one are in it."""
    environ = os.environ if environ is None else environ
    value = (environ.get(FEED_CURRENCY_ENV) or DEFAULT_FEED_CURRENCY).strip()
    try:
        return currency_code(value)
    except ValueError:
        raise ConfigError(
            f"the shop currency ({FEED_CURRENCY_ENV}, --currency) must be a code such as RON or EUR, not {value!r}", field="currency"
        ) from None


def _cache_id(source: str, currency: str) -> str:
    """Remote and table sources: the source itself (with a TTL). Local files: their content and folder."""
    # Sale dates in shop exports are read against today's date: a cached parse lasts one day at most.
    salt = f"{CACHE_FORMAT}|{currency}|{datetime.date.today().isoformat()}"
    if is_remote(source) or is_supabase(source):
        return hashlib.sha256(f"{source}|{salt}".encode()).hexdigest()[:32]
    location = Path(feed.feed_location(source)).resolve()
    ident = f"{location.parent}|{source}|{file_sha256(location)}|{salt}"
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


_PRODUCT_FIELDS = tuple(f.name for f in fields(Product))


def result_to_json(result: FeedReadResult) -> dict[str, Any]:
    """The parse as JSON: products as rows under one list of column names (a 100,000-product feed loads in about a second)."""
    return {
        "format": CACHE_FORMAT,
        "source": result.source,
        "feed_format": result.format,
        "product_fields": list(_PRODUCT_FIELDS),
        "products": [[_plain(getattr(product, name)) for name in _PRODUCT_FIELDS] for product in result.products],
        "problems": [asdict(problem) for problem in result.problems],
        "warnings": [asdict(warning) for warning in result.warnings],
        "duplicates": list(result.duplicates),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def result_from_json(data: Mapping[str, Any]) -> FeedReadResult:
    if data.get("format") != CACHE_FORMAT or tuple(data.get("product_fields") or ()) != _PRODUCT_FIELDS:
        raise ValueError(f"cache format {data.get('format')!r}, expected {CACHE_FORMAT}")
    products = []
    for row in data["products"]:
        values = dict(zip(_PRODUCT_FIELDS, row, strict=True))
        values["price"] = Decimal(values["price"])
        if values["sale_price"] is not None:
            values["sale_price"] = Decimal(values["sale_price"])
        values["additional_image_links"] = tuple(values["additional_image_links"])
        products.append(Product(**values))
    return FeedReadResult(
        products=tuple(products),
        problems=tuple(FeedProblem(**problem) for problem in data["problems"]),
        warnings=tuple(FeedProblem(**warning) for warning in data.get("warnings", ())),
        duplicates=tuple(data["duplicates"]),
        source=str(data["source"]),
        format=str(data.get("feed_format", "")),
    )


def load_catalog(
    source: str,
    cache_dir: Path | None = None,
    *,
    ttl_s: float = 600.0,
    timeout_s: float = 30.0,
    deadline_s: float = feed.DEFAULT_DEADLINE_S,
    rows: RowsLoader | None = None,
    fetched: feed.FetchedFeed | None = None,
    currency: str = DEFAULT_FEED_CURRENCY,
) -> FeedReadResult:
    """Read `source`, reusing a cached parse while it is still valid.

    `fetched` is a copy of the feed the caller has just downloaded: it is parsed and
    refreshes the cache instead of a second download.

    `rows` loads the table rows for a `supabase:` source. `currency` is the shop's,
    for prices written without one.
    """
    if is_supabase(source) and rows is None:
        raise ConfigError(f"catalog source {source!r} needs Supabase settings (SUPABASE_URL, key, BATCH_VIDEO_PROFILE_ID)", field="feed_url")

    def read() -> FeedReadResult:
        if fetched is not None:
            return feed.read_feed_file(fetched, source=source, default_currency=currency)
        if is_supabase(source):
            return feed.products_from_rows(rows(), source=source, default_currency=currency)  # type: ignore[misc]
        return feed.read_feed(source, timeout_s=timeout_s, deadline_s=deadline_s, default_currency=currency)

    remote = is_remote(source) or is_supabase(source)
    if cache_dir is None or (not remote and not Path(feed.feed_location(source)).is_file()):
        return read()
    cache_path = Path(cache_dir) / f"{_cache_id(source, currency)}.json"
    if fetched is None and cache_path.exists() and (not remote or time.time() - cache_path.stat().st_mtime < ttl_s):
        try:
            return result_from_json(json.loads(cache_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as err:
            logger.warning("ignoring unreadable feed cache %s: %s", cache_path.name, err)
    result = read()
    files.write_json(cache_path, result_to_json(result))
    return result

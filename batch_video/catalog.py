"""Catalog reads with a small on-disk cache, so a batch of N runs parses a feed once.

A source is a feed path, an http(s) feed URL, or `supabase:products` (the
shop's Supabase `products` table, read through a rows callable). A local feed
is cached by path, size and mtime; a remote source for `ttl_s` seconds (a
5,000-product batch must not download the feed 5,000 times).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from batch_video import feed
from batch_video.errors import ConfigError
from batch_video.feed.prices import currency_code
from batch_video.models import FeedReadResult

logger = logging.getLogger(__name__)


SUPABASE_SOURCE = "supabase:products"

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
    # Sale dates in shop exports are read against today's date: a cached parse lasts one day at most.
    salt = f"{currency}|{datetime.date.today().isoformat()}"
    if is_remote(source) or is_supabase(source):
        return hashlib.sha256(f"{source}|{salt}".encode()).hexdigest()[:20]
    location = Path(feed.feed_location(source))
    stat = location.stat()
    ident = f"{location.resolve()}|{source}|{stat.st_size}|{stat.st_mtime_ns}|{salt}"
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def load_catalog(
    source: str,
    cache_dir: Path | None = None,
    *,
    ttl_s: float = 600.0,
    timeout_s: float = 30.0,
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
        return feed.read_feed(source, timeout_s=timeout_s, default_currency=currency)

    remote = is_remote(source) or is_supabase(source)
    if cache_dir is None or (not remote and not Path(feed.feed_location(source)).exists()):
        return read()
    cache_path = Path(cache_dir) / f"{_cache_id(source, currency)}.pickle"
    if fetched is None and cache_path.exists() and (not remote or time.time() - cache_path.stat().st_mtime < ttl_s):
        try:
            with open(cache_path, "rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError) as err:
            logger.warning("ignoring unreadable feed cache %s: %s", cache_path, err)
    result = read()
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        pickle.dump(result, handle)
    os.replace(tmp, cache_path)
    return result

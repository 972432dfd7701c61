"""Feed reads with a small on-disk cache, so a batch of N runs parses a feed once.

A local feed is cached by path, size and mtime; a remote one for `ttl_s`
seconds (a 5,000-product batch must not download the feed 5,000 times).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
import time
from pathlib import Path

from batch_video import feed
from batch_video.models import FeedReadResult

logger = logging.getLogger(__name__)


def is_remote(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _cache_id(source: str) -> str:
    if is_remote(source):
        return hashlib.sha256(source.encode()).hexdigest()[:20]
    stat = Path(source).stat()
    ident = f"{Path(source).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def load_catalog(source: str, cache_dir: Path | None = None, *, ttl_s: float = 600.0, timeout_s: float = 30.0) -> FeedReadResult:
    """Parse `source` (path or URL), reusing a cached parse when it is still valid."""
    if cache_dir is None or (not is_remote(source) and not Path(source).exists()):
        return feed.read_feed(source, timeout_s=timeout_s)
    cache_path = Path(cache_dir) / f"{_cache_id(source)}.pickle"
    if cache_path.exists() and (not is_remote(source) or time.time() - cache_path.stat().st_mtime < ttl_s):
        try:
            with open(cache_path, "rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError) as err:
            logger.warning("ignoring unreadable feed cache %s: %s", cache_path, err)
    result = feed.read_feed(source, timeout_s=timeout_s)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        pickle.dump(result, handle)
    os.replace(tmp, cache_path)
    return result

"""Bringing a feed to local disk: paths in place, URLs streamed with a timeout, a size cap and gzip."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.feed.sources import feed_location
from batch_video.hashing import file_sha256

DEFAULT_MAX_BYTES = 512 * 1024 * 1024

class _CappedReader(io.RawIOBase):
    """Reads from `inner` and refuses to go past `max_bytes` (bounds gzip bombs and huge files)."""

    def __init__(self, inner: BinaryIO, max_bytes: int, label: str) -> None:
        self.inner, self.max_bytes, self.label, self.count = inner, max_bytes, label, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.max_bytes:
            raise ProductDataError(f"feed {self.label} is larger than the {self.max_bytes} byte cap", field="feed")
        buffer[: len(data)] = data
        return len(data)


def is_remote(source: str) -> bool:
    return str(source).startswith(("http://", "https://"))


@dataclass(frozen=True)
class FetchedFeed:
    """A feed's bytes on local disk plus what identifies this version of it."""

    path: Path
    base: str  # what relative links resolve against: the feed's folder or URL
    sha256: str = ""
    etag: str = ""
    last_modified: str = ""
    size_bytes: int = 0
    temporary: bool = False

    def discard(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


def fetch_feed(
    source: str,
    *,
    timeout_s: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    etag: str = "",
    last_modified: str = "",
    dest_dir: str | Path | None = None,
    client: Any = None,
) -> FetchedFeed | None:
    """Bring the feed to local disk; `None` when the server says it is unchanged (304).

    A local path is used in place (hashed, not copied). A URL is streamed to a
    temporary file with a byte cap; `etag`/`last_modified` make the request
    conditional. Network failures and 5xx raise `TransientError`.
    """
    source = feed_location(str(source))  # a workbook's `#sheet` is read later; Google Sheets links become CSV exports
    if source.startswith("file://"):
        source = urlsplit(source).path
    if not is_remote(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigError(f"feed file {source} does not exist", field="feed")
        return FetchedFeed(path=path, base=str(path.resolve().parent), sha256=file_sha256(path), size_bytes=path.stat().st_size)

    import httpx

    headers = {"Accept-Encoding": "gzip, deflate", "User-Agent": "batch-video feed reader"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_client = client is None
    client = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    fd, tmp_name = tempfile.mkstemp(prefix="feed-", suffix=".download", dir=dest_dir)
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, client.stream("GET", source, headers=headers) as response:
            if response.status_code == 304:
                tmp_path.unlink(missing_ok=True)
                return None
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientError(f"feed {source} answered HTTP {response.status_code}", field="feed")
            if response.status_code >= 400:
                raise ConfigError(f"feed {source} answered HTTP {response.status_code}", field="feed")
            digest, size = hashlib.sha256(), 0
            for chunk in response.iter_bytes():  # decoded: Content-Encoding gzip is undone here
                size += len(chunk)
                if size > max_bytes:
                    raise ProductDataError(f"feed {source} is larger than the {max_bytes} byte cap", field="feed")
                digest.update(chunk)
                out.write(chunk)
            final_url = str(response.url)
            return FetchedFeed(
                path=tmp_path,
                base=final_url,
                sha256=digest.hexdigest(),
                etag=response.headers.get("etag", ""),
                last_modified=response.headers.get("last-modified", ""),
                size_bytes=size,
                temporary=True,
            )
    except httpx.HTTPError as err:
        tmp_path.unlink(missing_ok=True)
        raise TransientError(f"could not fetch feed {source}: {type(err).__name__}: {err}", field="feed") from err
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    finally:
        if own_client:
            client.close()


def _open_decoded(path: Path, max_bytes: int) -> BinaryIO:
    raw = open(path, "rb")
    if raw.read(2) == b"\x1f\x8b":  # a .gz file (local, or served without Content-Encoding)
        raw.seek(0)
        inner: BinaryIO = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    else:
        raw.seek(0)
        inner = raw
    return io.BufferedReader(_CappedReader(inner, max_bytes, str(path)), buffer_size=1 << 16)  # type: ignore[return-value]

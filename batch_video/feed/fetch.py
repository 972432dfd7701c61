"""Bringing a feed to local disk: paths in place, URLs streamed with a deadline, a size cap and gzip."""

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

from batch_video import net
from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.feed.sources import feed_location
from batch_video.hashing import file_sha256
from batch_video.redact import redact_url

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
# A remote feed must arrive within this, however slowly its server sends it.
DEFAULT_DEADLINE_S = 900.0
# After the first `timeout_s`, a feed slower than this is dropped (a real export server sends megabytes a second).
MIN_RATE_BYTES_S = 8 * 1024

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
            raise ProductDataError(f"the feed ({self.label}) is larger than the {self.max_bytes} byte cap", field="feed")
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
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
    etag: str = "",
    last_modified: str = "",
    dest_dir: str | Path | None = None,
) -> FetchedFeed | None:
    """Bring the feed to local disk; `None` when the server says it is unchanged (304).

    A local path is used in place (hashed, not copied). A URL is streamed to a
    temporary file through the guarded fetcher: the operator's own URL may point
    at any host, but the whole download must finish within `deadline_s`, and
    after `timeout_s` it must keep `MIN_RATE_BYTES_S`; `timeout_s` also bounds
    each connect and read. Gzip is asked for and kept as sent (the reader
    unpacks it under its own byte cap). `etag`/`last_modified` make the request
    conditional. Network failures, 5xx and a missed deadline raise `TransientError`.
    """
    source = feed_location(str(source))  # a workbook's `#sheet` is read later; Google Sheets links become CSV exports
    if source.startswith("file://"):
        source = urlsplit(source).path
    if not is_remote(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigError(f"feed file {source} does not exist", field="feed")
        return FetchedFeed(path=path, base=str(path.resolve().parent), sha256=file_sha256(path), size_bytes=path.stat().st_size)

    shown = redact_url(source)
    headers = {"Accept-Encoding": "gzip", "User-Agent": "batch-video feed reader"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    limits = net.FetchLimits(
        deadline_s=deadline_s, connect_timeout_s=timeout_s, read_timeout_s=timeout_s,
        rate_grace_s=timeout_s, min_rate_bytes_s=MIN_RATE_BYTES_S, max_bytes=max_bytes, max_redirects=5,
    )
    fd, tmp_name = tempfile.mkstemp(prefix="feed-", suffix=".download", dir=dest_dir)
    tmp_path = Path(tmp_name)
    digest = _HashingWriter(os.fdopen(fd, "wb"))
    try:
        with digest:
            fetched = net.fetch(source, digest, policy=net.AddressPolicy.anywhere(), limits=limits, headers=headers,
                                accept_status=lambda status: 200 <= status < 300 or status == 304)
    except net.HTTPStatusError as err:
        tmp_path.unlink(missing_ok=True)
        kind = TransientError if err.retryable else ConfigError
        raise kind(f"feed {shown} answered HTTP {err.status}", field="feed") from None
    except net.TooLarge:
        tmp_path.unlink(missing_ok=True)
        raise ProductDataError(f"feed {shown} is larger than the {max_bytes} byte cap", field="feed") from None
    except net.Refused as err:
        tmp_path.unlink(missing_ok=True)
        raise ConfigError(f"feed {shown} cannot be fetched: {err}", field="feed") from None
    except net.FetchError as err:
        tmp_path.unlink(missing_ok=True)
        raise TransientError(f"could not fetch feed {shown}: {err}", field="feed") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    if fetched.status == 304:
        tmp_path.unlink(missing_ok=True)
        return None
    return FetchedFeed(
        path=tmp_path,
        base=fetched.url,
        sha256=digest.hexdigest(),
        etag=fetched.headers.get("etag", ""),
        last_modified=fetched.headers.get("last-modified", ""),
        size_bytes=fetched.size_bytes,
        temporary=True,
    )


class _HashingWriter(io.RawIOBase):
    """A file that hashes what is written to it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.digest = out, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return self.out.write(data)

    def close(self) -> None:
        self.out.close()
        super().close()

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def _open_decoded(path: Path, max_bytes: int) -> BinaryIO:
    raw = open(path, "rb")
    if raw.read(2) == b"\x1f\x8b":  # a .gz file (local, or served without Content-Encoding)
        raw.seek(0)
        inner: BinaryIO = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    else:
        raw.seek(0)
        inner = raw
    return io.BufferedReader(_CappedReader(inner, max_bytes, "unpacked"), buffer_size=1 << 16)  # type: ignore[return-value]

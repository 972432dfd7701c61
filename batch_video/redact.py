"""Texts that leave the process: URLs without credentials or query strings, short errors without paths.

A feed URL may carry a token (`?key=...`, `https://user:pass@host/...`), and an
error may carry a server path or a tool's whole stderr. What goes to logs,
Dagster metadata, sensor cursors and, above all, the records the shop owner
reads, passes through here first.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

# Short enough to read in a table cell, long enough for "product X, field Y: reason".
SHOP_MESSAGE_CHARS = 300

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
# An absolute path of two or more components (`/srv/data/work/x/video.mp4`, `C:\\x\\y`).
_POSIX_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"<>:]+/)+([^\s/'\"<>:]*)")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\'\"<>]+\\)+([^\s\\'\"<>]*)")


def redact_url(url: str) -> str:
    """`url` without user, password, query string or fragment (`?…` marks a removed query)."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not parts.netloc:
        return text
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def source_id(url: str) -> str:
    """What names a feed source in stored state (the sensor's cursor) without its secrets.

    The redacted URL, and when redacting removed something, a digest of the whole URL after it, so a
    changed token or query still counts as another source while the stored text shows neither.
    """
    text = str(url)
    shown = redact_url(text)
    if shown == text:
        return text
    return f"{shown}#sha256:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def redact_urls(text: str) -> str:
    """Every URL inside `text` redacted (punctuation right after a URL, like a closing parenthesis, stays text)."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(").,;:!?'")
        return redact_url(stripped) + url[len(stripped):]

    return _URL.sub(one, str(text))


def shop_message(text: str, *, limit: int = SHOP_MESSAGE_CHARS) -> str:
    """An error text fit for the shop owner: one line, URLs redacted, absolute paths cut to their file name, short."""
    lines = [line.strip() for line in str(text or "").strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    first = redact_urls(first)
    first = _POSIX_PATH.sub(lambda match: match.group(1) or "…", first)
    first = _WINDOWS_PATH.sub(lambda match: match.group(1) or "…", first)
    if len(first) > limit:
        first = first[: limit - 1].rstrip() + "…"
    return first

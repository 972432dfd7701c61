"""Where a feed is: a path or URL, a spreadsheet's sheet after `#`, Google Sheets links turned into CSV exports.

- `catalog.xlsx#Produse` reads the sheet named `Produse` (`#2`: the second sheet
  when none is named `2`); without `#` the first sheet. A local file whose name
  really contains `#` is read whole.
- A Google Sheets link as the browser shows it (`…/spreadsheets/d/<id>/edit#gid=<gid>`,
  `…/edit?usp=sharing`, a published `…/pubhtml`) becomes the sheet's CSV export
  (`…/export?format=csv&gid=<gid>`, `…/pub?output=csv`), fetched like any remote CSV.
  The sheet must be shared as "anyone with the link can view" (or published).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

_SHEETS_HOST = "docs.google.com"
_SHEET_ID = re.compile(r"^/spreadsheets/(?:u/\d+/)?d/(?P<id>[A-Za-z0-9_-]{10,})(?P<rest>/.*)?$")
_PUBLISHED = re.compile(r"^/spreadsheets/(?:u/\d+/)?d/e/(?P<id>[A-Za-z0-9_-]{10,})(?P<rest>/.*)?$")


def google_sheets_csv_url(url: str) -> str:
    """The CSV export URL of a Google Sheets link; any other source comes back unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname != _SHEETS_HOST:
        return url
    query = parse_qs(parts.query)
    fragment = parse_qs(parts.fragment)
    gid = (fragment.get("gid") or query.get("gid") or [""])[0]
    published = _PUBLISHED.match(parts.path)
    if published:
        rest = published.group("rest") or ""
        if rest.startswith("/pub") and query.get("output") not in (None, ["html"]):
            return url.split("#", 1)[0]  # already an export (`output=csv`, `output=xlsx`)
        params = {"output": "csv", **({"gid": gid, "single": "true"} if gid else {})}
        return f"https://{_SHEETS_HOST}/spreadsheets/d/e/{published.group('id')}/pub?{urlencode(params)}"
    match = _SHEET_ID.match(parts.path)
    if not match:
        return url
    rest = match.group("rest") or ""
    if rest.startswith(("/export", "/gviz/")):
        return url.split("#", 1)[0]  # already an export: keep its format (csv, xlsx, ods) and sheet
    params = {"format": "csv", **({"gid": gid} if gid else {})}
    return f"https://{_SHEETS_HOST}/spreadsheets/d/{match.group('id')}/export?{urlencode(params)}"


@dataclass(frozen=True)
class FeedSource:
    """A feed source split into what to fetch and which sheet of a workbook to read (`""`: the first)."""

    location: str
    sheet: str = ""


def parse_source(source: str) -> FeedSource:
    source = str(source)
    converted = google_sheets_csv_url(source)
    if converted != source or urlsplit(source).hostname == _SHEETS_HOST:
        return FeedSource(converted)
    if "#" not in source:
        return FeedSource(source)
    if not source.startswith(("http://", "https://", "file://")) and Path(source).expanduser().exists():
        return FeedSource(source)
    location, _, sheet = source.rpartition("#")
    return FeedSource(location, unquote(sheet).strip())


def feed_location(source: str) -> str:
    """What to fetch for a source (the sheet fragment dropped, Google Sheets links turned into CSV exports)."""
    return parse_source(source).location

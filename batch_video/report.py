"""A batch's report for the shop's team: one row per product (and format), as a spreadsheet, a CSV or a web page.

Built with pandas from plain `ReportRow`s (the code location fills them from a
batch's runs and its assets' metadata). `write_report` picks the format from the
file's extension:

- `.xlsx`: one sheet `report` (frozen header, filters, clickable links) and a
  `summary` sheet with the totals; opens in Excel and LibreOffice.
- `.csv`: UTF-8 with a byte-order mark (Excel shows diacritics right), comma-separated.
- `.html`: a self-contained page with the totals, the table and each video's poster
  as a thumbnail (embedded when the poster is a local file, linked when it is a URL).

Feed text (titles, reasons) is untrusted: it is escaped in HTML, written as text
(never a formula) in XLSX, and a leading `= + - @` is neutralized in CSV.
"""

from __future__ import annotations

import html
import logging
import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlsplit

from batch_video import files
from batch_video.errors import ConfigError

logger = logging.getLogger(__name__)

FORMATS = (".xlsx", ".csv", ".html")
# A 10,000-product report stays an openable page: posters past this many are linked, not embedded.
MAX_EMBEDDED_THUMBNAILS = 1000
THUMBNAIL_WIDTH = 120
# Cells a spreadsheet would run as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ReportRow:
    """What the team wants to know about one product (in one format) after a batch."""

    product: str  # partition key
    status: str  # succeeded | failed | canceled | skipped | queued | running
    product_id: str = ""
    title: str = ""
    format: str = ""  # the output format (preset) of this row's video
    stage: str = ""  # the stage reached; for a failure, the stage that failed
    reason: str = ""  # why it failed (names product, stage and field)
    seconds: float | None = None  # the product's run wall time
    video_seconds: float | None = None
    provider: str = ""  # which voice spoke (edge, espeak)
    checks: str = ""  # the video checks' verdict
    url: str = ""  # where the published video is
    poster: str = ""  # its poster (a local path or a URL)
    run_id: str = ""


# Column headers, in the order the team reads them (every ReportRow field).
HEADERS = {
    "product": "product",
    "product_id": "product id",
    "title": "title",
    "format": "format",
    "status": "status",
    "stage": "stage reached",
    "reason": "failure reason",
    "seconds": "duration (s)",
    "video_seconds": "video length (s)",
    "provider": "voice",
    "checks": "checks",
    "url": "published video",
    "poster": "poster",
    "run_id": "run",
}


def report_frame(rows: Iterable[ReportRow]):
    """The report as a pandas DataFrame with the team's column headers."""
    import pandas as pd

    frame = pd.DataFrame([asdict(row) for row in rows], columns=list(HEADERS))
    for column in ("seconds", "video_seconds"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round(1)
    return frame.rename(columns=HEADERS)


def totals(rows: Sequence[ReportRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def write_report(
    rows: Sequence[ReportRow], out: Path | str, *, title: str = "batch report", max_embedded: int = MAX_EMBEDDED_THUMBNAILS
) -> Path:
    """Write the report to `out` (format from its extension: .xlsx, .csv or .html), atomically.

    The HTML embeds at most `max_embedded` poster thumbnails (the rest are linked).
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"report file {out.name!r}: the extension must be one of {', '.join(FORMATS)}", field="out")
    rows = list(rows)
    if suffix == ".csv":
        _write_csv(rows, out)
    elif suffix == ".xlsx":
        _write_xlsx(rows, out, title=title)
    else:
        files.write_text(out, report_html(rows, title=title, max_embedded=max_embedded))
    logger.info("wrote the report of %d rows to %s", len(rows), out)
    return out


# -- CSV -----------------------------------------------------------------------------


def _neutralized(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _write_csv(rows: Sequence[ReportRow], out: Path) -> None:
    frame = report_frame(rows)
    text_columns = [HEADERS[f.name] for f in fields(ReportRow) if f.type == "str"]
    for column in text_columns:
        frame[column] = frame[column].map(_neutralized)
    with files.atomic_open(out, "w", encoding="utf-8-sig") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")


# -- XLSX ----------------------------------------------------------------------------


def _write_xlsx(rows: Sequence[ReportRow], out: Path, *, title: str) -> None:
    import pandas as pd
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    frame = report_frame(rows)
    summary = pd.DataFrame(
        [("report", title), ("written", _now()), ("products", len({r.product for r in rows})), ("rows", len(rows))]
        + [(status, n) for status, n in totals(rows).items()],
        columns=["", "value"],
    )
    with files.atomic_path(out, suffix=".xlsx") as temp:
        with pd.ExcelWriter(temp, engine="openpyxl") as writer:
            frame.to_excel(writer, sheet_name="report", index=False)
            summary.to_excel(writer, sheet_name="summary", index=False)
            sheet = writer.sheets["report"]
            link_columns = {HEADERS["url"], HEADERS["poster"]}
            for col_index, header in enumerate(frame.columns, start=1):
                letter = get_column_letter(col_index)
                width = max([len(str(header))] + [min(60, len(str(v))) for v in frame[header].head(500) if _present(v)])
                sheet.column_dimensions[letter].width = width + 2
                for row_index in range(2, len(frame) + 2):
                    cell = sheet.cell(row=row_index, column=col_index)
                    if isinstance(cell.value, str):
                        # Text stays text: openpyxl would store "=..." from a feed title as a formula.
                        cell.data_type = "s"
                        if header in link_columns and _linkable(cell.value):
                            cell.hyperlink = _href(cell.value)
                            cell.font = Font(color="0563C1", underline="single")
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            sheet.freeze_panes = "A2"
            sheet.auto_filter.ref = sheet.dimensions


# -- HTML ----------------------------------------------------------------------------


STATUS_COLOURS = {"succeeded": "#1e7b34", "failed": "#b3261e", "canceled": "#6b6b6b", "skipped": "#6b6b6b"}

PAGE_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d1d1f; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; }
td.reason { max-width: 420px; }
img.poster { width: 72px; border-radius: 4px; }
"""


def report_html(rows: Sequence[ReportRow], *, title: str, max_embedded: int = MAX_EMBEDDED_THUMBNAILS) -> str:
    """A self-contained page: totals, then one table row per report row with its poster thumbnail."""
    frame = report_frame(rows)
    embedded = [0]

    def cell(field_name: str, value: object, row: ReportRow) -> str:
        if field_name == "poster":
            return _poster_cell(row, embedded, max_embedded)
        if field_name == "url":
            return _link(str(value), "video") if _present(value) else ""
        if field_name == "status":
            colour = STATUS_COLOURS.get(str(value), "#1d1d1f")
            return f'<b style="color:{colour}">{html.escape(str(value))}</b>'
        if not _present(value):
            return ""
        return html.escape(str(value))

    shown = frame.copy()
    for name, header in HEADERS.items():
        shown[header] = [cell(name, value, row) for value, row in zip(frame[header], rows)]
    table = shown.to_html(index=False, escape=False, border=0, na_rep="")
    counts = ", ".join(f"{n} {html.escape(status)}" for status, n in totals(rows).items()) or "no products"
    products = len({r.product for r in rows})
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f"<p class=\"meta\">{products} products, {len(rows)} rows: {counts}. Written {html.escape(_now())}.</p>\n"
        f"{table}\n</body></html>\n"
    )


def _poster_cell(row: ReportRow, embedded: list[int], max_embedded: int) -> str:
    poster = row.poster
    if not poster:
        return ""
    alt = html.escape(row.title or row.product, quote=True)
    if _is_url(poster):
        return f'<a href="{_attr(poster)}"><img class="poster" loading="lazy" alt="{alt}" src="{_attr(poster)}"></a>'
    path = Path(poster)
    if not path.is_file():
        return html.escape(poster)
    if embedded[0] < max_embedded:
        from batch_video.thumbnails import thumbnail_data_uri

        try:
            src = thumbnail_data_uri(path, THUMBNAIL_WIDTH)
            embedded[0] += 1
        except OSError as err:  # a poster that cannot be read is a missing thumbnail, not a missing report
            logger.warning("no thumbnail for %s: %s", poster, err)
            return html.escape(poster)
    else:
        src = path.resolve().as_uri()
    return f'<a href="{_attr(path.resolve().as_uri())}"><img class="poster" alt="{alt}" src="{_attr(src)}"></a>'


def _link(target: str, text: str) -> str:
    if not _linkable(target):
        return html.escape(target)
    return f'<a href="{_attr(_href(target))}">{html.escape(text)}</a>'


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https")


def _linkable(value: str) -> bool:
    return _is_url(value) or value.startswith("/")


def _href(value: str) -> str:
    """A URL as is; an absolute local path as a file: URI."""
    return value if _is_url(value) else Path(value).as_uri()


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return value != ""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

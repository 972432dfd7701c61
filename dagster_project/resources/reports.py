"""Where batch reports are written: a folder of HTML, XLSX and CSV files, one set per batch."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import dagster as dg

from batch_video.errors import ConfigError
from batch_video.report import FORMATS, ReportRow, write_report

DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ReportsResource(dg.ConfigurableResource):
    """Batch reports: `<folder>/<name>.html|.xlsx|.csv`, and the webserver address their batch links point to."""

    folder: str = "output/reports"
    formats: list[str] = list(FORMATS)
    dagster_url: str = DEFAULT_DAGSTER_URL
    # Poster thumbnails embedded in the HTML (the rest are linked): keeps writing a 10,000-product report short.
    max_thumbnails: int = 200

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ReportsResource":
        """`BATCH_VIDEO_REPORTS_DIR` (default `<BATCH_VIDEO_OUTPUT_DIR>/reports`), `BATCH_VIDEO_DAGSTER_URL`."""
        env = os.environ if environ is None else environ
        output = env.get("BATCH_VIDEO_OUTPUT_DIR") or "output"
        return cls(
            folder=env.get("BATCH_VIDEO_REPORTS_DIR") or os.path.join(output, "reports"),
            dagster_url=(env.get("BATCH_VIDEO_DAGSTER_URL") or DEFAULT_DAGSTER_URL).rstrip("/"),
        )

    def backfill_link(self, backfill_id: str) -> str:
        return f"{self.dagster_url.rstrip('/')}/runs/b/{backfill_id}?tab=partitions"

    def write(self, name: str, rows: Sequence[ReportRow], *, title: str) -> dict[str, Path]:
        """The report in every configured format, named `name`; extension -> path."""
        if not _SAFE_NAME.match(name):
            raise ConfigError(f"report name {name!r} cannot be a file name", field="name")
        folder = Path(self.folder).resolve()
        written = {}
        for suffix in self.formats:
            suffix = suffix if suffix.startswith(".") else "." + suffix
            written[suffix] = write_report(rows, folder / f"{name}{suffix}", title=title, max_embedded=self.max_thumbnails)
        return written

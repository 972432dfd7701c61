"""Batch reports: written as XLSX, CSV and HTML, read back by pandas (and by LibreOffice), safe with feed text."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from batch_video.errors import ConfigError
from batch_video.report import HEADERS, ReportRow, report_frame, report_html, write_report


def sample_rows(poster: Path) -> list[ReportRow]:
    return [
        ReportRow("cana-1", "succeeded", product_id="CANA 1", title="Cană ceramică țărănească", format="tiktok",
                  stage="published_video", seconds=9.84, video_seconds=6.5, provider="espeak",
                  checks="all 7 video checks passed", url=str(poster.with_suffix(".mp4")), poster=str(poster), run_id="r1"),
        ReportRow("cana-1", "succeeded", product_id="CANA 1", title="Cană ceramică țărănească", format="square",
                  stage="published_video", seconds=9.84, video_seconds=6.5, provider="espeak",
                  checks="all 7 video checks passed", url="https://cdn.example.com/v/cana-1/square.mp4",
                  poster="https://cdn.example.com/v/cana-1/square.jpg", run_id="r1"),
        ReportRow("lipsa-1", "failed", product_id="LIPSA-1", title='=HYPERLINK("http://evil","click") <b>x</b>',
                  stage="product_image", reason="product LIPSA-1, field image_link: not found", seconds=0.9, run_id="r2"),
        ReportRow("rupt-2", "skipped"),
    ]


@pytest.fixture
def poster(tmp_path) -> Path:
    path = tmp_path / "videos" / "cana-1.jpg"
    path.parent.mkdir()
    Image.new("RGB", (360, 640), (200, 80, 40)).save(path, quality=85)
    return path


def test_xlsx_reads_back_with_pandas_row_for_row(tmp_path, poster):
    rows = sample_rows(poster)
    out = write_report(rows, tmp_path / "report.xlsx", title="noaptea de 1 decembrie")
    back = pd.read_excel(out, sheet_name="report", engine="openpyxl", dtype=str, keep_default_na=False)
    assert list(back.columns) == list(HEADERS.values())
    assert back["product"].tolist() == ["cana-1", "cana-1", "lipsa-1", "rupt-2"]
    assert back["format"].tolist() == ["tiktok", "square", "", ""]
    assert back["status"].tolist() == ["succeeded", "succeeded", "failed", "skipped"]
    assert back["title"][0] == "Cană ceramică țărănească"
    assert back["failure reason"][2] == "product LIPSA-1, field image_link: not found"
    assert float(back["duration (s)"][0]) == pytest.approx(9.8)
    # A feed title that looks like a formula stays text (openpyxl would otherwise store it as one).
    assert back["title"][2] == '=HYPERLINK("http://evil","click") <b>x</b>'
    from openpyxl import load_workbook

    sheet = load_workbook(out)["report"]
    assert sheet["C4"].data_type == "s"
    assert sheet["L3"].hyperlink.target == "https://cdn.example.com/v/cana-1/square.mp4"
    summary = pd.read_excel(out, sheet_name="summary", dtype=str)
    assert dict(zip(summary.iloc[:, 0], summary["value"]))["failed"] == "1"


def test_csv_has_a_bom_for_excel_and_neutralizes_formulas(tmp_path, poster):
    out = write_report(sample_rows(poster), tmp_path / "report.csv")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["title"][0] == "Cană ceramică țărănească"
    assert back["title"][2].startswith("'=HYPERLINK")
    assert back["published video"][1] == "https://cdn.example.com/v/cana-1/square.mp4"
    assert len(back) == 4


def test_html_escapes_feed_text_and_embeds_local_posters(tmp_path, poster):
    page = report_html(sample_rows(poster), title="raport <noapte>")
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "raport &lt;noapte&gt;" in page
    assert page.count("data:image/jpeg;base64,") == 1  # the local poster, as a thumbnail
    assert 'src="https://cdn.example.com/v/cana-1/square.jpg"' in page  # a remote poster, linked
    assert poster.resolve().as_uri() in page
    assert page.count("<tr") == 1 + 4  # the header and one row each
    assert "2 succeeded, 1 failed, 1 skipped" in page


def test_html_past_the_embedding_cap_links_posters_instead(tmp_path, poster):
    rows = [ReportRow(f"p{i}", "succeeded", poster=str(poster)) for i in range(3)]
    page = report_html(rows, title="t", max_embedded=1)
    assert page.count("data:image/jpeg;base64,") == 1
    assert page.count(f'src="{poster.resolve().as_uri()}"') == 2


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        write_report([], tmp_path / "report.pdf")
    assert err.value.field == "out"


def test_an_empty_batch_still_writes_headers(tmp_path):
    out = write_report([], tmp_path / "empty.xlsx")
    assert list(pd.read_excel(out).columns) == list(HEADERS.values())
    assert report_frame([]).empty


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (make test-deps installs libreoffice-calc-nogui)")
def test_the_xlsx_opens_in_libreoffice(tmp_path, poster):
    """LibreOffice Calc opens the workbook and saves the same table back as CSV."""
    rows = sample_rows(poster)
    xlsx = write_report(rows, tmp_path / "report.xlsx", title="t")
    converted = tmp_path / "converted"
    profile = tmp_path / "lo-profile"
    # Its own profile folder: concurrent soffice processes (other tests, other users) never share one.
    completed = subprocess.run(
        ["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(converted), str(xlsx)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    back = pd.read_csv(converted / "report.csv", dtype=str, keep_default_na=False)
    ours = pd.read_excel(xlsx, sheet_name="report", dtype=str, keep_default_na=False)
    assert list(back.columns) == list(ours.columns)
    for column in ("product", "title", "format", "status", "failure reason", "published video"):
        assert back[column].tolist() == ours[column].tolist(), column

"""The `batch-video` feed and render commands."""

from __future__ import annotations

import json
import subprocess

import dagster as dg
import pytest

from dagster_project.console.cli import main


def test_feed_sync_adds_keys_then_reports_them_unchanged(tiny_feed, dagster_home, capsys):
    assert main(["feed", "sync", str(tiny_feed), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert sorted(first["new"]) == ["cana-1", "lipsa-1"]
    with dg.DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions("products")) == ["cana-1", "lipsa-1"]

    assert main(["feed", "sync", str(tiny_feed), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["new"] == []
    assert sorted(second["unrendered"]) == ["cana-1", "lipsa-1"]


def test_feed_sync_reports_and_deletes_removed_products(tiny_feed, dagster_home, capsys):
    main(["feed", "sync", str(tiny_feed)])
    text = tiny_feed.read_text(encoding="utf-8")
    start = text.index("<item>\n  <g:id>LIPSA-1")
    tiny_feed.write_text(text[:start] + text[text.index("</item>", start) + len("</item>"):], encoding="utf-8")
    capsys.readouterr()
    assert main(["feed", "sync", str(tiny_feed), "--delete-removed"]) == 0
    out = capsys.readouterr().out
    assert "1 removed" in out and "lipsa-1" in out
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("products") == ["cana-1"]


def test_feed_inspect_json_counts(tiny_feed, capsys):
    assert main(["feed", "inspect", str(tiny_feed), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["valid"] == 2
    assert report["counts"]["on_sale"] == 1


@pytest.mark.slow
def test_render_one_product_without_dagster(tiny_feed, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BATCH_VIDEO_TTS_PROVIDER", "espeak")
    out = tmp_path / "out"
    assert main(["render", "--feed", str(tiny_feed), "--product", "CANA 1", "--out", str(out), "--preset", "preview", "--contact-sheet"]) == 0
    video = out / "cana-1.mp4"
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(video)], capture_output=True, text=True, check=True
    ).stdout)
    assert {s["codec_type"] for s in probe["streams"]} == {"video", "audio"}
    assert (out / "contact-sheet.png").stat().st_size > 1000
    # The broken product fails with the product and field named, and a non-zero exit.
    assert main(["render", "--feed", str(tiny_feed), "--product", "LIPSA-1", "--out", str(out), "--preset", "preview"]) == 1
    assert "LIPSA-1" in capsys.readouterr().err


def test_feed_inspect_and_sync_accept_a_spreadsheet_sheet(tmp_path, dagster_home, capsys):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Citește-mă"
    sheet = workbook.create_sheet("Produse")
    for row in (["Cod", "Denumire", "Preț", "Preț redus", "Imagine"], ["CN-1", "Cană", 49.9, 39.9, "poze/cana.jpg"], ["CN-2", "Farfurie", "", "", "poze/f.jpg"]):
        sheet.append(row)
    workbook.save(tmp_path / "catalog.xlsx")
    source = f"{tmp_path / 'catalog.xlsx'}#Produse"

    assert main(["feed", "inspect", source, "--json", "--currency", "eur"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "catalog (XLSX sheet 'Produse')"
    assert report["first_rows"][0]["price"] == "49.9 EUR" and report["first_rows"][0]["on_sale"] is True
    assert [(p["product_id"], p["field"], p["reason"]) for p in report["problems"]] == [("CN-2", "price", "missing price")]

    assert main(["feed", "sync", source, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["new"] == ["cn-1"]
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("products") == ["cn-1"]


def test_an_unknown_shop_currency_is_an_error(tiny_feed, capsys):
    assert main(["feed", "inspect", str(tiny_feed), "--currency", "galbeni"]) == 2
    assert "such as RON or EUR" in capsys.readouterr().err

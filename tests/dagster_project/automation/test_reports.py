"""Batch reports from a real instance: the rows of a finished backfill or schedule tick, and the sensor that writes them."""

import json
import time

import dagster as dg
import pandas as pd
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill  # the test builds a finished backfill
from PIL import Image

from batch_video.errors import ProductDataError
from batch_video.report import ReportRow
from dagster_project.automation.reports import BATCH_REPORT_KEY, ReportCursor, batch_reports, write_finished_reports
from dagster_project.batch_report import instance_report, report_rows
from dagster_project.batch_status import ProductStatus
from dagster_project.failures import stage_errors
from dagster_project.resources import ReportsResource
from dagster_project.run_tags import BACKFILL_TAG, TICK_TAG, TRIGGER_TAG

products = dg.DynamicPartitionsDefinition(name="products")
POSTERS: dict[str, str] = {}


@dg.asset(partitions_def=products)
def product_record(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    key = context.partition_key
    return dg.MaterializeResult(metadata={"product_id": key.upper(), "title": f"Produs {key} ăîș"})


@dg.asset(partitions_def=products, deps=[product_record])
def product_image(context: dg.AssetExecutionContext) -> None:
    with stage_errors(context):
        if context.partition_key.startswith("lipsa"):
            raise ProductDataError("photo not found", product_id=context.partition_key.upper(), field="image_link")


@dg.asset(partitions_def=products, deps=[product_image])
def voiceover_audio(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"provider": "espeak"})


@dg.asset(partitions_def=products, deps=[voiceover_audio])
def published_video(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    key = context.partition_key
    return dg.MaterializeResult(metadata={
        "location": f"/out/videos/{key}.mp4", "poster": POSTERS.get(key, ""), "provider": "espeak",
        "checks": "all 7 video checks passed", "duration_s": 6.5, "preset": "preview",
    })


CHAIN = [product_record, product_image, voiceover_audio, published_video]


def run_products(instance, keys, tags):
    for key in keys:
        dg.materialize(CHAIN, partition_key=key, instance=instance, tags=tags, raise_on_error=False)


def add_finished_backfill(instance, backfill_id: str, keys: list[str], status=BulkActionStatus.COMPLETED_FAILED):
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=dg.Definitions(assets=CHAIN).resolve_asset_graph(),
        partition_names=keys, asset_selection=[a.key for a in CHAIN], backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title="noaptea de luni", description=None,
        run_config=None,
    )
    instance.add_backfill(backfill.with_status(status))


@pytest.fixture
def instance(tmp_path):
    poster = tmp_path / "cana-1.jpg"
    Image.new("RGB", (90, 160), (10, 120, 200)).save(poster)
    POSTERS["cana-1"] = str(poster)
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions("products", ["cana-1", "lipsa-1", "ceas-2"])
        yield test_instance


def test_a_finished_backfill_reads_as_one_row_per_product(instance):
    run_products(instance, ["cana-1", "lipsa-1"], {BACKFILL_TAG: "bf1"})
    add_finished_backfill(instance, "bf1", ["cana-1", "lipsa-1", "ceas-2"])
    rows = {row.product: row for row in instance_report(instance, backfill_id="bf1")}
    good, broken, never = rows["cana-1"], rows["lipsa-1"], rows["ceas-2"]
    assert (good.status, good.stage, good.title, good.product_id) == ("succeeded", "published_video", "Produs cana-1 ăîș", "CANA-1")
    assert (good.provider, good.checks, good.format, good.video_seconds) == ("espeak", "all 7 video checks passed", "preview", 6.5)
    assert good.url == "/out/videos/cana-1.mp4" and good.poster.endswith("cana-1.jpg") and good.seconds is not None
    assert (broken.status, broken.stage) == ("failed", "product_image")
    assert "LIPSA-1" in broken.reason and "image_link" in broken.reason
    assert broken.url == "" and broken.provider == ""  # it never spoke
    assert never.status == "skipped"


def test_the_sensor_writes_each_finished_batch_once(instance, tmp_path):
    run_products(instance, ["cana-1", "lipsa-1"], {BACKFILL_TAG: "bf1"})
    add_finished_backfill(instance, "bf1", ["cana-1", "lipsa-1"])
    reports = ReportsResource(folder=str(tmp_path / "reports"), dagster_url="http://ui.example:3000")
    with dg.build_sensor_context(instance=instance, resources={"reports": reports}) as context:
        result = batch_reports(context)
    (event,) = result.asset_events
    assert event.asset_key == BATCH_REPORT_KEY
    assert event.metadata["backfill_id"].value == "bf1"
    assert event.metadata["backfill"].value == "http://ui.example:3000/runs/b/bf1?tab=partitions"
    assert event.metadata["totals"].value == {"succeeded": 1, "failed": 1}
    table = event.metadata["report"].value
    assert [r.data["product"] for r in table.records] == ["lipsa-1", "cana-1"]  # failures first
    xlsx = tmp_path / "reports" / "batch-bf1.xlsx"
    assert event.metadata["report_xlsx"].value == str(xlsx)
    back = pd.read_excel(xlsx, sheet_name="report", dtype=str, keep_default_na=False)
    assert sorted(back["product"]) == ["cana-1", "lipsa-1"]
    assert "data:image/jpeg;base64," in (tmp_path / "reports" / "batch-bf1.html").read_text(encoding="utf-8")

    with dg.build_sensor_context(instance=instance, cursor=result.cursor, resources={"reports": reports}) as context:
        again = batch_reports(context)
    assert not again.asset_events  # reported once


def test_a_schedule_tick_is_reported_once_all_its_runs_finished(instance, tmp_path):
    run_products(instance, ["cana-1", "lipsa-1"], {TRIGGER_TAG: "feed_schedule", TICK_TAG: "tick77"})
    reports = ReportsResource(folder=str(tmp_path / "reports"))
    cursor = ReportCursor()
    events, names = write_finished_reports(instance, reports, cursor, now=time.time())
    assert len(names) == 1 and names[0].startswith("schedule-") and names[0].endswith("-tick77")
    assert events[0].metadata["schedule_tick"].value == "tick77"
    assert events[0].metadata["totals"].value == {"succeeded": 1, "failed": 1}
    assert (tmp_path / "reports" / f"{names[0]}.csv").exists()
    assert write_finished_reports(instance, reports, ReportCursor.from_json(cursor.to_json(oldest=0)), now=time.time()) == ([], [])


def test_a_published_video_in_several_formats_is_one_row_per_format():
    formats = [{"format": f, "location": f"/out/videos/p/{f}.mp4", "poster": f"/out/videos/p/{f}.jpg",
                "checks": "all 7 video checks passed", "duration_s": 7.0} for f in ("tiktok", "square", "landscape")]
    details = {"published_video": {"p": {"location": "/out/videos/p/tiktok.mp4", "formats": json.dumps(formats), "provider": "edge"}}}
    rows = report_rows([ProductStatus("p", "succeeded", "published_video", 12.0, run_id="r")], details)
    assert [(r.format, r.url, r.provider) for r in rows] == [
        ("tiktok", "/out/videos/p/tiktok.mp4", "edge"), ("square", "/out/videos/p/square.mp4", "edge"),
        ("landscape", "/out/videos/p/landscape.mp4", "edge")]
    assert all(isinstance(r, ReportRow) and r.video_seconds == 7.0 for r in rows)

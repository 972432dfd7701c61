"""End to end against a real `dagster dev` (webserver + daemon): launch, follow, fix, retry, cancel, kill.

A two-product feed (one good, one whose photo is missing) in a temp instance,
rendered with the `preview` preset and espeak. The CLI drives everything over
GraphQL; the asset grid read from the instance must agree with it. Cancel and
kill -9 catch a product mid-way through a long full-size render.

Waits are on conditions (a run finished, a step started) with generous ceilings that stretch while the runs
log events, never wall-clock budgets: the machine running the suite may be loaded (tests/dagster_project/waiting.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import dagster as dg
import pandas as pd
import pytest

from batch_video.catalog import load_catalog
from batch_video.feed import slugify_key
from batch_video.publish import LocalStorage
from dagster_project.automation.feed_sync import sync_feed_partitions
from dagster_project.console import cli
from scripts.local_dagster import LocalDagster
from tests.dagster_project.conftest import FEED_TEMPLATE, write_photo
from tests.dagster_project.waiting import RunEvents, wait_until

# A last resort only: the waits below fail first, saying what did not happen.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

GOOD, BROKEN = slugify_key("CANA 1"), slugify_key("LIPSA-1")
VALID = {"queued", "running", "succeeded", "failed", "skipped", "canceled"}
STARTUP_CEILING_S = 900  # dagster dev starts four Python processes: slow on a loaded machine, never hung


def published_for(location: str, key: str) -> bool:
    """A published video's location: the product's folder, a file named by its content."""
    return f"/videos/{key}/" in location and location.endswith(".mp4")


def cli_json(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def follow(capsys, url: str, backfill_id: str, instance: dg.DagsterInstance) -> tuple[dict, list[dict]]:
    """Poll `status --json` until every product and the backfill have finished; every snapshot is checked.

    Waits as long as the backfill's runs keep logging events (up to half an hour): a render logs its frame
    count every few seconds.
    """
    snapshots = []

    def finished() -> dict | None:
        doc = cli_json(capsys, "batch", "status", backfill_id, "--json", "--url", url)
        snapshots.append(doc)
        for row in doc["products"]:
            assert row["status"] in VALID, row
            if row["status"] == "running":
                assert row["stage"] == "" or row["stage"] in {"product_record", "product_image", "voiceover_script",
                                                               "voiceover_audio", "rendered_video", "published_video"}
        return doc if doc["finished"] else None

    doc = wait_until(finished, what=f"backfill {backfill_id} finished", ceiling_s=1800,
                     progress=RunEvents(instance, backfill_id), poll_s=1.0)
    return doc, snapshots


def server_env(root, feed, **settings: str) -> dict[str, str]:
    """The environment of the `dagster dev` under test: folders below `root`, espeak, and batch settings."""
    return {
        "BATCH_VIDEO_DATA_DIR": str(root / "data"),
        "BATCH_VIDEO_OUTPUT_DIR": str(root / "output"),
        "BATCH_VIDEO_FEED_URL": str(feed),
        "BATCH_VIDEO_TTS_PROVIDER": "espeak",
        "BATCH_VIDEO_REPORTS_INTERVAL_S": "5",
        **{f"BATCH_VIDEO_{name.upper()}": value for name, value in settings.items()},
    }


def test_launch_status_fix_and_retry_only_the_failed_product(tiny_feed, tmp_path, monkeypatch, capsys):
    env = server_env(tmp_path, tiny_feed, preset="preview", duration_min_s="1", tail_s="0.5")
    home = tmp_path / "dagster_home"
    server = LocalDagster(home, env=env, startup_timeout_s=STARTUP_CEILING_S)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with server as client:
        instance = dg.DagsterInstance.get()
        sync_feed_partitions(instance, load_catalog(str(tiny_feed)))

        launched = cli_json(capsys, "batch", "launch", "--all", "--cta-text", "Hai acum!", "--json", "--url", client.url)
        backfill_id = launched["backfill_id"]
        assert sorted(launched["products"]) == sorted([GOOD, BROKEN])
        assert launched["url"].endswith(f"/runs/b/{backfill_id}?tab=partitions")

        done, snapshots = follow(capsys, client.url, backfill_id, instance)
        assert any(r["status"] in {"queued", "running"} for s in snapshots for r in s["products"]), "never saw it in flight"
        rows = {r["partition_key"]: r for r in done["products"]}
        assert rows[GOOD]["status"] == "succeeded", rows[GOOD]
        assert rows[GOOD]["stage"] == "published_video" and published_for(rows[GOOD]["video"], GOOD)
        assert rows[BROKEN]["status"] == "failed" and rows[BROKEN]["stage"] == "product_image"
        assert "LIPSA-1" in rows[BROKEN]["error"] and "image_link" in rows[BROKEN]["error"]
        assert done["totals"]["succeeded"] == 1 and done["totals"]["failed"] == 1

        # The batch's report: a workbook the team opens, and a page with the posters.
        xlsx, page = tmp_path / "report.xlsx", tmp_path / "report.html"
        written = cli_json(capsys, "batch", "report", backfill_id, "--out", str(xlsx), "--out", str(page), "--json", "--url", client.url)
        assert written["rows"] == 2 and written["totals"] == {"succeeded": 1, "failed": 1}
        report = pd.read_excel(xlsx, sheet_name="report", dtype=str, keep_default_na=False).set_index("product")
        assert report.loc[GOOD, "status"] == "succeeded" and report.loc[GOOD, "voice"] == "espeak"
        assert report.loc[GOOD, "checks"].startswith("all ") and published_for(report.loc[GOOD, "published video"], GOOD)
        assert report.loc[GOOD, "title"] == "Cană ceramică țărănească" and report.loc[GOOD, "format"] == "preview"
        assert report.loc[BROKEN, "stage reached"] == "product_image" and "image_link" in report.loc[BROKEN, "failure reason"]
        assert "data:image/jpeg;base64," in page.read_text(encoding="utf-8")

        # The settings given on the command line were used and recorded.
        mat = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("rendered_video"), asset_partitions=[GOOD]), limit=1
        ).records[0].asset_materialization
        assert mat.metadata["settings"].value["cta_text"] == "Hai acum!"
        assert mat.metadata["settings"].value["preset"] == "preview"  # the env default, not overridden

        # The asset grid agrees with the CLI.
        partitions = dg.DynamicPartitionsDefinition(name="products")
        published = instance.get_status_by_partition(dg.AssetKey("published_video"), [GOOD, BROKEN], partitions)
        image = instance.get_status_by_partition(dg.AssetKey("product_image"), [GOOD, BROKEN], partitions)
        assert published[GOOD] == dg.AssetPartitionStatus.MATERIALIZED
        assert image[BROKEN] == dg.AssetPartitionStatus.FAILED
        assert client.asset_partition_statuses("product_image")[BROKEN] == "failed"

        # Fix the product's photo, then retry: only it runs, from its failed stage.
        write_photo(tiny_feed.parent / "images" / "does-not-exist.jpg")
        retried = cli_json(capsys, "batch", "retry", backfill_id, "--json", "--url", client.url)
        assert retried["products"] == [BROKEN]
        child_id = retried["backfill_id"]
        assert child_id != backfill_id
        assert client.backfill(child_id)["tags"] and {"key": "dagster/parent_backfill_id", "value": backfill_id} in client.backfill(child_id)["tags"]

        # Meanwhile a batch canceled before the daemon picks it up: nothing of it runs.
        doomed = cli_json(capsys, "batch", "launch", "--products", GOOD, "--json", "--url", client.url)["backfill_id"]
        capsys.readouterr()
        assert cli.main(["batch", "cancel", doomed, "--url", client.url]) == 0
        assert f"backfill {doomed}: canceled" in capsys.readouterr().out

        done_child, _ = follow(capsys, client.url, child_id, instance)
        child_rows = {r["partition_key"]: r for r in done_child["products"]}
        assert set(child_rows) == {BROKEN}
        assert child_rows[BROKEN]["status"] == "succeeded", child_rows[BROKEN]
        assert published_for(child_rows[BROKEN]["video"], BROKEN)
        child_runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": child_id}))
        assert len(child_runs) == 1
        steps = {s.step_key for s in instance.get_run_step_stats(child_runs[0].dagster_run.run_id)}
        assert "product_record" not in steps and {"product_image", "published_video"} <= steps

        published = instance.get_status_by_partition(dg.AssetKey("published_video"), [GOOD, BROKEN], partitions)
        assert published == {GOOD: dg.AssetPartitionStatus.MATERIALIZED, BROKEN: dg.AssetPartitionStatus.MATERIALIZED}

        canceled, _ = follow(capsys, client.url, doomed, instance)
        assert canceled["status"] == "CANCELED"
        # Skipped: never started. Canceled: only if the daemon's tick slipped in between launch and cancel.
        assert [(r["partition_key"], r["status"]) for r in canceled["products"]] in ([(GOOD, "skipped")], [(GOOD, "canceled")])
        assert all(r.dagster_run.status == dg.DagsterRunStatus.CANCELED
                   for r in instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": doomed})))
        assert LocalStorage(tmp_path / "output").live_video(BROKEN).exists()

        # The batch_reports sensor wrote the first batch's report too, and recorded it as a batch_report event.
        def reported() -> set[str]:
            events = instance.fetch_materializations(dg.AssetKey("batch_report"), limit=10).records
            return {e.asset_materialization.metadata["backfill_id"].value for e in events
                    if "backfill_id" in e.asset_materialization.metadata}

        deadline = time.monotonic() + 180
        while backfill_id not in reported():
            assert time.monotonic() < deadline, "the batch_reports sensor recorded no report of the finished batch"
            time.sleep(1.0)
        assert (tmp_path / "output" / "reports" / f"batch-{backfill_id}.xlsx").exists()



@pytest.fixture(scope="module")
def long_renders(tmp_path_factory):
    """`dagster dev` over the two-product feed, both photos present, rendering 40 s full-size videos.

    Long enough to catch a product mid-render. Yields (client, instance, data folder).
    """
    root = tmp_path_factory.mktemp("long_renders")
    feed = root / "feed" / "feed.xml"
    write_photo(feed.parent / "images" / "mug.jpg")
    write_photo(feed.parent / "images" / "does-not-exist.jpg")
    feed.write_text(FEED_TEMPLATE, encoding="utf-8")
    env = server_env(root, feed, duration_min_s="40")
    with LocalDagster(root / "dagster_home", env=env, startup_timeout_s=STARTUP_CEILING_S) as client:
        # Not entered as a context: that would hold the instance's context across the module's tests.
        instance = dg.DagsterInstance.from_config(str(root / "dagster_home"))
        try:
            sync_feed_partitions(instance, load_catalog(str(feed)))
            yield client, instance, root / "data"
        finally:
            instance.dispose()


def run_process_pid(instance, run_id: str) -> int:
    """The pid of the process executing a run, from Dagster's "Started process for run (pid: N)" event."""
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records:
        match = re.search(r"Started process for run \(pid: (\d+)\)", record.event_log_entry.dagster_event.message or "")
        if match:
            return int(match.group(1))
    raise AssertionError(f"run {run_id} recorded no process")


def started_steps(instance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return [r.event_log_entry.dagster_event.step_key for r in records]


def run_caught_rendering(instance, backfill_id: str) -> dg.DagsterRun:
    def rendering() -> dg.DagsterRun | None:
        for record in instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id})):
            if "rendered_video" in started_steps(instance, record.dagster_run.run_id):
                return record.dagster_run
        return None

    # The backfill daemon ticks every 30 s, then the run starts and makes its image and voiceover first.
    return wait_until(rendering, what=f"a product of backfill {backfill_id} reached rendered_video", poll_s=0.2)


def wait_until_finished(instance, run_id: str) -> tuple[dg.DagsterRun, float]:
    started = time.monotonic()
    run = wait_until(lambda: (r := instance.get_run_by_id(run_id)).is_finished and r, what=f"run {run_id} finished",
                     poll_s=0.2)
    return run, time.monotonic() - started


def succeeded_steps(instance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records
    return [r.event_log_entry.dagster_event.step_key for r in records]


def published_in(instance, backfill_id: str) -> list[str]:
    runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    return [r.dagster_run.tags["dagster/partition"] for r in runs
            if "published_video" in started_steps(instance, r.dagster_run.run_id)]


def assert_no_process_works_in(folder) -> None:
    # The encoder writes into the product's data folder: nothing may be left working there.
    def nothing_left() -> bool:
        return not subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True).stdout

    wait_until(nothing_left, what=f"no process of a stopped run works in {folder}", ceiling_s=120, poll_s=0.2)


def assert_canceled_promptly(instance, backfill_id: str, running: dg.DagsterRun, queued: str, data, capsys, how: str) -> None:
    """The running product stops as canceled mid-render, the queued one never starts, nothing is published.

    "Mid-render" is read from the run's events (its render never succeeded), not from a stopwatch; how long
    the stop took is printed.
    """
    run, stopped_s = wait_until_finished(instance, running.run_id)
    with capsys.disabled():
        print(f"\n[cancel] {how}: the running product stopped {stopped_s:.1f} s later")
    assert run.status == dg.DagsterRunStatus.CANCELED
    assert "rendered_video" not in succeeded_steps(instance, running.run_id)

    def queued_run() -> dg.RunRecord:
        return next(r for r in instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                    if r.dagster_run.tags["dagster/partition"] == queued)

    other = wait_until(lambda: (r := queued_run()).dagster_run.status == dg.DagsterRunStatus.CANCELED and r,
                       what=f"the queued product {queued} canceled", ceiling_s=300, poll_s=0.2)
    assert other.start_time is None
    assert published_in(instance, backfill_id) == []
    assert_no_process_works_in(data)


def test_batch_cancel_stops_the_running_product_and_the_queued_one_never_starts(long_renders, capsys):
    client, instance, data = long_renders
    backfill_id = cli_json(capsys, "batch", "launch", "--all", "--json", "--url", client.url)["backfill_id"]
    running = run_caught_rendering(instance, backfill_id)
    key = running.tags["dagster/partition"]
    queued = GOOD if key == BROKEN else BROKEN

    answer = cli_json(capsys, "batch", "cancel", backfill_id, "--json", "--url", client.url)
    # What the command stopped itself (the stop_canceled_batches sensor may have been first to some).
    assert set(answer["stopping"]) <= {key} and set(answer["canceled_queued"]) <= {queued} and not answer["not_stopped"]
    assert_canceled_promptly(instance, backfill_id, running, queued, data, capsys, "batch cancel")


def test_canceling_from_the_ui_stops_the_batch_within_seconds_too(long_renders, capsys):
    client, instance, data = long_renders
    backfill_id = cli_json(capsys, "batch", "launch", "--all", "--json", "--url", client.url)["backfill_id"]
    running = run_caught_rendering(instance, backfill_id)
    queued = GOOD if running.tags["dagster/partition"] == BROKEN else BROKEN
    client.cancel_backfill(backfill_id)  # what the UI's "Cancel backfill" sends; the runs are left to Dagster
    assert_canceled_promptly(instance, backfill_id, running, queued, data, capsys, "UI cancel")


# Two 40 s full-size renders (the killed one, then the retry): on a loaded 2-core machine each takes minutes.
@pytest.mark.timeout(900)
def test_a_killed_run_is_marked_failed_by_run_monitoring_and_retried(long_renders, capsys):
    client, instance, data = long_renders
    backfill_id = cli_json(capsys, "batch", "launch", "--products", GOOD, "--json", "--url", client.url)["backfill_id"]
    running = run_caught_rendering(instance, backfill_id)
    # The run's process and its ffmpeg (one process group), as the OOM killer would: no cleanup at all.
    os.killpg(run_process_pid(instance, running.run_id), signal.SIGKILL)

    run, noticed_s = wait_until_finished(instance, running.run_id)
    with capsys.disabled():
        print(f"\n[kill -9] run monitoring marked the killed run {run.status.value} after {noticed_s:.1f} s")
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert_no_process_works_in(data)
    done, _ = follow(capsys, client.url, backfill_id, instance)
    (row,) = done["products"]
    assert row["status"] == "failed" and row["error"], row

    retried = cli_json(capsys, "batch", "retry", backfill_id, "--json", "--url", client.url)
    assert retried["products"] == [GOOD]
    done, _ = follow(capsys, client.url, retried["backfill_id"], instance)
    (row,) = done["products"]
    assert row["status"] == "succeeded" and published_for(row["video"], GOOD), row

"""What a launch would render and how long it takes: classify, estimate, throughput, and `batch launch --dry-run`."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from batch_video.catalog import load_catalog
from batch_video.stages import STAGES
from dagster_project.console import cli
from dagster_project.console.estimate import RecentRun, classify, duration, estimate, throughput
from dagster_project.batch_status import ProductStatus

URL = "http://127.0.0.1:39998"
FIXTURE = "tests/fixtures/feeds/export_en.csv"  # products en-1 and en-2


def test_each_product_falls_in_one_category():
    grid = {
        "product_image": {"a": "materialized", "b": "failed", "c": "missing", "d": "materialized", "e": "materialized"},
        "published_video": {"a": "materialized", "b": "missing", "c": "missing", "d": "materialized", "e": "materialized"},
    }
    recorded = {"a": "h-a", "d": "old-d", "e": "h-e"}
    feed = {"a": "h-a", "b": "h-b", "c": "h-c", "d": "new-d"}  # e left the feed
    assert classify(list("abcde"), grid, recorded, feed) == {
        "new": ["c"], "changed": ["d"], "failed": ["b"], "unchanged": ["a"], "published": [], "held_back": [],
        "not_in_feed": ["e"]}
    # A product the stock policy holds back is that first, whatever else it is (here a failed and a changed one).
    held = classify(list("abcde"), grid, recorded, feed, held_back={"b", "d"})
    assert (held["held_back"], held["failed"], held["changed"]) == (["b", "d"], [], [])
    # Without the feed, published products cannot be told apart.
    assert classify(list("abcde"), grid, recorded, None)["published"] == ["a", "d", "e"]


def test_estimate_from_recent_runs_stage_medians_and_gaps():
    recent = [
        RecentRun("a", "b1", 0.0, 10.0, {"product_record": 0.5, "rendered_video": 8.0}),
        RecentRun("b", "b1", 11.0, 23.0, {"product_record": 0.7, "rendered_video": 10.0}),
        RecentRun("c", "b1", 24.0, 32.0, {"product_record": 0.6, "rendered_video": 6.0}),
        RecentRun("d", "b2", 9000.0, 9010.0, {"product_record": 0.4, "rendered_video": 9.0}),
    ]
    guess = estimate(100, recent, concurrency=2)
    assert (guess.run_s, guess.gap_s, guess.per_product_s) == (10.0, 1.0, 11.0)  # the 9000 s pause is no gap
    assert guess.stage_s == {"product_record": pytest.approx(0.55), "rendered_video": 8.5}
    assert guess.wall_s == pytest.approx(550.0)
    assert "~9 min 10 s for 100 products" in guess.describe() and "2 at a time" in guess.describe()
    assert estimate(10, [], concurrency=1) is None


def test_throughput_and_eta():
    rows = [ProductStatus("a", "succeeded", start_time=0, end_time=30), ProductStatus("b", "failed", start_time=30, end_time=60),
            ProductStatus("c", "running", start_time=60), *(ProductStatus(k, "queued") for k in "defgh")]
    speed = throughput(rows, now=120.0)
    assert (speed.done, speed.remaining, speed.per_minute, speed.eta_s) == (2, 6, 1.0, 360.0)
    assert speed.describe(now=0).startswith("1.0 products/min, ETA 6 min 00 s")
    assert throughput([ProductStatus("a", "queued")]).describe() == ""
    assert (duration(59), duration(61), duration(7322)) == ("59 s", "1 min 01 s", "2 h 02 min")


def test_throughput_of_a_big_batch_counts_from_the_first_published_product_when_start_times_are_not_read():
    # A big batch's status knows when each published product finished, not when its run started.
    rows = [ProductStatus("a", "succeeded", end_time=30), ProductStatus("b", "succeeded", end_time=60),
            ProductStatus("c", "running", start_time=60), *(ProductStatus(k, "queued") for k in "defgh")]
    speed = throughput(rows, now=150.0)
    assert (speed.done, speed.remaining, speed.per_minute, speed.eta_s) == (2, 6, 1.0, 360.0)


def grid_answer(published: dict[str, str], failed: tuple[str, ...] = ()):
    keys = list(published)

    def node(name):
        done = [k for k, s in published.items() if s == "materialized"] if name == "published_video" else keys
        return {"__typename": "AssetNode", "partitionKeysByDimension": [{"name": "default", "partitionKeys": keys}],
                "assetPartitionStatuses": {"__typename": "DefaultPartitionStatuses", "materializedPartitions": done,
                                           "failedPartitions": list(failed) if name == "product_image" else [],
                                           "unmaterializedPartitions": [], "materializingPartitions": []}}
    return node


@respx.mock
def test_dry_run_counts_what_would_render_and_estimates_from_the_instance(tmp_path, monkeypatch, capsys):
    text = open(FIXTURE, encoding="utf-8").read()
    FEED = str(tmp_path / "feed.csv")
    open(FEED, "w", encoding="utf-8").write(text.rstrip("\n") + "\nEN-4,Chair,,Lumo,99 RON,,https://cdn.example.com/c.jpg,,in stock,\n"
                                            "EN-5,Stool,,Lumo,49 RON,,https://cdn.example.com/s.jpg,,out of stock,\n")
    feed = {p.key: p.content_hash for p in load_catalog(FEED).products}
    assert sorted(feed) == ["en-1", "en-2", "en-4", "en-5"]
    # en-5 is new but out of stock: --stale holds it back as the feed sensor does.
    node = grid_answer({"en-1": "materialized", "en-2": "materialized", "en-4": "missing", "en-5": "missing", "gone": "materialized"})
    launched = []

    def answer(request):
        body = json.loads(request.content)
        query = body["query"]
        if "LatestByPartition" in query:  # en-1 rendered from the feed as it is, en-2 from an older entry
            assert body["variables"]["path"] == ["product_record"]
            return httpx.Response(200, json={"data": {"assetNodeOrError": {"latestMaterializationByPartition": [
                {"partition": "en-1", "metadataEntries": [{"label": "content_hash", "text": feed["en-1"]}]},
                {"partition": "en-2", "metadataEntries": [{"label": "content_hash", "text": "older"}]}]}}})
        if "AssetGrid" in query:
            return httpx.Response(200, json={"data": {name: node(name) for name in STAGES}})
        if "RecentRuns" in query:
            steps = [{"stepKey": "rendered_video", "status": "SUCCESS", "startTime": 1.0, "endTime": 7.0}]
            tags = [{"key": "dagster/partition", "value": "en-1"}, {"key": "dagster/backfill", "value": "b0"}]
            return httpx.Response(200, json={"data": {"runsOrError": {"__typename": "Runs", "results": [
                {"runId": "r1", "startTime": 0.0, "endTime": 8.0, "tags": tags, "stepStats": steps},
                {"runId": "r2", "startTime": 10.0, "endTime": 18.0, "tags": tags, "stepStats": steps},
                {"runId": "r3", "startTime": 5.0, "endTime": 6.0, "tags": [], "stepStats": []}]}}})  # not a product run
        if "RunQueue" in query:
            return httpx.Response(200, json={"data": {"instance": {"runQueueConfig": {"maxConcurrentRuns": 1}}}})
        if "launchPartitionBackfill" in query:
            launched.append(body["variables"]["params"])
            return httpx.Response(200, json={"data": {"launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "b9"}}})
        raise AssertionError(query)

    respx.post(f"{URL}/graphql").mock(side_effect=answer)
    monkeypatch.delenv("BATCH_VIDEO_FEED_URL", raising=False)
    assert cli.main(["batch", "launch", "--stale", "--url", URL]) == 2  # needs the feed
    assert "--stale compares the feed" in capsys.readouterr().err

    assert cli.main(["batch", "launch", "--stale", "--feed", FEED, "--dry-run", "--json", "--url", URL]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["would_launch"] == 2 and plan["categories"]["new"] == 1 and plan["categories"]["changed"] == 1
    assert plan["categories"]["held_back"] == 1
    # A launch that names its products renders what it names, in stock or not.
    assert cli.main(["batch", "launch", "--all", "--feed", FEED, "--dry-run", "--json", "--url", URL]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert everything["would_launch"] == 5 and everything["categories"]["held_back"] == 0
    assert plan["plan"] == "1 new, 1 changed, 1 unchanged skipped, 1 held_back skipped, 1 not_in_feed skipped"
    assert plan["estimate"]["per_product_s"] == 10.0 and plan["estimate"]["wall_s"] == 20.0
    assert not launched

    monkeypatch.setenv("BATCH_VIDEO_FEED_URL", FEED)
    assert cli.main(["batch", "launch", "--stale", "--url", URL]) == 0
    out = capsys.readouterr().out
    assert "backfill b9: 2 products" in out and "estimate: ~20 s for 2 products" in out
    tags = {t["key"]: t["value"] for t in launched[0]["tags"]}
    assert launched[0]["partitionNames"] == ["en-2", "en-4"]
    assert tags["batch_video/plan"] == "1 new, 1 changed, 1 unchanged skipped, 1 held_back skipped, 1 not_in_feed skipped"
    assert tags["batch_video/estimate"] == "~20 s (10.0 s per product, 1 at a time)"

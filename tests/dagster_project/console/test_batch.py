"""Batch CLI without a webserver: statuses, selections, settings tags, and the GraphQL client (respx)."""

from __future__ import annotations

import json
from typing import Callable

import httpx
import pytest
import respx

from batch_video.errors import ConfigError
from batch_video.settings import BatchSettings
from batch_video.stages import STAGES
from dagster_project.console import batch as batch_cli
from dagster_project.console import cli
from dagster_project.console.client import (
    DagsterApiError,
    DagsterClient,
    backfill_partition_keys,
    failure_from_events,
    run_info_from_graphql,
)
from dagster_project.batch_status import RunInfo, StepInfo, build_statuses
from dagster_project.run_tags import overrides_from_tags, settings_for_run, settings_tags

URL = "http://127.0.0.1:39999"


def fake_webserver(answer: Callable[[str, dict], dict]) -> list[str]:
    """The webserver's GraphQL endpoint, answered by `answer(query, variables) -> data`; the operations asked, in order."""
    asked = []

    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        asked.append(body["query"].split("(")[0].split()[-1])
        return httpx.Response(200, json={"data": answer(body["query"], body.get("variables") or {})})

    respx.post(f"{URL}/graphql").mock(side_effect=respond)
    return asked


def run(key, status, created, steps=(), failure="", video="", start=None, end=None):
    return RunInfo(run_id=f"r-{key}-{created}", partition_key=key, status=status, created=created,
                   start_time=start, end_time=end, steps=tuple(steps), failure=failure, video=video)


def test_statuses_one_row_per_product_latest_run_wins():
    runs = [
        run("a", "FAILURE", 1, [StepInfo("product_record", "SUCCESS", 10, 11), StepInfo("product_image", "FAILURE", 11, 12)],
            failure="product A, field image_link: not found\ntraceback...", start=10, end=12.5),
        run("a", "SUCCESS", 5, [StepInfo(s, "SUCCESS", 20 + i, 21 + i) for i, s in enumerate(STAGES)], video="out/a.mp4", start=20, end=27),
        run("b", "FAILURE", 2, [StepInfo("product_record", "SUCCESS", 1, 2), StepInfo("product_image", "FAILURE", 2, 3)],
            failure="product B, field image_link: image file not found", start=1, end=3),
        run("c", "STARTED", 3, [StepInfo("product_record", "SUCCESS", 1, 2), StepInfo("product_image", "IN_PROGRESS", 2, None)], start=1),
        run("d", "QUEUED", 4),
    ]
    rows = build_statuses(["a", "b", "c", "d", "e"], runs, now=10.0)
    by_key = {r.partition_key: r for r in rows}
    assert [r.partition_key for r in rows] == ["a", "b", "c", "d", "e"]
    assert (by_key["a"].status, by_key["a"].stage, by_key["a"].video, by_key["a"].seconds) == ("succeeded", "published_video", "out/a.mp4", 7)
    assert by_key["a"].stage_seconds == pytest.approx(6.0)
    assert (by_key["b"].status, by_key["b"].stage, by_key["b"].error_line) == ("failed", "product_image", "product B, field image_link: image file not found")
    assert (by_key["c"].status, by_key["c"].stage, by_key["c"].seconds) == ("running", "product_image", 9.0)
    assert by_key["d"].status == "queued" and by_key["e"].status == "queued"
    finished = build_statuses(["d", "e"], [], backfill_status="CANCELED")
    assert [r.status for r in finished] == ["skipped", "skipped"]


def test_a_failed_run_without_step_failure_still_says_why():
    row = build_statuses(["k"], [run("k", "FAILURE", 1, [StepInfo("product_record", "SUCCESS", 1, 2)])])[0]
    assert row.status == "failed" and row.stage == "product_record" and "no step failure" in row.error


def test_table_and_progress_bar():
    rows = build_statuses(["a", "b", "c"], [
        run("a", "SUCCESS", 1, video="output/videos/a.mp4", start=0, end=4),
        run("b", "FAILURE", 2, [StepInfo("product_image", "FAILURE", 1, 2)], failure="product B, field image_link: gone\nmore", start=0, end=2),
        run("c", "STARTED", 3, [StepInfo("voiceover_audio", "IN_PROGRESS", 1)], start=0),
    ], now=3.0)
    table = batch_cli.format_table(rows)
    assert "output/videos/a.mp4" in table and "product B, field image_link: gone" in table and "more" not in table
    assert table.splitlines()[-1] == "totals: 3 products: 1 running, 1 succeeded, 1 failed"
    bar = batch_cli.progress_bar(rows, width=6, now=3.0)
    assert bar.startswith("[####..] 2/3 done, 1 failed, running: c; 40.0 products/min, ETA 2 s (")
    doc = batch_cli.status_document({"id": "abc", "status": "REQUESTED", "title": "t"}, rows)
    assert doc["finished"] is False and doc["totals"]["failed"] == 1 and len(doc["products"]) == 3
    json.dumps(doc)


def test_selections():
    grid = {
        "product_image": {"a": "materialized", "b": "failed", "c": "missing", "d": "materialized"},
        "published_video": {"a": "materialized", "b": "missing", "c": "missing", "d": "missing"},
        "rendered_video": {"a": "materialized", "b": "missing", "c": "missing", "d": "failed"},
    }
    assert batch_cli.select_keys("all", grid) == ["a", "b", "c", "d"]
    assert batch_cli.select_keys("failed", grid) == ["b", "d"]
    assert batch_cli.select_keys("new", grid) == ["c"]
    assert batch_cli.select_keys("products", grid, ["c", "a", "c"]) == ["c", "a"]
    with pytest.raises(ConfigError, match="zzz"):
        batch_cli.select_keys("products", grid, ["zzz"])


def test_settings_travel_as_tags_and_come_back():
    tags = settings_tags({"preset": "reels", "captions": "off", "duration_max_s": "30"})
    assert tags == {
        "batch_video/setting/preset": "reels",
        "batch_video/setting/captions": "false",
        "batch_video/setting/duration_max_s": "30.0",
    }
    defaults = BatchSettings(tts_provider="espeak")
    used = settings_for_run(defaults, {**tags, "dagster/backfill": "x"})
    assert (used.preset, used.captions, used.duration_max_s, used.tts_provider) == ("reels", False, 30.0, "espeak")
    assert used.settings_hash() != defaults.settings_hash()
    assert settings_for_run(defaults, {"dagster/partition": "a"}) is defaults
    assert overrides_from_tags({"other": "x"}) == {}
    with pytest.raises(ConfigError, match="colour|nope|unknown"):
        settings_tags({"nope": "1"})
    with pytest.raises(ConfigError) as err:
        settings_for_run(defaults, {"batch_video/setting/captions": "maybe"})
    assert err.value.field == "captions" and "batch_video/setting/captions" in str(err.value)


def test_settings_flags_are_parsed(monkeypatch):
    import argparse

    parser = argparse.ArgumentParser()
    batch_cli.add_batch_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", "launch", "--all", "--preset", "reels", "--no-captions", "--cta-text", "Hai!",
                              "--set", "accent_color=#112233"])
    assert batch_cli.setting_overrides(args) == {"preset": "reels", "captions": False, "cta_text": "Hai!", "accent_color": "#112233"}
    monkeypatch.setenv("BATCH_VIDEO_BATCH_CAP", "3")
    assert batch_cli.batch_cap() == 3


def test_graphql_run_and_failure_parsing():
    raw = {
        "runId": "r1", "status": "SUCCESS", "creationTime": 5.0, "startTime": 6.0, "endTime": 9.0,
        "tags": [{"key": "dagster/partition", "value": "a"}, {"key": "dagster/backfill", "value": "b1"}],
        "stepStats": [{"stepKey": "product_record", "status": "SUCCESS", "startTime": 6.5, "endTime": 7.0}],
        "assetMaterializations": [
            {"assetKey": {"path": ["rendered_video"]}, "partition": "a", "metadataEntries": [{"label": "location", "text": "no"}]},
            {"assetKey": {"path": ["published_video"]}, "partition": "a", "metadataEntries": [{"label": "location", "text": "out/a.mp4"}]},
        ],
    }
    info = run_info_from_graphql(raw)
    assert (info.partition_key, info.video, info.steps[0].seconds) == ("a", "out/a.mp4", 0.5)
    events = [
        {"__typename": "RunFailureEvent", "message": "run failed", "error": None},
        {"__typename": "ExecutionStepFailureEvent", "stepKey": "product_image", "message": "x",
         "error": {"message": "Failure: ..."}, "failureMetadata": {"description": "product A, field image_link: gone"}},
    ]
    assert failure_from_events(events) == "product A, field image_link: gone"
    assert failure_from_events(events[:1]) == "run failed"
    backfill = {"partitionNames": None, "assetBackfillData": {"rootTargetedPartitions": {"partitionKeys": ["b"]}},
                "targeted_published_video": {"partitionKeys": ["a", "b"]}}
    assert backfill_partition_keys(backfill) == ["b", "a"]


def run_ids(**groups: list[str]) -> dict:
    """A `BatchRunIds` answer: the run ids of each group the client asks for (none where not given)."""
    return {name: {"__typename": "RunIds", "results": groups.get(name, [])} for name in ("succeeded", "ended", "running", "waiting")}


@respx.mock
def test_client_status_reads_in_bulk_retry_and_cancel_over_graphql():
    def answer(query: str, variables: dict) -> dict:
        if "partitionBackfillOrError" in query:
            data = {"partitionBackfillOrError": {"__typename": "PartitionBackfill", "id": "b1", "status": "COMPLETED_FAILED",
                                                 "title": "t", "partitionNames": ["a", "b", "c", "d"], "tags": []}}
        elif "BatchRuns" in query:
            assert variables["tags"] == [{"key": "dagster/backfill", "value": "b1"}]
            assert "stepStats" not in query and "assetMaterializations" not in query  # nothing read per run
            data = {"runsOrError": {"__typename": "Runs", "results": [
                {"runId": "r1", "status": "FAILURE", "creationTime": 1.0, "startTime": 1.0, "endTime": 2.0,
                 "tags": [{"key": "dagster/partition", "value": "b"}]},
                {"runId": "r2", "status": "SUCCESS", "creationTime": 0.5, "startTime": 0.5, "endTime": 0.9,
                 "tags": [{"key": "dagster/partition", "value": "a"}]},
                {"runId": "r3", "status": "FAILURE", "creationTime": 2.0, "startTime": 2.0, "endTime": 3.0,
                 "tags": [{"key": "dagster/partition", "value": "c"}]},
                {"runId": "r4", "status": "STARTED", "creationTime": 3.0, "startTime": 3.0, "endTime": None,
                 "tags": [{"key": "dagster/partition", "value": "d"}]},
            ]}}
        elif "BatchFailures" in query:
            assert sorted(variables["keys"]) == ["b", "c"]
            entries = [{"label": "failure", "text": "product B, field image_link: gone"}, {"label": "stage", "text": "product_image"}]
            data = {name: {"assetObservations": []} for name in STAGES}
            data["product_image"]["assetObservations"] = [
                {"partition": "b", "runId": "r1", "metadataEntries": entries},
                {"partition": "c", "runId": "an-older-run", "metadataEntries": entries},
            ]
        elif "BatchSteps" in query:  # the running product, and the failure no stage explained
            assert sorted(variables["runIds"]) == ["r3", "r4"]
            data = {"runsOrError": {"__typename": "Runs", "results": [
                {"runId": "r3", "stepStats": [{"stepKey": "product_record", "status": "FAILURE", "startTime": 2.1, "endTime": 2.2}]},
                {"runId": "r4", "stepStats": [{"stepKey": "product_record", "status": "SUCCESS", "startTime": 3.1, "endTime": 3.2},
                                              {"stepKey": "product_image", "status": "IN_PROGRESS", "startTime": 3.2, "endTime": None}]},
            ]}}
        elif "logsForRun" in query:
            assert variables["runId"] == "r3"
            data = {"logsForRun": {"__typename": "EventConnection", "events": [
                {"__typename": "RunFailureEvent", "message": "worker gone", "error": None}]}}
        elif "LatestByPartition" in query:
            assert variables == {"path": ["published_video"], "keys": ["a"]}
            data = {"assetNodeOrError": {"latestMaterializationByPartition": [
                {"partition": "a", "metadataEntries": [{"label": "location", "text": "v/a.mp4"}]}]}}
        elif "reexecutePartitionBackfill" in query:
            assert variables["params"] == {"parentRunId": "b1", "strategy": "FROM_FAILURE"}
            data = {"reexecutePartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "b2"}}
        elif "cancelPartitionBackfill" in query:
            data = {"cancelPartitionBackfill": {"__typename": "PythonError", "message": "already done"}}
        else:
            raise AssertionError(query)
        return data

    requests = fake_webserver(answer)
    client = DagsterClient(URL)
    backfill, rows = client.product_statuses("b1")
    assert [(r.partition_key, r.status, r.stage, r.video or r.error) for r in rows] == [
        ("a", "succeeded", "published_video", "v/a.mp4"),
        ("b", "failed", "product_image", "product B, field image_link: gone"),
        ("c", "failed", "product_record", "worker gone"),
        ("d", "running", "product_image", ""),
    ]
    # One request per kind of lookup, whatever the number of products.
    assert sorted(requests) == sorted(["Batch", "BatchRuns", "BatchFailures", "BatchSteps", "RunFailure", "LatestByPartition"])
    assert client.retry_backfill("b1") == "b2"
    with pytest.raises(DagsterApiError, match="already done"):
        client.cancel_backfill("b1")


@respx.mock
def test_cancel_stops_the_queued_and_running_runs_at_once(capsys):
    def run(run_id, key, status):
        return {"runId": run_id, "status": status, "creationTime": 1.0, "startTime": None, "endTime": None,
                "tags": [{"key": "dagster/partition", "value": key}], "stepStats": [], "assetMaterializations": []}

    terminated = []

    def answer(query: str, variables: dict) -> dict:
        if "cancelPartitionBackfill" in query:
            assert variables == {"backfillId": "b1"}
            data = {"cancelPartitionBackfill": {"__typename": "CancelBackfillSuccess", "backfillId": "b1"}}
        elif "runIdsOrError" in query:
            data = run_ids(succeeded=["r1"], running=["r2"], waiting=["r4", "r3"])
        elif "runsOrError" in query:
            assert set(variables["runIds"]) <= {"r2", "r3", "r4"}  # only runs cancel stops are read, not r1
            data = {"runsOrError": {"__typename": "Runs", "results": [
                run("r2", "b", "STARTED"), run("r3", "c", "QUEUED"), run("r4", "d", "QUEUED")]}}
        elif "terminateRuns" in query:
            terminated.extend(variables["runIds"])
            data = {"terminateRuns": {"__typename": "TerminateRunsResult", "terminateRunResults": [
                {"__typename": "TerminateRunSuccess", "run": {"runId": "r2"}},
                {"__typename": "TerminateRunSuccess", "run": {"runId": "r3"}},
                {"__typename": "TerminateRunFailure", "message": "Run r4 could not be terminated due to having status SUCCESS.",
                 "run": {"runId": "r4"}},
            ]}}
        else:
            raise AssertionError(query)
        return data

    fake_webserver(answer)
    assert cli.main(["batch", "cancel", "b1", "--json", "--url", URL]) == 0
    assert terminated == ["r2", "r3", "r4"]  # the finished run is left alone
    assert json.loads(capsys.readouterr().out) == {
        "backfill_id": "b1", "canceled_queued": ["c"], "stopping": ["b"],
        "not_stopped": {"d": "Run r4 could not be terminated due to having status SUCCESS."}, "queued_left_to_dagster": 0}
    assert cli.main(["batch", "cancel", "b1", "--url", URL]) == 0
    out = capsys.readouterr().out
    assert "b1: canceled; 1 queued products will not start, stopping b" in out and "d: not stopped" in out


@respx.mock
def test_cancel_counts_runs_someone_else_canceled_first_as_stopped(capsys):
    # Between the command's listing and its terminate call, the stop_canceled_batches sensor canceled both runs.
    listings = iter([{"r2": "STARTED", "r3": "QUEUED"}, {"r2": "CANCELING", "r3": "CANCELED"}])

    def run(run_id, key, status):
        return {"runId": run_id, "status": status, "creationTime": 1.0, "startTime": None, "endTime": None,
                "tags": [{"key": "dagster/partition", "value": key}], "stepStats": [], "assetMaterializations": []}

    def answer(query: str, variables: dict) -> dict:
        if "cancelPartitionBackfill" in query:
            data = {"cancelPartitionBackfill": {"__typename": "CancelBackfillSuccess", "backfillId": "b1"}}
        elif "runIdsOrError" in query:
            data = run_ids(running=["r2"], waiting=["r3"])
        elif "runsOrError" in query:
            statuses = next(listings)
            data = {"runsOrError": {"__typename": "Runs", "results": [run("r2", "b", statuses["r2"]),
                                                                       run("r3", "c", statuses["r3"])]}}
        elif "terminateRuns" in query:
            data = {"terminateRuns": {"__typename": "TerminateRunsResult", "terminateRunResults": [
                {"__typename": "TerminateRunFailure", "message": f"Run {run_id} could not be terminated due to having status {status}.",
                 "run": {"runId": run_id}} for run_id, status in (("r2", "CANCELING"), ("r3", "CANCELED"))]}}
        else:
            raise AssertionError(query)
        return data

    fake_webserver(answer)
    assert cli.main(["batch", "cancel", "b1", "--json", "--url", URL]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "backfill_id": "b1", "canceled_queued": ["c"], "stopping": ["b"], "not_stopped": {}, "queued_left_to_dagster": 0}


@respx.mock
def test_launch_refuses_big_batches_without_yes(monkeypatch, capsys):
    keys = {f"p{i}": "missing" for i in range(4)}

    def answer(request):
        body = json.loads(request.content)
        if "AssetGrid" in body["query"]:
            return httpx.Response(200, json={"data": {name: {
                "__typename": "AssetNode", "partitionKeysByDimension": [{"name": "default", "partitionKeys": list(keys)}],
                "assetPartitionStatuses": {"__typename": "DefaultPartitionStatuses", "materializedPartitions": [],
                                           "failedPartitions": [], "unmaterializedPartitions": list(keys), "materializingPartitions": []}}
                for name in STAGES}})
        if "RecentRuns" in body["query"]:
            return httpx.Response(200, json={"data": {"runsOrError": {"__typename": "Runs", "results": []}}})
        if "RunQueue" in body["query"]:
            return httpx.Response(200, json={"data": {"instance": {"runQueueConfig": {"maxConcurrentRuns": 1}}}})
        assert "launchPartitionBackfill" in body["query"]
        params = body["variables"]["params"]
        assert params["partitionNames"] == list(keys) and [a["path"][0] for a in params["assetSelection"]] == list(STAGES)
        tags = {t["key"]: t["value"] for t in params["tags"]}
        assert tags["batch_video/setting/preset"] == "preview" and tags["batch_video/selection"] == "all"
        assert tags["batch_video/plan"] == "4 new" and "batch_video/estimate" not in tags  # no run to estimate from
        return httpx.Response(200, json={"data": {"launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "new1"}}})

    route = respx.post(f"{URL}/graphql").mock(side_effect=answer)
    monkeypatch.setenv("BATCH_VIDEO_BATCH_CAP", "3")
    monkeypatch.delenv("BATCH_VIDEO_FEED_URL", raising=False)
    assert cli.main(["batch", "launch", "--all", "--preset", "preview", "--url", URL]) == 2
    assert "add --yes" in capsys.readouterr().err
    launched = [c for c in route.calls if b"launchPartitionBackfill" in c.request.content]
    assert not launched
    assert cli.main(["batch", "launch", "--all", "--preset", "preview", "--url", URL, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "backfill new1: 4 products" in out and f"{URL}/runs/b/new1" in out


@respx.mock
def test_the_asset_grid_of_every_stage_is_one_request_and_keeps_the_partition_order():
    keys = ["p3", "p1", "p2", "p4"]  # the order the products were added in, which a launch keeps

    def node(materialized=(), failed=(), materializing=()):
        return {"__typename": "AssetNode", "assetPartitionStatuses": {
            "__typename": "DefaultPartitionStatuses", "materializedPartitions": list(materialized), "failedPartitions": list(failed),
            "unmaterializedPartitions": [k for k in keys if k not in materialized], "materializingPartitions": list(materializing)}}

    def answer(query: str, variables: dict) -> dict:
        assert "AssetGrid" in query and query.count("partitionKeysByDimension") == 1  # the keys once, not per stage
        data = {name: node() for name in STAGES}
        data[STAGES[0]] = {**node(materialized=keys), "partitionKeysByDimension": [{"name": "default", "partitionKeys": keys}]}
        data["product_image"] = node(materialized=["p1", "p3"], failed=["p2"])
        data["voiceover_script"] = node(materialized=["p1"], materializing=["p3"])
        return data

    requests = fake_webserver(answer)
    grid = DagsterClient(URL).asset_grid(STAGES)
    assert len(requests) == 1
    assert list(grid) == list(STAGES) and all(list(statuses) == keys for statuses in grid.values())
    assert grid["product_image"] == {"p3": "materialized", "p1": "materialized", "p2": "failed", "p4": "missing"}
    assert grid["voiceover_script"] == {"p3": "materializing", "p1": "materialized", "p2": "missing", "p4": "missing"}
    assert grid["published_video"] == dict.fromkeys(keys, "missing")


@respx.mock
def test_an_asset_the_webserver_does_not_know_is_a_clear_error():
    fake_webserver(lambda query, variables: {"product_record": {"__typename": "AssetNotFoundError", "message": "no such asset"}})
    with pytest.raises(DagsterApiError, match="no asset product_record: no such asset"):
        DagsterClient(URL).asset_partition_statuses("product_record")


def test_unreachable_webserver_is_a_clear_error(capsys):
    assert cli.main(["batch", "status", "abc", "--url", "http://127.0.0.1:9"]) == 2
    assert "cannot reach the Dagster webserver at http://127.0.0.1:9" in capsys.readouterr().err


def test_progress_printer_prints_when_a_product_moves_not_when_only_the_eta_changes(capsys):
    started = [run("a", "SUCCESS", 1, start=0, end=4), run("b", "STARTED", 2, [StepInfo("product_image", "IN_PROGRESS", 1)], start=4)]
    show = batch_cli.progress_printer(prefix="> ")
    show(build_statuses(["a", "b"], started, now=5.0))
    show(build_statuses(["a", "b"], started, now=9.0))  # same products, a later poll: only the ETA differs
    show(build_statuses(["a", "b"], [started[0], run("b", "SUCCESS", 2, start=4, end=10)], now=10.0))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(";")[0] for line in lines] == [
        "> [###############...............] 1/2 done, running: b",
        "> [##############################] 2/2 done",
    ]


class ScriptedClient(DagsterClient):
    """A client whose webserver answers each poll with the next (backfill status, runs) of a script."""

    def __init__(self, polls):
        super().__init__(URL)
        self.polls = list(polls)
        self.calls = 0

    def product_statuses(self, backfill_id):
        status, runs = self.polls[min(self.calls, len(self.polls) - 1)]
        self.calls += 1
        return {"id": backfill_id, "status": status}, build_statuses(["a", "b"], runs, backfill_status=status)


@pytest.mark.parametrize("done, polls_read", [(None, 3), (lambda rows: all(r.status == "succeeded" for r in rows), 2)])
def test_following_a_batch_prints_progress_and_stops_when_the_backfill_or_done_says_so(capsys, done, polls_read):
    finished = [run("a", "SUCCESS", 1, start=0, end=4), run("b", "SUCCESS", 2, start=4, end=9)]
    client = ScriptedClient([
        ("REQUESTED", [finished[0], run("b", "STARTED", 2, start=4)]),
        ("REQUESTED", finished),  # every product has finished; the daemon has not marked the backfill yet
        ("COMPLETED_SUCCESS", finished),
    ])
    seen = []
    backfill, rows = batch_cli.follow_backfill(client, "b1", poll_s=0.0, timeout_s=60, on_rows=seen.append, done=done)
    assert client.calls == len(seen) == polls_read
    assert [r.status for r in rows] == ["succeeded", "succeeded"]
    assert backfill["status"] == ("COMPLETED_SUCCESS" if done is None else "REQUESTED")
    assert [line.split(";")[0] for line in capsys.readouterr().out.splitlines()] == [
        "  [###############...............] 1/2 done, running: b",
        "  [##############################] 2/2 done",
    ]


@respx.mock
def test_a_big_batch_status_reads_run_ids_and_published_videos_not_every_run(monkeypatch):
    monkeypatch.setattr("dagster_project.console.client.BULK_ABOVE", 3)

    def graphql_run(run_id, key, status, at):
        return {"runId": run_id, "status": status, "creationTime": at, "startTime": at, "endTime": at + 1 if status != "STARTED" else None,
                "tags": [{"key": "dagster/partition", "value": key}]}

    def answer(query: str, variables: dict) -> dict:
        if "partitionBackfillOrError" in query:
            data = {"partitionBackfillOrError": {"__typename": "PartitionBackfill", "id": "b1", "status": "REQUESTED",
                                                 "title": "t", "partitionNames": ["a", "b", "c", "d", "e", "f"], "tags": []}}
        elif "BatchRunIds" in query:
            assert "waiting" not in query  # a running batch's queued runs change nothing: their ids are not read
            data = run_ids(succeeded=["r5", "r1"], ended=["r2"], running=["r3"], waiting=["r4"])
        elif "BatchPublished" in query:
            assert variables["keys"] == ["a", "b", "c", "d", "e", "f"]
            data = {"assetNodeOrError": {"latestMaterializationByPartition": [
                {"partition": "a", "runId": "r1", "timestamp": "5000", "metadataEntries": [{"label": "location", "text": "v/a.mp4"}]},
                # e was published again by a run of another batch since: its run in this one is read in full
                {"partition": "e", "runId": "a-later-run", "timestamp": "9000", "metadataEntries": [{"label": "location", "text": "v/e2.mp4"}]},
                None]}}
        elif "BatchRunsById" in query:
            assert sorted(variables["runIds"]) == ["r2", "r3", "r5"]  # never the queued ones nor the matched success
            data = {"runsOrError": {"__typename": "Runs", "results": [
                graphql_run("r2", "b", "FAILURE", 2.0), graphql_run("r3", "c", "STARTED", 3.0), graphql_run("r5", "e", "SUCCESS", 1.0)]}}
        elif "BatchFailures" in query:
            data = {name: {"assetObservations": []} for name in STAGES}
            data["product_image"]["assetObservations"] = [
                {"partition": "b", "runId": "r2", "metadataEntries": [{"label": "failure", "text": "product b: photo gone"}]}]
        elif "BatchSteps" in query:
            data = {"runsOrError": {"__typename": "Runs", "results": [
                {"runId": "r3", "stepStats": [{"stepKey": "voiceover_audio", "status": "IN_PROGRESS", "startTime": 3.1, "endTime": None}]}]}}
        elif "LatestByPartition" in query:
            assert variables["keys"] == ["e"]
            data = {"assetNodeOrError": {"latestMaterializationByPartition": [
                {"partition": "e", "metadataEntries": [{"label": "location", "text": "v/e2.mp4"}]}]}}
        else:
            raise AssertionError(query)
        return data

    requests = fake_webserver(answer)
    backfill, rows = DagsterClient(URL).product_statuses("b1")
    assert [(r.partition_key, r.status, r.stage, r.video or r.error, r.run_id) for r in rows] == [
        ("a", "succeeded", "published_video", "v/a.mp4", "r1"),
        ("b", "failed", "product_image", "product b: photo gone", "r2"),
        ("c", "running", "voiceover_audio", "", "r3"),
        ("d", "queued", "", "", ""),
        ("e", "succeeded", "published_video", "v/e2.mp4", "r5"),
        ("f", "queued", "", "", ""),
    ]
    assert rows[0].end_time == 5.0  # when its video was published
    assert "BatchRuns" not in requests  # the batch's runs are never listed whole


@respx.mock
def test_a_finished_big_batch_status_reads_its_runs_left_waiting(monkeypatch):
    monkeypatch.setattr("dagster_project.console.client.BULK_ABOVE", 1)

    def answer(query: str, variables: dict) -> dict:
        if "partitionBackfillOrError" in query:
            return {"partitionBackfillOrError": {"__typename": "PartitionBackfill", "id": "b1", "status": "CANCELED",
                                                 "title": "t", "partitionNames": ["a", "b"], "tags": []}}
        if "BatchRunIds" in query:
            assert "waiting" in query
            return run_ids(waiting=["r2"])
        if "BatchPublished" in query:
            return {"assetNodeOrError": {"latestMaterializationByPartition": []}}
        assert "BatchRunsById" in query and variables["runIds"] == ["r2"]  # a run the canceled batch left waiting
        return {"runsOrError": {"__typename": "Runs", "results": [
            {"runId": "r2", "status": "CANCELED", "creationTime": 1.0, "startTime": None, "endTime": 2.0,
             "tags": [{"key": "dagster/partition", "value": "b"}]}]}}

    fake_webserver(answer)
    backfill, rows = DagsterClient(URL).product_statuses("b1")
    assert [(r.partition_key, r.status) for r in rows] == [("a", "skipped"), ("b", "canceled")]  # a: never got a run

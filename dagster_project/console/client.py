"""Talks to a running Dagster webserver over GraphQL: launch, follow, retry and cancel backfills.

Only httpx is needed here (no dagster import), so a CLI on an operator's laptop
can drive a remote instance. The default URL is the local `make dev` webserver.
Batch settings travel as backfill tags (`dagster_project.run_tags`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import httpx

from batch_video.errors import BatchVideoError, TransientError
from batch_video.stages import STAGES
from dagster_project.batch_status import (
    FINISHED_BACKFILL,
    ProductStatus,
    RunInfo,
    StepInfo,
    all_finished,
    build_statuses,
    with_details,
)
from dagster_project.console.estimate import RecentRun
from dagster_project.run_tags import BACKFILL_TAG, PARTITION_TAG

DEFAULT_URL = "http://127.0.0.1:3000"
# Above this many products, a batch's status is read without listing every run (see DagsterClient.bulk_backfill_runs).
BULK_ABOVE = 1000

_ERROR_FIELDS = """
    ... on PythonError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on UnauthorizedError { message }
    ... on RunConflict { message }
    ... on InvalidSubsetError { message }
    ... on PresetNotFoundError { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
"""

# What launching and re-executing a backfill both answer (a LaunchBackfillResult): its id, or why not.
_LAUNCH_RESULT = "{ __typename ... on LaunchBackfillSuccess { backfillId } %s }" % _ERROR_FIELDS

LAUNCH_BACKFILL = """
mutation LaunchBatch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) %s
}
""" % _LAUNCH_RESULT

REEXECUTE_BACKFILL = """
mutation RetryBatch($params: ReexecutionParams!) {
  reexecutePartitionBackfill(reexecutionParams: $params) %s
}
""" % _LAUNCH_RESULT

CANCEL_BACKFILL = """
mutation CancelBatch($backfillId: String!) {
  cancelPartitionBackfill(backfillId: $backfillId) {
    __typename
    ... on CancelBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""

TERMINATE_RUNS = """
mutation TerminateBatchRuns($runIds: [String!]!) {
  terminateRuns(runIds: $runIds) {
    __typename
    ... on TerminateRunsResult {
      terminateRunResults {
        __typename
        ... on TerminateRunSuccess { run { runId } }
        ... on TerminateRunFailure { message run { runId } }
        ... on RunNotFoundError { message runId }
        ... on PythonError { message }
        ... on UnauthorizedError { message }
      }
    }
    ... on PythonError { message }
  }
}
"""

# A child backfill (retry from failure) may target a product at a later stage
# only, so the products are the union of every stage's targeted partitions.
_TARGETED = "\n".join(
    f'      targeted_{name}: partitionsTargetedForAssetKey(assetKey: {{path: ["{name}"]}}) {{ partitionKeys }}'
    for name in STAGES
)
BACKFILL = """
query Batch($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id status title timestamp endTimestamp numPartitions partitionNames
      tags { key value }
    }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

# Asked only when `partitionNames` is null (its stages target different products): each field below
# reads the backfill's whole state again, a second or more at 10,000 products.
BACKFILL_TARGETS = """
query BatchTargets($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      assetBackfillData { rootTargetedPartitions { partitionKeys } }
%s
    }
  }
}
""" % _TARGETED

RUNS = """
query BatchRuns($tags: [ExecutionTag!], $cursor: String, $limit: Int) {
  runsOrError(filter: {tags: $tags}, cursor: $cursor, limit: $limit) {
    __typename
    ... on Runs { results { runId status creationTime startTime endTime tags { key value } } }
    ... on InvalidPipelineRunsFilterError { message }
    ... on PythonError { message }
  }
}
"""

# The ids of a batch's runs by status: ids only, so Dagster reads no run from its storage (listing
# 10,000 runs takes 10-20 s, their ids under a second).
_RUN_ID_GROUPS = {
    "succeeded": "SUCCESS",
    "ended": "FAILURE, CANCELED",
    "running": "STARTING, STARTED, CANCELING, SUSPENDED",
    "waiting": "QUEUED, NOT_STARTED, MANAGED",
}


def run_ids_query(groups: Sequence[str]) -> str:
    return "query BatchRunIds($tags: [ExecutionTag!]) {\n%s\n}" % "\n".join(
        f"  {name}: runIdsOrError(filter: {{tags: $tags, statuses: [{_RUN_ID_GROUPS[name]}]}}) "
        "{ __typename ... on RunIds { results } ... on PythonError { message } }"
        for name in groups
    )


RUN_IDS = run_ids_query(tuple(_RUN_ID_GROUPS))

RUNS_BY_ID = """
query BatchRunsById($runIds: [String!], $limit: Int) {
  runsOrError(filter: {runIds: $runIds}, limit: $limit) {
    __typename
    ... on Runs { results { runId status creationTime startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""

STEP_STATS = """
query BatchSteps($runIds: [String!]) {
  runsOrError(filter: {runIds: $runIds}) {
    __typename
    ... on Runs { results { runId stepStats { stepKey status startTime endTime } } }
    ... on PythonError { message }
  }
}
"""

_TEXT_ENTRIES = "metadataEntries { label ... on TextMetadataEntry { text } ... on UrlMetadataEntry { url } ... on PathMetadataEntry { path } }"
# Partition key -> run and time of its latest published video, for every product of a batch in one request.
PUBLISHED = """
query BatchPublished($keys: [String!]) {
  assetNodeOrError(assetKey: {path: ["%s"]}) {
    ... on AssetNode { latestMaterializationByPartition(partitions: $keys) { partition runId timestamp %s } }
  }
}
""" % (STAGES[-1], _TEXT_ENTRIES)

# One request for every stage: the failures our stages recorded (observations with a `failure` entry).
FAILURE_OBSERVATIONS = "query BatchFailures($keys: [String!], $limit: Int) {\n%s\n}" % "\n".join(
    f'  {name}: assetNodeOrError(assetKey: {{path: ["{name}"]}}) {{ ... on AssetNode {{ '
    f"assetObservations(partitions: $keys, limit: $limit) {{ partition runId {_TEXT_ENTRIES} }} }} }}"
    for name in STAGES
)

# One asset's latest materialization of each partition asked for, with its text metadata.
LATEST_BY_PARTITION = """
query LatestByPartition($path: [String!]!, $keys: [String!]) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { latestMaterializationByPartition(partitions: $keys) { partition %s } }
  }
}
""" % _TEXT_ENTRIES

RECENT_RUNS = """
query RecentRuns($limit: Int) {
  runsOrError(filter: {statuses: [SUCCESS]}, limit: $limit) {
    __typename
    ... on Runs { results { runId startTime endTime tags { key value } stepStats { stepKey status startTime endTime } } }
    ... on PythonError { message }
  }
}
"""

RUN_QUEUE = """
query RunQueue { instance { runQueueConfig { maxConcurrentRuns } } }
"""

_VALUE_ENTRIES = (
    "metadataEntries { label ... on TextMetadataEntry { text } ... on UrlMetadataEntry { url } "
    "... on PathMetadataEntry { path } ... on JsonMetadataEntry { jsonString } ... on FloatMetadataEntry { floatValue } "
    "... on IntMetadataEntry { intRepr } ... on BoolMetadataEntry { boolValue } }"
)


def latest_metadata_query(assets: Sequence[str]) -> str:
    """One request for the latest materialization of each of `assets` for a list of partitions."""
    return "query LatestMetadata($keys: [String!]) {\n%s\n}" % "\n".join(
        f'  {name}: assetNodeOrError(assetKey: {{path: ["{name}"]}}) {{ ... on AssetNode {{ '
        f"latestMaterializationByPartition(partitions: $keys) {{ partition runId {_VALUE_ENTRIES} }} }} }}"
        for name in assets
    )


def _entry_text(entry: Mapping[str, Any]) -> str | None:
    for field_name in ("text", "url", "path", "jsonString", "intRepr"):
        if entry.get(field_name) is not None:
            return str(entry[field_name])
    if entry.get("floatValue") is not None:
        return str(entry["floatValue"])
    if entry.get("boolValue") is not None:
        return str(bool(entry["boolValue"]))
    return None


RUN_FAILURE = """
query RunFailure($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey message error { message } failureMetadata { description } }
        ... on RunFailureEvent { message error { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""

# Not `unmaterializedPartitions`: a partition none of these lists is missing, and that list repeats the keys.
_PARTITION_STATUSES = (
    "assetPartitionStatuses { __typename ... on DefaultPartitionStatuses "
    "{ materializedPartitions failedPartitions materializingPartitions } }"
)


def asset_grid_query(assets: Sequence[str]) -> str:
    """The asset grid of several assets in one request (an alias each). The partition keys are asked of the
    first only: every stage is partitioned by `products` (dagster_project.partitions), and asking each of six
    assets for the same 10,000 keys again took a third of the request."""
    fields = []
    for index, name in enumerate(assets):
        keys = "partitionKeysByDimension { name partitionKeys } " if index == 0 else ""
        fields.append(
            f'  {name}: assetNodeOrError(assetKey: {{path: ["{name}"]}}) {{ __typename '
            f"... on AssetNode {{ {keys}{_PARTITION_STATUSES} }} ... on AssetNotFoundError {{ message }} }}"
        )
    return "query AssetGrid {\n%s\n}" % "\n".join(fields)


class DagsterApiError(BatchVideoError):
    """The webserver answered with an error (or not at all)."""


def webserver_url() -> str:
    return os.environ.get("BATCH_VIDEO_DAGSTER_URL", DEFAULT_URL).rstrip("/")


# -- GraphQL -> RunInfo (pure) ----------------------------------------------------


def _tags(entries: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["key"]: t["value"] for t in entries or ()}


def _entry(entries: Sequence[Mapping[str, Any]] | None, label: str) -> str:
    for entry in entries or ():
        if entry.get("label") == label:
            return entry.get("text") or entry.get("url") or entry.get("path") or ""
    return ""


def _location(materializations: Sequence[Mapping[str, Any]] | None) -> str:
    for mat in materializations or ():
        if mat.get("assetKey", {}).get("path") == ["published_video"]:
            return _entry(mat.get("metadataEntries"), "location")
    return ""


def run_info_from_graphql(run: Mapping[str, Any], failure: str = "") -> RunInfo:
    tags = _tags(run.get("tags"))
    return RunInfo(
        run_id=run["runId"],
        partition_key=tags.get(PARTITION_TAG, ""),
        status=run["status"],
        created=float(run.get("creationTime") or 0.0),
        start_time=run.get("startTime"),
        end_time=run.get("endTime"),
        steps=tuple(
            StepInfo(s["stepKey"], s.get("status") or "", s.get("startTime"), s.get("endTime"))
            for s in run.get("stepStats") or ()
        ),
        failure=failure,
        video=_location(run.get("assetMaterializations")),
        tags=tags,
    )


def failure_from_events(events: Sequence[Mapping[str, Any]]) -> str:
    """The first step failure's description, else the run failure's message."""
    for event in events:
        if event.get("__typename") == "ExecutionStepFailureEvent":
            meta = event.get("failureMetadata") or {}
            if meta.get("description"):
                return meta["description"]
            if (event.get("error") or {}).get("message"):
                return event["error"]["message"].strip()
            return event.get("message") or ""
    for event in events:
        if event.get("__typename") == "RunFailureEvent":
            return ((event.get("error") or {}).get("message") or event.get("message") or "").strip()
    return ""


def backfill_partition_keys(backfill: Mapping[str, Any]) -> list[str]:
    if backfill.get("partitionNames"):
        return list(backfill["partitionNames"])
    keys: list[str] = []
    data = backfill.get("assetBackfillData") or {}
    keys += (data.get("rootTargetedPartitions") or {}).get("partitionKeys") or []
    for name in STAGES:
        keys += (backfill.get(f"targeted_{name}") or {}).get("partitionKeys") or []
    return list(dict.fromkeys(keys))


@dataclass
class DagsterClient:
    url: str = ""
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        self.url = (self.url or webserver_url()).rstrip("/")
        # A finished run's failure never changes: read its logs once, not on every poll.
        self._failures: dict[str, str] = {}
        # One HTTP client for every request (made at the first): each new one loads the CA certificates again
        # (60 ms, more under load) and opens a new connection; `batch status` makes five or six requests.
        self._http: httpx.Client | None = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._http is None:
            self._http = httpx.Client()
        try:
            response = self._http.post(
                f"{self.url}/graphql",
                json={"query": document, "variables": variables or {}},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as err:
            raise TransientError(f"cannot reach the Dagster webserver at {self.url}: {err}") from err
        if response.status_code != 200:
            raise DagsterApiError(f"Dagster webserver at {self.url} answered HTTP {response.status_code}: {response.text[:500]}")
        body = response.json()
        if body.get("errors"):
            raise DagsterApiError(f"GraphQL error from {self.url}: {body['errors'][0].get('message')}")
        return body["data"]

    def is_up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # -- mutations -----------------------------------------------------------

    def launch_backfill(
        self,
        partition_keys: Sequence[str],
        asset_names: Sequence[str],
        *,
        title: str = "",
        description: str = "",
        tags: dict[str, str] | None = None,
        from_failure: bool = False,
    ) -> str:
        """Launch an asset backfill of `asset_names` over `partition_keys`; returns its id."""
        params: dict[str, Any] = {
            "partitionNames": list(partition_keys),
            "assetSelection": [{"path": [name]} for name in asset_names],
            "fromFailure": from_failure,
            "title": title or None,
            "description": description or None,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        result = self.query(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        return _backfill_id(result, "launched")

    def retry_backfill(self, backfill_id: str) -> str:
        """Re-execute the failed products of a finished backfill from their failed stage; the child's id."""
        params = {"parentRunId": backfill_id, "strategy": "FROM_FAILURE"}
        result = self.query(REEXECUTE_BACKFILL, {"params": params})["reexecutePartitionBackfill"]
        return _backfill_id(result, "re-executed")

    def cancel_backfill(self, backfill_id: str) -> None:
        result = self.query(CANCEL_BACKFILL, {"backfillId": backfill_id})["cancelPartitionBackfill"]
        if result["__typename"] != "CancelBackfillSuccess":
            raise DagsterApiError(f"backfill {backfill_id} was not canceled ({result['__typename']}): {result.get('message')}")

    def terminate_runs(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Cancel queued runs and stop running ones; the runs that could not be, with Dagster's reason."""
        if not run_ids:
            return {}
        result = self.query(TERMINATE_RUNS, {"runIds": list(run_ids)})["terminateRuns"]
        if result["__typename"] != "TerminateRunsResult":
            raise DagsterApiError(f"runs were not terminated ({result['__typename']}): {result.get('message')}")
        # One result per requested run, in order.
        return {run_id: item.get("message") or item["__typename"]
                for run_id, item in zip(run_ids, result["terminateRunResults"])
                if item["__typename"] != "TerminateRunSuccess"}

    # -- queries ---------------------------------------------------------------

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        result = self.query(BACKFILL, {"backfillId": backfill_id})["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise DagsterApiError(f"no backfill {backfill_id} ({result['__typename']}): {result.get('message', '')}")
        if result.get("partitionNames") is None:  # a retry that starts products at different stages
            targets = self.query(BACKFILL_TARGETS, {"backfillId": backfill_id})["partitionBackfillOrError"]
            result = {**result, **{k: v for k, v in targets.items() if k != "__typename"}}
        return result

    def backfill_runs(self, backfill_id: str, *, with_failures: bool = True, page: int = 1000) -> list[RunInfo]:
        """The backfill's runs, a page of `page` per request; with details (see with_details) in bulk."""
        raw: list[dict[str, Any]] = []
        cursor = None
        while True:
            result = self.query(
                RUNS, {"tags": [{"key": BACKFILL_TAG, "value": backfill_id}], "cursor": cursor, "limit": page}
            )["runsOrError"]
            if result["__typename"] != "Runs":
                raise DagsterApiError(f"cannot list the runs of backfill {backfill_id}: {result.get('message')}")
            raw += result["results"]
            if len(result["results"]) < page:
                break
            cursor = result["results"][-1]["runId"]
        runs = [run_info_from_graphql(run) for run in raw]
        return with_details(runs, self) if with_failures else runs

    # -- StatusSource: bulk lookups (batch_status.with_details) -----------------------

    def step_stats(self, run_ids: Sequence[str]) -> dict[str, tuple[StepInfo, ...]]:
        if not run_ids:
            return {}
        result = self.query(STEP_STATS, {"runIds": list(run_ids)})["runsOrError"]
        return {
            run["runId"]: tuple(StepInfo(s["stepKey"], s.get("status") or "", s.get("startTime"), s.get("endTime"))
                                for s in run.get("stepStats") or ())
            for run in result.get("results") or ()
        }

    def failure_observations(self, keys: Sequence[str]) -> dict[tuple[str, str], tuple[str, str, str]]:
        data = self.query(FAILURE_OBSERVATIONS, {"keys": list(keys), "limit": 5 * len(keys) + 10})
        found: dict[tuple[str, str], tuple[str, str, str]] = {}
        for stage in STAGES:
            for observation in (data.get(stage) or {}).get("assetObservations") or ():  # newest first
                entries = observation.get("metadataEntries")
                failure = _entry(entries, "failure")
                if failure:
                    found.setdefault((observation.get("partition") or "", observation.get("runId") or ""),
                                     (stage, failure, _entry(entries, "failed_checks")))
        return found

    def latest_entry(self, asset: str, keys: Sequence[str], label: str) -> dict[str, str]:
        """Partition key -> the `label` metadata of `asset`'s latest materialization of it (where it has one)."""
        node = self.query(LATEST_BY_PARTITION, {"path": [asset], "keys": list(keys)})["assetNodeOrError"] or {}
        return {
            event["partition"]: _entry(event.get("metadataEntries"), label)
            for event in node.get("latestMaterializationByPartition") or ()
            if event and _entry(event.get("metadataEntries"), label)
        }

    def videos(self, keys: Sequence[str]) -> dict[str, str]:
        return self.latest_entry(STAGES[-1], keys, "location")

    def latest_metadata(self, assets: Mapping[str, Sequence[str]], keys: Sequence[str]) -> dict[str, dict[str, dict[str, str]]]:
        """Asset -> partition key -> the chosen labels of its latest materialization's metadata (batch_report.ReportSource)."""
        data = self.query(latest_metadata_query(list(assets)), {"keys": list(keys)})
        found: dict[str, dict[str, dict[str, str]]] = {}
        for asset, labels in assets.items():
            by_key = found.setdefault(asset, {})
            for event in (data.get(asset) or {}).get("latestMaterializationByPartition") or ():
                if not event:
                    continue
                entries = {"run_id": event.get("runId") or ""}
                for entry in event.get("metadataEntries") or ():
                    text = _entry_text(entry)
                    if entry.get("label") in labels and text is not None:
                        entries[entry["label"]] = text
                by_key[event["partition"]] = entries
        return found

    def run_failure(self, run_id: str) -> str:
        if run_id in self._failures:
            return self._failures[run_id]
        result = self.query(RUN_FAILURE, {"runId": run_id})["logsForRun"]
        if result["__typename"] != "EventConnection":
            return ""
        self._failures[run_id] = failure_from_events(result["events"])
        return self._failures[run_id]

    def product_statuses(self, backfill_id: str) -> tuple[dict[str, Any], list[ProductStatus]]:
        """(the backfill, one row per product) as the webserver sees them now."""
        backfill = self.backfill(backfill_id)
        keys = backfill_partition_keys(backfill)
        if len(keys) > BULK_ABOVE:
            runs = self.bulk_backfill_runs(backfill_id, keys, finished=backfill["status"] in FINISHED_BACKFILL)
        else:
            runs = self.backfill_runs(backfill_id)
        return backfill, build_statuses(keys, runs, backfill_status=backfill["status"])

    def run_ids_by_status(self, backfill_id: str, groups: Sequence[str] = tuple(_RUN_ID_GROUPS)) -> dict[str, list[str]]:
        """The ids of the backfill's runs (newest first) by group: succeeded, ended, running, waiting (of `groups`)."""
        data = self.query(run_ids_query(groups), {"tags": [{"key": BACKFILL_TAG, "value": backfill_id}]})
        found = {}
        for name in groups:
            result = data.get(name) or {}
            if result.get("__typename") != "RunIds":
                raise DagsterApiError(f"cannot list the runs of backfill {backfill_id}: {result.get('message')}")
            found[name] = list(result["results"])
        return found

    def runs_by_ids(self, run_ids: Sequence[str], *, page: int = 1000) -> list[RunInfo]:
        runs: list[RunInfo] = []
        for start in range(0, len(run_ids), page):
            chunk = list(run_ids[start:start + page])
            result = self.query(RUNS_BY_ID, {"runIds": chunk, "limit": len(chunk)})["runsOrError"]
            if result["__typename"] != "Runs":
                raise DagsterApiError(f"cannot read runs {chunk[:3]}...: {result.get('message')}")
            runs += [run_info_from_graphql(run) for run in result["results"]]
        return runs

    def published(self, keys: Sequence[str]) -> dict[str, tuple[str, float, str]]:
        """Partition key -> (run id, time, location) of its latest published video, where it has one."""
        node = self.query(PUBLISHED, {"keys": list(keys)})["assetNodeOrError"] or {}
        return {
            event["partition"]: (event.get("runId") or "", float(event.get("timestamp") or 0) / 1000.0,
                                 _entry(event.get("metadataEntries"), "location"))
            for event in node.get("latestMaterializationByPartition") or ()
            if event and event.get("partition")
        }

    def bulk_backfill_runs(self, backfill_id: str, keys: Sequence[str], *, finished: bool) -> list[RunInfo]:
        """What a big batch's status needs, in a few requests whatever its size, without listing every run.

        Reading 10,000 runs takes Dagster 10-20 s; their ids by status, under a second. A product whose
        latest published video was made by one of the batch's successful runs has succeeded (its time is
        the video's); failed, canceled and running runs, few even in a big batch, are read in full with
        their details (with_details); so are successful runs whose product was published again since, and,
        once the batch has finished, runs still waiting. A product with only a waiting run, or none yet,
        shows as queued.
        """
        # The waiting runs' ids only once the batch has finished: before, a product with only a waiting run shows
        # as queued as one without a run does, and they are most of a big batch's runs (a third of the request).
        ids = self.run_ids_by_status(backfill_id, tuple(_RUN_ID_GROUPS) if finished else ("succeeded", "ended", "running"))
        succeeded = set(ids["succeeded"])
        runs = [
            RunInfo(run_id=run_id, partition_key=key, status="SUCCESS", created=at, end_time=at, video=location)
            for key, (run_id, at, location) in self.published(keys).items()
            if run_id in succeeded
        ]
        matched = {run.run_id for run in runs}
        listed = ids["ended"] + ids["running"] + [run_id for run_id in ids["succeeded"] if run_id not in matched]
        if finished:
            listed += ids["waiting"]
        return runs + with_details(self.runs_by_ids(listed), self)

    # -- what a launch would do (console.estimate) ------------------------------------

    def recorded_content_hashes(self, keys: Sequence[str]) -> dict[str, str]:
        """Partition key -> the feed content hash its latest product_record was made from."""
        return self.latest_entry(STAGES[0], keys, "content_hash")

    def recent_product_runs(self, limit: int = 100) -> list[RecentRun]:
        """The last `limit` successful runs that made products (their stage times), newest first."""
        result = self.query(RECENT_RUNS, {"limit": limit})["runsOrError"]
        runs = []
        for run in result.get("results") or ():
            tags = _tags(run.get("tags"))
            steps = {s["stepKey"]: s["endTime"] - s["startTime"] for s in run.get("stepStats") or ()
                     if s.get("startTime") is not None and s.get("endTime") is not None}
            timed = run.get("startTime") is not None and run.get("endTime") is not None
            if PARTITION_TAG in tags and timed and set(steps) & set(STAGES):
                runs.append(RecentRun(tags[PARTITION_TAG], tags.get(BACKFILL_TAG, ""), run["startTime"], run["endTime"], steps))
        return runs

    def max_concurrent_runs(self) -> int:
        """The run queue's limit (-1: none)."""
        config = (self.query(RUN_QUEUE)["instance"] or {}).get("runQueueConfig") or {}
        return int(config.get("maxConcurrentRuns", 1))

    def asset_partition_statuses(self, asset_name: str) -> dict[str, str]:
        """The asset grid's status per partition: materialized | failed | materializing | missing."""
        return self.asset_grid([asset_name])[asset_name]

    def asset_grid(self, assets: Sequence[str]) -> dict[str, dict[str, str]]:
        """Asset -> its grid status per partition (as asset_partition_statuses), every asset in one request."""
        data = self.query(asset_grid_query(assets))
        nodes = {name: data.get(name) or {} for name in assets}
        for name, node in nodes.items():
            if node.get("__typename") != "AssetNode":
                raise DagsterApiError(f"no asset {name}: {node.get('message', '')}")
        keys = [key for dim in nodes[assets[0]].get("partitionKeysByDimension") or () for key in dim["partitionKeys"]]
        grid: dict[str, dict[str, str]] = {}
        for name, node in nodes.items():
            statuses = node.get("assetPartitionStatuses") or {}
            out = dict.fromkeys(keys, "missing")
            for label, field_name in (
                ("materialized", "materializedPartitions"),
                ("failed", "failedPartitions"),
                ("materializing", "materializingPartitions"),
            ):
                for key in statuses.get(field_name) or ():
                    out[key] = label
            grid[name] = out
        return grid

    def wait_for_backfill(
        self, backfill_id: str, *, poll_s: float = 1.0, timeout_s: float | None = None, on_poll=None, done=None
    ) -> tuple[dict[str, Any], list[ProductStatus]]:
        """Poll until every product of the backfill has finished and the backfill is marked finished (or, with
        `done`, until `done(rows)` says so; or until `timeout_s` passes): the backfill and its rows then."""
        started = time.monotonic()
        while True:
            backfill, rows = self.product_statuses(backfill_id)
            if on_poll:
                on_poll(backfill, rows)
            if (done is not None and rows and done(rows)) or all_finished(rows, backfill["status"]):
                return backfill, rows
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                return backfill, rows
            time.sleep(poll_s)

    def backfill_link(self, backfill_id: str) -> str:
        return f"{self.url}/runs/b/{backfill_id}?tab=partitions"


def _backfill_id(result: Mapping[str, Any], verb: str) -> str:
    if result["__typename"] != "LaunchBackfillSuccess":
        detail = result.get("message") or result.get("invalidStepKey") or result
        raise DagsterApiError(f"backfill was not {verb} ({result['__typename']}): {detail}")
    return result["backfillId"]

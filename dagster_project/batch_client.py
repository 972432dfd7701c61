"""Talks to a running Dagster webserver over GraphQL: launch and follow backfills.

Only httpx is needed here, so a CLI on an operator's laptop can drive a remote
instance. The default URL is the local `make dev` webserver.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import httpx

from batch_video.errors import BatchVideoError, TransientError

DEFAULT_URL = "http://127.0.0.1:3000"

LAUNCH_BACKFILL = """
mutation LaunchBatch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
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
  }
}
"""


class DagsterApiError(BatchVideoError):
    """The webserver answered with an error (or not at all)."""


def webserver_url() -> str:
    return os.environ.get("BATCH_VIDEO_DAGSTER_URL", DEFAULT_URL).rstrip("/")


@dataclass
class DagsterClient:
    url: str = ""
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        self.url = (self.url or webserver_url()).rstrip("/")

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = httpx.post(
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

    def launch_backfill(
        self,
        partition_keys: Sequence[str],
        asset_names: Sequence[str],
        *,
        title: str = "",
        tags: dict[str, str] | None = None,
        from_failure: bool = False,
    ) -> str:
        """Launch an asset backfill of `asset_names` over `partition_keys`; returns its id."""
        params: dict[str, Any] = {
            "partitionNames": list(partition_keys),
            "assetSelection": [{"path": [name]} for name in asset_names],
            "fromFailure": from_failure,
            "title": title or None,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        result = self.query(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            detail = result.get("message") or result.get("invalidStepKey") or result
            raise DagsterApiError(f"backfill was not launched ({result['__typename']}): {detail}")
        return result["backfillId"]

    def backfill_link(self, backfill_id: str) -> str:
        return f"{self.url}/runs/b/{backfill_id}?tab=partitions"

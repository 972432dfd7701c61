"""The only place the code location reaches past Dagster's public API. Checked against dagster 1.13.27.

Dagster's public Python API (`@public` on `DagsterInstance`: run records,
materializations, dynamic partitions...) has no way to list backfills by status
(the canceling ones to stop, the finished ones to report) or read one's status
(the launcher starts no run of a canceled batch),
to terminate a run, or to read the latest tag of every partition of an asset in
one query. The GraphQL API can do the first two, but a sensor runs in the daemon,
which need not know where a webserver is. So the functions below use
Dagster internals; everything else in dagster_project uses `dagster` (dg.*) only
(tests/test_import_rules.py enforces it).

tests/dagster_project/test_dagster_internals.py fails loudly when the installed
dagster is not the version checked here, and exercises each function on a real
instance, so an upgrade is a conscious step: re-check these, then bump
CHECKED_DAGSTER_VERSION.
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

CHECKED_DAGSTER_VERSION = "1.13.27"


def canceling_backfill_ids(instance: dg.DagsterInstance) -> list[str]:
    """Backfills canceled (in the UI, GraphQL or `batch cancel`) whose runs the daemon has not stopped yet."""
    return [b.backfill_id for b in instance.get_backfills(filters=BulkActionsFilter(statuses=[BulkActionStatus.CANCELING]))]


def backfill_is_canceled(instance: dg.DagsterInstance, backfill_id: str) -> bool:
    """Whether a backfill was canceled (CANCELING or CANCELED): none of its runs may start any more."""
    backfill = instance.get_backfill(backfill_id)
    return backfill is not None and backfill.status in (BulkActionStatus.CANCELING, BulkActionStatus.CANCELED)


# A backfill in one of these has launched every run it ever will (BulkActionStatus; COMPLETED is the deprecated form).
FINISHED_BACKFILL_STATUSES = (
    BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED,
    BulkActionStatus.FAILED, BulkActionStatus.CANCELED,
)


def finished_backfills(instance: dg.DagsterInstance, *, created_after: datetime) -> Sequence[tuple[str, str, float]]:
    """(backfill id, status, creation timestamp) of every finished backfill created after `created_after`, oldest first."""
    found = instance.get_backfills(filters=BulkActionsFilter(statuses=list(FINISHED_BACKFILL_STATUSES), created_after=created_after))
    return sorted(((b.backfill_id, b.status.value, b.backfill_timestamp) for b in found), key=lambda item: item[2])


def cancel_run(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Cancel a queued run, or ask the run launcher to terminate a started one (what the UI's Terminate does)."""
    return instance.run_coordinator.cancel_run(run_id)


def latest_data_versions(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions_def_name: str) -> Mapping[str, str]:
    """Partition key -> data version of its latest materialization, in one query where the storage has one."""
    try:
        tags = instance.event_log_storage.get_latest_tags_by_partition(
            asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, [DATA_VERSION_TAG]
        )
    except NotImplementedError:  # a storage without the indexed query: one lookup per partition
        versions = {}
        for key in instance.get_dynamic_partitions(partitions_def_name):
            record = instance.get_latest_data_version_record(asset_key, partition_key=key)
            version = record and record.asset_materialization and record.asset_materialization.tags.get(DATA_VERSION_TAG)
            if version:
                versions[key] = version
        return versions
    return {key: values[DATA_VERSION_TAG] for key, values in tags.items() if values.get(DATA_VERSION_TAG)}

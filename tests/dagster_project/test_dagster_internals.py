"""The Dagster internals the code location relies on still do what it expects; an upgrade fails here first.

Backfills have no public constructor: the tests here (and `add_backfill`, which other tests use) build them
from the same internals, so this is the one test module that reaches into them."""

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from dagster_project import dagster_internals


def test_the_installed_dagster_is_the_one_the_internals_were_checked_against():
    assert dg.__version__ == dagster_internals.CHECKED_DAGSTER_VERSION, (
        f"dagster {dg.__version__} is installed but dagster_project/dagster_internals.py was checked against "
        f"{dagster_internals.CHECKED_DAGSTER_VERSION}: re-check each function there, then bump the version"
    )


@dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="things"))
def thing(context: dg.AssetExecutionContext) -> dg.Output[None]:
    return dg.Output(None, data_version=dg.DataVersion(f"v-{context.partition_key}"))


def add_backfill(instance: dg.DagsterInstance, backfill_id: str, status: str | BulkActionStatus | None = None,
                 created: float = 0.0):
    """A backfill of `thing`'s partition "a", stored with `status` (a BulkActionStatus or its name; REQUESTED by default)."""
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=dg.Definitions(assets=[thing]).resolve_asset_graph(),
        partition_names=["a"], asset_selection=[thing.key], backfill_timestamp=created, tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None, run_config=None,
    )
    backfill = backfill.with_status(BulkActionStatus(status)) if status else backfill
    instance.add_backfill(backfill)
    return backfill


def test_latest_data_versions_reads_every_partition():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("things", ["a", "b", "c"])
        for key in ("a", "b"):
            assert dg.materialize([thing], partition_key=key, instance=instance).success
        assert dagster_internals.latest_data_versions(instance, thing.key, "things") == {"a": "v-a", "b": "v-b"}


def test_a_canceling_backfill_is_found_and_an_unknown_run_is_not_canceled():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("things", ["a"])
        backfill = add_backfill(instance, "bf1")
        assert dagster_internals.canceling_backfill_ids(instance) == []
        instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELING))
        assert dagster_internals.canceling_backfill_ids(instance) == ["bf1"]
        # Stopping real queued and running runs this way is exercised end to end (test_batch_e2e: UI cancel).
        assert dagster_internals.cancel_run(instance, "no-such-run") is False


def test_finished_backfills_lists_only_finished_ones_created_after_the_given_time():
    from datetime import datetime, timezone

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("things", ["a"])
        for backfill_id, status, created in (("old", BulkActionStatus.COMPLETED_SUCCESS, 1000.0),
                                             ("done", BulkActionStatus.COMPLETED_FAILED, 3000.0),
                                             ("going", BulkActionStatus.REQUESTED, 3000.0),
                                             ("stopped", BulkActionStatus.CANCELED, 2000.0)):
            add_backfill(instance, backfill_id, status, created)
        found = dagster_internals.finished_backfills(instance, created_after=datetime.fromtimestamp(1500.0, timezone.utc))
        assert found == [("stopped", "CANCELED", 2000.0), ("done", "COMPLETED_FAILED", 3000.0)]


def test_a_backfill_counts_as_canceled_from_the_moment_it_is_canceling():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("things", ["a"])
        backfill = add_backfill(instance, "bf1")
        assert not dagster_internals.backfill_is_canceled(instance, "bf1")
        assert not dagster_internals.backfill_is_canceled(instance, "no-such-backfill")
        for status in (BulkActionStatus.CANCELING, BulkActionStatus.CANCELED):
            instance.update_backfill(backfill.with_status(status))
            assert dagster_internals.backfill_is_canceled(instance, "bf1")

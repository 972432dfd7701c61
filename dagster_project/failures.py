"""How a product's failure shows in Dagster: a Failure naming product, stage and field, also on the asset's page."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, NoReturn

import dagster as dg

from batch_video.errors import BatchVideoError


def failure_for(err: BatchVideoError, partition_key: str) -> dg.Failure:
    """The Failure for a domain error: retried only if the error is transient (a service, the network)."""
    metadata: dict[str, object] = {
        "product_id": err.product_id or partition_key,
        "partition_key": partition_key,
        "stage": err.stage or "",
        "field": err.field or "",
        "error_type": type(err).__name__,
        "retryable": err.retryable,
    }
    failed_checks = getattr(err, "failed_checks", ())
    if failed_checks:
        metadata["failed_checks"] = ", ".join(failed_checks)
    return dg.Failure(description=str(err), metadata=metadata, allow_retries=err.retryable)


def fail(context: dg.AssetExecutionContext, err: BatchVideoError) -> NoReturn:
    """Log, show on the asset's own page (Events), and raise the Failure for `err`."""
    err.with_context(product_id=context.partition_key, stage=context.asset_key.to_user_string())
    failure = failure_for(err, context.partition_key)
    context.log.error(failure.description or str(err))
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            description=failure.description,
            metadata={"failure": failure.description or "", **failure.metadata},
        )
    )
    raise failure from err


def run_started_at(instance: dg.DagsterInstance, run_id: str) -> float:
    """When the run started (seconds since the epoch): what orders two runs of one product."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return time.time()
    return record.start_time or record.create_timestamp.timestamp()


@contextmanager
def stage_errors(context: dg.AssetExecutionContext) -> Iterator[None]:
    """Turn a domain error raised inside the block into the stage's Failure."""
    try:
        yield
    except BatchVideoError as err:
        fail(context, err)

"""Feed sync as Dagster automation: a sensor and a schedule that keep `products` in step with the feed.

Both read the feed of the `catalog` resource (so runs see the same feed the
sensor saw; `BATCH_VIDEO_FEED_URL` sets it), add partitions for new products
and request runs only for new products and products whose content hash differs
from the one their latest `product_record` materialization recorded as its data
version. Those hashes come from Dagster's own history in one query
(`get_latest_tags_by_partition` on the data-version tag) rather than from the
cursor: the history is the truth after a manual re-run or a wipe, and the cursor
stays small for a 10,000-product feed.

Stock-aware (see `batch_video.stock`): products out of stock (and preorder or
backorder unless `BATCH_VIDEO_RENDER_AVAILABILITY` allows them) get a partition
but no run; when the feed changes, the live video of a product that went out of
stock or left the feed is unpublished, and a withdrawn video whose product is
back, unchanged, is published again (`BATCH_VIDEO_UNPUBLISH_UNAVAILABLE=false`
keeps videos up). Each is an observation of `published_video` for that
product, and an event in the records apps read. One that fails (a storage
outage) is logged and observed with its error, and tried again at every
following tick until it succeeds, feed changed or not; a product that left the
feed keeps its partition until its video is down.

Knobs, read at each tick (env): `BATCH_VIDEO_FEED_SYNC_MAX_RUNS` (runs per tick,
default 200; the rest carry over), `BATCH_VIDEO_FEED_SYNC_DELETE_REMOVED`
(delete partitions of products gone from the feed; default off, only reported),
`BATCH_VIDEO_RENDER_AVAILABILITY`, `BATCH_VIDEO_UNPUBLISH_UNAVAILABLE`.
At load time: `BATCH_VIDEO_FEED_SYNC_INTERVAL_S` (sensor, default 300),
`BATCH_VIDEO_FEED_SYNC_CRON` (default `0 2 * * *`) and
`BATCH_VIDEO_FEED_SYNC_TIMEZONE` (default `Europe/Bucharest`). Both are
stopped by default; turn them on in the UI or with `dagster sensor start`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Collection, Mapping, Sequence

import dagster as dg

from batch_video import feed, stock, sync
from batch_video.catalog import catalog_digest, is_remote, is_supabase
from batch_video.errors import BatchVideoError, ConfigError, TransientError
from batch_video.feed.keys import product_of
from batch_video.models import FeedReadResult
from batch_video.redact import redact_url, redact_urls, source_id
from batch_video.render.spec import validate_settings
from batch_video.settings import BatchSettings
from batch_video.shelf import restore_video, withdraw_video
from dagster_project.dagster_internals import latest_data_versions
from dagster_project.partitions import PRODUCT_RECORD_KEY, PUBLISHED_VIDEO_KEY, product_video_job, products_partitions
from dagster_project.resources import CatalogResource, PublishingResource
from dagster_project.run_tags import CONTENT_HASH_TAG, PARTITION_TAG, TRIGGER_TAG

logger = logging.getLogger(__name__)

FEED_SENSOR_NAME = "product_feed_sensor"
FEED_SCHEDULE_NAME = "product_feed_schedule"
DEFAULT_MAX_RUNS_PER_TICK = 200
DEFAULT_INTERVAL_S = 300
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "Europe/Bucharest"
# A run in one of these may still write its partition: not yet finished (success, failure or canceled).
UNFINISHED_RUN_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUSPENDED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class SyncOptions:
    max_runs_per_tick: int = DEFAULT_MAX_RUNS_PER_TICK
    delete_removed: bool = False
    stock: stock.StockPolicy = stock.StockPolicy()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SyncOptions":
        environ = os.environ if environ is None else environ
        max_runs = environ.get("BATCH_VIDEO_FEED_SYNC_MAX_RUNS", "").strip()
        delete = environ.get("BATCH_VIDEO_FEED_SYNC_DELETE_REMOVED", "").strip().lower()
        return cls(
            max_runs_per_tick=int(max_runs) if max_runs else DEFAULT_MAX_RUNS_PER_TICK,
            delete_removed=delete in {"1", "true", "yes", "on"},
            stock=stock.StockPolicy.from_env(environ),
        )


# --------------------------------------------------------------------------- instance helpers


def recorded_hashes(instance: dg.DagsterInstance, asset_key: dg.AssetKey = PRODUCT_RECORD_KEY) -> dict[str, str]:
    """Partition key -> data version (the content hash) of its latest `product_record` materialization."""
    return dict(latest_data_versions(instance, asset_key, products_partitions.name))


def partitions_in_flight(instance: dg.DagsterInstance, job_name: str = product_video_job.name) -> set[str]:
    """Partitions with a queued or running run of the job (so a schedule does not request them twice)."""
    records = instance.get_run_records(filters=dg.RunsFilter(job_name=job_name, statuses=UNFINISHED_RUN_STATUSES))
    return {r.dagster_run.tags[PARTITION_TAG] for r in records if PARTITION_TAG in r.dagster_run.tags}


def current_plan(
    instance: dg.DagsterInstance, result: FeedReadResult, policy: stock.StockPolicy | None = None
) -> tuple[sync.SyncPlan, dict[str, str]]:
    """The sync plan of `result` against the instance's partitions and recorded hashes."""
    previous = recorded_hashes(instance)
    existing = instance.get_dynamic_partitions(products_partitions.name)
    return sync.plan_sync(result, existing, previous, policy=policy), previous


def apply_partition_changes(
    instance: dg.DagsterInstance, plan: sync.SyncPlan, *, delete_removed: bool = False, keep: Collection[str] = ()
) -> dict[str, int]:
    """Add the plan's new keys to the `products` partitions (and delete removed ones when asked, except `keep`)."""
    if plan.new:
        instance.add_dynamic_partitions(products_partitions.name, list(plan.new))
    deleted = 0
    if delete_removed:
        for key in deletable(plan, keep):
            instance.delete_dynamic_partition(products_partitions.name, key)
            deleted += 1
    return {"added": len(plan.new), "deleted": deleted}


def sync_feed_partitions(
    instance: dg.DagsterInstance,
    result: FeedReadResult,
    *,
    delete_removed: bool = False,
    dry_run: bool = False,
) -> tuple[sync.SyncPlan, dict[str, int]]:
    """What `batch-video feed sync FEED` does: plan against the instance, then apply it."""
    plan, _ = current_plan(instance, result, stock.StockPolicy.from_env())
    applied = {"added": 0, "deleted": 0} if dry_run else apply_partition_changes(instance, plan, delete_removed=delete_removed)
    return plan, applied


def deletable(plan: sync.SyncPlan, keep: Collection[str]) -> list[str]:
    """The removed partitions that may go: not those whose video could not be taken down yet (retried next tick)."""
    return [key for key in plan.removed if key not in keep]


def _run_requests(plan: sync.SyncPlan, keys: Sequence[str], trigger: str) -> list[dg.RunRequest]:
    return [
        dg.RunRequest(
            partition_key=key,
            run_key=sync.run_key(key, plan.hashes[key]),
            tags={TRIGGER_TAG: trigger, CONTENT_HASH_TAG: plan.hashes[key]},
        )
        for key in keys
    ]


def removed_observations(plan: sync.SyncPlan, source: str) -> list[dg.AssetObservation]:
    """Mark kept partitions of products that left the feed, so their page in the UI says so."""
    return [
        dg.AssetObservation(
            asset_key=PRODUCT_RECORD_KEY,
            partition=key,
            metadata={"status": "removed_from_feed", "feed": source},
        )
        for key in plan.removed
    ]


def update_shelf(
    log: logging.Logger,
    publishing: PublishingResource,
    plan: sync.SyncPlan,
    previous: Mapping[str, str],
    options: SyncOptions,
    source: str,
) -> tuple[list[dg.AssetObservation], list[str]]:
    """Unpublish the live videos of products out of stock or gone, republish those back; one observation each.

    Returns the observations and the videos that could not be moved. One that
    cannot (a storage outage) is logged and observed with its error, and never
    stops the others nor the runs; the plan comes from the records each time,
    so the next tick tries exactly the moves still to do, and none twice.
    """
    try:
        records = publishing.records()
        shelf = stock.plan_shelf(plan.hashes, plan.unavailable, plan.removed, records.video_states(), previous, options.stock)
        storage = publishing.storage() if shelf else None
    except BatchVideoError as err:
        log.error(f"cannot read the published videos' records: {err}")
        # An outage is tried again at the next tick; a configuration error waits for the next feed change.
        return [], (["*"] if isinstance(err, TransientError) else [])
    observations, failed = [], []
    for action, keys, move in (("unpublished", shelf.withdraw, withdraw_video), ("republished", shelf.restore, restore_video)):
        for key in keys:
            reason = shelf.reasons[key]
            metadata = {"status": action, "reason": reason, "feed": source}
            try:
                move(storage, records, key, reason=reason)
            except BatchVideoError as err:
                log.error(f"product {key}: could not be {action} ({reason}), tried again at the next tick: {err}")
                failed.append(key)
                metadata = {**metadata, "status": f"not {action}", "error": str(err)}
            else:
                log.info(f"product {key}: video {action} ({reason})")
                if options.delete_removed and key in plan.removed:
                    continue  # its partition is being deleted: nothing to attach the observation to
            observations.append(dg.AssetObservation(asset_key=PUBLISHED_VIDEO_KEY, partition=key, metadata=metadata))
    return observations, failed


def _log_plan(log: logging.Logger, source: str, plan: sync.SyncPlan, delete_removed: bool) -> None:
    log.info(f"feed {source}: {plan.summary()}")
    if plan.removed:
        action = "deleting their partitions" if delete_removed else "partitions kept (BATCH_VIDEO_FEED_SYNC_DELETE_REMOVED=1 deletes them)"
        log.warning(f"{len(plan.removed)} products left the feed ({action}): {', '.join(plan.removed[:50])}")
    for problem in plan.problems[:50]:
        # `str(problem)` says which: "skipped: <why it is not for sale>" or "field <name>: <what is wrong>".
        log.warning(f"not rendered: {problem}")


def _read_catalog(catalog: CatalogResource) -> FeedReadResult:
    # A fresh read refreshes the catalog cache the runs read, so they see this version of the feed.
    return catalog.read(max_age_s=0.0)


def fetch_if_changed(source: str, previous: sync.SyncCursor, *, timeout_s: float) -> tuple[sync.FeedVersion, feed.FetchedFeed | None]:
    """This feed's version and its bytes, asking a server with the previous validators (304: old version, no bytes)."""
    same_source = previous.source == source_id(source)
    fetched = feed.fetch_feed(
        source,
        timeout_s=timeout_s,
        etag=previous.version.etag if same_source and is_remote(source) else "",
        last_modified=previous.version.last_modified if same_source and is_remote(source) else "",
    )
    if fetched is None:
        return previous.version, None
    return sync.FeedVersion(sha256=fetched.sha256, etag=fetched.etag, last_modified=fetched.last_modified), fetched


def settings_problem() -> str | None:
    """Why every run the tick would request fails at its settings stage (a broken template file), or None.

    The runs use the code location's settings, which come from the environment.
    """
    try:
        validate_settings(BatchSettings.from_env())
    except ConfigError as err:
        return str(err)
    return None


# --------------------------------------------------------------------------- sensor


def evaluate_feed_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource, publishing: PublishingResource, options: SyncOptions
) -> dg.SensorResult | dg.SkipReason:
    source = catalog.feed_url
    problem = settings_problem()
    if problem:
        # Skipped without moving the cursor: the tick after the fix does the work.
        context.log.error(f"batch settings: {problem}")
        return dg.SkipReason(f"no runs requested, the batch settings are broken: {problem}")
    # Logs, skip reasons, observations and the cursor name the feed without its credentials or query.
    shown, ident = redact_url(source), source_id(source)
    cursor = sync.SyncCursor.from_json(context.cursor)
    try:
        if is_supabase(source):
            # A table has no ETag: its version is the digest of what it holds.
            result = _read_catalog(catalog)
            version = sync.FeedVersion(sha256=catalog_digest(result))
            if cursor.unchanged(ident, version):
                return dg.SkipReason(f"feed {shown} unchanged since the last tick ({version.sha256[:12]})")
        else:
            version, fetched = fetch_if_changed(source, cursor, timeout_s=catalog.timeout_s)
            try:
                if cursor.unchanged(ident, version):
                    return dg.SkipReason(f"feed {shown} unchanged since the last tick ({version.sha256[:12] or version.etag})")
                # Parsing the copy just fetched also refreshes the catalog cache the runs read: one download per tick.
                result = catalog.read(fetched=fetched) if fetched is not None else catalog.read()
            finally:
                if fetched is not None:
                    fetched.discard()
    except BatchVideoError as err:
        # A feed that cannot be read now is a skipped tick, not a failed sensor; the cursor stays.
        context.log.error(f"cannot read feed {shown}: {redact_urls(str(err))}")
        return dg.SkipReason(f"cannot read feed {shown}: {redact_urls(str(err))}")

    # Ticks that only work off the backlog see the same feed: do not report removals again.
    feed_changed = not (cursor.source == ident and cursor.version.same_as(version))
    plan, previous = current_plan(context.instance, result, options.stock)
    _log_plan(context.log, shown, plan, options.delete_removed)
    # A shelf move that failed at an earlier tick is tried again at every tick until it succeeds.
    shelf_events, shelf_failed = (
        update_shelf(context.log, publishing, plan, previous, options, shown) if feed_changed or cursor.shelf_failed else ([], [])
    )
    busy = partitions_in_flight(context.instance) if plan.to_run else set()
    selection = sync.select_runs(plan, previous, cursor.requested, max_runs=options.max_runs_per_tick, busy=busy)
    if selection.backlog:
        context.log.info(f"{len(selection.backlog)} runs carried over to the next tick (cap {options.max_runs_per_tick})")

    partition_requests: list = []
    if plan.new:
        partition_requests.append(products_partitions.build_add_request(list(plan.new)))
    gone = deletable(plan, {product_of(key) for key in shelf_failed}) if options.delete_removed else []
    if gone:
        partition_requests.append(products_partitions.build_delete_request(gone))
    new_cursor = sync.SyncCursor(source=ident, version=version, requested=selection.requested, backlog=len(selection.backlog),
                                 shelf_failed=len(shelf_failed))
    return dg.SensorResult(
        run_requests=_run_requests(plan, selection.run_now, "feed_sensor"),
        dynamic_partitions_requests=partition_requests,
        asset_events=(removed_observations(plan, shown) if feed_changed and not options.delete_removed else []) + shelf_events,
        cursor=new_cursor.to_json(),
        skip_reason=None if (selection.run_now or partition_requests or shelf_events) else f"no product can run now ({plan.summary()}; {len(selection.backlog)} waiting)",
    )


def build_feed_sync_sensor(
    *,
    name: str = FEED_SENSOR_NAME,
    minimum_interval_seconds: int | None = None,
    options: SyncOptions | None = None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """The feed sensor; `options=None` reads the env knobs at each tick."""
    interval = minimum_interval_seconds or int(os.environ.get("BATCH_VIDEO_FEED_SYNC_INTERVAL_S", DEFAULT_INTERVAL_S))

    return dg.sensor(
        name=name, job=product_video_job, minimum_interval_seconds=interval, default_status=default_status,
        description="Adds partitions for new feed products and renders new and changed ones (skips unchanged feeds).",
    )(_tick(evaluate_feed_sensor, options))


def _tick(evaluate: Callable[..., Any], options: SyncOptions | None) -> Callable[..., Any]:
    """The sensor's or the schedule's evaluation: the resources Dagster hands in, and the options (`None`: the env
    knobs read at each tick)."""

    def tick(context, catalog: CatalogResource, publishing: PublishingResource):
        return evaluate(context, catalog, publishing, options or SyncOptions.from_env())

    return tick


# --------------------------------------------------------------------------- schedule


def evaluate_feed_schedule(
    context: dg.ScheduleEvaluationContext, catalog: CatalogResource, publishing: PublishingResource, options: SyncOptions
) -> list[dg.RunRequest] | dg.SkipReason:
    problem = settings_problem()
    if problem:
        context.log.error(f"batch settings: {problem}")
        return dg.SkipReason(f"no runs requested, the batch settings are broken: {problem}")
    try:
        result = _read_catalog(catalog)
    except BatchVideoError as err:
        context.log.error(f"cannot read feed {redact_url(catalog.feed_url)}: {redact_urls(str(err))}")
        return dg.SkipReason(f"cannot read feed {redact_url(catalog.feed_url)}: {redact_urls(str(err))}")
    instance = context.instance
    plan, previous = current_plan(instance, result, options.stock)
    _log_plan(context.log, redact_url(catalog.feed_url), plan, options.delete_removed)
    # A schedule cannot return partition requests or asset events, so it writes them itself. The shelf goes first:
    # a removed product whose video could not be taken down keeps its partition, and the next sync tries again.
    shelf_events, shelf_failed = update_shelf(context.log, publishing, plan, previous, options, redact_url(catalog.feed_url))
    apply_partition_changes(instance, plan, delete_removed=options.delete_removed, keep={product_of(key) for key in shelf_failed})
    observations = [] if options.delete_removed else removed_observations(plan, redact_url(catalog.feed_url))
    for observation in observations + shelf_events:
        instance.report_runless_asset_event(observation)
    selection = sync.select_runs(plan, {}, {}, max_runs=options.max_runs_per_tick, busy=partitions_in_flight(instance))
    to_run = selection.run_now
    if not to_run:
        return dg.SkipReason(f"no product needs a run ({plan.summary()})")
    return _run_requests(plan, to_run, "feed_schedule")


def build_feed_sync_schedule(
    *,
    name: str = FEED_SCHEDULE_NAME,
    cron_schedule: str | None = None,
    execution_timezone: str | None = None,
    options: SyncOptions | None = None,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
) -> dg.ScheduleDefinition:
    """The same sync at a fixed time (daily 02:00 Europe/Bucharest unless the env says otherwise)."""
    cron = cron_schedule or os.environ.get("BATCH_VIDEO_FEED_SYNC_CRON", DEFAULT_CRON)
    timezone = execution_timezone or os.environ.get("BATCH_VIDEO_FEED_SYNC_TIMEZONE", DEFAULT_TIMEZONE)

    return dg.schedule(
        name=name, job=product_video_job, cron_schedule=cron, execution_timezone=timezone, default_status=default_status,
        description="Syncs the products partitions with the feed and renders new and changed products.",
    )(_tick(evaluate_feed_schedule, options))


product_feed_sensor = build_feed_sync_sensor()
product_feed_schedule = build_feed_sync_schedule()

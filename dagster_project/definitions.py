"""The batch-video code location: product-video assets, resources and automation."""

from __future__ import annotations

import os

import dagster as dg

from batch_video.catalog import feed_currency
from batch_video.render.spec import validate_settings
from dagster_project.assets import product_video_assets
from dagster_project.automation.cancel import stop_canceled_batches
from dagster_project.automation.failure_records import record_product_failures
from dagster_project.automation.feed_sync import product_feed_schedule, product_feed_sensor
from dagster_project.automation.lost_workers import fail_runs_of_lost_workers
from dagster_project.automation.prune import prune_data_job, prune_data_schedule
from dagster_project.automation.reports import batch_report, batch_reports
from dagster_project.partitions import product_video_job
from dagster_project.resources import (
    BatchSettingsResource,
    CatalogResource,
    ReportsResource,
    SupabaseResource,
    TTSResource,
    WorkspaceResource,
    publishing_from_env,
)


def build_resources() -> dict[str, object]:
    """Resources from the environment (see README, Configuration); the key of a Supabase project stays an EnvVar.

    The batch settings are checked here: a broken template file stops the code location from loading with one
    clear error (file, field, allowed values) instead of failing every run.
    """
    data_dir = os.environ.get("BATCH_VIDEO_DATA_DIR", "data")
    supabase = SupabaseResource.from_env()  # the project a `supabase:products` catalog and Supabase publishing share
    publishing = publishing_from_env(supabase=supabase)
    batch_settings = BatchSettingsResource.from_env()
    validate_settings(batch_settings.defaults)
    return {
        "catalog": CatalogResource.from_env(data_dir, currency=feed_currency(), supabase=supabase),
        "workspace": WorkspaceResource.from_env(data_dir),
        "batch_settings": batch_settings,
        "tts": TTSResource(cache_dir=os.path.join(data_dir, "cache", "tts")),
        "publishing": publishing,
        "reports": ReportsResource.from_env(),
    }


defs = dg.Definitions(
    assets=[*product_video_assets, batch_report],
    jobs=[product_video_job, prune_data_job],
    sensors=[record_product_failures, product_feed_sensor, stop_canceled_batches, fail_runs_of_lost_workers, batch_reports],
    schedules=[product_feed_schedule, prune_data_schedule],
    resources=build_resources(),
    # One process per run and no subprocess per step: ~0.5 s instead of ~10 s per product.
    executor=dg.in_process_executor,
)

"""What a batch is made of: one `products` partition per feed product, the six stage assets, and their job."""

from __future__ import annotations

import dagster as dg

from batch_video.stages import PRODUCT_RECORD, PUBLISHED_VIDEO, RENDERED_VIDEO, STAGES
from dagster_project.run_tags import run_limit_tags

products_partitions = dg.DynamicPartitionsDefinition(name="products")

STAGE_KEYS = tuple(dg.AssetKey(stage) for stage in STAGES)
PRODUCT_RECORD_KEY = dg.AssetKey(PRODUCT_RECORD)
RENDERED_VIDEO_KEY = dg.AssetKey(RENDERED_VIDEO)
PUBLISHED_VIDEO_KEY = dg.AssetKey(PUBLISHED_VIDEO)

# One run per product: the whole chain of one partition (a batch is a backfill of this).
product_video_job = dg.define_asset_job(
    "product_video_job",
    selection=dg.AssetSelection.assets(*STAGE_KEYS),
    partitions_def=products_partitions,
    # Runs of the job (the feed sensor's and schedule's, launches from the UI) stop after a time limit.
    run_tags=run_limit_tags(),
)

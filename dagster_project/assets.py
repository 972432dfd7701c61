"""The per-product asset chain: record -> image -> script -> audio -> video -> published."""


import time
from contextlib import contextmanager
from typing import Iterator

import dagster as dg

from batch_video import pipeline, publish, quality
from batch_video.errors import BatchVideoError
from batch_video.settings import BatchSettings
from batch_video.thumbnails import thumbnail_markdown
from dagster_project import checks
from dagster_project.partitions import products_partitions
from dagster_project.resources import (
    BatchSettingsResource,
    CatalogResource,
    PublishingResource,
    TTSResource,
    WorkspaceResource,
)
from dagster_project.run_tags import BACKFILL_TAG, overrides_from_tags, settings_for_run

GROUP = "product_video"
# Transient failures (TTS service, HTTP fetch, storage upload) are retried;
# bad product data raises Failure(allow_retries=False) and fails at once.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

COMMON = dict(partitions_def=products_partitions, group_name=GROUP, retry_policy=TRANSIENT_RETRY)


@contextmanager
def stage_errors(context: dg.AssetExecutionContext, stage: str) -> Iterator[None]:
    """Turn a domain error into a Failure the UI shows with product, stage and field."""
    try:
        yield
    except BatchVideoError as err:
        err.with_context(product_id=context.partition_key, stage=stage)
        context.log.error(str(err))
        failure = dg.Failure(
            description=str(err),
            metadata={
                "product_id": err.product_id or context.partition_key,
                "partition_key": context.partition_key,
                "stage": stage,
                "field": err.field or "",
                "error_type": type(err).__name__,
                "retryable": err.retryable,
            },
            allow_retries=err.retryable,
        )
        checks.observe_failure(context, failure)
        raise failure from err


def run_settings(context: dg.AssetExecutionContext, batch_settings: BatchSettingsResource) -> BatchSettings:
    """Env/config defaults, overridden by the batch's `batch_video/setting/*` tags (a CLI launch)."""
    with stage_errors(context, "settings"):
        return settings_for_run(batch_settings.to_settings(), context.run.tags)


def provenance(context: dg.AssetExecutionContext, settings: BatchSettings) -> dict[str, object]:
    """The settings a stage used, recorded on every materialization."""
    return {
        "settings_hash": settings.settings_hash(),
        "settings": dg.MetadataValue.json(settings.to_dict()),
        "settings_overrides": dg.MetadataValue.json(overrides_from_tags(context.run.tags)),
    }


@dg.asset(kinds={"python"}, **COMMON)
def product_record(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    workspace: WorkspaceResource,
    batch_settings: BatchSettingsResource,
) -> dg.MaterializeResult:
    """The product's validated feed entry (title, brand, prices, image link)."""
    settings = run_settings(context, batch_settings)
    with stage_errors(context, "product_record"):
        product = pipeline.find_product(catalog.read(), context.partition_key)
        workspace.for_key(context.partition_key).save_product(product)
    return dg.MaterializeResult(
        metadata={
            "product_id": product.id,
            "title": product.title,
            "brand": product.brand,
            "price": f"{product.price} {product.currency}",
            "sale_price": f"{product.sale_price} {product.currency}" if product.sale_price is not None else "",
            "on_sale": product.on_sale,
            "image_link": product.image_link,
            "content_hash": product.content_hash,
            "feed": catalog.feed_url,
            **provenance(context, settings),
        },
        data_version=dg.DataVersion(product.content_hash or product.id),
    )


@dg.asset(deps=[product_record], kinds={"pillow"}, **COMMON)
def product_image(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    workspace: WorkspaceResource,
    batch_settings: BatchSettingsResource,
) -> dg.MaterializeResult:
    """The product photo, fetched and normalized (orientation, colour space, size)."""
    settings = run_settings(context, batch_settings)
    ws = workspace.for_key(context.partition_key)
    with stage_errors(context, "product_image"):
        product = ws.load_product()
        image = pipeline.prepare_image_stage(ws, product, catalog.link_policy())
    for warning in image.warnings:
        context.log.warning(f"product {product.id}: {warning}")
    return dg.MaterializeResult(
        metadata={
            "size": f"{image.width}x{image.height}",
            "source_size": f"{image.source_width}x{image.source_height}",
            "source_format": image.source_format,
            "has_alpha": image.has_alpha,
            "warnings": "; ".join(image.warnings),
            "preview": dg.MetadataValue.md(thumbnail_markdown(image.path, product.title)),
            **provenance(context, settings),
        }
    )


@dg.asset(deps=[product_image], kinds={"python"}, **COMMON)
def voiceover_script(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, batch_settings: BatchSettingsResource
) -> dg.MaterializeResult:
    """The text the voice reads, normalized for speech in the feed's language."""
    ws = workspace.for_key(context.partition_key)
    settings = run_settings(context, batch_settings)
    with stage_errors(context, "voiceover_script"):
        text = pipeline.script_stage(ws, ws.load_product(), settings)
    return dg.MaterializeResult(
        metadata={
            "text": text,
            "words": len(text.split()),
            "template": settings.script_template,
            **provenance(context, settings),
        },
        data_version=dg.DataVersion(pipeline.text_digest(text)),
    )


@dg.asset(deps=[voiceover_script], kinds={"python"}, **COMMON)
def voiceover_audio(
    context: dg.AssetExecutionContext,
    workspace: WorkspaceResource,
    batch_settings: BatchSettingsResource,
    tts: TTSResource,
) -> dg.MaterializeResult:
    """The spoken voiceover with word timings (captions), and which voice provider spoke."""
    ws = workspace.for_key(context.partition_key)
    settings = run_settings(context, batch_settings)
    with stage_errors(context, "voiceover_audio"):
        product = ws.load_product()
        voiceover, cues = pipeline.voiceover_stage(ws, product, ws.load_script(), settings, tts.cache_path())
    if voiceover.fallback_reason:
        context.log.warning(f"product {product.id}: {voiceover.provider} spoke instead of {voiceover.requested_provider}: {voiceover.fallback_reason}")
    return dg.MaterializeResult(
        metadata={
            "provider": voiceover.provider,
            "requested_provider": voiceover.requested_provider,
            "fallback_reason": voiceover.fallback_reason or "",
            "voice": voiceover.voice,
            "duration_s": round(voiceover.duration_s, 3),
            "words": len(voiceover.words),
            "caption_cues": len(cues),
            "timings_estimated": voiceover.timings_estimated,
            "cache_hit": voiceover.cache_hit,
            "audio_path": dg.MetadataValue.path(str(voiceover.audio_path)),
            **provenance(context, settings),
        },
        data_version=dg.DataVersion(pipeline.voiceover_digest(voiceover)),
    )


@dg.asset(deps=[voiceover_audio], kinds={"ffmpeg"}, check_specs=checks.RENDERED_VIDEO_CHECK_SPECS, **COMMON)
def rendered_video(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, batch_settings: BatchSettingsResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The encoded vertical video: Ken Burns photo, title, price, CTA, voiceover and captions.

    Checked before publication (blocking checks): a video that fails one fails this stage.
    """
    ws = workspace.for_key(context.partition_key)
    settings = run_settings(context, batch_settings)
    started = time.monotonic()
    last_logged = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last_logged[0] > 5 or done == total:
            last_logged[0] = time.monotonic()
            context.log.info(f"rendering: frame {done}/{total}")

    with stage_errors(context, "rendered_video"):
        product = ws.load_product()
        voiceover, cues = ws.load_voiceover()
        outcome = pipeline.render_stage(ws, product, ws.load_image(), voiceover, cues, settings, progress=progress)
    video = outcome.video
    if outcome.reused:
        context.log.info(f"product {product.id}: inputs unchanged since the last render; reused {video.video_path}")
    render_seconds = time.monotonic() - started
    with stage_errors(context, "rendered_video"):
        outcomes = checks.check_rendered_video(video, voiceover, settings)
    # A video that fails a check is never recorded as materialized, so a retry
    # from failure re-runs this stage (and its checks) instead of publishing it.
    yield from checks.check_results(outcomes, context.partition_key)
    failure = checks.failure_for(outcomes, product_id=product.id, partition_key=context.partition_key)
    if failure is not None:
        context.log.error(failure.description)
        checks.observe_failure(context, failure)
        raise failure
    yield dg.MaterializeResult(
        metadata={
            "duration_s": round(video.duration_s, 3),
            "size_mb": round(video.size_bytes / 1e6, 3),
            "resolution": f"{video.width}x{video.height}",
            "fps": video.fps,
            "preset": video.preset,
            "render_seconds": round(video.render_seconds, 2),
            "stage_seconds": round(render_seconds, 2),
            "check_seconds": round(time.monotonic() - started - render_seconds, 2),
            "checks": quality.summary(outcomes),
            "reused": outcome.reused,
            "provider": voiceover.provider,
            "warnings": "; ".join(video.warnings),
            "video_path": dg.MetadataValue.path(str(video.video_path)),
            "preview": dg.MetadataValue.md(thumbnail_markdown(video.poster_path, product.title)),
            **provenance(context, settings),
        },
        data_version=dg.DataVersion(outcome.inputs_hash),
    )


@dg.asset(deps=[rendered_video], kinds={"python"}, **COMMON)
def published_video(
    context: dg.AssetExecutionContext,
    workspace: WorkspaceResource,
    batch_settings: BatchSettingsResource,
    publishing: PublishingResource,
) -> dg.MaterializeResult:
    """The video and poster where the shop's team fetches them, with a record of it."""
    ws = workspace.for_key(context.partition_key)
    settings = run_settings(context, batch_settings)
    settings_hash = settings.settings_hash()
    with stage_errors(context, "published_video"):
        product = ws.load_product()
        video, inputs_hash = ws.load_render()
        voiceover, _ = ws.load_voiceover()
        published = publish.publish_video(
            publishing.storage(),
            publishing.records(),
            key=context.partition_key,
            product_id=product.id,
            video_path=video.video_path,
            poster_path=video.poster_path,
            content_hash=inputs_hash,
            duration_s=video.duration_s,
            settings_hash=settings_hash,
            provider=voiceover.provider,
            run_id=context.run_id,
            backfill_id=context.run.tags.get(BACKFILL_TAG),
            metadata={"title": product.title, "product_id": product.id},
        )
    return dg.MaterializeResult(
        metadata={
            "location": published.location,
            "poster": published.poster_location,
            "storage": published.storage,
            "size_mb": round(published.size_bytes / 1e6, 3),
            "duration_s": round(video.duration_s, 3),
            "provider": voiceover.provider,
            "content_hash": product.content_hash,
            "render_version": pipeline.RENDER_VERSION,
            "preview": dg.MetadataValue.md(thumbnail_markdown(video.poster_path, product.title)),
            **provenance(context, settings),
        },
        data_version=dg.DataVersion(inputs_hash),
    )


product_video_assets = [product_record, product_image, voiceover_script, voiceover_audio, rendered_video, published_video]

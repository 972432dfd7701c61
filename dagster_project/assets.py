"""The per-product asset chain: record -> image -> script -> audio -> video -> published.

Each asset calls one stage of `batch_video.pipeline` and turns its result into metadata.
"""

import os
import socket
import time
from typing import Iterator

import dagster as dg

from batch_video import pipeline
from batch_video.models import RenderedVideo
from batch_video.publish import Generation
from batch_video.redact import redact_url
from batch_video.thumbnails import thumbnail_markdown
from dagster_project import checks
from dagster_project.failures import run_started_at, stage_errors
from dagster_project.partitions import products_partitions
from dagster_project.resources import (
    BatchSettingsResource,
    CatalogResource,
    PublishingResource,
    TTSResource,
    WorkspaceResource,
)
from dagster_project.run_tags import BACKFILL_TAG

GROUP = "product_video"
# Transient failures (TTS service, HTTP fetch, storage upload) are retried;
# bad product data raises Failure(allow_retries=False) and fails at once.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

COMMON = dict(partitions_def=products_partitions, group_name=GROUP, retry_policy=TRANSIENT_RETRY)


def worker_name() -> str:
    """The host a stage ran on (`BATCH_VIDEO_WORKER_NAME`, else the hostname): shows where each product was made."""
    return os.environ.get("BATCH_VIDEO_WORKER_NAME") or socket.gethostname()


def provenance(settings: BatchSettingsResource) -> dict[str, object]:
    """The settings a stage used, recorded on every materialization."""
    return {
        "worker": worker_name(),
        "settings_hash": settings.settings.settings_hash(),
        "settings": dg.MetadataValue.json(settings.settings.to_dict()),
        "settings_overrides": dg.MetadataValue.json(settings.run_overrides),
    }


def log_progress(context: dg.AssetExecutionContext, every_s: float = 5.0):
    """A render progress callback that logs at most every `every_s` seconds."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > every_s or done == total:
            last[0] = time.monotonic()
            context.log.info(f"rendering: frame {done}/{total}")

    return progress


@dg.asset(kinds={"python"}, **COMMON)
def product_record(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    workspace: WorkspaceResource,
    batch_settings: BatchSettingsResource,
) -> dg.MaterializeResult:
    """The product's validated feed entry (title, brand, prices, image link)."""
    with stage_errors(context):
        batch_settings.settings  # noqa: B018 - a bad setting tag fails the first stage, naming the tag
        product = pipeline.record(workspace.for_key(context.partition_key), catalog.read())
    return dg.MaterializeResult(
        metadata={
            "product_id": product.id,
            "title": product.title,
            "brand": product.brand,
            "price": f"{product.price} {product.currency}",
            "sale_price": f"{product.sale_price} {product.currency}" if product.sale_price is not None else "",
            "on_sale": product.on_sale,
            "image_link": redact_url(product.image_link),
            "content_hash": product.content_hash,
            "feed": redact_url(catalog.feed_url),
            **provenance(batch_settings),
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
    """The product photos, fetched and normalized (orientation, colour space, size): the main one and the
    additional ones that become scenes (a broken or duplicate additional photo is skipped with a warning)."""
    with stage_errors(context):
        result = pipeline.image(workspace.for_key(context.partition_key), catalog.link_policy(),
                                max_extra=batch_settings.settings.max_extra_photos)
    image = result.image
    for warning in (*image.warnings, *result.skipped):
        context.log.warning(f"product {result.product.id}: {warning}")
    return dg.MaterializeResult(
        metadata={
            "size": f"{image.width}x{image.height}",
            "source_size": f"{image.source_width}x{image.source_height}",
            "source_format": image.source_format,
            "has_alpha": image.has_alpha,
            "photos": 1 + len(result.extras),
            "skipped_photos": dg.MetadataValue.json(list(result.skipped)),
            "warnings": "; ".join((*image.warnings, *result.skipped)),
            "preview": dg.MetadataValue.md(thumbnail_markdown(image.path, result.product.title)),
            **provenance(batch_settings),
        },
        data_version=dg.DataVersion(result.digest),
    )


@dg.asset(deps=[product_image], kinds={"python"}, **COMMON)
def voiceover_script(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, batch_settings: BatchSettingsResource
) -> dg.MaterializeResult:
    """The text the voice reads, normalized for speech in the feed's language."""
    with stage_errors(context):
        result = pipeline.script(workspace.for_key(context.partition_key), batch_settings.settings)
    return dg.MaterializeResult(
        metadata={
            "text": result.text,
            "words": len(result.text.split()),
            "template": batch_settings.settings.script_template,
            **provenance(batch_settings),
        },
        data_version=dg.DataVersion(result.digest),
    )


@dg.asset(deps=[voiceover_script], kinds={"python"}, **COMMON)
def voiceover_audio(
    context: dg.AssetExecutionContext,
    workspace: WorkspaceResource,
    batch_settings: BatchSettingsResource,
    tts: TTSResource,
) -> dg.MaterializeResult:
    """The spoken voiceover with word timings (captions), and which voice provider spoke."""
    with stage_errors(context):
        result = pipeline.voiceover(workspace.for_key(context.partition_key), batch_settings.settings, cache_dir=tts.cache_path())
    voiceover = result.voiceover
    if voiceover.fallback_reason:
        context.log.warning(f"product {result.product.id}: {voiceover.provider} spoke instead of "
                            f"{voiceover.requested_provider}: {voiceover.fallback_reason}")
    return dg.MaterializeResult(
        metadata={
            "provider": voiceover.provider,
            "requested_provider": voiceover.requested_provider,
            "fallback_reason": voiceover.fallback_reason or "",
            "voice": voiceover.voice,
            "duration_s": round(voiceover.duration_s, 3),
            "words": len(voiceover.words),
            "caption_cues": len(result.cues),
            "timings_estimated": voiceover.timings_estimated,
            "cache_hit": voiceover.cache_hit,
            "audio_path": dg.MetadataValue.path(str(voiceover.audio_path)),
            **provenance(batch_settings),
        },
        data_version=dg.DataVersion(result.digest),
    )


@dg.asset(deps=[voiceover_audio], kinds={"ffmpeg"}, check_specs=checks.RENDERED_VIDEO_CHECK_SPECS, **COMMON)
def rendered_video(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, batch_settings: BatchSettingsResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The encoded vertical video (a scene per photo, the template's text, voiceover, captions), checked before publication."""
    with stage_errors(context):
        result = pipeline.render(workspace.for_key(context.partition_key), batch_settings.settings, progress=log_progress(context))
    # Blocking checks: a video that fails one is never materialized, so a retry re-renders and re-checks it.
    yield from checks.verdict_events(context, result)
    yield dg.MaterializeResult(
        metadata={
            **video_metadata(result.video),
            "stage_seconds": round(result.render_seconds, 2),
            "check_seconds": round(result.check_seconds, 2),
            "checks": result.verdict.summary,
            "reused": result.reused,
            "provider": result.voiceover.provider,
            **rendered_formats_metadata(result),
            "preview": dg.MetadataValue.md(thumbnail_markdown(result.video.poster_path, result.product.title)),
            **provenance(batch_settings),
        },
        data_version=dg.DataVersion(result.inputs_hash),
    )


@dg.asset(deps=[rendered_video], kinds={"python"}, **COMMON)
def published_video(
    context: dg.AssetExecutionContext,
    workspace: WorkspaceResource,
    batch_settings: BatchSettingsResource,
    publishing: PublishingResource,
) -> dg.MaterializeResult:
    """The video and poster where the shop's team fetches them, with a record of it."""
    with stage_errors(context):
        result = pipeline.publish(
            workspace.for_key(context.partition_key), publishing.storage(), publishing.records(), batch_settings.settings,
            run_id=context.run_id, backfill_id=context.run.tags.get(BACKFILL_TAG),
            # Orders overlapping runs of this product: an older one never replaces a newer video.
            generation=Generation(context.run_id, run_started_at(context.instance, context.run_id)),
        )
    return dg.MaterializeResult(
        metadata={
            **published_metadata(result),
            "duration_s": round(result.video.duration_s, 3),
            "preset": result.video.preset,
            "provider": result.voiceover.provider,
            "checks": result.checks,
            "content_hash": result.product.content_hash,
            "render_version": pipeline.RENDER_VERSION,
            "preview": dg.MetadataValue.md(thumbnail_markdown(result.video.poster_path, result.product.title)),
            **provenance(batch_settings),
        },
        data_version=dg.DataVersion(result.inputs_hash),
    )


def video_metadata(video: RenderedVideo) -> dict[str, object]:
    """A rendered video's figures: size, format, render time, what the template put in it."""
    return {
        "duration_s": round(video.duration_s, 3),
        "size_mb": round(video.size_bytes / 1e6, 3),
        "resolution": f"{video.width}x{video.height}",
        "fps": video.fps,
        "preset": video.preset,
        "render_seconds": round(video.render_seconds, 2),
        "template": video.extra.get("template", ""),
        "music": (video.extra.get("music") or {}).get("track", ""),
        "scenes": len(video.extra.get("scenes") or ()),
        "transitions": ", ".join(video.extra.get("transitions") or ()),
        "warnings": "; ".join(video.warnings),
        "video_path": dg.MetadataValue.path(str(video.video_path)),
    }


def published_metadata(result: pipeline.PublishResult) -> dict[str, object]:
    """Where the video and its poster went; with several formats, a table of each format's too."""
    published = result.published
    where = {
        "location": published.location,
        "poster": published.poster_location,
        "storage": published.storage,
        "size_mb": round(published.size_bytes / 1e6, 3),
    }
    if len(result.formats) <= 1:
        return where
    rows = [[fmt, p.location, p.poster_location, f"{p.size_bytes / 1e6:.3f}"] for fmt, p in result.formats]
    return {**where, "formats": _table(["format", "location", "poster", "size MB"], rows)}


def rendered_formats_metadata(result: pipeline.RenderResult) -> dict[str, object]:
    """With several formats: a table of each format's video and checks (the first format's figures stay above)."""
    if len(result.formats) <= 1:
        return {}
    rows = [[f.format, f"{f.video.width}x{f.video.height}", f"{f.video.duration_s:.2f}", f"{f.video.size_bytes / 1e6:.3f}",
             "reused" if f.reused else f"{f.video.render_seconds:.1f} s", f.verdict.summary, str(f.video.video_path)]
            for f in result.formats]
    return {
        "formats": _table(["format", "resolution", "seconds", "MB", "render", "checks", "video"], rows),
        "formats_passed": sum(f.verdict.passed for f in result.formats),
    }


def _table(header: list[str], rows: list[list[str]]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord(dict(zip(header, map(str, row)))) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in header]),
    )


product_video_assets = [product_record, product_image, voiceover_script, voiceover_audio, rendered_video, published_video]

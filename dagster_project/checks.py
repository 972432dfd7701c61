"""Asset checks on `rendered_video` (blocking publication) and failure records for apps.

The checks are declared as check specs of `rendered_video` itself and evaluated
inside its step, right after the render, so each partition is checked in the
run that rendered it with no extra step. The analysis lives in
`batch_video.quality`; this module only maps it to Dagster.
"""

import logging
from typing import Any, Iterable, Sequence

import dagster as dg

from batch_video import quality
from batch_video.models import RenderedVideo, Voiceover
from batch_video.settings import BatchSettings

logger = logging.getLogger(__name__)

RENDERED_VIDEO = dg.AssetKey("rendered_video")

CHECK_DESCRIPTIONS = {
    "decodes_completely": "The whole file decodes without errors (not truncated or damaged).",
    "duration_matches_voiceover": "ffprobe duration = clamp(voiceover + tail, min, max) within two frames / 0.3 s.",
    "format_matches_preset": "Resolution, codec (H.264), pixel format (yuv420p) and frame rate of the preset.",
    "audio_present": "An audio stream that is not silent.",
    "loudness_on_target": "Integrated loudness (EBU R128) within 1 LU of the render target.",
    "size_under_platform_cap": "File size under the preset's platform upload cap.",
    "not_black_or_frozen": "Sampled frames are not black and differ from each other.",
}

RENDERED_VIDEO_CHECK_SPECS = [
    dg.AssetCheckSpec(name, asset=RENDERED_VIDEO, blocking=True, description=CHECK_DESCRIPTIONS[name])
    for name in quality.CHECK_NAMES
]


def expectations_for(settings: BatchSettings, voiceover_duration_s: float | None) -> quality.VideoExpectations:
    """What the render of a voiceover with these settings must look like."""
    from batch_video.render.presets import get_preset
    from batch_video.render.spec import LOUDNESS_TARGET_LUFS, video_duration

    preset = get_preset(settings.preset)
    expected = video_duration(voiceover_duration_s, settings) if voiceover_duration_s is not None else None
    return quality.VideoExpectations.for_preset(preset, expected_duration_s=expected, target_lufs=LOUDNESS_TARGET_LUFS)


def check_rendered_video(
    video: RenderedVideo, voiceover: Voiceover, settings: BatchSettings
) -> list[quality.CheckOutcome]:
    return quality.check_video(video.video_path, expectations_for(settings, voiceover.duration_s))


def check_results(outcomes: Sequence[quality.CheckOutcome], partition_key: str | None = None) -> list[dg.AssetCheckResult]:
    """Dagster results (severity ERROR: a failure blocks `published_video`)."""
    results = []
    for outcome in outcomes:
        metadata: dict[str, Any] = {"message": outcome.message}
        metadata.update({k: v for k, v in outcome.metadata.items() if v is not None})
        if partition_key:
            metadata["partition_key"] = partition_key
        results.append(
            dg.AssetCheckResult(
                asset_key=RENDERED_VIDEO,
                check_name=outcome.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=outcome.message,
                metadata=metadata,
            )
        )
    return results


def failure_for(outcomes: Sequence[quality.CheckOutcome], *, product_id: str, partition_key: str) -> dg.Failure | None:
    """A Failure naming the product, the stage and every failed check; None when all passed."""
    bad = quality.failed(outcomes)
    if not bad:
        return None
    reason = quality.summary(outcomes)
    return dg.Failure(
        description=f"product {product_id}, field video: video checks failed: {reason}",
        metadata={
            "product_id": product_id,
            "partition_key": partition_key,
            "stage": "rendered_video",
            "field": "video",
            "error_type": "VideoCheckFailed",
            "failed_checks": ", ".join(o.name for o in bad),
            "retryable": False,
        },
        allow_retries=False,
    )


def observe_failure(context: dg.AssetExecutionContext, failure: dg.Failure) -> None:
    """Show why the partition failed on the asset's own page (Events), not only in the run's logs."""
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            description=failure.description,
            metadata={"failure": failure.description or "", **failure.metadata},
        )
    )


# -- failure records -----------------------------------------------------------


def failure_details(run_tags: dict[str, str], step_failures: Iterable[Any], run_message: str = "") -> dict[str, str]:
    """(key, product id, stage, message) of a failed run, from our Failure metadata when there is one."""
    key = run_tags.get("dagster/partition", "")
    for event in step_failures:
        data = getattr(event, "step_failure_data", None)
        user = getattr(data, "user_failure_data", None) if data else None
        meta = {k: getattr(v, "value", v) for k, v in (user.metadata if user else {}).items()}
        message = (user.description if user and user.description else "") or (
            data.error.message.strip() if data and data.error else ""
        )
        return {
            "key": str(meta.get("partition_key") or key),
            "product_id": str(meta.get("product_id") or key),
            "stage": str(meta.get("stage") or getattr(event, "step_key", "") or ""),
            "message": message or run_message or "step failed",
        }
    # No step failed: the run process died or was killed (run monitoring marked it failed).
    return {"key": key, "product_id": key, "stage": "run", "message": run_message or "run failed before any stage finished"}


def build_failure_sensor(publishing_resource_key: str = "publishing") -> dg.SensorDefinition:
    from dagster_project.resources import PublishingResource

    @dg.run_failure_sensor(
        name="record_product_failures",
        description="Records each failed product (key, product id, stage, reason) where apps read video records.",
        default_status=dg.DefaultSensorStatus.RUNNING,
        # Failures are recorded for apps, not raced: a slow tick keeps the daemon off the CPU the renders need.
        minimum_interval_seconds=15,
    )
    def record_product_failures(context: dg.RunFailureSensorContext, publishing: PublishingResource) -> None:
        run = context.dagster_run
        if "dagster/partition" not in run.tags:
            return
        message = context.failure_event.message or ""
        details = failure_details(dict(run.tags), context.get_step_failure_events(), message)
        publishing.records().record_failure(
            details["key"],
            details["product_id"],
            details["stage"],
            details["message"],
            run_id=run.run_id,
            backfill_id=run.tags.get("dagster/backfill"),
        )
        context.log.info(f"recorded failure of {details['key']} at {details['stage']}")

    return record_product_failures


record_product_failures = build_failure_sensor()

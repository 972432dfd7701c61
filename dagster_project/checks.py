"""The quality verdict on `rendered_video` as blocking asset checks.

The checks are declared as check specs of `rendered_video` itself and evaluated
inside its step (by `batch_video.pipeline.render`), so each partition is checked
in the run that rendered it with no extra step. This module only maps the verdict
to Dagster: one check result per check, and a failed check fails the stage.
"""

from __future__ import annotations

from typing import Any, Iterator

import dagster as dg

from batch_video import quality
from batch_video.pipeline import RenderResult
from dagster_project.failures import fail
from dagster_project.partitions import RENDERED_VIDEO_KEY

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
    dg.AssetCheckSpec(name, asset=RENDERED_VIDEO_KEY, blocking=True, description=CHECK_DESCRIPTIONS[name])
    for name in quality.CHECK_NAMES
]


def check_results(verdict: quality.Verdict, partition_key: str | None = None) -> list[dg.AssetCheckResult]:
    """Dagster results (severity ERROR: a failure blocks `published_video`)."""
    results = []
    for outcome in verdict.outcomes:
        metadata: dict[str, Any] = {"message": outcome.message}
        metadata.update({k: v for k, v in outcome.metadata.items() if v is not None})
        if partition_key:
            metadata["partition_key"] = partition_key
        results.append(
            dg.AssetCheckResult(
                asset_key=RENDERED_VIDEO_KEY,
                check_name=outcome.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=outcome.message,
                metadata=metadata,
            )
        )
    return results


def verdict_events(context: dg.AssetExecutionContext, result: RenderResult) -> Iterator[dg.AssetCheckResult]:
    """One check result per check; then, if the verdict refuses the video, the stage's Failure naming every failed check."""
    yield from check_results(result.verdict, context.partition_key)
    refusal = result.refusal()
    if refusal is not None:
        fail(context, refusal)

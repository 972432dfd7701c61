"""The assets' retry policy, through Dagster: a transient failure is retried with backoff, bad data never.

The chain is the real one (espeak-ng, ffmpeg, the `preview` preset). The transient failure is a storage that
answers its first uploads like a busy service (a TransientError, as the Supabase storage raises for a 503);
the bad data is the tiny feed's product whose photo does not exist. What is checked is in the run's events:
how many attempts each step made, how long Dagster said it would wait, and why.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from batch_video.errors import TransientError
from batch_video.feed import slugify_key
from batch_video.publish import LocalStorage
from dagster_project.assets import TRANSIENT_RETRY, product_video_assets
from dagster_project.resources import LocalPublishingResource
from tests.dagster_project.conftest import chain_resources

pytestmark = pytest.mark.slow

GOOD, BROKEN = slugify_key("CANA 1"), slugify_key("LIPSA-1")


class BusyStorage:
    """The real storage, except that its first `failures` uploads fail as a busy storage service's would."""

    def __init__(self, inner, uploads: Path, failures: int) -> None:
        self.inner, self.uploads, self.failures = inner, uploads, failures
        self.name = inner.name

    def publish(self, *args, **kwargs):
        attempt = len(self.uploads.read_text().splitlines()) + 1 if self.uploads.exists() else 1
        with self.uploads.open("a") as log:
            log.write(f"{attempt}\n")
        if attempt <= self.failures:
            raise TransientError(f"storage answered 503 Service Unavailable (upload {attempt})", field="storage")
        return self.inner.publish(*args, **kwargs)

    def discard(self, *args, **kwargs):
        return self.inner.discard(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)  # everything else (its folder, its entries) is the real storage's


class BusyPublishing(LocalPublishingResource):
    """Publishing whose first `failures` uploads fail; `uploads` counts attempts across retries."""

    failures: int = 0
    uploads: str = ""

    def storage(self):
        return BusyStorage(super().storage(), Path(self.uploads), self.failures)


def materialize(instance: dg.DagsterInstance, feed: Path, root: Path, key: str, *, failures: int = 0):
    instance.add_dynamic_partitions("products", [key])
    busy = BusyPublishing(local_root=str(root / "output"), failures=failures, uploads=str(root / "uploads.log"))
    resources = chain_resources(feed, root, publishing=busy)
    return dg.materialize(product_video_assets, partition_key=key, resources=resources, instance=instance,
                          raise_on_error=False)


def events(result: dg.ExecuteInProcessResult, event_type: str, step: str | None = None) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type_value == event_type and (step is None or e.step_key == step)]


def step_attempts(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    return {stat.step_key: stat.attempts for stat in instance.get_run_step_stats(run_id)}


def timestamps(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType) -> list[float]:
    return [r.event_log_entry.timestamp for r in instance.get_records_for_run(run_id, of_type=event_type).records]


def test_a_transient_upload_failure_is_retried_with_growing_waits_and_then_succeeds(tiny_feed, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(instance, tiny_feed, tmp_path, GOOD, failures=2)
    assert result.success
    assert LocalStorage(tmp_path / "output").live_video(GOOD).exists()

    # Only the failing stage was tried again: three attempts, the earlier stages once each.
    run_id = result.run_id
    assert step_attempts(instance, run_id) == {
        "product_record": 1, "product_image": 1, "voiceover_script": 1, "voiceover_audio": 1,
        "rendered_video": 1, "published_video": 3,
    }

    # Why: each retry names the product, the field and the service's answer.
    retries = events(result, "STEP_UP_FOR_RETRY", "published_video")
    assert len(retries) == 2
    for upload, retry in enumerate(retries, start=1):
        reason = retry.event_specific_data.error.to_string()
        assert f"product {GOOD}, field storage: storage answered 503 Service Unavailable (upload {upload})" in reason
    restarts = events(result, "STEP_RESTARTED", "published_video")
    assert [e.message for e in restarts] == [
        'Started re-execution (attempt # 2) of step "published_video".',
        'Started re-execution (attempt # 3) of step "published_video".',
    ]

    # Backoff: each wait is the policy's exponential delay (with its jitter), so the second is the longer,
    # and Dagster really waited that long before starting the step again.
    waits = [retry.event_specific_data.seconds_to_wait for retry in retries]
    base = TRANSIENT_RETRY.delay
    assert TRANSIENT_RETRY.backoff == dg.Backoff.EXPONENTIAL
    for attempt, wait in enumerate(waits, start=1):
        assert (2**attempt - 1) * base - base <= wait <= (2**attempt - 1) * base + base, (attempt, wait)
    assert waits[0] < waits[1]
    failed_at = timestamps(instance, run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    restarted_at = timestamps(instance, run_id, dg.DagsterEventType.STEP_RESTARTED)
    for failed, restarted, wait in zip(failed_at, restarted_at, waits):
        assert restarted - failed >= wait - 0.1


def test_bad_product_data_fails_at_once_without_a_retry(tiny_feed, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(instance, tiny_feed, tmp_path, BROKEN)
    assert not result.success
    assert events(result, "STEP_UP_FOR_RETRY") == []
    assert step_attempts(instance, result.run_id) == {"product_record": 1, "product_image": 1}
    (failure,) = events(result, "STEP_FAILURE")
    assert failure.step_key == "product_image"
    user = failure.step_failure_data.user_failure_data
    assert "LIPSA-1" in user.description and "image_link" in user.description
    assert user.metadata["retryable"].value is False and user.metadata["error_type"].value == "ProductDataError"

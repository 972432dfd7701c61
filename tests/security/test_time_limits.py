"""Nothing a product does can hold the run slot for ever: every program and every run has a time limit.

A stuck program is played by a real ffmpeg/ffprobe reading a FIFO that never
delivers a byte (as a stalled network mount or a pathological file would); it is
killed at its deadline and the error says it may be retried. Runs carry
Dagster's `dagster/max_runtime` tag whichever way they start, with the
instance-wide default in both profiles' dagster.yaml for the UI's own backfills.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import yaml

from batch_video import media
from batch_video.errors import ProgramTimeout
from batch_video.render import LOUDNESS_TIMEOUT_S, measure_loudness
from batch_video.render import RENDER_DEADLINE_BASE_S, RENDER_DEADLINE_S_PER_MEGAPIXEL_FRAME
from batch_video.render.presets import PRESETS
from batch_video.render.spec import AudioSpec
from batch_video.settings import BatchSettings
from dagster_project.run_tags import MAX_RUNTIME_TAG, RUN_MAX_RUNTIME_S, run_limit_tags

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def silent_fifo(tmp_path):
    """A path that opens but never yields a byte: any reader waits on it until it is killed."""
    path = tmp_path / "stalled.wav"
    os.mkfifo(path)
    # Held open for writing (and never written), so a reader's open returns and its first read blocks.
    writer = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    yield path
    os.close(writer)


def test_a_probe_that_never_gets_data_is_killed_at_its_deadline(silent_fifo):
    with pytest.raises(ProgramTimeout) as err:
        media.probe(silent_fifo, timeout_s=2, stage="rendered_video")
    assert err.value.retryable and "ffprobe" in str(err.value)
    assert media.PROBE_TIMEOUT_S <= 120  # the default: a minute or two, not "until someone notices"


def test_a_loudness_measurement_that_never_gets_data_is_killed_at_its_deadline(silent_fifo):
    audio = AudioSpec(path=silent_fifo, source_duration_s=3.0, duration_s=3.0, sample_rate=48000, channels=2,
                      bitrate_kbps=128)
    with pytest.raises(ProgramTimeout) as err:
        measure_loudness(audio, timeout_s=2)
    assert err.value.retryable and err.value.stage == "render"
    assert LOUDNESS_TIMEOUT_S <= 300


def longest_render_deadline_s() -> float:
    """The render deadline of the longest video the default settings allow, at the largest preset."""
    longest = BatchSettings().duration_max_s
    return max(RENDER_DEADLINE_BASE_S + RENDER_DEADLINE_S_PER_MEGAPIXEL_FRAME
               * math.ceil(longest * p.fps) * p.width * p.height / 1e6 for p in PRESETS.values())


def test_the_run_limit_leaves_room_for_the_longest_render_and_the_other_stages():
    assert RUN_MAX_RUNTIME_S >= 2 * (longest_render_deadline_s() + LOUDNESS_TIMEOUT_S + media.PROBE_TIMEOUT_S)
    assert RUN_MAX_RUNTIME_S <= 4 * 3600  # and it still frees the slot within a night


def test_every_way_a_product_run_starts_carries_the_time_limit():
    from dagster_project.automation.feed_sync import product_feed_schedule, product_feed_sensor
    from dagster_project.definitions import defs

    assert run_limit_tags() == {MAX_RUNTIME_TAG: str(RUN_MAX_RUNTIME_S)}
    job = defs.resolve_job_def("product_video_job")
    assert job.run_tags[MAX_RUNTIME_TAG] == str(RUN_MAX_RUNTIME_S)
    # The sensor's and the schedule's runs are runs of that job: Dagster puts the job's run tags on them.
    assert product_feed_sensor.job_name == "product_video_job"
    assert product_feed_schedule.job_name == "product_video_job"

    # The UI's asset backfills carry no job tags: the instance default applies to them, with run monitoring on.
    for profile in ("local", "cluster"):
        config = yaml.safe_load((ROOT / "deploy" / profile / "dagster.yaml").read_text())
        assert config["run_monitoring"]["enabled"] is True
        assert config["run_monitoring"]["max_runtime_seconds"] == RUN_MAX_RUNTIME_S, profile

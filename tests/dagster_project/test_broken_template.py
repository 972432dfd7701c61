"""A broken template file is reported once, where the batch's settings are checked, never per product.

Where: when the code location loads (env settings), when `batch launch` builds
the backfill tags, when the feed sensor/schedule would request runs, and, for a
file broken after all that, at the first stage of a run before any product work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from batch_video.errors import ConfigError
from batch_video.feed import slugify_key
from dagster_project.assets import product_video_assets
from dagster_project.automation.feed_sync import product_feed_schedule, product_feed_sensor
from dagster_project.resources import (
    BatchSettingsResource,
    CatalogResource,
    LocalPublishingResource,
    TTSResource,
    WorkspaceResource,
)
from dagster_project.run_tags import SETTING_TAG_PREFIX, settings_tags

ROOT = Path(__file__).resolve().parents[2]
BROKEN = """name: shop
layouts:
  portrait:
    - {type: photo, box: [0, 0.2, 1, 0.5]}
    - {type: text, role: title, box: [0, 0, 1, 0.15], enter: spin}
"""
EXPECTED = "template 'shop'"
FIELD = "layouts.portrait[1].enter.effect: 'spin' is not one of none, fade, slide_up"


@pytest.fixture
def broken_template(tmp_path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def test_the_code_location_refuses_to_load_with_one_clear_error(broken_template, tmp_path):
    env = {**os.environ, "BATCH_VIDEO_TEMPLATE": str(broken_template), "BATCH_VIDEO_DATA_DIR": str(tmp_path)}
    loaded = subprocess.run([sys.executable, "-c", "import dagster_project.definitions"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert loaded.returncode != 0
    last_line = loaded.stderr.strip().splitlines()[-1]
    assert last_line.startswith("batch_video.errors.ConfigError: field template: ") and EXPECTED in last_line
    assert FIELD in last_line


def test_batch_launch_refuses_before_launching(broken_template):
    with pytest.raises(ConfigError) as info:
        settings_tags({"template": str(broken_template)})
    assert FIELD in str(info.value)
    assert settings_tags({"template": "showcase"}) == {SETTING_TAG_PREFIX + "template": "showcase"}


def test_feed_sensor_and_schedule_request_no_runs(broken_template, tiny_feed, tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_TEMPLATE", str(broken_template))
    catalog = CatalogResource(feed_url=str(tiny_feed), cache_dir=str(tmp_path / "cache"))
    resources = {"catalog": catalog, "publishing": LocalPublishingResource(local_root=str(tmp_path / "output"))}
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            sensor_result = product_feed_sensor(context)
        with dg.build_schedule_context(instance=instance, resources=resources) as context:
            schedule_result = product_feed_schedule(context)
        assert instance.get_dynamic_partitions("products") == []
    for result in (sensor_result, schedule_result):
        assert isinstance(result, dg.SkipReason)
        assert "no runs requested, the batch settings are broken" in result.skip_message
        assert FIELD in result.skip_message


@pytest.mark.slow
def test_a_run_fails_at_its_settings_stage_with_one_line(broken_template, tiny_feed, tmp_path):
    resources = {
        "catalog": CatalogResource(feed_url=str(tiny_feed), cache_dir=str(tmp_path / "cache")),
        "workspace": WorkspaceResource(data_dir=str(tmp_path / "data")),
        "batch_settings": BatchSettingsResource(preset="preview", tts_provider="espeak"),
        "tts": TTSResource(cache_dir=str(tmp_path / "tts")),
        "publishing": LocalPublishingResource(local_root=str(tmp_path / "out"),
                                         records_path=str(tmp_path / "out" / "records.sqlite")),
    }
    key = slugify_key("CANA 1")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("products", [key])
        result = dg.materialize(product_video_assets, partition_key=key, resources=resources, instance=instance,
                                tags={SETTING_TAG_PREFIX + "template": str(broken_template)}, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["product_record"]  # nothing past the first stage ran
    data = failures[0].step_failure_data.user_failure_data
    assert EXPECTED in data.description and FIELD in data.description and "\n" not in data.description
    assert data.metadata["stage"].value == "settings" and data.metadata["field"].value == "template"
    assert not (tmp_path / "data" / "work" / key / "product.json").exists()

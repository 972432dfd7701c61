"""What a feed or a racing run can't do to what is published: escape the data folder, replace a newer video,
or leave the records pointing at a deleted one.

Races use real processes (two "workers" of one product started together) and the real local storage and
SQLite records; the Dagster-level test uses a partition key Dagster itself accepts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from batch_video.errors import ProductDataError
from batch_video.publish import LocalStorage
from batch_video.records import SQLiteRecords
from batch_video.workspace import ProductWorkspace
from dagster_project.assets import product_video_assets
from dagster_project.resources import BatchSettingsResource, CatalogResource, LocalPublishingResource, TTSResource, WorkspaceResource

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", ["../../x", "..", "../escape", "a/../../b", "/etc", ".hidden", "a\\b", "x" * 300])
def test_the_workspace_refuses_keys_that_are_not_safe_names(tmp_path, key):
    data = tmp_path / "deep" / "data"
    with pytest.raises(ProductDataError) as info:
        ProductWorkspace(data, key)
    assert info.value.field == "partition_key"
    assert not (tmp_path / "x").exists() and not (tmp_path / "deep" / "escape").exists()


def test_a_partition_key_dagster_accepts_cannot_leave_the_data_folder(tiny_feed, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    hostile = "../../escaped"
    instance.add_dynamic_partitions("products", [hostile])
    data = tmp_path / "a" / "b" / "data"
    resources = {
        "catalog": CatalogResource(feed_url=str(tiny_feed), cache_dir=str(tmp_path / "cache")),
        "workspace": WorkspaceResource(data_dir=str(data)),
        "batch_settings": BatchSettingsResource(tts_provider="espeak", preset="preview"),
        "tts": TTSResource(cache_dir=str(tmp_path / "tts")),
        "publishing": LocalPublishingResource(local_root=str(tmp_path / "output")),
    }
    result = dg.materialize(product_video_assets, partition_key=hostile, resources=resources, instance=instance,
                            raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "product_record"
    assert failure.step_failure_data.user_failure_data.metadata["field"].value == "partition_key"
    assert not (tmp_path / "a" / "escaped").exists() and not (data.parent / "escaped").exists()
    assert not (tmp_path / "output" / "videos").exists()


# Each worker publishes the same product through the real code, at the same moment as the other.
WORKER = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from batch_video.publish import Generation, LocalStorage, Superseded, publish_video
from batch_video.records import SQLiteRecords
root, video, poster, run_id, started_at, go = sys.argv[2:8]
while not Path(go).exists():
    time.sleep(0.001)
try:
    publish_video(LocalStorage(root), SQLiteRecords(root + "/records.sqlite"), key="k1", product_id="P1",
                  video_path=video, poster_path=poster, generation=Generation(run_id, float(started_at)))
    print("published")
except Superseded:
    print("superseded")
"""


def test_two_workers_racing_on_one_product_leave_the_newer_video_live_and_whole(tmp_path):
    videos = {}
    for name, color in (("older", "red"), ("newer", "green")):
        video, poster = tmp_path / f"{name}.mp4", tmp_path / f"{name}.jpg"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", f"color={color}:s=64x64:d=0.5:r=10",
                        "-pix_fmt", "yuv420p", str(video)], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", f"color={color}:s=32x32",
                        "-frames:v", "1", str(poster)], check=True)
        videos[name] = (video, poster)
    outcomes = []
    for round_number in range(6):
        root = tmp_path / f"out{round_number}"
        root.mkdir()
        go = tmp_path / f"go{round_number}"
        workers = [
            subprocess.Popen([sys.executable, "-c", WORKER, str(REPO), str(root), str(videos[name][0]), str(videos[name][1]),
                              f"run-{name}", str(started), str(go)], stdout=subprocess.PIPE, text=True)
            for name, started in (("older", 1000.0), ("newer", 2000.0))
        ]
        go.touch()
        said = [worker.communicate(timeout=120)[0].strip() for worker in workers]
        outcomes.append(said)
        storage, record = LocalStorage(root), SQLiteRecords(root / "records.sqlite").get_video("k1")
        entry = storage.read_entry("k1")
        # Whatever the interleaving: the newer run's video is live, in the folder and in the records, and it exists.
        assert said[1] == "published"
        assert (entry["run_id"], record.run_id) == ("run-newer", "run-newer")
        assert record.storage_path == entry["video"] and (root / entry["video"]).read_bytes() == videos["newer"][0].read_bytes()
        assert (root / entry["poster"]).read_bytes() == videos["newer"][1].read_bytes()
        assert json.loads((root / "manifest.json").read_text())["videos"]["k1"]["run_id"] == "run-newer"
    print("older worker outcomes over the rounds:", [said[0] for said in outcomes])

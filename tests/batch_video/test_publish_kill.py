"""A publish killed mid-copy or right before its commit (SIGKILL) leaves the previous video, its own poster
and the records intact; the next publish of the same product completes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_video.hashing import file_sha256
from batch_video.publish import LocalStorage, publish_video
from batch_video.records import SQLiteRecords

REPO = Path(__file__).resolve().parents[2]

# The child publishes through the real code; one step is changed so the parent kills it right there whatever
# the machine's speed: "copy" copies the new video in 1 KiB chunks and, after 4 KiB, says so in a marker file
# and stalls; "commit" says so and stalls just before the product's entry (the local commit point) is
# switched, every new file already written.
CHILD = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from batch_video import files
from batch_video.publish import local
from batch_video.records import SQLiteRecords
from batch_video.publish import LocalStorage, publish_video

root, video, poster, phase = sys.argv[2:6]

def copy_then_stall(source, destination):
    written = 0
    while chunk := source.read(1024):
        destination.write(chunk)
        destination.flush()
        written += len(chunk)
        if written >= 4096:
            Path(root, "mid-copy").touch()
            time.sleep(3600)

real_write_json = files.write_json

def stuck_before_commit(target, data, **options):
    if Path(target).name == "k1.json":
        Path(root, "ready-to-commit").touch()
        time.sleep(3600)
    real_write_json(target, data, **options)

if phase == "copy":
    local._copy_chunks = copy_then_stall
else:
    local.files.write_json = stuck_before_commit
storage = LocalStorage(root)
records = SQLiteRecords(root + "/records.sqlite")
publish_video(storage, records, key="k1", product_id="P1", video_path=video, poster_path=poster,
              duration_s=2.0, run_id="run-2")
print("finished", flush=True)
"""


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def live_pair(storage: LocalStorage, key: str) -> tuple[bytes, bytes]:
    entry = storage.read_entry(key)
    return (storage.root / entry["video"]).read_bytes(), (storage.root / entry["poster"]).read_bytes()


@pytest.mark.parametrize("phase", ["copy", "commit"])
def test_killed_publish_keeps_previous_video_and_record_then_next_run_completes(tmp_path, phase):
    old_video, new_video = tmp_path / "old.mp4", tmp_path / "new.mp4"
    old_poster, new_poster = tmp_path / "old.jpg", tmp_path / "new.jpg"
    ffmpeg("-f", "lavfi", "-i", "color=red:s=64x64:d=1:r=10", "-pix_fmt", "yuv420p", str(old_video))
    # noise compresses badly: a few dozen KiB, i.e. dozens of slow chunks
    ffmpeg("-f", "lavfi", "-i", "nullsrc=s=128x128:d=2:r=10,geq=random(1)*255:128:128", "-pix_fmt", "yuv420p", str(new_video))
    ffmpeg("-f", "lavfi", "-i", "color=blue:s=32x32", "-frames:v", "1", str(old_poster))
    ffmpeg("-f", "lavfi", "-i", "color=white:s=32x32", "-frames:v", "1", str(new_poster))
    assert new_video.stat().st_size > 20 * 1024

    root = tmp_path / "output"
    storage = LocalStorage(root)
    records = SQLiteRecords(root / "records.sqlite")
    publish_video(storage, records, key="k1", product_id="P1", video_path=old_video, poster_path=old_poster,
                  duration_s=1.0, run_id="run-1")
    record_before = records.get_video("k1")
    manifest_before = storage.manifest()
    entry_before = storage.read_entry("k1")

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO), str(root), str(new_video), str(new_poster), phase],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # a generous ceiling: the child only has to start and reach its stall
        marker = root / ("mid-copy" if phase == "copy" else "ready-to-commit")
        while not marker.exists() and child.poll() is None:
            assert time.monotonic() < deadline, f"the child never reached its {phase} stall"
            time.sleep(0.02)
        assert marker.exists(), f"child ended before its {phase} stall: {child.communicate(timeout=60)}"
        temp = None
        if phase == "copy":
            (temp,) = (root / "videos" / "k1").glob(".*.mp4.*.tmp")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    if phase == "copy":
        assert temp is not None and 0 < temp.stat().st_size < new_video.stat().st_size  # it really died mid-copy
    else:  # every new file was there: only the switch was missing
        assert (root / "videos" / "k1" / f"{file_sha256(new_video)[:32]}.mp4").read_bytes() == new_video.read_bytes()

    # the previous video and its own poster are what the folder shows, and the video still plays
    assert live_pair(storage, "k1") == (old_video.read_bytes(), old_poster.read_bytes())
    assert ffprobe_duration(storage.live_video("k1")) == pytest.approx(1.0, abs=0.15)
    # and so are the records and the manifest
    assert records.get_video("k1") == record_before
    assert storage.manifest() == manifest_before
    assert storage.read_entry("k1") == entry_before

    # the next materialization finishes the job and clears the dead writer's temp file
    publish_video(storage, records, key="k1", product_id="P1", video_path=new_video, poster_path=new_poster,
                  duration_s=2.0, run_id="run-3")
    assert live_pair(storage, "k1") == (new_video.read_bytes(), new_poster.read_bytes())
    assert ffprobe_duration(storage.live_video("k1")) == pytest.approx(2.0, abs=0.15)
    after = records.get_video("k1")
    assert (after.content_hash, after.run_id, after.status) == (file_sha256(new_video)[:32], "run-3", "published")
    assert after.id == record_before.id  # same row, updated in place
    assert temp is None or not temp.exists()
    leftovers = [p.name for p in (root / "videos").rglob(".*") if not p.name.endswith(".lock")]
    assert leftovers == []
    # the replaced video went once the row pointed at the new one
    assert not (root / entry_before["video"]).exists()

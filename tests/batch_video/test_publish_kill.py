"""A publish killed mid-write (SIGKILL) leaves the previous video and records intact;
the next publish of the same product completes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_video.publish import LocalStorage, publish_video
from batch_video.records import SQLiteRecords

REPO = Path(__file__).resolve().parents[2]

# The child publishes through the real code; only the copy loop is changed: after 4 KiB (1 KiB chunks) it
# says so in a marker file and stops there, so the parent kills it mid-copy whatever the machine's speed.
CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from batch_video import publish
from batch_video.records import SQLiteRecords

def copy_then_stall(source, destination):
    written = 0
    while chunk := source.read(1024):
        destination.write(chunk)
        destination.flush()
        written += len(chunk)
        if written >= 4096:
            open(sys.argv[5], "w").close()
            time.sleep(3600)

publish.COPY_CHUNK_BYTES = 1024
publish._copy_chunks = copy_then_stall
root, video, poster = sys.argv[2:5]
storage = publish.LocalStorage(root)
records = SQLiteRecords(root + "/records.sqlite")
publish.publish_video(storage, records, key="k1", product_id="P1", video_path=video, poster_path=poster,
                      content_hash="new", duration_s=2.0, run_id="run-2")
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


def test_killed_publish_keeps_previous_video_and_record_then_next_run_completes(tmp_path):
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
                  content_hash="old", duration_s=1.0, run_id="run-1")
    record_before = records.get_video("k1")
    manifest_before = storage.manifest()
    entry_before = storage.read_entry("k1")

    mid_copy = tmp_path / "mid-copy"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO), str(root), str(new_video), str(new_poster), str(mid_copy)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # a generous ceiling: the child only has to start and copy 4 KiB
        while not mid_copy.exists() and child.poll() is None:
            assert time.monotonic() < deadline, "the child never got 4 KiB into its copy"
            time.sleep(0.02)
        assert mid_copy.exists(), f"child ended before it started writing: {child.communicate(timeout=60)}"
        (temp,) = (root / "videos").glob(".k1.mp4.pid*.tmp")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert 0 < temp.stat().st_size < new_video.stat().st_size  # it really died mid-copy

    # the previous video is untouched and still plays
    assert storage.video_path("k1").read_bytes() == old_video.read_bytes()
    assert storage.poster_path("k1").read_bytes() == old_poster.read_bytes()
    assert ffprobe_duration(storage.video_path("k1")) == pytest.approx(1.0, abs=0.15)
    # and so are the records and the manifest
    assert records.get_video("k1") == record_before
    assert storage.manifest() == manifest_before
    assert storage.read_entry("k1") == entry_before

    # the next materialization finishes the job and clears the dead writer's temp file
    publish_video(storage, records, key="k1", product_id="P1", video_path=new_video, poster_path=new_poster,
                  content_hash="new", duration_s=2.0, run_id="run-3")
    assert storage.video_path("k1").read_bytes() == new_video.read_bytes()
    assert ffprobe_duration(storage.video_path("k1")) == pytest.approx(2.0, abs=0.15)
    after = records.get_video("k1")
    assert (after.content_hash, after.run_id, after.status) == ("new", "run-3", "published")
    assert after.id == record_before.id  # same row, updated in place
    assert not temp.exists()
    assert [p.name for p in (root / "videos").iterdir() if p.name.startswith(".")] == []

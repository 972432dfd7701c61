"""LocalStorage (atomic layout + manifest), retry classification, and publish ordering."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from batch_video.errors import ProductDataError, TransientError
from batch_video.hashing import file_sha256
from batch_video.models import PublishedVideo
from batch_video.publish import Generation, LocalStorage, Superseded, publish_video
from batch_video.publish import local as local_module


def make_video(path: Path, color: str = "red", seconds: float = 0.5) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color={color}:s=64x64:d={seconds}:r=10",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True,
    )
    return path


def make_poster(path: Path, color: str = "blue") -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color={color}:s=32x32", "-frames:v", "1", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    return {
        "red": make_video(folder / "red.mp4", "red"),
        "green": make_video(folder / "green.mp4", "green", 0.8),
        "poster_blue": make_poster(folder / "blue.jpg", "blue"),
        "poster_white": make_poster(folder / "white.jpg", "white"),
    }


# ---------------------------------------------------------------- LocalStorage


def sha(path: Path) -> str:
    return file_sha256(path)[:32]


def test_local_publish_writes_content_addressed_files_then_the_entry(tmp_path, media):
    storage = LocalStorage(tmp_path / "output")

    published = storage.publish("mouse-m1", media["red"], media["poster_blue"], content_hash="abc123", metadata={"run_id": "r1"})

    name = sha(media["red"])
    video = tmp_path / "output" / "videos" / "mouse-m1" / f"{name}.mp4"
    poster = tmp_path / "output" / "videos" / "mouse-m1" / f"{name}.jpg"
    assert video.read_bytes() == media["red"].read_bytes()
    assert poster.read_bytes() == media["poster_blue"].read_bytes()
    assert published == PublishedVideo(
        partition_key="mouse-m1",
        location=str(video.resolve()),
        poster_location=str(poster.resolve()),
        storage="local",
        size_bytes=media["red"].stat().st_size,
        content_hash=name,
        storage_path=f"videos/mouse-m1/{name}.mp4",
    )
    manifest = json.loads((tmp_path / "output" / "manifest.json").read_text())
    entry = manifest["videos"]["mouse-m1"]
    assert (entry["content_hash"], entry["render_hash"]) == (name, "abc123")
    assert entry["video"] == f"videos/mouse-m1/{name}.mp4" and entry["poster"] == f"videos/mouse-m1/{name}.jpg"
    assert entry["metadata"] == {"run_id": "r1"}
    assert storage.read_entry("mouse-m1") == entry
    assert storage.live_video("mouse-m1") == video
    # no temp files are left behind
    assert [p.name for p in video.parent.iterdir() if p.name.startswith(".")] == []


def test_local_republish_switches_the_entry_and_same_content_is_a_no_op(tmp_path, media):
    storage = LocalStorage(tmp_path)
    first = storage.publish("k1", media["red"], media["poster_blue"], content_hash="h1", metadata={})
    second = storage.publish("k1", media["green"], media["poster_white"], content_hash="h2", metadata={})
    assert storage.live_video("k1").read_bytes() == media["green"].read_bytes()
    assert (tmp_path / storage.read_entry("k1")["poster"]).read_bytes() == media["poster_white"].read_bytes()
    # The replaced files stay until the records point at the new ones (publish_video discards them then).
    assert (tmp_path / first.storage_path).exists()
    storage.discard(first.storage_path, keep=second.storage_path)
    assert sorted(p.name for p in (tmp_path / "videos" / "k1").iterdir()) == sorted(
        [f"{second.content_hash}.mp4", f"{second.content_hash}.jpg"])

    video = storage.live_video("k1")
    inode_before = video.stat().st_ino
    entry_before = storage.read_entry("k1")
    again = storage.publish("k1", media["green"], media["poster_white"], content_hash="h2", metadata={})
    assert video.stat().st_ino == inode_before  # not rewritten
    assert again == second and storage.read_entry("k1") == entry_before


def test_local_content_hash_is_the_video_digest_whatever_the_render_hash(tmp_path, media):
    published = LocalStorage(tmp_path).publish("k", media["red"], media["poster_blue"], content_hash="", metadata={})
    assert published.content_hash == file_sha256(media["red"])[:32]


@pytest.mark.parametrize("key", ["", "../etc", "a/b", ".hidden", "a..b"])
def test_local_rejects_keys_that_are_not_file_names(tmp_path, media, key):
    with pytest.raises(ProductDataError) as info:
        LocalStorage(tmp_path).publish(key, media["red"], media["poster_blue"], content_hash="h", metadata={})
    assert info.value.field == "partition_key"
    assert not (tmp_path / "videos").exists() or list((tmp_path / "videos").iterdir()) == []


def test_local_rejects_non_mp4_video_and_keeps_previous(tmp_path, media):
    storage = LocalStorage(tmp_path)
    storage.publish("k", media["red"], media["poster_blue"], content_hash="h1", metadata={})
    entry = storage.read_entry("k")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"<html>not a video</html>")

    with pytest.raises(ProductDataError) as info:
        storage.publish("k", broken, media["poster_blue"], content_hash="h2", metadata={})

    assert info.value.product_id == "k" and info.value.field == "video_path"
    assert "k" in str(info.value) and "video_path" in str(info.value) and str(tmp_path) not in str(info.value)
    assert storage.live_video("k").read_bytes() == media["red"].read_bytes()
    assert storage.read_entry("k") == entry


def test_local_rejects_missing_or_non_jpeg_poster(tmp_path, media):
    with pytest.raises(ProductDataError) as info:
        LocalStorage(tmp_path).publish("k", media["red"], tmp_path / "missing.jpg", content_hash="h", metadata={})
    assert info.value.field == "poster_path"
    with pytest.raises(ProductDataError):
        LocalStorage(tmp_path).publish("k", media["red"], media["red"], content_hash="h", metadata={})


def test_local_failed_copy_keeps_previous_video_and_cleans_temp(tmp_path, media, monkeypatch):
    storage = LocalStorage(tmp_path)
    storage.publish("k", media["red"], media["poster_blue"], content_hash="h1", metadata={})
    entry = storage.read_entry("k")

    def disk_full(source, destination):
        destination.write(source.read(100))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local_module, "_copy_chunks", disk_full)
    with pytest.raises(TransientError) as info:
        storage.publish("k", media["green"], media["poster_white"], content_hash="h2", metadata={})
    assert "No space left" in str(info.value) and info.value.product_id == "k"
    assert storage.live_video("k").read_bytes() == media["red"].read_bytes()
    assert storage.read_entry("k") == entry
    assert sorted(p.name for p in (tmp_path / "videos" / "k").iterdir()) == [f"{entry['content_hash']}.jpg", f"{entry['content_hash']}.mp4"]


def test_local_removes_temp_files_of_dead_writers_only(tmp_path, media):
    storage = LocalStorage(tmp_path)
    folder = storage.videos_dir / "k"
    folder.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = folder / f".x.mp4.{dead.pid}.abc.tmp"
    live = folder / f".x.mp4.{os.getppid()}.def.tmp"
    stale.write_bytes(b"partial")
    live.write_bytes(b"partial")

    storage.publish("k", media["red"], media["poster_blue"], content_hash="h", metadata={})

    assert not stale.exists()
    assert live.exists()  # its writer is alive: it may still rename it


def test_local_concurrent_publishes_keep_every_manifest_entry(tmp_path, media):
    storage = LocalStorage(tmp_path)
    keys = [f"p{i}" for i in range(12)]
    errors = []

    def work(key):
        try:
            storage.publish(key, media["red"], media["poster_blue"], content_hash=f"h-{key}", metadata={})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(storage.manifest()["videos"]) == sorted(keys)
    (tmp_path / "manifest.json").unlink()
    assert sorted(storage.rebuild_manifest()["videos"]) == sorted(keys)


def test_local_an_older_run_neither_replaces_nor_deletes_a_newer_video(tmp_path, media):
    storage = LocalStorage(tmp_path)
    newer = storage.publish("k", media["green"], media["poster_white"], generation=Generation("run-b", 2000.0))
    entry = storage.read_entry("k")
    with pytest.raises(Superseded) as info:
        storage.publish("k", media["red"], media["poster_blue"], generation=Generation("run-a", 1000.0))
    assert "run-b" in str(info.value) and info.value.field == "run"
    assert storage.read_entry("k") == entry and storage.live_video("k").read_bytes() == media["green"].read_bytes()
    assert sorted(p.name for p in (tmp_path / "videos" / "k").iterdir()) == sorted(
        [f"{newer.content_hash}.mp4", f"{newer.content_hash}.jpg"])  # nothing of the older run was even written
    # The same run again (a retry) and a newer run go through.
    storage.publish("k", media["green"], media["poster_white"], generation=Generation("run-b", 2000.0))
    storage.publish("k", media["red"], media["poster_blue"], generation=Generation("run-c", 3000.0))
    assert storage.live_video("k").read_bytes() == media["red"].read_bytes()


def test_local_discard_leaves_what_the_entry_points_at(tmp_path, media):
    storage = LocalStorage(tmp_path)
    live = storage.publish("k", media["red"], media["poster_blue"])
    storage.discard(live.storage_path)
    assert storage.live_video("k").exists()
    storage.discard("../../etc/passwd")  # never outside the videos folder
    storage.discard("videos/k.json")


# ---------------------------------------------------------------- publish_video ordering


class FakeRecords:
    def __init__(self, previous=None, fail_record=False):
        self.current = previous
        self.fail_record = fail_record
        self.events = []

    def get_video(self, key):
        return self.current

    def record_video(self, key, product_id, published, *, generation=None, **kw):
        self.events.append(("record", published.storage_path))
        if self.fail_record:
            raise TransientError("db down", product_id=product_id)
        self.current = Previous(published.storage_path, generation.run_id, generation.iso())


class FakeStorage:
    name = "supabase"

    def __init__(self, events):
        self.events = events

    def publish(self, key, video_path, poster_path, *, content_hash, metadata, generation):
        self.events.append(("upload", content_hash))
        return PublishedVideo(key, "url", "purl", "supabase", 10, content_hash, f"prof/{key}/{content_hash}.mp4")

    def discard(self, storage_path, *, keep=""):
        self.events.append(("discard", storage_path))


class Previous:
    storage = "supabase"

    def __init__(self, storage_path="prof/k/old.mp4", run_id=None, run_started_at=None):
        self.storage_path, self.run_id, self.run_started_at = storage_path, run_id, run_started_at


def test_publish_video_uploads_then_records_then_discards_old_object(tmp_path):
    records = FakeRecords(previous=Previous())
    storage = FakeStorage(records.events)
    publish_video(storage, records, key="k", product_id="P", video_path=tmp_path / "v", poster_path=tmp_path / "p", content_hash="new")
    assert records.events == [("upload", "new"), ("record", "prof/k/new.mp4"), ("discard", "prof/k/old.mp4")]


def test_publish_video_keeps_old_object_when_recording_fails(tmp_path):
    records = FakeRecords(previous=Previous(), fail_record=True)
    storage = FakeStorage(records.events)
    with pytest.raises(TransientError):
        publish_video(storage, records, key="k", product_id="P", video_path=tmp_path / "v", poster_path=tmp_path / "p", content_hash="new")
    assert ("discard", "prof/k/old.mp4") not in records.events


def test_publish_video_refuses_an_older_run_before_uploading_anything(tmp_path):
    records = FakeRecords(previous=Previous("prof/k/newer.mp4", "run-b", "2026-11-30T10:00:00+00:00"))
    storage = FakeStorage(records.events)
    with pytest.raises(Superseded):
        publish_video(storage, records, key="k", product_id="P", video_path=tmp_path / "v", poster_path=tmp_path / "p",
                      generation=Generation("run-a", 1.0))
    assert records.events == []

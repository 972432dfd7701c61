"""LocalStorage (atomic layout + manifest), retry classification, and publish ordering."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from storage3.exceptions import StorageApiError

from batch_video import publish
from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.hashing import file_sha256
from batch_video.models import PublishedVideo
from batch_video.publish import LocalStorage, call_with_retries, publish_video, translate_service_error


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


def test_local_publish_writes_layout_manifest_and_returns_paths(tmp_path, media):
    storage = LocalStorage(tmp_path / "output")

    published = storage.publish("mouse-m1", media["red"], media["poster_blue"], content_hash="abc123", metadata={"run_id": "r1"})

    video = tmp_path / "output" / "videos" / "mouse-m1.mp4"
    poster = tmp_path / "output" / "videos" / "mouse-m1.jpg"
    assert video.read_bytes() == media["red"].read_bytes()
    assert poster.read_bytes() == media["poster_blue"].read_bytes()
    assert published == PublishedVideo(
        partition_key="mouse-m1",
        location=str(video.resolve()),
        poster_location=str(poster.resolve()),
        storage="local",
        size_bytes=media["red"].stat().st_size,
        content_hash="abc123",
        storage_path="videos/mouse-m1.mp4",
    )
    manifest = json.loads((tmp_path / "output" / "manifest.json").read_text())
    entry = manifest["videos"]["mouse-m1"]
    assert entry["content_hash"] == "abc123"
    assert entry["video"] == "videos/mouse-m1.mp4" and entry["poster"] == "videos/mouse-m1.jpg"
    assert entry["metadata"] == {"run_id": "r1"}
    assert storage.read_entry("mouse-m1") == entry
    # no temp files are left behind
    assert [p.name for p in (tmp_path / "output" / "videos").iterdir() if p.name.startswith(".")] == []


def test_local_republish_replaces_content_and_same_content_is_a_no_op(tmp_path, media):
    storage = LocalStorage(tmp_path)
    storage.publish("k1", media["red"], media["poster_blue"], content_hash="h1", metadata={})
    video = storage.video_path("k1")

    storage.publish("k1", media["green"], media["poster_white"], content_hash="h2", metadata={})
    assert video.read_bytes() == media["green"].read_bytes()
    assert storage.poster_path("k1").read_bytes() == media["poster_white"].read_bytes()
    assert storage.read_entry("k1")["content_hash"] == "h2"

    inode_before = video.stat().st_ino
    again = storage.publish("k1", media["green"], media["poster_white"], content_hash="h2", metadata={})
    assert video.stat().st_ino == inode_before  # not rewritten
    assert again.content_hash == "h2"
    assert sorted(p.name for p in storage.videos_dir.iterdir()) == ["k1.jpg", "k1.json", "k1.mp4"]


def test_local_empty_content_hash_uses_file_digest(tmp_path, media):
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
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"<html>not a video</html>")

    with pytest.raises(ProductDataError) as info:
        storage.publish("k", broken, media["poster_blue"], content_hash="h2", metadata={})

    assert info.value.product_id == "k" and info.value.field == "video_path"
    assert "k" in str(info.value) and "video_path" in str(info.value)
    assert storage.video_path("k").read_bytes() == media["red"].read_bytes()
    assert storage.read_entry("k")["content_hash"] == "h1"


def test_local_rejects_missing_or_non_jpeg_poster(tmp_path, media):
    with pytest.raises(ProductDataError) as info:
        LocalStorage(tmp_path).publish("k", media["red"], tmp_path / "missing.jpg", content_hash="h", metadata={})
    assert info.value.field == "poster_path"
    with pytest.raises(ProductDataError):
        LocalStorage(tmp_path).publish("k", media["red"], media["red"], content_hash="h", metadata={})


def test_local_failed_copy_keeps_previous_video_and_cleans_temp(tmp_path, media, monkeypatch):
    storage = LocalStorage(tmp_path)
    storage.publish("k", media["red"], media["poster_blue"], content_hash="h1", metadata={})

    def disk_full(source, destination):
        destination.write(source.read(100))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish, "_copy_chunks", disk_full)
    with pytest.raises(TransientError) as info:
        storage.publish("k", media["green"], media["poster_white"], content_hash="h2", metadata={})
    assert "No space left" in str(info.value) and info.value.product_id == "k"
    assert storage.video_path("k").read_bytes() == media["red"].read_bytes()
    assert storage.read_entry("k")["content_hash"] == "h1"
    assert sorted(p.name for p in storage.videos_dir.iterdir()) == ["k.jpg", "k.json", "k.mp4"]


def test_local_removes_temp_files_of_dead_writers_only(tmp_path, media):
    storage = LocalStorage(tmp_path)
    storage.videos_dir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = storage.videos_dir / f".k.mp4.pid{dead.pid}.abc.tmp"
    live = storage.videos_dir / f".k.mp4.pid{os.getppid()}.def.tmp"
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


# ---------------------------------------------------------------- retries and error mapping


def FakeStorageApiError(status, code, message):
    """What storage3 raises for an error response (statusCode, error, message)."""
    return StorageApiError(message, code, status)


def test_retries_transient_failures_with_exponential_backoff():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise FakeStorageApiError("503", "ServiceUnavailable", "try later")
        return "ok"

    assert call_with_retries(flaky, what="upload", product_id="P1", attempts=4, backoff_s=0.5, sleep=sleeps.append) == "ok"
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]


def test_gives_up_after_last_attempt_with_transient_error_naming_product():
    sleeps = []

    def down():
        raise httpx.ConnectError("connection refused")

    with pytest.raises(TransientError) as info:
        call_with_retries(down, what="uploading video", product_id="P9", attempts=3, backoff_s=0.1, sleep=sleeps.append)
    assert len(sleeps) == 2
    assert info.value.product_id == "P9" and "uploading video failed" in str(info.value)


def test_client_errors_are_not_retried():
    sleeps = []

    def too_big():
        raise FakeStorageApiError("413", "Payload too large", "The object exceeded the maximum allowed size")

    with pytest.raises(ProductDataError) as info:
        call_with_retries(too_big, what="uploading video", product_id="P2", field="video_path", sleep=sleeps.append)
    assert sleeps == []
    assert "product P2" in str(info.value) and "HTTP 413" in str(info.value) and "maximum allowed size" in str(info.value)


@pytest.mark.parametrize(
    "error, expected",
    [
        (FakeStorageApiError("401", "Unauthorized", "Invalid JWT"), ConfigError),
        (FakeStorageApiError("404", "Bucket not found", "Bucket not found"), ConfigError),
        (FakeStorageApiError(429, "TooManyRequests", "slow down"), TransientError),
        (FakeStorageApiError("409", "Duplicate", "The resource already exists"), ProductDataError),
        (httpx.ReadTimeout("timed out"), TransientError),
    ],
)
def test_error_mapping(error, expected):
    assert type(translate_service_error(error, what="x", product_id="P")) is expected


def test_unexpected_exceptions_are_neither_retried_nor_reworded():
    sleeps = []

    def bug():
        raise KeyError("Key")

    with pytest.raises(KeyError):
        call_with_retries(bug, what="upload", product_id="P", sleep=sleeps.append)
    assert sleeps == []


# ---------------------------------------------------------------- publish_video ordering


class FakeRecords:
    def __init__(self, previous=None, fail_record=False):
        self.previous = previous
        self.fail_record = fail_record
        self.events = []

    def get_video(self, key):
        return self.previous

    def record_video(self, key, product_id, published, **kw):
        self.events.append(("record", published.storage_path))
        if self.fail_record:
            raise TransientError("db down", product_id=product_id)


class FakeStorage:
    name = "supabase"

    def __init__(self, events):
        self.events = events

    def publish(self, key, video_path, poster_path, *, content_hash, metadata):
        self.events.append(("upload", content_hash))
        return PublishedVideo(key, "url", "purl", "supabase", 10, content_hash, f"prof/{key}/{content_hash}.mp4")

    def discard(self, storage_path, *, keep=""):
        self.events.append(("discard", storage_path))


class Previous:
    storage = "supabase"
    storage_path = "prof/k/old.mp4"


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

"""Publishing to a local folder: content-addressed files, one entry per product as the commit point.

Layout under the output folder:

    manifest.json                  index of every product's entry (derived, rebuilt from the entries)
    videos/<key>.json              the product's entry: which video and poster are live (the commit point)
    videos/<key>/<hash>.mp4        a video, named after the sha256 of its bytes, never changed once written
    videos/<key>/<hash>.jpg        its poster

A publish writes the new files beside the old ones (each atomically), then
switches `<key>.json` in one rename under the product's lock, then updates the
manifest. Killed at any point, the folder shows the old video with its own
poster, or the new video with its own poster, never a mix. The replaced files
are removed only after the records point at the new video.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from batch_video import files
from batch_video.errors import TransientError
from batch_video.models import PublishedVideo
from batch_video.publish.common import (
    STAGE,
    Generation,
    Storage,
    check_poster_file,
    check_video_file,
    json_safe,
    superseded,
    utc_now,
)
from batch_video.publish.snapshot import Snapshot

logger = logging.getLogger(__name__)

_TEMP = re.compile(r"^\..+\.(\d+)\.[0-9a-f]+\.tmp$")


class LocalStorage(Storage):
    """Videos and posters in a folder the team reads, with `manifest.json` as the index."""

    name = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.videos_dir = self.root / "videos"
        self.manifest_path = self.root / "manifest.json"

    def __repr__(self) -> str:
        return f"LocalStorage(root={str(self.root)!r})"

    def entry_path(self, key: str) -> Path:
        return self.videos_dir / f"{key}.json"

    def read_entry(self, key: str) -> dict[str, Any] | None:
        """The entry of the live video for `key`, if any."""
        try:
            return json.loads(self.entry_path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def live_video(self, key: str) -> Path | None:
        entry = self.read_entry(key)
        return self.root / entry["video"] if entry else None

    def publish_snapshot(
        self, key: str, snap: Snapshot, *, render_hash: str, metadata: Mapping[str, Any], generation: Generation
    ) -> PublishedVideo:
        folder = self.videos_dir / key
        video_rel = f"videos/{key}/{snap.content_hash}.mp4"
        poster_rel = f"videos/{key}/{snap.content_hash}.jpg"
        try:
            self._remove_stale_temp_files(folder)
            with self._product_lock(key):
                current = self.read_entry(key)
                if current and generation.is_older_than(current.get("run_id"), current.get("run_started_at")):
                    raise superseded(key, current.get("run_id"), current.get("run_started_at"))
                # Content files first (each complete or absent), then the entry that makes them live.
                for handle, size, relative, check in ((snap.video, snap.video_size, video_rel, check_video_file),
                                                      (snap.poster, snap.poster_size, poster_rel, check_poster_file)):
                    target = self.root / relative
                    if _size_or_none(target) != size:
                        with files.atomic_open(target) as out:
                            _copy_chunks(snap.rewound(handle), out)
                            os.fchmod(out.fileno(), 0o644)
                        if _size_or_none(target) != size:
                            raise TransientError(f"the copy of {relative} is incomplete", product_id=key, stage=STAGE)
                        check(target, key)
                entry = {
                    "partition_key": key,
                    "content_hash": snap.content_hash,
                    "render_hash": render_hash,
                    "size_bytes": snap.video_size,
                    "video": video_rel,
                    "poster": poster_rel,
                    "published_at": utc_now(),
                    "run_id": generation.run_id or None,
                    "run_started_at": generation.iso(),
                    "metadata": json_safe(metadata),
                }
                if not (current and _same_content(current, entry) and current.get("run_id") == entry["run_id"]):
                    files.write_json(self.entry_path(key), entry, indent=2, sort_keys=True)
                    self._update_manifest(key, entry)
                else:
                    entry = current
        except OSError as exc:
            # A full disk or a vanished mount: the live entry and its files are intact.
            raise TransientError(f"could not write the published video: {exc.strerror}", product_id=key, stage=STAGE) from exc
        logger.info("product %s: published %s (%d bytes)", key, video_rel, snap.video_size)
        return PublishedVideo(
            partition_key=key,
            location=str((self.root / entry["video"]).resolve()),
            poster_location=str((self.root / entry["poster"]).resolve()),
            storage=self.name,
            size_bytes=int(entry["size_bytes"]),
            content_hash=entry["content_hash"],
            storage_path=entry["video"],
        )

    def discard(self, storage_path: str, *, keep: str = "") -> None:
        """Remove a replaced video and its poster, unless the product's entry points at them again."""
        if not storage_path or storage_path == keep:
            return
        video = (self.root / storage_path).resolve()
        if not video.is_relative_to(self.videos_dir.resolve()) or video.suffix != ".mp4":
            logger.warning("not discarding %s: not a video of this folder", storage_path)
            return
        key = video.parent.name if video.parent != self.videos_dir.resolve() else video.stem
        with self._product_lock(key):
            live = self.read_entry(key) or {}
            if live.get("video") == storage_path:
                return  # live again (a newer run published the same content)
            for path in (video, video.with_suffix(".jpg")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"videos": {}}

    def rebuild_manifest(self) -> dict[str, Any]:
        """Recreate `manifest.json` from the per-product entries (the source of truth)."""
        with self._manifest_lock():
            videos = {}
            for entry_file in sorted(self.videos_dir.glob("*.json")):
                with contextlib.suppress(ValueError, OSError, KeyError):
                    entry = json.loads(entry_file.read_text(encoding="utf-8"))
                    videos[entry["partition_key"]] = entry
            manifest = {"updated_at": utc_now(), "videos": videos}
            files.write_json(self.manifest_path, manifest, indent=2, sort_keys=True)
            return manifest

    @contextlib.contextmanager
    def _lock(self, path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _product_lock(self, key: str):
        """One publisher of a product at a time (runs on this machine or sharing this folder)."""
        return self._lock(self.videos_dir / f".{key}.lock")

    def _manifest_lock(self):
        return self._lock(self.root / ".manifest.lock")

    def _update_manifest(self, key: str, entry: dict[str, Any]) -> None:
        # Several runs may publish at once: read-modify-write under an exclusive lock.
        with self._manifest_lock():
            manifest = self.manifest()
            manifest.setdefault("videos", {})[key] = entry
            manifest["updated_at"] = utc_now()
            files.write_json(self.manifest_path, manifest, indent=2, sort_keys=True)

    def _remove_stale_temp_files(self, folder: Path) -> None:
        """Temp files left in the product's folder by a killed publish (their writer is gone)."""
        if not folder.is_dir():
            return
        for temp in folder.iterdir():
            match = _TEMP.match(temp.name)
            if match and not _process_alive(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
                    logger.info("removed leftover temp file %s", temp.name)


def _copy_chunks(source, destination) -> None:
    """Stream copy; a separate function so a test can slow it down and kill the process mid-copy."""
    shutil.copyfileobj(source, destination, files.COPY_CHUNK_BYTES)


def _same_content(current: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    return all(current.get(k) == entry[k] for k in ("content_hash", "size_bytes", "video", "poster"))


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""Taking a product's live video down while it cannot be sold, and putting it back (see `batch_video.stock`).

Storage first, then the records: a withdrawal moves the video and its poster
out of the public place, then marks the row `unpublished` and logs the event;
a return moves them back, then marks the row `published` again and logs that.
Both storage steps are idempotent, so a sync that stopped between the two
steps finishes the job the next time. Nothing is deleted: a withdrawn video
waits aside until it returns, or until a newer render of the product is live.

Where a withdrawn video waits:

- local folder: `<output>/withdrawn/<key>/` holds the product's entry
  (`entry.json`), its video and its poster; `videos/<key>.json` and the
  manifest no longer list it, so the team's folder and apps do not show it;
- Supabase Storage: the objects move from `…/<profile>/<key>/…` to
  `…/<profile>/withdrawn/<key>/…`, so links to the live path stop working.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_video import files
from batch_video.errors import BatchVideoError, ConfigError, TransientError

if TYPE_CHECKING:
    from batch_video.records import Records

logger = logging.getLogger(__name__)

STAGE = "publish"
WITHDRAWN_DIR = "withdrawn"


def withdraw_video(storage: Any, records: "Records", key: str, *, reason: str) -> bool:
    """Unpublish the product's live video (kept aside); False when it has none in this storage."""
    record = records.get_video(key)
    if record is None or not record.storage_path or record.storage != storage.name:
        return False
    _backend(storage).withdraw(key, record.storage_path)
    records.record_unpublished(key, reason)
    return True


def restore_video(storage: Any, records: "Records", key: str, *, reason: str) -> bool:
    """Publish the product's withdrawn video again; False when none waits aside."""
    record = records.get_video(key)
    if record is None or not record.storage_path or record.unpublished_at is None or record.storage != storage.name:
        return False
    _backend(storage).restore(key, record.storage_path)
    records.record_republished(key, reason)
    return True


def drop_withdrawn(storage: Any, key: str, *, live_path: str = "") -> None:
    """Forget a withdrawn copy once a newer render of the product (at `live_path`) is live; a publish calls it.

    Never fails that publish: a copy left aside only costs space, so a failure is logged and the publish stands.
    """
    try:
        if storage.name == "local":
            LocalShelf(storage).drop(key)
        elif storage.name == "supabase":
            SupabaseShelf(storage).drop(key, live_path)
    except BatchVideoError as err:
        logger.warning("product %s: a newer video is live, but its withdrawn copy could not be removed: %s", key, err)


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _backend(storage: Any) -> "LocalShelf | SupabaseShelf":
    if storage.name == "local":
        return LocalShelf(storage)
    if storage.name == "supabase":
        return SupabaseShelf(storage)
    raise ConfigError(f"storage {storage.name!r} cannot take videos down", field="storage", stage=STAGE)


class LocalShelf:
    """Withdrawn videos of a `LocalStorage`, in `<root>/withdrawn/<key>/`."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.root = Path(storage.root)

    def aside(self, key: str) -> Path:
        return self.root / WITHDRAWN_DIR / key

    def withdraw(self, key: str, storage_path: str) -> None:
        """The entry leaves first (not live in one step), then the files; a withdrawal cut short is finished next time."""
        aside = self.aside(key)
        try:
            with self.storage._manifest_lock():
                entry = self.storage.read_entry(key)
                if entry is not None:
                    if entry.get("video") != storage_path:
                        return  # a newer render is live: not the video the records asked to take down
                    files.write_json(aside / "entry.json", entry, indent=2, sort_keys=True)
                    self.storage.entry_path(key).unlink()
                    self._set_manifest(key, None)
                kept = _read_json(aside / "entry.json")
                if kept is None:
                    return  # nothing live and nothing aside: gone already
                for relative in (kept["video"], kept["poster"]):
                    _move(self.root / relative, aside / Path(relative).name)
        except OSError as exc:
            raise TransientError(f"could not take the video down: {exc.strerror}", product_id=key, stage=STAGE) from exc
        logger.info("product %s: video %s taken down", key, storage_path)

    def restore(self, key: str, storage_path: str) -> None:
        """The files first, then the entry (live again in one step)."""
        aside = self.aside(key)
        try:
            with self.storage._manifest_lock():
                kept = _read_json(aside / "entry.json")
                if kept is None or self.storage.read_entry(key) is not None:
                    return  # nothing aside, or a newer render is live already
                for relative in (kept["video"], kept["poster"]):
                    _move(aside / Path(relative).name, self.root / relative)
                files.write_json(self.storage.entry_path(key), kept, indent=2, sort_keys=True)
                self._set_manifest(key, kept)
                shutil.rmtree(aside, ignore_errors=True)
        except OSError as exc:
            raise TransientError(f"could not put the video back: {exc.strerror}", product_id=key, stage=STAGE) from exc
        logger.info("product %s: video %s published again", key, storage_path)

    def drop(self, key: str) -> None:
        aside = self.aside(key)
        if aside.is_dir() and self.storage.read_entry(key) is not None:
            shutil.rmtree(aside, ignore_errors=True)
            logger.info("product %s: a newer video is live, the withdrawn one is removed", key)

    def _set_manifest(self, key: str, entry: dict[str, Any] | None) -> None:
        # Called under the manifest lock: read-modify-write like every publish.
        manifest = self.storage.manifest()
        videos = manifest.setdefault("videos", {})
        if entry is None:
            videos.pop(key, None)
        else:
            videos[key] = entry
        files.write_json(self.storage.manifest_path, manifest, indent=2, sort_keys=True)


class SupabaseShelf:
    """Withdrawn objects of a `SupabaseStorage`, under `[<prefix>/]<profile>/withdrawn/<key>/`."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.own = "/".join(p for p in (storage.prefix, storage.profile_id) if p) + "/"

    def aside(self, live_path: str) -> str:
        if not live_path.startswith(self.own) or live_path.startswith(self.own + WITHDRAWN_DIR + "/"):
            raise ConfigError(f"{live_path} is not a live object of this profile", field="storage_path", stage=STAGE)
        return self.own + WITHDRAWN_DIR + "/" + live_path[len(self.own):]

    def withdraw(self, key: str, storage_path: str) -> None:
        for live in _with_poster(storage_path):
            self._move(live, self.aside(live), key)

    def restore(self, key: str, storage_path: str) -> None:
        for live in _with_poster(storage_path):
            self._move(self.aside(live), live, key)

    def drop(self, key: str, live_path: str) -> None:
        """Delete the product's withdrawn objects, except the live video's own (a sync may have just taken it down)."""
        folder = self.own + WITHDRAWN_DIR + "/" + key
        keep = {self.aside(path) for path in _with_poster(live_path)} if live_path else set()
        bucket = self.storage._bucket
        listed = self.storage._retry(lambda: bucket().list(folder, {"limit": 1000}), f"listing {folder}", key)
        # Entries without an id are folders, not objects; a name that is not one plain path segment (a listing
        # answering `../other/…`) would point outside the folder, so it is never removed.
        stale = [f"{folder}/{entry['name']}" for entry in listed
                 if entry.get("id") is not None and _plain_name(str(entry.get("name", "")))]
        stale = [path for path in stale if path not in keep]
        if stale:
            self.storage._retry(lambda: bucket().remove(stale), f"removing withdrawn objects {stale}", key)
            logger.info("product %s: a newer video is live, the withdrawn one is removed (%s)", key, ", ".join(stale))

    def _move(self, source: str, target: str, key: str) -> None:
        if self.storage.remote_info(source, key) is None:
            if self.storage.remote_info(target, key) is not None:
                return  # moved already (a sync cut short between storage and records)
            raise BatchVideoError(f"neither {source} nor {target} is in the bucket", product_id=key, stage=STAGE)
        self.storage._retry(lambda: self.storage._bucket().move(source, target), f"moving {source} to {target}", key)


def _with_poster(storage_path: str) -> list[str]:
    return [storage_path, storage_path[: -len(".mp4")] + ".jpg"] if storage_path.endswith(".mp4") else [storage_path]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _move(source: Path, target: Path) -> None:
    if not source.exists():
        return  # moved already
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    with contextlib.suppress(OSError):
        files.fsync_dir(target.parent)

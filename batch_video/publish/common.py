"""What every storage backend shares: the Storage base (its publish), input checks, and who may replace what.

Ordering between runs of one product: every publish carries the start time of
the run that made the video (`Generation`). A publish whose generation is older
than the one already live is refused, so an older run that finishes late can
neither replace a newer video nor delete it. Equal generations are the same run
(a retry) and go through.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from batch_video.errors import ProductDataError, TransientError
from batch_video.feed.keys import check_safe_key
from batch_video.hashing import file_sha256
from batch_video.models import PublishedVideo
from batch_video.publish.snapshot import Snapshot

STAGE = "publish"
VIDEO_CONTENT_TYPE = "video/mp4"
POSTER_CONTENT_TYPE = "image/jpeg"


class Superseded(ProductDataError):
    """A newer run already published this product: this older run's video is not published, nothing is deleted."""


@dataclass(frozen=True)
class Generation:
    """Which run made a video, and when that run started (the order between runs of one product)."""

    run_id: str = ""
    started_at: float = 0.0  # seconds since the epoch; 0 = unknown (treated as the oldest)

    @classmethod
    def now(cls, run_id: str = "") -> "Generation":
        return cls(run_id=run_id, started_at=time.time())

    def iso(self) -> str | None:
        if not self.started_at:
            return None
        return datetime.fromtimestamp(self.started_at, timezone.utc).isoformat(timespec="microseconds")

    def is_older_than(self, other_run_id: str | None, other_started_at: float | str | None) -> bool:
        """True when a video of (`other_run_id`, `other_started_at`) is live and newer than ours."""
        other = _seconds(other_started_at)
        if other is None or (other_run_id and other_run_id == self.run_id):
            return False
        return self.started_at < other


def _seconds(value: float | str | None) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def superseded(key: str, live_run_id: str | None, live_started_at: Any) -> Superseded:
    return Superseded(
        f"not published: run {live_run_id or '?'} (started {live_started_at}) already published a newer video of this product",
        product_id=key, field="run", stage=STAGE,
    )


class Storage:
    """Where finished videos go. `publish` returns only once the video is live; every backend shares it (the inputs
    checked, the video and poster read once, a `Snapshot`: the bytes hashed are the bytes sent), then its own
    `publish_snapshot` makes them live and says where. `discard` removes an older published object that the records
    no longer point at."""

    name: str

    def publish(
        self,
        key: str,
        video_path: Path,
        poster_path: Path,
        *,
        content_hash: str = "",
        metadata: Mapping[str, Any] | None = None,
        generation: Generation = Generation(),
    ) -> PublishedVideo:
        key, video_path, poster_path, _, _, render_hash = checked_inputs(key, video_path, poster_path, content_hash)
        with contextlib.ExitStack() as stack:
            try:
                snap = stack.enter_context(Snapshot.of(video_path, poster_path))
            except OSError as exc:  # readable a moment ago: a vanished mount, say
                raise TransientError(f"could not read the rendered video: {exc.strerror}", product_id=key, stage=STAGE) from exc
            return self.publish_snapshot(key, snap, render_hash=render_hash, metadata=metadata or {}, generation=generation)

    def publish_snapshot(
        self, key: str, snap: Snapshot, *, render_hash: str, metadata: Mapping[str, Any], generation: Generation
    ) -> PublishedVideo:
        raise NotImplementedError

    def discard(self, storage_path: str, *, keep: str = "") -> None:
        raise NotImplementedError


def check_partition_key(key: str) -> str:
    """A key becomes a file name and an object path segment: refuse anything else."""
    return check_safe_key(key, stage=STAGE)


def resolve_content_hash(content_hash: str, video_path: Path, key: str) -> str:
    """The caller's hash (usually the render's data version) or, if empty, the file's sha256."""
    if not content_hash:
        return file_sha256(video_path)[:32]
    try:
        return check_safe_key(content_hash, stage=STAGE, field="content_hash")
    except ProductDataError:
        raise ProductDataError(
            f"content hash {content_hash!r} is not a safe path component", product_id=key, field="content_hash", stage=STAGE
        ) from None


def _check_file(path: Path, key: str, *, field: str, kind: str, head_bytes: int, looks_right: Callable[[bytes], bool]) -> int:
    """Size of a readable file whose first bytes match its format; raises naming the product otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(head_bytes)
    except OSError as exc:
        raise ProductDataError(f"{kind} file {path.name} is not readable: {exc.strerror}", product_id=key, field=field,
                               stage=STAGE) from None
    if not looks_right(head):
        raise ProductDataError(f"{path.name} is not a {kind} file (size {size} bytes)", product_id=key, field=field, stage=STAGE)
    return size


def check_video_file(path: Path, key: str) -> int:
    """Size of a plausible MP4 (an `ftyp` box up front)."""
    return _check_file(path, key, field="video_path", kind="MP4", head_bytes=12, looks_right=lambda head: head[4:8] == b"ftyp")


def check_poster_file(path: Path, key: str) -> int:
    """Size of a plausible JPEG (its SOI marker up front)."""
    return _check_file(path, key, field="poster_path", kind="JPEG", head_bytes=3, looks_right=lambda head: head == b"\xff\xd8\xff")


def checked_inputs(key: str, video_path: Path, poster_path: Path, content_hash: str) -> tuple[str, Path, Path, int, int, str]:
    """What every backend checks before publishing: (key, video, poster, video size, poster size, content hash)."""
    key = check_partition_key(key)
    video_path, poster_path = Path(video_path), Path(poster_path)
    size = check_video_file(video_path, key)
    poster_size = check_poster_file(poster_path, key)
    return key, video_path, poster_path, size, poster_size, resolve_content_hash(content_hash, video_path, key)


def json_safe(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(metadata), default=str))


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""Publishing one product end to end: upload, then commit the record, then clean up."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_video.models import PublishedVideo
from batch_video.publish.common import Generation, Storage, superseded

if TYPE_CHECKING:
    from batch_video.records import Records

logger = logging.getLogger(__name__)


def publish_video(
    storage: Storage,
    records: "Records",
    *,
    key: str,
    product_id: str,
    video_path: Path,
    poster_path: Path,
    content_hash: str = "",
    metadata: Mapping[str, Any] | None = None,
    generation: Generation | None = None,
    **record_details: Any,
) -> PublishedVideo:
    """Upload, then record, then clean up: in this order so a crash never loses the live video.

    The records row is the commit point: until `record_video` returns, the
    previous row (and the object it points at) stays live. `generation` orders
    runs of one product: a run older than the one whose video is live publishes
    nothing and deletes nothing (`Superseded`); the records refuse the older row
    too, so this holds even when two runs race past the first check.
    `record_details` are `record_video`'s keywords (duration_s, settings_hash,
    provider, run_id, backfill_id, feed).
    """
    generation = generation or Generation.now(str(record_details.get("run_id") or ""))
    previous = records.get_video(key)
    if previous is not None and generation.is_older_than(previous.run_id, previous.run_started_at):
        raise superseded(key, previous.run_id, previous.run_started_at)
    published = storage.publish(key, Path(video_path), Path(poster_path), content_hash=content_hash,
                                metadata=metadata or {}, generation=generation)
    records.record_video(key, product_id, published, generation=generation, **record_details)
    if previous is not None and previous.storage == storage.name and previous.storage_path:
        if previous.storage_path != published.storage_path:
            # Only once the row points at the new video; never what the row points at now.
            live = records.get_video(key)
            if live is None or live.storage_path != previous.storage_path:
                storage.discard(previous.storage_path, keep=published.storage_path)
    return published

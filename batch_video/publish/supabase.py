"""Publishing to Supabase Storage: one object per content, the records row as the commit point.

Objects live at `[<prefix>/]<profile_id>/<key>/<sha256 of the video>.mp4` (and
`.jpg` for its poster): a new render never overwrites the live object, and an
object never changes once written. The `product_videos` row switches to the new
path only after the upload is verified (`publish_video`), and the replaced
objects are removed after that.

The bucket is private by default: the row stores a signed URL (valid
`signed_url_expiry_s`) and the object path, from which apps sign again. A
public bucket is an explicit choice (`public_urls=True`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, TypeVar

from batch_video.errors import BatchVideoError, ConfigError, TransientError
from batch_video.models import PublishedVideo
from batch_video.publish.common import (
    POSTER_CONTENT_TYPE,
    STAGE,
    VIDEO_CONTENT_TYPE,
    Generation,
    Storage,
    json_safe,
)
from batch_video.publish.snapshot import Snapshot
from batch_video.service_errors import call_with_retries, status_of

logger = logging.getLogger(__name__)

# Object paths are content-addressed, so an object never changes once written.
IMMUTABLE_CACHE_SECONDS = "31536000"
# A week: long enough for a team to use a link the day it was made; apps re-sign from storage_path.
DEFAULT_SIGNED_URL_EXPIRY_S = 7 * 24 * 3600
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

T = TypeVar("T")


class SupabaseStorage(Storage):
    """Uploads to a Supabase Storage bucket at `[<prefix>/]<profile_id>/<key>/<sha256>.mp4`.

    Each content gets its own object, so a new render never overwrites the
    live one: the records switch to the new path only after the upload is
    verified, and the old object is discarded afterwards. Re-publishing the
    same content finds the object already there and uploads nothing.
    """

    name = "supabase"

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        profile_id: str,
        prefix: str = "",
        signed_url_expiry_s: int = DEFAULT_SIGNED_URL_EXPIRY_S,
        public_urls: bool = False,
        attempts: int = 4,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not bucket:
            raise ConfigError("a Supabase Storage bucket name is required", field="SUPABASE_BUCKET", stage=STAGE)
        if not profile_id or not _SAFE_COMPONENT.match(profile_id):
            raise ConfigError(f"profile id {profile_id!r} is missing or not a valid path segment", field="BATCH_VIDEO_PROFILE_ID", stage=STAGE)
        self.client = client
        self.bucket = bucket
        self.profile_id = profile_id
        self.prefix = prefix.strip("/")
        self.signed_url_expiry_s = int(signed_url_expiry_s)
        self.public_urls = bool(public_urls)
        if not self.public_urls and self.signed_url_expiry_s <= 0:
            raise ConfigError("a private bucket needs signed URLs: set SUPABASE_SIGNED_URL_EXPIRY_S to a number of seconds,"
                              " or SUPABASE_PUBLIC_URLS=true for a public bucket", field="SUPABASE_SIGNED_URL_EXPIRY_S", stage=STAGE)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"SupabaseStorage(bucket={self.bucket!r}, prefix={self.prefix!r}, profile_id={self.profile_id!r})"

    def object_path(self, key: str, content_hash: str, extension: str) -> str:
        parts = [self.prefix, self.profile_id, key, f"{content_hash}.{extension}"]
        return "/".join(part for part in parts if part)

    def _bucket(self):
        return self.client.storage.from_(self.bucket)

    def _retry(self, operation: Callable[[], T], what: str, key: str, field: str | None = None) -> T:
        return call_with_retries(
            operation, what=what, stage=STAGE, product_id=key, field=field, attempts=self.attempts, backoff_s=self.backoff_s,
            sleep=self.sleep,
        )

    def remote_info(self, path: str, key: str) -> dict[str, Any] | None:
        """Storage's info for an object (size, content_type, etag...), or None when it does not exist."""

        def info() -> dict[str, Any] | None:
            try:
                return self._bucket().info(path)
            except Exception as exc:
                if status_of(exc) == 404 and "bucket" not in str(getattr(exc, "message", "")).lower():
                    return None
                raise

        return self._retry(info, f"looking up storage object {path}", key)

    def _is_complete(self, path: str, key: str, size: int, content_type: str) -> bool:
        found = self.remote_info(path, key)
        if found is None:
            return False
        remote_size = found.get("size", (found.get("metadata") or {}).get("size"))
        remote_type = found.get("content_type") or (found.get("metadata") or {}).get("mimetype")
        return remote_size is not None and int(remote_size) == size and (remote_type in (None, content_type))

    def _upload(self, path: str, source: BinaryIO, content_type: str, key: str, field: str, metadata: dict[str, Any]) -> None:
        def upload() -> None:
            source.seek(0)  # a retry sends the whole file again
            self._bucket().upload(
                path,
                source,
                file_options={
                    "content-type": content_type,
                    "cache-control": IMMUTABLE_CACHE_SECONDS,
                    "upsert": "true",
                    "metadata": metadata,
                },
            )

        self._retry(upload, f"uploading {field} to {self.bucket}/{path}", key, field)

    def url_for(self, path: str, key: str) -> str:
        if self.public_urls:
            return self._bucket().get_public_url(path)

        def sign() -> str:
            signed = self._bucket().create_signed_url(path, self.signed_url_expiry_s)
            url = signed.get("signedURL") or signed.get("signedUrl")
            if not url:
                raise TransientError(f"Storage returned no signed URL for {path}", product_id=key, stage=STAGE)
            return url

        return self._retry(sign, f"signing a URL for {path}", key)

    def publish_snapshot(
        self, key: str, snap: Snapshot, *, render_hash: str, metadata: Mapping[str, Any], generation: Generation
    ) -> PublishedVideo:
        object_metadata = {k: str(v) for k, v in json_safe({**metadata, "render_hash": render_hash}).items()}
        video_object = self.object_path(key, snap.content_hash, "mp4")
        poster_object = self.object_path(key, snap.content_hash, "jpg")
        if not self._is_complete(poster_object, key, snap.poster_size, POSTER_CONTENT_TYPE):
            self._upload(poster_object, snap.poster, POSTER_CONTENT_TYPE, key, "poster_path", object_metadata)
        if self._is_complete(video_object, key, snap.video_size, VIDEO_CONTENT_TYPE):
            logger.info("product %s: %s already in bucket %s, not uploading again", key, video_object, self.bucket)
        else:
            self._upload(video_object, snap.video, VIDEO_CONTENT_TYPE, key, "video_path", object_metadata)
            # Trust but verify: a proxy or a half-finished upload must not become the live video.
            uploaded = self.remote_info(video_object, key) or {}
            uploaded_size = uploaded.get("size", (uploaded.get("metadata") or {}).get("size"))
            uploaded_type = uploaded.get("content_type")
            if uploaded_size is None or int(uploaded_size) != snap.video_size or uploaded_type not in (None, VIDEO_CONTENT_TYPE):
                raise TransientError(
                    f"uploaded {video_object} is {uploaded_size} bytes of {uploaded_type or 'unknown type'},"
                    f" expected {snap.video_size} bytes of {VIDEO_CONTENT_TYPE}",
                    product_id=key, field="video_path", stage=STAGE,
                )
            logger.info("product %s: uploaded %s (%d bytes) to bucket %s", key, video_object, snap.video_size, self.bucket)
        return PublishedVideo(
            partition_key=key,
            location=self.url_for(video_object, key),
            poster_location=self.url_for(poster_object, key),
            storage=self.name,
            size_bytes=snap.video_size,
            content_hash=snap.content_hash,
            storage_path=video_object,
        )

    def discard(self, storage_path: str, *, keep: str = "") -> None:
        """Delete an older video (and its poster) once the records point at a new one."""
        if not storage_path or storage_path == keep:
            return
        own_prefix = "/".join(p for p in (self.prefix, self.profile_id) if p) + "/"
        if not storage_path.startswith(own_prefix):
            logger.warning("not discarding %s: outside this profile's folder", storage_path)
            return
        paths = [storage_path]
        if storage_path.endswith(".mp4"):
            paths.append(storage_path[: -len(".mp4")] + ".jpg")
        try:
            self._retry(lambda: self._bucket().remove(paths), f"removing old objects {paths}", None)
        except BatchVideoError as exc:
            # The new video is live already; a leftover object only costs space.
            logger.warning("could not remove old objects %s: %s", paths, exc)

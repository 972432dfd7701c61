"""Publishing a rendered video: a local folder (default) or Supabase Storage.

Both backends follow one rule: the previously published video stays in place,
untouched, until the new one is completely written and checked. Only then is
it swapped in (an atomic rename locally; a new content-addressed object plus a
records update on Supabase). A crash at any point before the swap leaves the
old video readable; publishing the same content twice changes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

from batch_video.errors import (
    BatchVideoError,
    ConfigError,
    ProductDataError,
    TransientError,
)
from batch_video.hashing import file_sha256
from batch_video.models import PublishedVideo

logger = logging.getLogger(__name__)

STAGE = "publish"
VIDEO_CONTENT_TYPE = "video/mp4"
POSTER_CONTENT_TYPE = "image/jpeg"
# Object paths are content-addressed, so an object never changes once written.
IMMUTABLE_CACHE_SECONDS = "31536000"
COPY_CHUNK_BYTES = 1 << 20

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RETRYABLE_STATUSES = {408, 425, 429}

T = TypeVar("T")


class Storage(Protocol):
    """Where finished videos go. `publish` returns only once the video is live."""

    name: str

    def publish(
        self,
        key: str,
        video_path: Path,
        poster_path: Path,
        *,
        content_hash: str,
        metadata: Mapping[str, Any],
    ) -> PublishedVideo: ...

    def discard(self, storage_path: str, *, keep: str = "") -> None:
        """Remove an older published object that the records no longer point at."""
        ...


# --------------------------------------------------------------------------
# shared checks


def check_partition_key(key: str) -> str:
    """A key becomes a file name and an object path segment: refuse anything else."""
    if not key or not _SAFE_COMPONENT.match(key) or ".." in key:
        raise ProductDataError(
            f"partition key {key!r} cannot be used as a file name", product_id=key, field="partition_key", stage=STAGE
        )
    return key


def resolve_content_hash(content_hash: str, video_path: Path, key: str) -> str:
    """The caller's hash (usually the render's data version) or, if empty, the file's sha256."""
    if not content_hash:
        return file_sha256(video_path)[:32]
    if not _SAFE_COMPONENT.match(content_hash):
        raise ProductDataError(
            f"content hash {content_hash!r} is not a safe path component", product_id=key, field="content_hash", stage=STAGE
        )
    return content_hash


def _check_file(path: Path, key: str, *, field: str, kind: str, head_bytes: int, looks_right: Callable[[bytes], bool]) -> int:
    """Size of a readable file whose first bytes match its format; raises naming the product otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(head_bytes)
    except OSError as exc:
        raise ProductDataError(f"{kind} file {path} is not readable: {exc}", product_id=key, field=field, stage=STAGE) from None
    if not looks_right(head):
        raise ProductDataError(f"{path} is not a {kind} file (size {size} bytes)", product_id=key, field=field, stage=STAGE)
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


def _json_safe(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(metadata), default=str))


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------
# local folder


class LocalStorage:
    """`<root>/videos/<key>.mp4`, `<root>/videos/<key>.jpg`, `<root>/videos/<key>.json`
    and an index `<root>/manifest.json`.

    Each file is written to a hidden temp file in the same folder, flushed to
    disk, checked, and then renamed over the old one, so readers only ever see
    a complete old or a complete new file. The per-key JSON is written last;
    it is the commit point that says which content is live.
    """

    name = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.videos_dir = self.root / "videos"
        self.manifest_path = self.root / "manifest.json"

    def __repr__(self) -> str:
        return f"LocalStorage(root={str(self.root)!r})"

    def video_path(self, key: str) -> Path:
        return self.videos_dir / f"{key}.mp4"

    def poster_path(self, key: str) -> Path:
        return self.videos_dir / f"{key}.jpg"

    def entry_path(self, key: str) -> Path:
        return self.videos_dir / f"{key}.json"

    def read_entry(self, key: str) -> dict[str, Any] | None:
        """The manifest entry of the live video for `key`, if any."""
        try:
            return json.loads(self.entry_path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def publish(
        self,
        key: str,
        video_path: Path,
        poster_path: Path,
        *,
        content_hash: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> PublishedVideo:
        key, video_path, poster_path, size, _, content_hash = checked_inputs(key, video_path, poster_path, content_hash)
        self.videos_dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files(key)

        target_video, target_poster = self.video_path(key), self.poster_path(key)
        existing = self.read_entry(key)
        if (
            existing
            and existing.get("content_hash") == content_hash
            and existing.get("size_bytes") == size
            and _size_or_none(target_video) == size
            and target_poster.exists()
        ):
            logger.info("product %s: content %s already published locally, nothing to do", key, content_hash)
            return self._published(key, content_hash, size)

        try:
            _atomic_copy(video_path, target_video, key=key, check=check_video_file)
            _atomic_copy(poster_path, target_poster, key=key, check=check_poster_file)
            entry = {
                "partition_key": key,
                "content_hash": content_hash,
                "size_bytes": size,
                "video": f"videos/{key}.mp4",
                "poster": f"videos/{key}.jpg",
                "published_at": _utc_now(),
                "metadata": _json_safe(metadata or {}),
            }
            _atomic_write_text(self.entry_path(key), json.dumps(entry, indent=2, ensure_ascii=False, sort_keys=True))
            self._update_manifest(key, entry)
        except OSError as exc:
            # A full disk or a vanished mount: the old files are still intact.
            raise TransientError(f"could not write the published video under {self.root}: {exc}", product_id=key, stage=STAGE) from exc
        logger.info("product %s: published %s (%d bytes)", key, target_video, size)
        return self._published(key, content_hash, size)

    def discard(self, storage_path: str, *, keep: str = "") -> None:
        # One fixed file per key: the rename already replaced the old video.
        return None

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"videos": {}}

    def rebuild_manifest(self) -> dict[str, Any]:
        """Recreate `manifest.json` from the per-key entries (the source of truth)."""
        with self._manifest_lock():
            videos = {}
            for entry_file in sorted(self.videos_dir.glob("*.json")):
                with contextlib.suppress(ValueError, OSError):
                    entry = json.loads(entry_file.read_text(encoding="utf-8"))
                    videos[entry["partition_key"]] = entry
            manifest = {"updated_at": _utc_now(), "videos": videos}
            _atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True))
            return manifest

    def _published(self, key: str, content_hash: str, size: int) -> PublishedVideo:
        return PublishedVideo(
            partition_key=key,
            location=str(self.video_path(key).resolve()),
            poster_location=str(self.poster_path(key).resolve()),
            storage=self.name,
            size_bytes=size,
            content_hash=content_hash,
            storage_path=f"videos/{key}.mp4",
        )

    @contextlib.contextmanager
    def _manifest_lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".manifest.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _update_manifest(self, key: str, entry: dict[str, Any]) -> None:
        # Several runs may publish at once: read-modify-write under an exclusive lock.
        with self._manifest_lock():
            manifest = self.manifest()
            manifest.setdefault("videos", {})[key] = entry
            manifest["updated_at"] = _utc_now()
            _atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True))

    def _remove_stale_temp_files(self, key: str) -> None:
        """Temp files left by a killed publish of this key (their writer is gone)."""
        for temp in self.videos_dir.glob(f".{key}.*.tmp"):
            match = re.search(r"\.pid(\d+)\.", temp.name)
            if match and _process_alive(int(match.group(1))):
                continue
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
                logger.info("product %s: removed leftover temp file %s", key, temp.name)


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


def _temp_file_for(target: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=f".{target.name}.pid{os.getpid()}.", suffix=".tmp", dir=target.parent)


def _copy_chunks(source, destination) -> None:
    """Stream copy; a separate function so a test can slow it down and kill the process mid-copy."""
    shutil.copyfileobj(source, destination, COPY_CHUNK_BYTES)


def _atomic_copy(source: Path, target: Path, *, key: str, check: Callable[[Path, str], int]) -> None:
    handle, temp_name = _temp_file_for(target)
    temp = Path(temp_name)
    try:
        with open(source, "rb") as src, os.fdopen(handle, "wb") as dst:
            _copy_chunks(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        if temp.stat().st_size != source.stat().st_size:
            raise TransientError(f"copy of {source} to {target} is incomplete", product_id=key, stage=STAGE)
        check(temp, key)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def _atomic_write_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = _temp_file_for(target)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------
# retries for HTTP services


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind a supabase/storage3/postgrest/httpx error, when it can be known."""
    status = getattr(exc, "status", None)  # storage3.exceptions.StorageApiError
    if status is None:
        response = getattr(exc, "response", None)  # httpx.HTTPStatusError
        status = getattr(response, "status_code", None)
    if status is None:
        code = getattr(exc, "code", None)  # postgrest.APIError without a JSON body: code is the status
        if isinstance(code, str) and code.isdigit() and len(code) == 3:
            status = code
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


# PostgREST reports database errors by SQLSTATE; these classes are worth retrying:
# connection (08), transaction rollback/deadlock (40), resources (53), operator
# intervention/statement timeout (57), system errors (58), and PostgREST's own
# "cannot reach the database" codes.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_TRANSIENT_POSTGREST_CODES = {"PGRST000", "PGRST001", "PGRST002", "PGRST003"}


# Permission denied, undefined table/column/function, no unique constraint for
# on_conflict, PostgREST's JWT and schema-cache misses.
_CONFIG_ERROR_CODES = {"42501", "42P01", "42703", "42883", "42P10", "PGRST301", "PGRST302", "PGRST204", "PGRST205"}


def is_transient(exc: BaseException) -> bool:
    import httpx  # local: only the HTTP backends need it

    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, BatchVideoError):
        return False
    if isinstance(exc, httpx.TransportError):  # connect/read errors, timeouts
        return True
    status = status_of(exc)
    if status is not None:
        return status >= 500 or status in _RETRYABLE_STATUSES
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code in _TRANSIENT_POSTGREST_CODES or code[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return False


def describe_service_error(exc: BaseException) -> str:
    """A one-line reason without headers or URLs (which could carry tokens)."""
    parts = []
    status = status_of(exc)
    if status is not None:
        parts.append(f"HTTP {status}")
    for attr in ("code", "message", "details", "hint"):
        value = getattr(exc, attr, None)
        if value and str(value) not in parts and not (attr == "code" and str(value) == str(status)):
            parts.append(str(value))
    if not parts or parts == [f"HTTP {status}"]:
        parts.append(type(exc).__name__ + (f": {exc}" if str(exc) and "http" not in str(exc).lower() else ""))
    return ": ".join(parts)


def is_service_error(exc: BaseException) -> bool:
    """An HTTP-level failure from httpx, storage3 or postgrest (not a bug in our own code)."""
    import httpx

    if isinstance(exc, httpx.HTTPError):
        return True
    module = type(exc).__module__.split(".")[0]
    return module in {"storage3", "postgrest", "supabase", "supabase_auth"}


def translate_service_error(exc: BaseException, *, what: str, product_id: str | None, field: str | None = None) -> BatchVideoError:
    """Map an HTTP failure to the project's errors: retryable, configuration, or this product's fault."""
    if isinstance(exc, BatchVideoError):
        return exc.with_context(product_id=product_id, stage=STAGE)
    reason = describe_service_error(exc)
    message = f"{what} failed: {reason}"
    if is_transient(exc):
        return TransientError(message, product_id=product_id, field=field, stage=STAGE)
    status = status_of(exc)
    code = str(getattr(exc, "code", "") or "")
    # Bad key, missing bucket, a schema without our migrations, or RLS refusal:
    # nothing about the product will fix it.
    if status in (401, 403) or code in _CONFIG_ERROR_CODES or (
        status == 404 and "bucket" in reason.lower()
    ):
        return ConfigError(f"{message} (check the Supabase URL, key, bucket and migrations)", product_id=product_id, field=field, stage=STAGE)
    return ProductDataError(message, product_id=product_id, field=field, stage=STAGE)


def call_with_retries(
    operation: Callable[[], T],
    *,
    what: str,
    product_id: str | None = None,
    field: str | None = None,
    attempts: int = 4,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`, retrying transient failures with exponential backoff.

    Returns its result, or raises TransientError after the last attempt, or a
    non-retryable BatchVideoError (naming the product) at the first 4xx.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not isinstance(exc, BatchVideoError) and not is_service_error(exc):
                raise  # a bug or an unexpected failure: not ours to reword or retry
            error = translate_service_error(exc, what=what, product_id=product_id, field=field)
            if not error.retryable or attempt == attempts:
                if error is not exc:
                    raise error from exc
                raise
            delay = backoff_s * (2 ** (attempt - 1))
            logger.warning("%s (attempt %d/%d), retrying in %.1fs", error, attempt, attempts, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------
# Supabase Storage


class SupabaseStorage:
    """Uploads to a Supabase Storage bucket at `[<prefix>/]<profile_id>/<key>/<content_hash>.mp4`.

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
        signed_url_expiry_s: int = 0,
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
            operation, what=what, product_id=key, field=field, attempts=self.attempts, backoff_s=self.backoff_s, sleep=self.sleep
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

    def _upload(self, path: str, source: Path, content_type: str, key: str, field: str, metadata: dict[str, Any]) -> None:
        def upload() -> None:
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
        if self.signed_url_expiry_s <= 0:
            return self._bucket().get_public_url(path)

        def sign() -> str:
            signed = self._bucket().create_signed_url(path, self.signed_url_expiry_s)
            url = signed.get("signedURL") or signed.get("signedUrl")
            if not url:
                raise TransientError(f"Storage returned no signed URL for {path}", product_id=key, stage=STAGE)
            return url

        return self._retry(sign, f"signing a URL for {path}", key)

    def publish(
        self,
        key: str,
        video_path: Path,
        poster_path: Path,
        *,
        content_hash: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> PublishedVideo:
        key, video_path, poster_path, size, poster_size, content_hash = checked_inputs(
            key, video_path, poster_path, content_hash
        )
        video_object = self.object_path(key, content_hash, "mp4")
        poster_object = self.object_path(key, content_hash, "jpg")
        object_metadata = {k: str(v) for k, v in _json_safe(metadata or {}).items()}

        if not self._is_complete(poster_object, key, poster_size, POSTER_CONTENT_TYPE):
            self._upload(poster_object, poster_path, POSTER_CONTENT_TYPE, key, "poster_path", object_metadata)
        if self._is_complete(video_object, key, size, VIDEO_CONTENT_TYPE):
            logger.info("product %s: %s already in bucket %s, not uploading again", key, video_object, self.bucket)
        else:
            self._upload(video_object, video_path, VIDEO_CONTENT_TYPE, key, "video_path", object_metadata)
            # Trust but verify: a proxy or a half-finished upload must not become the live video.
            uploaded = self.remote_info(video_object, key) or {}
            uploaded_size = uploaded.get("size", (uploaded.get("metadata") or {}).get("size"))
            uploaded_type = uploaded.get("content_type")
            if uploaded_size is None or int(uploaded_size) != size or uploaded_type not in (None, VIDEO_CONTENT_TYPE):
                raise TransientError(
                    f"uploaded {video_object} is {uploaded_size} bytes of {uploaded_type or 'unknown type'},"
                    f" expected {size} bytes of {VIDEO_CONTENT_TYPE}",
                    product_id=key, field="video_path", stage=STAGE,
                )
            logger.info("product %s: uploaded %s (%d bytes) to bucket %s", key, video_object, size, self.bucket)

        return PublishedVideo(
            partition_key=key,
            location=self.url_for(video_object, key),
            poster_location=self.url_for(poster_object, key),
            storage=self.name,
            size_bytes=size,
            content_hash=content_hash,
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


# --------------------------------------------------------------------------
# publishing one product end to end


def publish_video(
    storage: Storage,
    records: Any,
    *,
    key: str,
    product_id: str,
    video_path: Path,
    poster_path: Path,
    content_hash: str,
    metadata: Mapping[str, Any] | None = None,
    **record_details: Any,
) -> PublishedVideo:
    """Upload, then record, then clean up: in this order so a crash never loses the live video.

    `records` is a `batch_video.records.Records`; `record_details` are its `record_video`
    keywords (duration_s, settings_hash, provider, run_id, backfill_id, feed). Until
    `record_video` returns, the previous row (and the previous object it points at) stays live.
    """
    previous = records.get_video(key)
    published = storage.publish(key, Path(video_path), Path(poster_path), content_hash=content_hash, metadata=metadata or {})
    records.record_video(key, product_id, published, **record_details)
    if previous is not None and previous.storage == storage.name and previous.storage_path:
        storage.discard(previous.storage_path, keep=published.storage_path)
    return published

"""Object storage for the stage outputs: S3-compatible (AWS S3, MinIO, R2, Supabase Storage's S3 endpoint).

With several run workers on several hosts, a stage re-executed on another host
must find its inputs: every stage's files and its manifest go to the object
store, and a host's `data/work/<key>/` folder is only a cache of it
(see `batch_video.workspace`). The store is addressed by a URL,
`s3://<bucket>[/<prefix>]`; the client is any boto3 S3 client (built by the
Dagster resource, which owns endpoint and credentials).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from batch_video import files
from batch_video.errors import BatchVideoError, ConfigError, TransientError

logger = logging.getLogger(__name__)

# S3 error codes that no retry will fix: the store is set up wrong.
_CONFIG_CODES = {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


class ObjectStore(Protocol):
    """Whole objects by key; keys are relative to the store's prefix."""

    def describe(self) -> str: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        ...

    def download(self, key: str, path: Path) -> bool:
        """Write the object to `path` (atomically); False when there is no such object."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: list[str]) -> None: ...


@dataclass(frozen=True)
class StoreLocation:
    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> "StoreLocation":
        """`s3://bucket/optional/prefix` -> (bucket, prefix); anything else is a ConfigError."""
        parsed = urlparse(url.strip())
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"object store URL {url!r} is not of the form s3://<bucket>[/<prefix>]",
                              field="BATCH_VIDEO_WORK_STORE")
        return cls(parsed.netloc, parsed.path.strip("/"))

    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


class S3ObjectStore:
    """An S3 bucket (or a prefix in one) through a boto3 client."""

    def __init__(self, client: Any, location: StoreLocation) -> None:
        self.client = client
        self.location = location

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.location.url()!r})"

    def describe(self) -> str:
        return self.location.url()

    def _key(self, key: str) -> str:
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _call(self, what: str, operation, *args, **kwargs):
        try:
            return operation(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - classified below
            raise classify_error(exc, what=f"{what} ({self.location.url()})") from exc

    def put_file(self, key: str, path: Path) -> None:
        self._call(f"uploading {path.name} to {key}", self.client.upload_file, str(path), self.location.bucket, self._key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call(f"writing {key}", self.client.put_object, Bucket=self.location.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.location.bucket, Key=self._key(key))
            return response["Body"].read()
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in _MISSING_CODES:
                return None
            raise classify_error(exc, what=f"reading {key} ({self.location.url()})") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.location.bucket, Key=self._key(key))
            return True
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in _MISSING_CODES:
                return False
            raise classify_error(exc, what=f"looking up {key} ({self.location.url()})") from exc

    def download(self, key: str, path: Path) -> bool:
        try:
            with files.atomic_path(path, suffix=".part") as temp:
                self.client.download_file(self.location.bucket, self._key(key), str(temp))
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in _MISSING_CODES:
                return False
            raise classify_error(exc, what=f"downloading {key} ({self.location.url()})") from exc
        return True

    def delete(self, keys: list[str]) -> None:
        if not keys:
            return
        objects = [{"Key": self._key(k)} for k in keys]
        self._call(f"deleting {len(keys)} objects", self.client.delete_objects,
                   Bucket=self.location.bucket, Delete={"Objects": objects, "Quiet": True})


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError ('NoSuchKey', '404', ...), or ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or "")
    return ""


def classify_error(exc: BaseException, *, what: str) -> BatchVideoError:
    """A store failure as the project's errors: misconfiguration is a ConfigError, the rest may pass on retry."""
    if isinstance(exc, BatchVideoError):
        return exc
    code = error_code(exc)
    if code in _CONFIG_CODES:
        return ConfigError(f"{what} failed: {code} (check the bucket, endpoint and credentials)", field="BATCH_VIDEO_WORK_STORE")
    reason = code or type(exc).__name__
    return TransientError(f"{what} failed: {reason}")

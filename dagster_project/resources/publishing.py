"""Where published videos and their records go: a local folder + SQLite, or Supabase.

Configured only through environment variables (see `PublishingResource.from_env`
and docs/publishing.md). The Supabase key is read through `dg.EnvVar`, so it
never appears in run config, the UI, logs, reprs or asset metadata.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
from pydantic import Field, PrivateAttr

from batch_video.errors import ConfigError
from batch_video.publish import DEFAULT_SIGNED_URL_EXPIRY_S, LocalStorage, Storage, SupabaseStorage
from batch_video.redact import redact_url
from batch_video.records import Records, SQLiteRecords, SupabaseRecords

logger = logging.getLogger(__name__)

BACKENDS = ("local", "supabase")
KEY_ENV_VARS = ("SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY")

# Which environment variable feeds which field, for error messages and from_env().
ENV_FOR_FIELD = {
    "backend": "BATCH_VIDEO_PUBLISH_BACKEND",
    "local_root": "BATCH_VIDEO_OUTPUT_DIR",
    "records_path": "BATCH_VIDEO_RECORDS_PATH",
    "supabase_url": "SUPABASE_URL",
    "supabase_key": "SUPABASE_SERVICE_ROLE_KEY",
    "supabase_bucket": "SUPABASE_BUCKET",
    "supabase_prefix": "SUPABASE_STORAGE_PREFIX",
    "profile_id": "BATCH_VIDEO_PROFILE_ID",
    "signed_url_expiry_s": "SUPABASE_SIGNED_URL_EXPIRY_S",
    "public_urls": "SUPABASE_PUBLIC_URLS",
}


def _secure_url(url: str) -> bool:
    """https, or http to a loopback address (a local Supabase stack): never the key in clear over a network."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _plain(value: Any) -> Any:
    """Resolve a `dg.EnvVar` left unresolved because we run outside a Dagster run."""
    if isinstance(value, dg.EnvVar):
        return value.get_value()
    return value


class PublishingResource(dg.ConfigurableResource):
    """Storage for finished videos and the records apps read (`backend`: local | supabase)."""

    backend: str = "local"
    local_root: str = "output"
    records_path: str = ""  # default: <local_root>/records.sqlite
    supabase_url: str = ""
    supabase_key: str = Field(default="", repr=False, description="Service-role key; pass dg.EnvVar, never a literal")
    supabase_bucket: str = ""
    supabase_prefix: str = ""
    profile_id: str = ""
    # The bucket is private by default: rows get signed URLs valid this long (apps re-sign from storage_path).
    signed_url_expiry_s: int = DEFAULT_SIGNED_URL_EXPIRY_S
    public_urls: bool = False  # an explicit choice: a public bucket, and rows hold its permanent public URLs
    http_timeout_s: float = 120.0
    retry_attempts: int = 4
    retry_backoff_s: float = 1.0

    _client: Any = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "PublishingResource":
        """Build from env vars; the key stays an EnvVar so Dagster resolves it at run time."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field_name, var in ENV_FOR_FIELD.items():
            if field_name == "supabase_key":
                continue
            if env.get(var):
                values[field_name] = env[var]
        key_var = next((var for var in KEY_ENV_VARS if env.get(var)), None)
        if key_var:
            # From the real environment: defer to Dagster so the value never enters config.
            values["supabase_key"] = dg.EnvVar(key_var) if env is os.environ else env[key_var]
        return cls(**values)

    # -- validation ---------------------------------------------------------

    def problems(self) -> list[tuple[str, str]]:
        """Every missing or invalid setting as (environment variable, what is wrong)."""
        backend = (self.backend or "").strip().lower()
        if backend not in BACKENDS:
            var = ENV_FOR_FIELD["backend"]
            return [(var, f"{var}={self.backend!r} is not one of {', '.join(BACKENDS)}")]
        if backend == "local":
            return []
        found = []
        for field_name in ("supabase_url", "supabase_key", "supabase_bucket", "profile_id"):
            if not _plain(getattr(self, field_name)):
                var = ENV_FOR_FIELD[field_name]
                hint = f"{var} (or SUPABASE_KEY)" if field_name == "supabase_key" else var
                found.append((var, f"{hint} is not set"))
        url = _plain(self.supabase_url)
        if url and not _secure_url(url):
            # The service-role key travels in every request's headers.
            found.append(("SUPABASE_URL", f"SUPABASE_URL must start with https:// (http:// only for a local stack on"
                                          f" loopback; got {redact_url(url)!r})"))
        if self.signed_url_expiry_s <= 0 and not self.public_urls:
            var = ENV_FOR_FIELD["signed_url_expiry_s"]
            found.append((var, f"{var} must be a positive number of seconds (the bucket is private), or set"
                               " SUPABASE_PUBLIC_URLS=true for a public bucket"))
        return found

    def check_config(self) -> None:
        """Raise one ConfigError listing everything missing, before any product is processed."""
        problems = self.problems()
        if problems:
            raise ConfigError(
                f"publishing backend {self.backend!r} is not fully configured: " + "; ".join(m for _, m in problems),
                field=problems[0][0],
                stage="publish",
            )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.check_config()
        logger.info("publishing to %s", self.describe())

    # -- the batch_video implementations --------------------------------------

    @property
    def is_supabase(self) -> bool:
        return self.backend.strip().lower() == "supabase"

    def supabase_client(self) -> Any:
        if self._client is None:
            self.check_config()
            from supabase import ClientOptions, create_client

            options = ClientOptions(
                postgrest_client_timeout=self.http_timeout_s,
                storage_client_timeout=int(self.http_timeout_s),
                auto_refresh_token=False,
                persist_session=False,
            )
            self._client = create_client(_plain(self.supabase_url), _plain(self.supabase_key), options)
        return self._client

    def storage(self) -> Storage:
        if not self.is_supabase:
            self.check_config()
            return LocalStorage(Path(self.local_root))
        return SupabaseStorage(
            self.supabase_client(),
            _plain(self.supabase_bucket),
            profile_id=_plain(self.profile_id),
            prefix=_plain(self.supabase_prefix),
            signed_url_expiry_s=self.signed_url_expiry_s,
            public_urls=self.public_urls,
            attempts=self.retry_attempts,
            backoff_s=self.retry_backoff_s,
        )

    def supabase_records(self) -> Records:
        """The Supabase project's tables whatever the backend (the catalog may read products from there)."""
        if self.is_supabase:
            return self.records()
        return self.model_copy(update={"backend": "supabase"}).records()

    def records(self) -> Records:
        if not self.is_supabase:
            self.check_config()
            path = Path(self.records_path) if self.records_path else Path(self.local_root) / "records.sqlite"
            return SQLiteRecords(path, profile_id=_plain(self.profile_id) or "")
        return SupabaseRecords(
            self.supabase_client(),
            profile_id=_plain(self.profile_id),
            attempts=self.retry_attempts,
            backoff_s=self.retry_backoff_s,
        )

    def describe(self) -> dict[str, str]:
        """Safe to log and to put in asset metadata: never the key."""
        if not self.is_supabase:
            return {
                "backend": "local",
                "output_dir": str(Path(self.local_root).resolve()),
                "records": str(Path(self.records_path or Path(self.local_root) / "records.sqlite").resolve()),
            }
        return {
            "backend": "supabase",
            "supabase_url": redact_url(str(_plain(self.supabase_url))),
            "bucket": str(_plain(self.supabase_bucket)),
            "prefix": str(_plain(self.supabase_prefix)),
            "profile_id": str(_plain(self.profile_id)),
            "urls": "public" if self.public_urls else f"signed, {self.signed_url_expiry_s}s",
        }

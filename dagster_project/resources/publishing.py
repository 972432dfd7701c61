"""Where published videos and their records go: one resource class per backend.

- `LocalPublishingResource`: a folder the team reads, and a SQLite file of records.
- `SupabasePublishingResource`: Supabase Storage and the project's tables, through its nested `SupabaseResource`
  (the project's URL, key and profile; the catalog nests the same one to read a products table).

`publishing_from_env()` builds the one `BATCH_VIDEO_PUBLISH_BACKEND` names (see docs/publishing.md). The Supabase
key is read through `dg.EnvVar`, so it never appears in run config, the UI, logs, reprs or asset metadata.
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

# Which environment variable feeds which setting, for error messages and the from_env builders.
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
# SupabasePublishingResource's own fields and their variables.
SUPABASE_STORAGE_ENV = {
    "bucket": ENV_FOR_FIELD["supabase_bucket"],
    "prefix": ENV_FOR_FIELD["supabase_prefix"],
    "signed_url_expiry_s": ENV_FOR_FIELD["signed_url_expiry_s"],
    "public_urls": ENV_FOR_FIELD["public_urls"],
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


class SupabaseResource(dg.ConfigurableResource):
    """One Supabase project: its URL, its service-role key (an `EnvVar`, never a literal in config) and the shop's
    profile id; one client for all its users (storage, records, the catalog's products table)."""

    url: str = ""
    key: str = Field(default="", repr=False, description="Service-role key; pass dg.EnvVar, never a literal")
    profile_id: str = ""
    http_timeout_s: float = 120.0
    retry_attempts: int = 4
    retry_backoff_s: float = 1.0

    _client: Any = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SupabaseResource":
        """From env vars; the key stays an EnvVar so Dagster resolves it at run time."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "url": env.get(ENV_FOR_FIELD["supabase_url"], ""), "profile_id": env.get(ENV_FOR_FIELD["profile_id"], ""),
        }
        key_var = next((var for var in KEY_ENV_VARS if env.get(var)), None)
        if key_var:
            # From the real environment: defer to Dagster so the value never enters config.
            values["key"] = dg.EnvVar(key_var) if env is os.environ else env[key_var]
        return cls(**values)

    def problems(self) -> list[tuple[str, str]]:
        """Every missing or invalid setting as (environment variable, what is wrong)."""
        found = []
        for field_name, value in (("supabase_url", self.url), ("supabase_key", self.key), ("profile_id", self.profile_id)):
            if not _plain(value):
                var = ENV_FOR_FIELD[field_name]
                hint = f"{var} (or SUPABASE_KEY)" if field_name == "supabase_key" else var
                found.append((var, f"{hint} is not set"))
        url = _plain(self.url)
        if url and not _secure_url(url):
            # The service-role key travels in every request's headers.
            found.append(("SUPABASE_URL", f"SUPABASE_URL must start with https:// (http:// only for a local stack on"
                                          f" loopback; got {redact_url(url)!r})"))
        return found

    def client(self) -> Any:
        if self._client is None:
            _raise_problems("supabase", self.problems())
            from supabase import ClientOptions, create_client

            options = ClientOptions(
                postgrest_client_timeout=self.http_timeout_s,
                storage_client_timeout=int(self.http_timeout_s),
                auto_refresh_token=False,
                persist_session=False,
            )
            self._client = create_client(_plain(self.url), _plain(self.key), options)
        return self._client

    def records(self) -> SupabaseRecords:
        return SupabaseRecords(self.client(), profile_id=_plain(self.profile_id), attempts=self.retry_attempts,
                               backoff_s=self.retry_backoff_s)


class PublishingResource(dg.ConfigurableResource):
    """Storage for finished videos and the records apps read; one subclass per backend. Checked when a run starts:
    one ConfigError lists everything missing, before any product is processed."""

    def problems(self) -> list[tuple[str, str]]:
        return []

    def check_config(self) -> None:
        _raise_problems(self.describe()["backend"], self.problems())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.check_config()
        logger.info("publishing to %s", self.describe())

    def storage(self) -> Storage:
        raise NotImplementedError

    def records(self) -> Records:
        raise NotImplementedError

    def describe(self) -> dict[str, str]:
        """Safe to log and to put in asset metadata: never the key."""
        raise NotImplementedError


class LocalPublishingResource(PublishingResource):
    """A folder the team reads (`local_root`) and a SQLite file of records (default `<local_root>/records.sqlite`)."""

    local_root: str = "output"
    records_path: str = ""
    profile_id: str = ""

    def storage(self) -> Storage:
        return LocalStorage(Path(self.local_root))

    def records(self) -> Records:
        return SQLiteRecords(self._records_file(), profile_id=_plain(self.profile_id) or "")

    def describe(self) -> dict[str, str]:
        return {
            "backend": "local",
            "output_dir": str(Path(self.local_root).resolve()),
            "records": str(self._records_file().resolve()),
        }

    def _records_file(self) -> Path:
        return Path(self.records_path) if self.records_path else Path(self.local_root) / "records.sqlite"


class SupabasePublishingResource(PublishingResource):
    """Supabase Storage (`bucket`, under `prefix`) and the project's tables, through the nested `supabase` project."""

    supabase: SupabaseResource
    bucket: str = ""
    prefix: str = ""
    # The bucket is private by default: rows get signed URLs valid this long (apps re-sign from storage_path).
    signed_url_expiry_s: int = DEFAULT_SIGNED_URL_EXPIRY_S
    public_urls: bool = False  # an explicit choice: a public bucket, and rows hold its permanent public URLs

    def problems(self) -> list[tuple[str, str]]:
        found = self.supabase.problems()
        if not _plain(self.bucket):
            found.append((ENV_FOR_FIELD["supabase_bucket"], f"{ENV_FOR_FIELD['supabase_bucket']} is not set"))
        if self.signed_url_expiry_s <= 0 and not self.public_urls:
            var = ENV_FOR_FIELD["signed_url_expiry_s"]
            found.append((var, f"{var} must be a positive number of seconds (the bucket is private), or set"
                               " SUPABASE_PUBLIC_URLS=true for a public bucket"))
        return found

    def storage(self) -> Storage:
        self.check_config()
        return SupabaseStorage(
            self.supabase.client(),
            _plain(self.bucket),
            profile_id=_plain(self.supabase.profile_id),
            prefix=_plain(self.prefix),
            signed_url_expiry_s=self.signed_url_expiry_s,
            public_urls=self.public_urls,
            attempts=self.supabase.retry_attempts,
            backoff_s=self.supabase.retry_backoff_s,
        )

    def records(self) -> Records:
        self.check_config()
        return self.supabase.records()

    def describe(self) -> dict[str, str]:
        return {
            "backend": "supabase",
            "supabase_url": redact_url(str(_plain(self.supabase.url))),
            "bucket": str(_plain(self.bucket)),
            "prefix": str(_plain(self.prefix)),
            "profile_id": str(_plain(self.supabase.profile_id)),
            "urls": "public" if self.public_urls else f"signed, {self.signed_url_expiry_s}s",
        }


def publishing_from_env(environ: Mapping[str, str] | None = None, *, supabase: SupabaseResource | None = None) -> PublishingResource:
    """The backend `BATCH_VIDEO_PUBLISH_BACKEND` names (default local), configured from the environment;
    `supabase` is the project resource to nest (default: one from the environment)."""
    env = os.environ if environ is None else environ
    backend = env.get(ENV_FOR_FIELD["backend"], "local").strip().lower() or "local"
    if backend == "local":
        values = {field_name: env[ENV_FOR_FIELD[field_name]] for field_name in ("local_root", "records_path", "profile_id")
                  if env.get(ENV_FOR_FIELD[field_name])}
        return LocalPublishingResource(**values)
    if backend == "supabase":
        values = {field_name: env[var] for field_name, var in SUPABASE_STORAGE_ENV.items() if env.get(var)}
        return SupabasePublishingResource(supabase=supabase or SupabaseResource.from_env(env), **values)
    var = ENV_FOR_FIELD["backend"]
    raise ConfigError(f"{var}={env[var]!r} is not one of {', '.join(BACKENDS)}", field=var, stage="publish")


def _raise_problems(backend: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise ConfigError(
            f"publishing backend {backend!r} is not fully configured: " + "; ".join(m for _, m in problems),
            field=problems[0][0],
            stage="publish",
        )

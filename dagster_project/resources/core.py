"""Resources for the feed, the per-product work folders, batch settings and TTS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from batch_video.catalog import is_supabase, load_catalog
from batch_video.errors import ConfigError
from batch_video.feed import FetchedFeed
from batch_video.links import FETCH_ALLOW_ENV, IMAGE_ROOTS_ENV, LinkPolicy
from batch_video.net import AddressPolicy
from batch_video.models import FeedReadResult
from batch_video.objectstore import ObjectStore, S3ObjectStore, StoreLocation
from batch_video.render.spec import validate_settings
from batch_video.sample import FEED_PATH
from batch_video.settings import BatchSettings, as_strings, env_overrides
from batch_video.workspace import ProductWorkspace
from dagster_project.resources.publishing import SupabaseResource, _plain
from dagster_project.run_tags import overrides_from_tags, settings_for_run

SAMPLE_FEED = str(FEED_PATH)


# Where each environment variable goes (WorkspaceResource.from_env), for error messages and the README.
WORK_STORE_ENV = {
    "store_url": "BATCH_VIDEO_WORK_STORE",
    "s3_endpoint_url": "BATCH_VIDEO_S3_ENDPOINT_URL",
    "s3_region": "BATCH_VIDEO_S3_REGION",
}


class WorkspaceResource(dg.ConfigurableResource):
    """Where stages leave their outputs for the next one.

    Locally `<data_dir>/work/<key>/`. With `store_url` (`s3://bucket[/prefix]`, the `cluster`
    profile) every stage's files and manifest go to that S3-compatible bucket as well, and the
    local folder is only a cache: a stage re-executed on another host finds its inputs there.
    Credentials come from the standard AWS variables through `dg.EnvVar`, or from boto3's own
    chain (instance profile, IRSA on Kubernetes) when those are unset.
    """

    data_dir: str = "data"
    store_url: str = ""
    s3_endpoint_url: str = ""  # empty: AWS S3 (or boto3's AWS_ENDPOINT_URL_S3)
    s3_region: str = "us-east-1"
    s3_access_key_id: str = Field(default="", repr=False)
    s3_secret_access_key: str = Field(default="", repr=False, description="pass dg.EnvVar, never a literal")

    _store: Any = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, data_dir: str | None = None, environ: Mapping[str, str] | None = None) -> "WorkspaceResource":
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"data_dir": data_dir or env.get("BATCH_VIDEO_DATA_DIR", "data")}
        for field_name, var in WORK_STORE_ENV.items():
            if env.get(var):
                values[field_name] = env[var]
        for field_name, var in (("s3_access_key_id", "AWS_ACCESS_KEY_ID"), ("s3_secret_access_key", "AWS_SECRET_ACCESS_KEY")):
            if env.get(var):
                # From the real environment: Dagster resolves it at run time, so it never enters run config.
                values[field_name] = dg.EnvVar(var) if env is os.environ else env[var]
        return cls(**values)

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def object_store(self) -> ObjectStore | None:
        """The S3 store of stage outputs, or None when the local folders are the only copy."""
        url = _plain(self.store_url)
        if not url:
            return None
        if self._store is None:
            import boto3  # only the cluster profile needs it
            from botocore.config import Config

            client = boto3.session.Session().client(
                "s3",
                endpoint_url=_plain(self.s3_endpoint_url) or None,
                region_name=_plain(self.s3_region) or None,
                aws_access_key_id=_plain(self.s3_access_key_id) or None,
                aws_secret_access_key=_plain(self.s3_secret_access_key) or None,
                # Path-style addressing works with MinIO, R2, Supabase and AWS alike.
                config=Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"},
                              connect_timeout=10, read_timeout=120),
            )
            self._store = S3ObjectStore(client, StoreLocation.parse(url))
        return self._store

    def for_key(self, key: str) -> ProductWorkspace:
        return ProductWorkspace(self.root, key, store=self.object_store())

    def describe(self) -> str:
        store = _plain(self.store_url)
        return f"{self.root} (cache of {store})" if store else str(self.root)


class CatalogResource(dg.ConfigurableResource):
    """The catalog the `products` partitions come from: a feed path or URL (a `#sheet` of a workbook), or `supabase:products`.

    The Supabase table is read through the nested `supabase` project resource (the one the videos are published
    to, when they go to Supabase).
    """

    feed_url: str = SAMPLE_FEED
    cache_dir: str = "data/cache/feeds"
    remote_ttl_s: float = 600.0
    timeout_s: float = 30.0
    currency: str = "RON"  # the shop's currency, for prices the feed writes without one
    # Where the feed's links may lead (see batch_video.links): local files only for a local feed,
    # inside its folder or these roots; private hosts only when allow-listed (hosts or CIDRs).
    image_roots: list[str] = []
    fetch_allow: list[str] = []
    supabase: Optional[SupabaseResource] = None

    @classmethod
    def from_env(
        cls, data_dir: str, *, currency: str = "RON", supabase: Optional[SupabaseResource] = None
    ) -> "CatalogResource":
        env = os.environ
        return cls(
            feed_url=env.get("BATCH_VIDEO_FEED_URL", SAMPLE_FEED),
            cache_dir=os.path.join(data_dir, "cache", "feeds"),
            currency=currency,
            image_roots=[p for p in env.get(IMAGE_ROOTS_ENV, "").split(os.pathsep) if p.strip()],
            fetch_allow=list(AddressPolicy.parse(env.get(FETCH_ALLOW_ENV, "")).allow),
            supabase=supabase,
        )

    def link_policy(self) -> LinkPolicy:
        """Where the links of this catalog's products may lead."""
        return LinkPolicy.for_source(self.feed_url, image_roots=self.image_roots, allow=AddressPolicy.parse(self.fetch_allow))

    def read(self, *, max_age_s: float | None = None, fetched: FetchedFeed | None = None) -> FeedReadResult:
        """The parsed catalog; `max_age_s=0` forces a fresh read of a remote source, `fetched` is one just downloaded."""
        return load_catalog(
            self.feed_url,
            Path(self.cache_dir),
            ttl_s=self.remote_ttl_s if max_age_s is None else max_age_s,
            timeout_s=self.timeout_s,
            rows=self._supabase_rows if is_supabase(self.feed_url) else None,
            fetched=fetched,
            currency=self.currency,
        )

    def _supabase_rows(self):
        if self.supabase is None:
            raise ConfigError(
                f"feed {self.feed_url} is a Supabase table: the catalog resource needs the Supabase project resource "
                "(CatalogResource(supabase=...))",
                field="feed_url",
            )
        return self.supabase.records().iter_product_rows()


class BatchSettingsResource(dg.ConfigurableResource):
    """Settings shared by every product of a batch, resolved once per run.

    `BatchSettings`' defaults, then `overrides` (the `BATCH_VIDEO_*` environment when the code location
    loads, or the launchpad's resource config), then the run's `batch_video/setting/*` tags (a CLI launch).
    Each value is checked by `BatchSettings` itself, so a setting is declared in one place only.
    """

    overrides: dict[str, str] = {}

    _run_tags: Mapping[str, str] = PrivateAttr(default_factory=dict)
    _settings: Optional[BatchSettings] = PrivateAttr(default=None)

    @classmethod
    def of(cls, **values: object) -> "BatchSettingsResource":
        """A resource with these settings (checked now; ConfigError names a bad one)."""
        return cls(overrides=as_strings(values))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "BatchSettingsResource":
        return cls.of(**env_overrides(environ))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_tags = dict(context.run.tags) if context.run is not None else {}

    @property
    def defaults(self) -> BatchSettings:
        return BatchSettings().merged(self.overrides)

    @property
    def settings(self) -> BatchSettings:
        """This run's settings (computed on first use, so a bad tag fails the first stage, naming the tag)."""
        if self._settings is None:
            # Checked whole (a template file parsed and validated): a broken one fails the first stage.
            self._settings = validate_settings(settings_for_run(self.defaults, self._run_tags))
        return self._settings

    @property
    def run_overrides(self) -> dict[str, str]:
        """The settings this run's tags override."""
        return overrides_from_tags(self._run_tags)


class TTSResource(dg.ConfigurableResource):
    """Text to speech (Edge neural voices, espeak-ng offline): where synthesized audio is cached.

    Voice, provider and prosody are batch settings; this resource owns the
    cache shared by all runs, so identical scripts are never synthesized twice.
    """

    cache_dir: str = "data/cache/tts"

    def cache_path(self) -> Path:
        path = Path(self.cache_dir).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

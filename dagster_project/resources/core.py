"""Resources for the feed, the per-product work folders, batch settings and TTS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

import dagster as dg
from pydantic import PrivateAttr

from batch_video.catalog import is_supabase, load_catalog
from batch_video.errors import ConfigError
from batch_video.feed import FetchedFeed
from batch_video.links import FETCH_ALLOW_ENV, IMAGE_ROOTS_ENV, LinkPolicy
from batch_video.net import AddressPolicy
from batch_video.models import FeedReadResult
from batch_video.sample import FEED_PATH
from batch_video.settings import BatchSettings, as_strings, env_overrides
from batch_video.workspace import ProductWorkspace
from dagster_project.resources.publishing import PublishingResource
from dagster_project.run_tags import overrides_from_tags, settings_for_run

SAMPLE_FEED = str(FEED_PATH)


class WorkspaceResource(dg.ConfigurableResource):
    """Where stages leave their outputs for the next one (`<data_dir>/work/<key>/`)."""

    data_dir: str = "data"

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def for_key(self, key: str) -> ProductWorkspace:
        return ProductWorkspace(self.root, key)


class CatalogResource(dg.ConfigurableResource):
    """The catalog the `products` partitions come from: a feed path or URL (a `#sheet` of a workbook), or `supabase:products`.

    The Supabase table is read with the settings of the nested `publishing` resource (the same project the
    videos are published to).
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
    publishing: Optional[PublishingResource] = None

    @classmethod
    def from_env(
        cls, data_dir: str, *, currency: str = "RON", publishing: Optional[PublishingResource] = None
    ) -> "CatalogResource":
        env = os.environ
        return cls(
            feed_url=env.get("BATCH_VIDEO_FEED_URL", SAMPLE_FEED),
            cache_dir=os.path.join(data_dir, "cache", "feeds"),
            currency=currency,
            image_roots=[p for p in env.get(IMAGE_ROOTS_ENV, "").split(os.pathsep) if p.strip()],
            fetch_allow=list(AddressPolicy.parse(env.get(FETCH_ALLOW_ENV, "")).allow),
            publishing=publishing,
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
        if self.publishing is None:
            raise ConfigError(
                f"feed {self.feed_url} is a Supabase table: the catalog resource needs the publishing resource "
                "(CatalogResource(publishing=...)) for the project's settings",
                field="feed_url",
            )
        return self.publishing.supabase_records().iter_product_rows()


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
            self._settings = settings_for_run(self.defaults, self._run_tags)
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

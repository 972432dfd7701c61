"""Resources for the feed, the per-product work folders, batch settings and TTS."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import dagster as dg

from batch_video.catalog import is_supabase, load_catalog
from batch_video.feed import FetchedFeed
from batch_video.links import FETCH_ALLOW_ENV, IMAGE_ROOTS_ENV, LinkPolicy
from batch_video.net import AddressPolicy
from batch_video.models import FeedReadResult
from batch_video.settings import BatchSettings
from batch_video.workspace import ProductWorkspace

SAMPLE_FEED = str(Path(__file__).resolve().parents[2] / "batch_video" / "sample" / "feed.xml")
_DEFAULT_SETTINGS = BatchSettings()


class WorkspaceResource(dg.ConfigurableResource):
    """Where stages leave their outputs for the next one (`<data_dir>/work/<key>/`)."""

    data_dir: str = "data"

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def for_key(self, key: str) -> ProductWorkspace:
        return ProductWorkspace(self.root, key)

    def cache_dir(self, name: str) -> Path:
        path = self.root / "cache" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


class CatalogResource(dg.ConfigurableResource):
    """The catalog the `products` partitions come from: a feed path or URL (a `#sheet` of a workbook), or `supabase:products`."""

    feed_url: str = SAMPLE_FEED
    cache_dir: str = "data/cache/feeds"
    remote_ttl_s: float = 600.0
    timeout_s: float = 30.0
    currency: str = "RON"  # the shop's currency, for prices the feed writes without one
    # Where the feed's links may lead (see batch_video.links): local files only for a local feed,
    # inside its folder or these roots; private hosts only when allow-listed (hosts or CIDRs).
    image_roots: list[str] = []
    fetch_allow: list[str] = []

    @classmethod
    def from_env(cls, data_dir: str, *, currency: str = "RON") -> "CatalogResource":
        env = os.environ
        return cls(
            feed_url=env.get("BATCH_VIDEO_FEED_URL", SAMPLE_FEED),
            cache_dir=os.path.join(data_dir, "cache", "feeds"),
            currency=currency,
            image_roots=[p for p in env.get(IMAGE_ROOTS_ENV, "").split(os.pathsep) if p.strip()],
            fetch_allow=list(AddressPolicy.parse(env.get(FETCH_ALLOW_ENV, "")).allow),
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
        # The table lives in the same project the videos are published to: same settings.
        from dagster_project.resources.publishing import PublishingResource

        publishing = PublishingResource.from_env().model_copy(update={"backend": "supabase"})
        return publishing.records().iter_product_rows()


class BatchSettingsResource(dg.ConfigurableResource):
    """Settings shared by every product of a batch; defaults come from BATCH_VIDEO_* env vars."""

    tts_provider: str = _DEFAULT_SETTINGS.tts_provider
    voice: str = _DEFAULT_SETTINGS.voice
    espeak_voice: str = _DEFAULT_SETTINGS.espeak_voice
    tts_rate: str = _DEFAULT_SETTINGS.tts_rate
    tts_pitch: str = _DEFAULT_SETTINGS.tts_pitch
    tts_volume: str = _DEFAULT_SETTINGS.tts_volume
    script_mode: str = _DEFAULT_SETTINGS.script_mode
    script_template: str = _DEFAULT_SETTINGS.script_template
    language: str = _DEFAULT_SETTINGS.language
    duration_min_s: float = _DEFAULT_SETTINGS.duration_min_s
    duration_max_s: float = _DEFAULT_SETTINGS.duration_max_s
    tail_s: float = _DEFAULT_SETTINGS.tail_s
    preset: str = _DEFAULT_SETTINGS.preset
    motion: str = _DEFAULT_SETTINGS.motion
    motion_strength: float = _DEFAULT_SETTINGS.motion_strength
    cta_text: str = _DEFAULT_SETTINGS.cta_text
    captions: bool = _DEFAULT_SETTINGS.captions
    denoise: bool = _DEFAULT_SETTINGS.denoise
    sharpen: bool = _DEFAULT_SETTINGS.sharpen
    color_correct: bool = _DEFAULT_SETTINGS.color_correct
    font_path: str = _DEFAULT_SETTINGS.font_path
    accent_color: str = _DEFAULT_SETTINGS.accent_color
    logo_path: str = _DEFAULT_SETTINGS.logo_path

    def to_settings(self) -> BatchSettings:
        return BatchSettings(**{f.name: getattr(self, f.name) for f in fields(BatchSettings)})

    @classmethod
    def from_env(cls) -> "BatchSettingsResource":
        return cls(**BatchSettings.from_env().to_dict())


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


def data_dir_from_env() -> str:
    return os.environ.get("BATCH_VIDEO_DATA_DIR", "data")

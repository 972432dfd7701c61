"""What re-runs when a product, its photo or the batch settings change: the real chain, materialized twice.

Each test materializes the tiny feed's good product through Dagster (real espeak-ng and ffmpeg, `preview`
preset), changes one thing and materializes again. What was redone is read from what ran, never from timing:
how often espeak-ng spoke and the renderer rendered (counted around the real functions), the data version
each asset recorded, and the bytes of what was published.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image

from batch_video import pipeline
from batch_video.feed import slugify_key
from batch_video.hashing import file_sha256
from batch_video.publish import LocalStorage
from batch_video.tts import EspeakProvider
from dagster_project.assets import product_video_assets
from tests.dagster_project.conftest import chain_resources, write_photo

pytestmark = pytest.mark.slow

KEY = slugify_key("CANA 1")
ASSETS = ("product_record", "product_image", "voiceover_script", "voiceover_audio", "rendered_video", "published_video")


@dataclass(frozen=True)
class Outcome:
    """One materialization of the product: what ran and what each asset recorded."""

    synthesized: int  # espeak-ng syntheses
    rendered: int  # renders (not reuses)
    versions: dict[str, str]  # asset -> data version
    metadata: dict[str, dict]
    published_sha256: str


class Chain:
    """One product's six assets on one instance, materialized as often as a test likes."""

    def __init__(self, root: Path, feed: Path, calls: collections.Counter) -> None:
        self.root, self.feed, self.calls = root, feed, calls
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions("products", [KEY])

    @property
    def published(self) -> Path:
        """The product's live video, found through its entry (file names carry the video's sha256)."""
        return LocalStorage(self.root / "output").live_video(KEY)

    def materialize(self, **settings) -> Outcome:
        before = collections.Counter(self.calls)
        resources = chain_resources(self.feed, self.root, **settings)
        result = dg.materialize(product_video_assets, partition_key=KEY, resources=resources, instance=self.instance)
        assert result.success
        mats = {e.asset_key.to_user_string(): e.event_specific_data.materialization
                for e in result.get_asset_materialization_events()}
        assert sorted(mats) == sorted(ASSETS)
        ran = self.calls - before
        return Outcome(
            synthesized=ran["synthesize"],
            rendered=ran["render"],
            versions={name: mat.tags["dagster/data_version"] for name, mat in mats.items()},
            metadata={name: {k: v.value for k, v in mat.metadata.items()} for name, mat in mats.items()},
            published_sha256=file_sha256(self.published),
        )


@pytest.fixture
def calls(monkeypatch) -> collections.Counter:
    """Counts espeak-ng syntheses and renders, around the real functions."""
    counted: collections.Counter = collections.Counter()
    real_synthesize = EspeakProvider.synthesize
    real_render = pipeline.render_video

    def synthesize(self, *args, **kwargs):
        counted["synthesize"] += 1
        return real_synthesize(self, *args, **kwargs)

    def render_video(*args, **kwargs):
        counted["render"] += 1
        return real_render(*args, **kwargs)

    monkeypatch.setattr(EspeakProvider, "synthesize", synthesize)
    monkeypatch.setattr(pipeline, "render_video", render_video)
    return counted


@pytest.fixture
def chain(tiny_feed, tmp_path, calls) -> tuple[Chain, Outcome]:
    """The chain after its first materialization (everything made afresh)."""
    made = Chain(tmp_path, tiny_feed, calls)
    first = made.materialize()
    assert (first.synthesized, first.rendered) == (1, 1)
    return made, first


def changed(before: Outcome, after: Outcome) -> set[str]:
    return {name for name in ASSETS if before.versions[name] != after.versions[name]}


def test_an_unchanged_product_redoes_nothing(chain):
    chain, first = chain
    published = chain.published.stat()
    again = chain.materialize()
    assert (again.synthesized, again.rendered) == (0, 0)
    assert changed(first, again) == set()
    assert again.metadata["voiceover_audio"]["cache_hit"] is True
    assert again.metadata["rendered_video"]["reused"] is True
    # Publishing the same content again leaves the published file as it was.
    assert (chain.published.stat().st_ino, chain.published.stat().st_mtime_ns) == (published.st_ino, published.st_mtime_ns)


def test_a_price_change_makes_a_new_script_voiceover_and_video(chain):
    chain, first = chain
    # A different length too, so the change is seen whatever the catalog cache keys on.
    chain.feed.write_text(chain.feed.read_text(encoding="utf-8").replace("<g:sale_price>39,99 RON", "<g:sale_price>42,50 RON"),
                          encoding="utf-8")
    again = chain.materialize()
    assert "patruzeci și doi" in again.metadata["voiceover_script"]["text"]
    assert (again.synthesized, again.rendered) == (1, 1)
    assert changed(first, again) == {"product_record", "voiceover_script", "voiceover_audio", "rendered_video",
                                     "published_video"}
    assert again.published_sha256 != first.published_sha256


def test_a_new_photo_makes_a_new_image_and_video_and_reuses_the_voiceover(chain):
    chain, first = chain
    photo = chain.feed.parent / "images" / "mug.jpg"
    pixels = np.asarray(Image.open(photo)).copy()
    Image.fromarray(255 - pixels).save(photo, quality=90)  # same link, same size, other picture
    again = chain.materialize()
    assert (again.synthesized, again.rendered) == (0, 1)
    assert again.metadata["voiceover_audio"]["cache_hit"] is True
    assert changed(first, again) == {"product_image", "rendered_video", "published_video"}
    assert again.published_sha256 != first.published_sha256


def test_another_voice_makes_new_audio_and_a_new_video(chain):
    chain, first = chain
    again = chain.materialize(espeak_voice="ro+f3")
    assert (again.synthesized, again.rendered) == (1, 1)
    assert changed(first, again) == {"voiceover_audio", "rendered_video", "published_video"}
    assert again.metadata["voiceover_audio"]["voice"] == "ro+f3"
    assert again.published_sha256 != first.published_sha256


def test_another_preset_makes_a_new_video_from_the_same_audio(chain):
    chain, first = chain
    again = chain.materialize(preset="square")
    assert (again.synthesized, again.rendered) == (0, 1)
    assert changed(first, again) == {"rendered_video", "published_video"}
    assert again.metadata["rendered_video"]["resolution"] == "1080x1080"
    assert again.published_sha256 != first.published_sha256


def test_a_logo_replaced_in_place_makes_a_new_video(chain, tmp_path):
    chain, _ = chain
    logo = write_photo(tmp_path / "brand" / "logo.png", (200, 100))
    before = chain.materialize(logo_path=str(logo))
    assert before.rendered == 1
    Image.fromarray(255 - np.asarray(Image.open(logo))).save(logo)  # a new logo under the same name
    again = chain.materialize(logo_path=str(logo))
    assert (again.synthesized, again.rendered) == (0, 1)
    assert changed(before, again) == {"rendered_video", "published_video"}
    assert again.published_sha256 != before.published_sha256


def test_a_damaged_video_is_rendered_again_instead_of_reused(chain):
    chain, first = chain
    video = chain.root / "data" / "work" / KEY / "video.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])  # cut short by a full disk, say
    again = chain.materialize()
    assert (again.synthesized, again.rendered) == (0, 1)
    assert again.metadata["rendered_video"]["reused"] is False
    assert changed(first, again) == set()  # the same inputs, so the same data versions

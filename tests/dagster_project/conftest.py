"""Dagster tests: a tiny two-product feed (one good, one with a missing photo), and no leaked instance context."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
from dagster._core.storage.defs_state.base import DefsStateStorage
from PIL import Image

from dagster_project.resources import (
    BatchSettingsResource,
    CatalogResource,
    LocalPublishingResource,
    TTSResource,
    WorkspaceResource,
)


@pytest.fixture(autouse=True)
def no_leaked_instance_context():
    """Fail the test that leaves a Dagster instance entered.

    An instance context that is never exited (e.g. a `build_schedule_context()` not used in `with`) keeps its state
    storage in a context variable after the instance is garbage collected; a later test that loads definitions
    then fails with "Attempted to resolve undefined DagsterInstance weakref", far from the cause.
    """
    assert DefsStateStorage.get() is None, "a Dagster instance context was already entered before this test"
    yield
    gc.collect()  # a context kept alive by a reference cycle exits (and resets the variable) only when collected
    assert DefsStateStorage.get() is None, "this test left a Dagster instance context entered (use `with`)"


FEED_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
<channel><title>Test shop</title>
<item>
  <g:id>CANA 1</g:id>
  <g:title>Cană ceramică țărănească</g:title>
  <g:brand>Olăria Horezu</g:brand>
  <g:description>Cană lucrată manual.</g:description>
  <g:price>49,99 RON</g:price>
  <g:sale_price>39,99 RON</g:sale_price>
  <g:image_link>images/mug.jpg</g:image_link>
  <g:availability>in_stock</g:availability>
</item>
<item>
  <g:id>LIPSA-1</g:id>
  <g:title>Produs fără poză</g:title>
  <g:brand>Nimeni</g:brand>
  <g:price>10,00 RON</g:price>
  <g:image_link>images/does-not-exist.jpg</g:image_link>
  <g:availability>in_stock</g:availability>
</item>
</channel></rss>
"""


def write_photo(path: Path, size=(640, 480)) -> Path:
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 255 // width), (y * 255 // height), np.full_like(x, 140)], axis=-1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=90)
    return path


@pytest.fixture
def tiny_feed(tmp_path) -> Path:
    feed = tmp_path / "feed" / "feed.xml"
    write_photo(feed.parent / "images" / "mug.jpg")
    feed.write_text(FEED_TEMPLATE, encoding="utf-8")
    return feed


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """A throw-away Dagster instance folder as DAGSTER_HOME (what the CLI commands use)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


QUICK_RENDER = dict(preset="preview", tts_provider="espeak", script_template="Preț: {price} lei.", duration_min_s=1.0,
                    tail_s=0.5)


def chain_resources(feed: Path, root: Path, *, publishing: LocalPublishingResource | None = None, **settings) -> dict:
    """The six assets' resources over `feed`, every folder under `root`; a quick render unless `settings` say otherwise.

    The `preview` preset, espeak-ng (offline), a one-sentence script (about 3 s of speech) and a video as long as
    the speech and a 0.5 s tail.
    """
    return {
        "catalog": CatalogResource(feed_url=str(feed), cache_dir=str(root / "cache")),
        "workspace": WorkspaceResource(data_dir=str(root / "data")),
        "batch_settings": BatchSettingsResource.of(**{**QUICK_RENDER, **settings}),
        "tts": TTSResource(cache_dir=str(root / "tts")),
        "publishing": publishing or LocalPublishingResource(local_root=str(root / "output")),
    }

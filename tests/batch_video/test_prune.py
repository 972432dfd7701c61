"""prune_data: the data folder's work folders and caches go by age, then by size; recent ones never."""

from __future__ import annotations

import os
import time
from pathlib import Path

from batch_video.prune import PruneSettings, prune_data
from dagster_project.console.cli import main

DAY = 86400


def make(path: Path, size: int, age_s: float, now: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age_s, now - age_s))
    return path


def tree(tmp_path: Path, now: float) -> Path:
    data = tmp_path / "data"
    make(data / "work" / "old-product" / "video.mp4", 5000, 40 * DAY, now)
    make(data / "work" / "old-product" / "product.json", 100, 40 * DAY, now)
    make(data / "work" / "recent-product" / "video.mp4", 5000, 2 * DAY, now)
    make(data / "work" / "running" / "video.mp4", 5000, 60, now)  # a run is writing it right now
    make(data / "cache" / "feeds" / "a.json", 3000, 35 * DAY, now)
    make(data / "cache" / "feeds" / "b.json", 3000, 1 * DAY, now)
    make(data / "cache" / "tts" / "ab" / "abcd" / "audio.wav", 2000, 50 * DAY, now)
    make(data / "cache" / "tts" / "ab" / "abcd" / "meta.json", 10, 50 * DAY, now)
    return data


def test_what_is_older_than_the_age_limit_goes_and_nothing_else(tmp_path):
    now = time.time()
    data = tree(tmp_path, now)
    report = prune_data(data, PruneSettings(max_age_s=30 * DAY), now=now)
    assert sorted(e.path.name for e in report.removed) == ["a.json", "abcd", "old-product"]
    assert not (data / "work" / "old-product").exists() and not (data / "cache" / "tts" / "ab" / "abcd").exists()
    assert (data / "work" / "recent-product").exists() and (data / "cache" / "feeds" / "b.json").exists()
    assert report.removed_bytes == 5100 + 3000 + 2010


def test_over_the_size_cap_the_least_recently_used_go_but_never_what_is_in_use(tmp_path):
    now = time.time()
    data = tree(tmp_path, now)
    report = prune_data(data, PruneSettings(max_age_s=None, max_bytes=6000), now=now)
    assert (data / "work" / "running").exists()  # used a minute ago: kept even though still over the cap
    assert [e.path.name for e in report.removed] == ["abcd", "old-product", "a.json", "recent-product", "b.json"]


def test_the_cli_lists_then_prunes(tmp_path, capsys):
    now = time.time()
    data = tree(tmp_path, now)
    assert main(["prune", "--data-dir", str(data), "--max-age-days", "30", "--dry-run"]) == 0
    assert "would remove 1 feed cache, 1 voiceover cache, 1 work folder" in capsys.readouterr().out
    assert (data / "work" / "old-product").exists()
    assert main(["prune", "--data-dir", str(data), "--max-age-days", "30"]) == 0
    assert not (data / "work" / "old-product").exists()

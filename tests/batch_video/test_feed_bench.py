"""The feed benchmark's generated feeds parse cleanly and agree (the figures come from `make bench-feed`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from batch_video.feed import read_feed

ROOT = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_feed", ROOT / "scripts" / "bench_feed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_feeds_parse_cleanly_and_hash_alike(tmp_path):
    bench = load_bench()
    bench.write_rss(tmp_path / "feed.xml", 120)
    bench.write_csv(tmp_path / "feed.csv", 120)
    rss, csv = read_feed(tmp_path / "feed.xml"), read_feed(tmp_path / "feed.csv")
    assert len(rss.products) == len(csv.products) == 120
    assert not rss.problems and not csv.problems
    assert sum(p.on_sale for p in rss.products) == 30
    # The bench copies one prepared instance for both feeds: that needs identical keys and hashes.
    assert [(p.key, p.content_hash) for p in rss.products] == [(p.key, p.content_hash) for p in csv.products]

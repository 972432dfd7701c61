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


def test_bench_shop_exports_and_workbook_hold_the_same_products(tmp_path):
    bench = load_bench()
    bench.write_rss(tmp_path / "feed.xml", 40)
    bench.write_woocommerce(tmp_path / "wc.csv", 40)
    bench.write_shopify(tmp_path / "shopify.csv", 40)
    bench.write_xlsx(tmp_path / "catalog.xlsx", 40)
    rss = read_feed(tmp_path / "feed.xml")
    woo, shop, xlsx = (read_feed(tmp_path / name) for name in ("wc.csv", "shopify.csv", "catalog.xlsx"))
    assert woo.format.startswith("WooCommerce") and shop.format.startswith("Shopify") and xlsx.format.startswith("catalog (XLSX")
    for result in (woo, shop, xlsx):
        assert not result.problems
        assert [(p.key, p.price, p.sale_price) for p in result.products] == [(p.key, p.price, p.sale_price) for p in rss.products]
    # WooCommerce and the workbook reuse the prepared instance: same keys and hashes as the RSS feed.
    assert [p.content_hash for p in woo.products] == [p.content_hash for p in rss.products] == [p.content_hash for p in xlsx.products]
    assert all(len(p.additional_image_links) == 1 for p in shop.products)

"""Catalog sources: cached feed parses and the Supabase `products` table."""

from __future__ import annotations

import httpx
import pytest
import respx
from supabase import ClientOptions, create_client

from batch_video.catalog import FEED_CURRENCY_ENV, SUPABASE_SOURCE, catalog_digest, feed_currency, load_catalog
from batch_video.errors import ConfigError
from batch_video.records import SupabaseRecords

BASE = "https://shopproj.supabase.co"
PROFILE = "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b"

FEED = """<?xml version="1.0"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>
<item><g:id>A1</g:id><g:title>Cană</g:title><g:price>{price} RON</g:price><g:image_link>a.jpg</g:image_link></item>
</channel></rss>"""


def product_row(external_id: str, price: float) -> dict:
    return {
        "id": f"00000000-0000-4000-8000-{external_id.zfill(12)}", "profile_id": PROFILE, "feed_id": None,
        "external_id": external_id, "partition_key": external_id.lower(), "title": f"Produs {external_id}",
        "description": None, "brand": "Marca", "product_type": None, "link": None,
        "image_link": f"https://cdn.example.ro/{external_id}.jpg", "additional_image_links": [],
        "price": price, "sale_price": None, "currency": "RON", "price_raw": f"{price} RON", "sale_price_raw": None,
        "availability": "in stock", "content_hash": None,
    }


def test_local_feed_is_parsed_once_until_it_changes(tmp_path, monkeypatch):
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED.format(price="10,00"), encoding="utf-8")
    first = load_catalog(str(feed), tmp_path / "cache")
    import batch_video.feed as feed_module

    monkeypatch.setattr(feed_module, "read_feed", lambda *a, **k: pytest.fail("parsed again"))
    assert load_catalog(str(feed), tmp_path / "cache") == first
    monkeypatch.undo()
    feed.write_text(FEED.format(price="12,50"), encoding="utf-8")
    changed = load_catalog(str(feed), tmp_path / "cache")
    assert str(changed.products[0].price) == "12.50"
    assert catalog_digest(changed) != catalog_digest(first)


def test_supabase_source_needs_settings():
    with pytest.raises(ConfigError, match="SUPABASE_URL"):
        load_catalog(SUPABASE_SOURCE)


@respx.mock
def test_supabase_products_are_read_page_by_page(tmp_path):
    pages = [[product_row(str(i), 10 + i) for i in range(3)], [product_row("3", 13)]]
    seen_ranges = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["apikey"] == "service-key"
        assert request.url.params["profile_id"] == f"eq.{PROFILE}"
        assert request.url.params["order"] == "external_id.asc"
        seen_ranges.append((request.url.params["offset"], request.url.params["limit"]))
        return httpx.Response(200, json=pages[len(seen_ranges) - 1])

    respx.get(f"{BASE}/rest/v1/products").mock(side_effect=answer)
    client = create_client(BASE, "service-key", ClientOptions(auto_refresh_token=False, persist_session=False))
    records = SupabaseRecords(client, profile_id=PROFILE, attempts=1)

    result = load_catalog(SUPABASE_SOURCE, tmp_path / "cache", rows=lambda: records.iter_product_rows(page_size=3))
    assert [p.id for p in result.products] == ["0", "1", "2", "3"]
    assert str(result.products[3].price) == "13"
    assert seen_ranges == [("0", "3"), ("3", "3")]
    # Within the TTL the cached read answers; no more requests.
    assert load_catalog(SUPABASE_SOURCE, tmp_path / "cache", rows=lambda: pytest.fail("read again")) == result


BARE_PRICE_CSV = "SKU,Name,Price,Image\nA1,Cană,49.90,a.jpg\n"


def test_shop_currency_setting_prices_bare_numbers_and_keys_the_cache(tmp_path):
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(BARE_PRICE_CSV, encoding="utf-8")
    cache = tmp_path / "cache"
    assert load_catalog(str(catalog), cache).products[0].currency == "RON"
    # A cached parse in lei is not served when the shop's currency is set to euro.
    assert load_catalog(str(catalog), cache, currency="EUR").products[0].currency == "EUR"
    assert feed_currency({}) == "RON"
    assert feed_currency({FEED_CURRENCY_ENV: " eur "}) == "EUR"
    assert feed_currency({FEED_CURRENCY_ENV: "lei"}) == "RON"
    with pytest.raises(ConfigError, match="such as RON or EUR"):
        feed_currency({FEED_CURRENCY_ENV: "euro2"})


def test_a_workbook_sheet_source_is_cached_by_its_file(tmp_path, monkeypatch):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Note"
    workbook.create_sheet("Produse").append(["SKU", "Name", "Price", "Image"])
    workbook["Produse"].append(["A1", "Cană", 49.9, "a.jpg"])
    path = tmp_path / "catalog.xlsx"
    workbook.save(path)
    source = f"{path}#Produse"
    first = load_catalog(source, tmp_path / "cache")
    assert [p.id for p in first.products] == ["A1"]
    import batch_video.feed as feed_module

    monkeypatch.setattr(feed_module, "read_feed", lambda *a, **k: pytest.fail("parsed again"))
    assert load_catalog(source, tmp_path / "cache").products == first.products

"""Feed readers: formats, price forms, invalid rows, duplicates, keys, remote fetches, bounded memory."""

from __future__ import annotations

import gzip
import re
import tracemalloc
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

from batch_video import feed
from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.hashing import file_sha256
from batch_video.feed import assign_partition_keys, parse_price, read_feed, slugify_key
from batch_video.models import Product

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def by_id(result) -> dict[str, Product]:
    return {p.id: p for p in result.products}


def problems_by_id(result) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for problem in result.problems:
        found.setdefault(problem.product_id, []).append((problem.field, problem.raw_value))
    return found


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    "raw, amount, currency",
    [
        ("249,99 RON", "249.99", "RON"),
        ("1.249,00 RON", "1249.00", "RON"),
        ("249.99 RON", "249.99", "RON"),
        ("1,249.99 USD", "1249.99", "USD"),
        ("249 lei", "249", "RON"),
        ("RON 249.99", "249.99", "RON"),
        ("249", "249", "RON"),
        ("1 249,50 lei", "1249.50", "RON"),
        ("1.249", "1249", "RON"),  # one separator + three digits: thousands, not decimals
        ("0.5 EUR", "0.5", "EUR"),
        ("€19,90", "19.90", "EUR"),
        ("$1,249.99", "1249.99", "USD"),
        ("1.249.999,5 Lei", "1249999.5", "RON"),
        ("12.5eur", "12.5", "EUR"),
        ("249,- lei", "249", "RON"),
    ],
)
def test_parse_price_reads_the_forms_feeds_write(raw, amount, currency):
    assert parse_price(raw) == (Decimal(amount), currency)


def test_parse_price_bare_number_takes_the_default_currency():
    assert parse_price("19,90", default_currency="eur") == (Decimal("19.90"), "EUR")


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("gratuit", "cannot read"),
        ("-5 RON", "negative"),
        ("0,00 lei", "greater than zero"),
        ("1,24,9", "thousands"),
        ("12.34.5", "thousands"),
        ("RON 5 EUR", "two currencies"),
        ("249,99 RON/buc", "unknown currency"),
    ],
)
def test_parse_price_refuses_with_a_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        parse_price(raw)


# --------------------------------------------------------------------------- partition keys


@pytest.mark.parametrize(
    "product_id, key",
    [
        ("SKU-001", "sku-001"),
        ("SKU/003 [XL]", "sku-003-xl"),
        ("Șosete, Mărime 42", "sosete-marime-42"),
        ("a...b", "a.b"),
        ("  --x--  ", "x"),
        ("Straße_1", "strasse_1"),
    ],
)
def test_slugify_key_keeps_only_safe_characters(product_id, key):
    assert slugify_key(product_id) == key


def test_slugify_key_caps_length_with_a_hash_of_the_full_id():
    first, second = "P" * 80 + "-red", "P" * 80 + "-blue"
    assert len(slugify_key(first)) <= feed.KEY_MAX_LENGTH
    assert slugify_key(first) != slugify_key(second)
    assert slugify_key(first) == slugify_key(first)


def test_slugify_key_is_never_empty():
    key = slugify_key("商品")
    assert re.fullmatch(r"id-[0-9a-f]{8}", key)
    assert key != slugify_key("商店")


@pytest.mark.parametrize("product_id", ["A,B", "x y", "a/b", "[1]", "a|b", "é\tè", "x" * 200, "..."])
def test_keys_contain_nothing_dagster_partitions_refuse(product_id):
    key = slugify_key(product_id)
    assert re.fullmatch(r"[a-z0-9._-]{1,64}", key)
    assert "..." not in key


def test_assign_partition_keys_resolves_collisions_whatever_the_order():
    ids = ["SKU-1", "sku-1", "Sku 1", "other"]
    forward = assign_partition_keys(ids)
    backward = assign_partition_keys(list(reversed(ids)))
    assert forward == backward
    assert len(set(forward.values())) == 4
    assert forward["sku-1"] == "sku-1"  # the id equal to its slug keeps it
    assert forward["other"] == "other"
    assert forward["SKU-1"].startswith("sku-1-") and forward["Sku 1"].startswith("sku-1-")


def test_assign_partition_keys_without_an_exact_owner_gives_the_slug_to_the_smallest_id():
    keys = assign_partition_keys(["X/1", "X 1"])
    assert keys == assign_partition_keys(["X 1", "X/1"])
    assert keys["X 1"] == "x-1"
    assert re.fullmatch(r"x-1-[0-9a-f]{8}", keys["X/1"])


def test_assign_partition_keys_suffix_never_lands_on_another_products_key():
    colliding = ["Q 1", "Q/1"]
    suffixed = assign_partition_keys(colliding)["Q/1"]
    keys = assign_partition_keys([*colliding, suffixed])
    assert len(set(keys.values())) == 3
    assert keys[suffixed] == suffixed  # the id that is exactly that key keeps it


def test_non_colliding_keys_equal_slugify_key():
    ids = ["SKU-001", "SKU/003 [XL]", "Șosete 42"]
    assert assign_partition_keys(ids) == {i: slugify_key(i) for i in ids}


# --------------------------------------------------------------------------- Google Merchant XML


def test_rss_feed_products_problems_and_duplicates():
    result = read_feed(FEEDS / "merchant_rss.xml")
    products = by_id(result)
    assert list(products) == ["SKU-001", "SKU-002", "SKU/003 [XL]", "SKU-004"]

    espresso = products["SKU-001"]
    assert espresso.key == "sku-001"
    assert espresso.title == "Cafetieră Espresso & Spumare"
    assert espresso.description == "Espressor cu 15 bar, rezervor 1,5 l."  # HTML and &nbsp; gone
    assert (espresso.price, espresso.sale_price, espresso.currency) == (Decimal("1249.00"), Decimal("999.99"), "RON")
    assert (espresso.price_raw, espresso.sale_price_raw) == ("1.249,00 RON", "999,99 RON")
    assert espresso.on_sale
    assert espresso.brand == "Ariete" and espresso.product_type == "Electrocasnice > Cafea"
    assert espresso.availability == "in_stock"
    assert espresso.link == "https://shop.example.ro/p/sku-001"
    # relative links resolve against the feed's folder, as absolute paths
    assert espresso.image_link == str(FEEDS / "images" / "espressor.jpg")
    assert espresso.additional_image_links == (str(FEEDS / "images" / "espressor-2.jpg"), "https://cdn.example.ro/espressor-3.jpg")

    socks = products["SKU-002"]
    assert socks.title == "Șosete din lână, mărime 42"  # plain RSS <title> as a fallback
    assert socks.link == "https://shop.example.ro/p/sku-002"
    assert socks.sale_price == Decimal("59.99") and not socks.on_sale  # sale >= price: kept, no sale
    assert socks.availability == "out_of_stock"

    assert products["SKU/003 [XL]"].key == "sku-003-xl"
    assert (products["SKU/003 [XL]"].price, products["SKU/003 [XL]"].currency) == (Decimal("1249.99"), "USD")
    assert products["SKU-004"].title == "Ceas de perete"  # first of the duplicates kept
    assert result.duplicates == ("SKU-004",)

    problems = problems_by_id(result)
    assert problems == {
        "SKU-005": [("sale_price", "doar azi")],
        "SKU-006": [("price", "")],
        "SKU-007": [("image_link", "")],
        "": [("id", "")],
    }
    positions = {p.product_id: p.position for p in result.problems}
    assert positions["SKU-005"] == 5 and positions[""] == 9


def test_atom_feed():
    result = read_feed(FEEDS / "merchant_atom.xml")
    products = by_id(result)
    assert list(products) == ["A1", "A2"]  # g:id wins over Atom's <id>
    bag = products["A1"]
    assert bag.title == "Rucsac urban"
    assert bag.description == "Rucsac impermeabil de 20 l"
    assert bag.link == "https://shop.example.ro/p/a1"
    assert bag.image_link == str(FEEDS / "img" / "rucsac.png")
    assert bag.price == Decimal("249.99") and bag.availability == "preorder"
    assert products["A2"].currency == "EUR" and products["A2"].on_sale


def test_missing_fields_are_all_reported():
    xml = (
        '<rss xmlns:g="http://base.google.com/ns/1.0"><channel>'
        "<item><g:id>X</g:id><g:price>abc</g:price></item>"
        "</channel></rss>"
    )
    result = feed.collect(feed.iter_xml_items(__import__("io").BytesIO(xml.encode())), base=None, default_currency="RON", source="x")
    assert not result.products
    assert sorted(p.field for p in result.problems) == ["image_link", "price", "title"]
    assert {p.raw_value for p in result.problems if p.field == "price"} == {"abc"}


def test_xml_in_a_declared_legacy_encoding(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(
        '<?xml version="1.0" encoding="windows-1250"?><rss xmlns:g="http://base.google.com/ns/1.0"><channel>'
        "<item><g:id>1</g:id><g:title>Ţesătură şi încălţăminte</g:title><g:price>5 lei</g:price>"
        "<g:image_link>https://x/y.jpg</g:image_link></item></channel></rss>".encode("cp1250")
    )
    assert read_feed(path).products[0].title == "Ţesătură şi încălţăminte"


@pytest.mark.parametrize("name, content, field, says", [
    ("broken.xml", b'<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>1</g:id></channel>', "feed", ""),
    ("feed.csv", b"id,title,image_link\n1,T,https://x/y.jpg\n", "price", ""),
    ("feed.csv", "id;title;price;image_link\n1;Ţesătură;5;https://x/y.jpg\n".encode("cp1250"), "feed", "UTF-8"),
], ids=["malformed-xml", "csv-without-a-required-column", "csv-not-utf8"])
def test_a_feed_that_cannot_be_read_is_a_data_error_naming_the_field(tmp_path, name, content, field, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ProductDataError, match=says) as info:
        read_feed(path)
    assert info.value.field == field


def test_gzipped_local_feed(tmp_path):
    path = tmp_path / "feed.xml.gz"
    path.write_bytes(gzip.compress((FEEDS / "merchant_atom.xml").read_bytes()))
    assert [p.id for p in read_feed(path).products] == ["A1", "A2"]


def test_size_cap_also_bounds_decompressed_bytes(tmp_path):
    path = tmp_path / "bomb.xml.gz"
    path.write_bytes(gzip.compress(b"<rss>" + b" " * 2_000_000 + b"</rss>"))
    assert path.stat().st_size < 20_000
    with pytest.raises(ProductDataError, match="cap"):
        read_feed(path, max_bytes=1_000_000)


def test_missing_feed_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        read_feed(tmp_path / "nope.xml")


def test_unsupported_image_scheme_is_a_problem(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(
        '<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>1</g:id><g:title>T</g:title>'
        "<g:price>5 RON</g:price><g:image_link>ftp://x/y.jpg</g:image_link></item></channel></rss>"
    )
    result = read_feed(path)
    assert [(p.field, p.raw_value) for p in result.problems] == [("image_link", "ftp://x/y.jpg")]


# --------------------------------------------------------------------------- CSV / TSV


def test_romanian_semicolon_csv_with_bom_and_decimal_comma():
    result = read_feed(FEEDS / "export_ro.csv")
    products = by_id(result)
    assert list(products) == ["RO-1", "RO-2", "RO-3"]
    shirt = products["RO-1"]
    assert shirt.title == "Tricou bumbac"  # the BOM did not end up in the "Cod" header
    assert shirt.description == "Tricou din bumbac organic; croială dreaptă"
    assert shirt.brand == "Bumbăcel" and shirt.product_type == "Îmbrăcăminte"
    assert (shirt.price, shirt.sale_price, shirt.currency) == (Decimal("1249.00"), Decimal("999.50"), "RON")
    assert shirt.image_link == str(FEEDS / "poze" / "tricou.jpg")
    assert shirt.availability == "in_stock"
    assert products["RO-2"].price == Decimal("79.90") and products["RO-2"].availability == "out_of_stock"
    assert products["RO-3"].price == Decimal("12.5") and products["RO-3"].sale_price is None
    assert problems_by_id(result) == {"RO-4": [("price", "")]}
    assert result.duplicates == ("RO-1",)


def test_english_comma_csv():
    result = read_feed(FEEDS / "export_en.csv")
    products = by_id(result)
    lamp = products["EN-1"]
    assert (lamp.price, lamp.currency) == (Decimal("1249.99"), "USD")
    assert lamp.description == "LED lamp, 3 modes"
    assert lamp.additional_image_links == ("https://cdn.example.com/lamp2.jpg", "https://cdn.example.com/lamp3.jpg")
    assert products["EN-2"].on_sale and products["EN-2"].discount_percent == 20
    assert problems_by_id(result) == {"EN-3": [("sale_price", "abc")]}


def test_tsv_with_currency_column():
    result = read_feed(FEEDS / "export.tsv")
    assert [(p.id, p.price, p.currency) for p in result.products] == [
        ("T-1", Decimal("19.90"), "EUR"),
        ("T-2", Decimal("4.50"), "EUR"),
    ]


@pytest.mark.parametrize(
    "headers",
    [
        "id,title,price,image_link",
        "SKU,Name,Price,Image",
        "cod,produs,pret,imagine",
        "Cod produs,Denumire,Preț,Imagine",
        "g:id,g:title,g:price,g:image_link",
    ],
)
def test_csv_header_variants(tmp_path, headers):
    path = tmp_path / "feed.csv"
    path.write_text(f"{headers}\nP1,Ceainic,\"19,90\",https://x/p.jpg\n", encoding="utf-8")
    (product,) = read_feed(path).products
    assert (product.id, product.title, product.price) == ("P1", "Ceainic", Decimal("19.90"))


def test_csv_with_excel_separator_hint(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text("sep=;\ncod;denumire;pret;imagine\nP1;Ceainic, fontă;19,90;https://x/p.jpg\n", encoding="utf-8-sig")
    (product,) = read_feed(path).products
    assert (product.id, product.title, product.price) == ("P1", "Ceainic, fontă", Decimal("19.90"))


def test_content_hash_follows_what_changes_the_video(tmp_path):
    def hashes(price: str, link: str = "https://shop/p1") -> dict[str, str]:
        path = tmp_path / "feed.csv"
        path.write_text(
            f"id,title,price,image_link,link\nP1,Ceainic,{price},https://x/p.jpg,{link}\nP2,Cană,5,https://x/c.jpg,\n"
        )
        return {p.id: p.content_hash for p in read_feed(path).products}

    base = hashes("19.90")
    assert hashes("\"19,90 lei\"") == base  # the same price written differently
    assert hashes("19.90", link="https://shop/other") == base  # the shop link is not in the video
    changed = hashes("17.90")
    assert changed["P1"] != base["P1"] and changed["P2"] == base["P2"]


def test_same_products_from_xml_and_csv_hash_alike(tmp_path):
    xml = tmp_path / "feed.xml"
    xml.write_text(
        '<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>P1</g:id><g:title>Ceainic</g:title>'
        "<g:price>19.90 RON</g:price><g:image_link>https://x/p.jpg</g:image_link></item></channel></rss>"
    )
    csv_path = tmp_path / "feed.csv"
    csv_path.write_text("cod;denumire;pret;imagine\nP1;Ceainic;19,90 lei;https://x/p.jpg\n")
    assert read_feed(xml).products[0].content_hash == read_feed(csv_path).products[0].content_hash


# --------------------------------------------------------------------------- remote feeds


@respx.mock
def test_remote_feed_resolves_relative_images_against_the_url():
    body = (FEEDS / "merchant_atom.xml").read_bytes()
    respx.get("https://shop.example.ro/feeds/google.xml").mock(return_value=httpx.Response(200, content=body))
    result = read_feed("https://shop.example.ro/feeds/google.xml")
    assert by_id(result)["A1"].image_link == "https://shop.example.ro/feeds/img/rucsac.png"
    assert result.source == "https://shop.example.ro/feeds/google.xml"


@respx.mock
def test_remote_gzip_content_encoding_is_decoded():
    body = gzip.compress((FEEDS / "export_en.csv").read_bytes())
    respx.get("https://shop.example.com/feed.csv").mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})
    )
    assert [p.id for p in read_feed("https://shop.example.com/feed.csv").products] == ["EN-1", "EN-2"]


@respx.mock
def test_remote_gzip_file_without_content_encoding():
    body = gzip.compress((FEEDS / "export_en.csv").read_bytes())
    respx.get("https://shop.example.com/feed.csv.gz").mock(return_value=httpx.Response(200, content=body))
    assert len(read_feed("https://shop.example.com/feed.csv.gz").products) == 2


@respx.mock
def test_remote_size_cap():
    respx.get("https://shop.example.com/big.xml").mock(return_value=httpx.Response(200, content=b"<rss>" + b" " * 50_000))
    with pytest.raises(ProductDataError, match="cap"):
        read_feed("https://shop.example.com/big.xml", max_bytes=10_000)


@respx.mock
def test_remote_errors_are_transient_or_config():
    respx.get("https://shop.example.com/down.xml").mock(return_value=httpx.Response(503))
    respx.get("https://shop.example.com/gone.xml").mock(return_value=httpx.Response(404))
    with pytest.raises(TransientError):
        read_feed("https://shop.example.com/down.xml")
    with pytest.raises(ConfigError):
        read_feed("https://shop.example.com/gone.xml")


@respx.mock
def test_fetch_feed_conditional_request_and_validators(tmp_path):
    route = respx.get("https://shop.example.com/feed.xml")
    route.mock(return_value=httpx.Response(200, content=b"<rss/>", headers={"ETag": '"v1"', "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"}))
    fetched = feed.fetch_feed("https://shop.example.com/feed.xml", dest_dir=tmp_path)
    assert (fetched.etag, fetched.last_modified) == ('"v1"', "Wed, 25 Nov 2026 10:00:00 GMT")
    assert fetched.sha256 == file_sha256(fetched.path)
    fetched.discard()
    assert not list(tmp_path.iterdir())

    route.mock(return_value=httpx.Response(304))
    assert feed.fetch_feed("https://shop.example.com/feed.xml", etag='"v1"', dest_dir=tmp_path) is None
    assert route.calls.last.request.headers["If-None-Match"] == '"v1"'
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- Supabase rows


def test_products_from_supabase_rows():
    rows = [
        {
            "external_id": "SB-1",
            "title": "Ceainic",
            "brand": "Casa",
            "description": "<p>Fontă</p>",
            "price": 1249.5,
            "sale_price": "999.00",
            "currency": "RON",
            "price_raw": "1.249,50 RON",
            "sale_price_raw": "999,00 RON",
            "image_link": "https://x/c.jpg",
            "additional_image_links": ["https://x/c2.jpg"],
            "availability": "in stock",
        },
        {"external_id": "SB-2", "title": "Cană", "price": None, "price_raw": "gratuit", "currency": "RON", "image_link": "https://x/m.jpg"},
        {"external_id": "SB-3", "title": "Farfurie", "price": "12.500", "currency": "EUR", "image_link": "https://x/f.jpg"},
    ]
    result = feed.products_from_rows(rows)
    products = by_id(result)
    kettle = products["SB-1"]
    assert (kettle.price, kettle.sale_price, kettle.currency) == (Decimal("1249.5"), Decimal("999.00"), "RON")
    assert kettle.price_raw == "1.249,50 RON" and kettle.on_sale
    assert kettle.description == "Fontă" and kettle.additional_image_links == ("https://x/c2.jpg",)
    assert products["SB-3"].price == Decimal("12.500")  # a database number is exact, not "12 thousand 500"
    assert products["SB-3"].currency == "EUR"
    assert [(p.product_id, p.field, p.raw_value) for p in result.problems] == [("SB-2", "price", "gratuit")]
    assert result.source == "supabase:products"


def test_supabase_row_hash_matches_the_feed_hash_of_the_same_product(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text("id,title,price,image_link\nP1,Ceainic,19.90 RON,https://x/p.jpg\n")
    from_feed = read_feed(path).products[0]
    from_row = feed.products_from_rows([{"external_id": "P1", "title": "Ceainic", "price": "19.90", "currency": "RON", "image_link": "https://x/p.jpg"}]).products[0]
    assert from_row.content_hash == from_feed.content_hash


# --------------------------------------------------------------------------- streaming


def write_merchant_feed(path: Path, count: int, *, filler_bytes: int = 0) -> Path:
    filler = "x" * filler_bytes
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0"?>\n<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel><title>t</title>\n')
        for i in range(count):
            out.write(
                f"<item><g:id>P{i}</g:id><g:title>Produs {i}</g:title><g:price>{i % 900 + 10},99 RON</g:price>"
                f"<g:image_link>https://cdn.example.ro/{i}.jpg</g:image_link>"
                f"<g:custom_label_0>{filler}</g:custom_label_0></item>\n"
            )
        out.write("</channel></rss>\n")
    return path


def peak_parse_memory(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        result = read_feed(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, len(result.products)


def test_5000_item_feed_parses_in_bounded_memory(tmp_path):
    # Same 5,000 items, once lean and once with 2 KB of ignored text each (~10 MB more):
    # a streaming parser's peak barely moves; a whole-document parse would grow by the file size.
    lean = write_merchant_feed(tmp_path / "lean.xml", 5000)
    fat = write_merchant_feed(tmp_path / "fat.xml", 5000, filler_bytes=2000)
    extra_bytes = fat.stat().st_size - lean.stat().st_size
    lean_peak, lean_count = peak_parse_memory(lean)
    fat_peak, fat_count = peak_parse_memory(fat)
    assert lean_count == fat_count == 5000
    assert fat_peak - lean_peak < extra_bytes * 0.05, (lean_peak, fat_peak, extra_bytes)


def test_csv_with_a_long_description_and_a_nul_byte(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text(f"id,title,description,price,image_link\n1,T,\"{'x' * 200_000}\",5,https://x/y.jpg\n")
    result = read_feed(path)  # read whole, then cut to the description cap with a warning
    assert len(result.products[0].description) == feed.TEXT_MAX_CHARS["description"]
    assert [(w.field, w.reason) for w in result.warnings] == [("description", "200000 characters, cut to 5000")]
    path.write_bytes(b"id,title,price,image_link\n1,T,5,https://x/y.jpg\n2,U\x00\x07,5,https://x/z.jpg\n")
    assert [p.title for p in read_feed(path).products] == ["T", "U"]  # control characters never reach a video


def test_entity_expansion_bomb_is_refused(tmp_path):
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    path = tmp_path / "bomb.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss xmlns:g="http://base.google.com/ns/1.0"><channel>'
        "<item><g:id>1</g:id><g:title>&a9;</g:title><g:price>5</g:price><g:image_link>https://x/y.jpg</g:image_link></item>"
        "</channel></rss>"
    )
    tracemalloc.start()
    try:
        with pytest.raises(ProductDataError) as info:
            read_feed(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.field == "feed" and "DOCTYPE" in str(info.value)
    assert peak < 5_000_000

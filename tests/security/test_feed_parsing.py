"""A feed can't make parsing take unbounded memory or time, nor plant code or stale data in the cache.

Memory is measured in real subprocesses (peak RSS), side by side with a
well-formed feed of the same size; times are bounded with generous ceilings.
"""

from __future__ import annotations

import codecs
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from batch_video import feed
from batch_video.catalog import load_catalog
from batch_video.errors import ProductDataError, TransientError
from tests.security.servers import LoopbackServer, drip, timed

REPO = Path(__file__).resolve().parents[2]
NS = 'xmlns:g="http://base.google.com/ns/1.0"'


def item(n: int, title: str = "") -> str:
    return (f"<item><g:id>P{n}</g:id><g:title>{title or f'Produs {n}'}</g:title><g:price>10,00 RON</g:price>"
            f"<g:image_link>https://cdn.shop.example/{n}.jpg</g:image_link></item>")


def rss(body: str, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f"{prolog}<rss {NS}><channel>{body}</channel></rss>"


BILLION_LAUGHS = '<!DOCTYPE rss [<!ENTITY a0 "lol">' + "".join(
    f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)) + "]>"


def refused(path: Path) -> ProductDataError:
    with pytest.raises(ProductDataError) as err:
        feed.read_feed(path)
    assert err.value.field == "feed"
    return err.value


@pytest.mark.parametrize("case", ["plain", "after_a_large_comment", "utf16", "utf16_after_comment", "external", "parameter"])
def test_a_doctype_or_entity_anywhere_in_the_prolog_is_refused_before_expansion(tmp_path, case):
    body = item(1, "&a9;") if case not in ("external", "parameter") else item(1, "&ext;")
    doctype = {
        "external": '<!DOCTYPE rss [<!ENTITY ext SYSTEM "file:///etc/passwd">]>',
        "parameter": '<!DOCTYPE rss [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
    }.get(case, BILLION_LAUGHS)
    comment = "<!--" + "x" * 200_000 + "-->" if "comment" in case else ""
    path = tmp_path / "bomb.xml"
    if case.startswith("utf16"):
        path.write_bytes(codecs.BOM_UTF16_LE + rss(body, '<?xml version="1.0" encoding="UTF-16"?>' + comment + doctype)
                         .encode("utf-16-le"))
    else:
        path.write_text(rss(body, '<?xml version="1.0"?>' + comment + doctype), encoding="utf-8")
    seconds, error = timed(lambda: feed.read_feed(path))
    assert isinstance(error, ProductDataError) and error.field == "feed", error
    assert "DOCTYPE" in str(error)
    assert seconds < 5


def test_a_doctype_after_the_root_element_is_malformed_xml(tmp_path):
    path = tmp_path / "late.xml"
    path.write_text(f"<rss {NS}><channel>{BILLION_LAUGHS}{item(1, '&a9;')}</channel></rss>")
    assert "not well-formed" in str(refused(path))


PEAK_RSS = """
import json, resource, sys
from pathlib import Path
from batch_video import feed
try:
    result = feed.read_feed(Path(sys.argv[1]))
    outcome = f"{len(result.products)} products"
except Exception as err:
    outcome = f"{type(err).__name__}: {err}"
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "outcome": outcome}))
"""


def peak_rss(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, dict]:
    """A well-formed 2,000-product feed: what parsing normally costs."""
    path = tmp_path_factory.mktemp("baseline") / "feed.xml"
    path.write_text(rss("".join(item(n) for n in range(2000))), encoding="utf-8")
    return path, peak_rss(path)


def test_a_feed_nested_a_million_levels_deep_is_refused_in_flat_memory(tmp_path, baseline):
    path = tmp_path / "deep.xml"
    with open(path, "w") as out:
        out.write(f"<rss {NS}><channel>")
        out.write("<a>" * 1_000_000)  # ~3 MB of opening tags (the report's 7 MB file had closing tags too)
        out.write("</a>" * 1_000_000)
        out.write("</channel></rss>")
    measured = peak_rss(path)
    print(f"deep feed: peak {measured['peak_mb']:.0f} MB vs {baseline[1]['peak_mb']:.0f} MB for 2,000 products; {measured['outcome']}")
    assert "nested more than 64 deep" in measured["outcome"]
    assert measured["peak_mb"] < baseline[1]["peak_mb"] + 40


def test_elements_outside_items_are_dropped_as_they_end(tmp_path, baseline):
    path = tmp_path / "junk.xml"
    junk = "<junk><x>" + "y" * 200 + "</x></junk>"
    with open(path, "w") as out:
        out.write(f"<rss {NS}><channel>{item(1)}")
        for _ in range(120_000):  # ~24 MB of elements between items
            out.write(junk)
        out.write(f"{item(2)}</channel></rss>")
    measured = peak_rss(path)
    print(f"24 MB outside items: peak {measured['peak_mb']:.0f} MB vs {baseline[1]['peak_mb']:.0f} MB; {measured['outcome']}")
    assert measured["outcome"] == "2 products"
    assert measured["peak_mb"] < baseline[1]["peak_mb"] + 40


def test_a_50_mb_title_is_cut_to_a_few_hundred_characters_with_a_warning(tmp_path):
    path = tmp_path / "title.xml"
    path.write_text(rss(item(1, "Titlu " + "a" * 50_000_000) + item(2)), encoding="utf-8")
    result = feed.read_feed(path)
    products = {p.id: p for p in result.products}
    assert len(products["P1"].title) == feed.TEXT_MAX_CHARS["title"] <= 300
    assert products["P2"].title == "Produs 2"
    assert [(w.product_id, w.field) for w in result.warnings] == [("P1", "title")]
    assert len(result.warnings[0].raw_value) <= 120
    assert len(json.dumps(products["P1"].to_dict())) < 2000  # what product.json and the metadata get


def test_the_item_count_is_capped_and_100000_products_still_pass(tmp_path):
    limits = feed.merchant.XmlLimits()
    assert limits.max_items >= 100_000
    path = tmp_path / "many.xml"
    path.write_text(rss("".join(item(n) for n in range(101))), encoding="utf-8")
    with open(path, "rb") as handle:
        with pytest.raises(ProductDataError) as err:
            list(feed.iter_xml_items(handle, limits=feed.merchant.XmlLimits(max_items=100)))
    assert "more than 100 items" in str(err.value)


def test_the_unpacked_size_of_a_feed_is_capped(tmp_path):
    import gzip

    path = tmp_path / "bomb.xml.gz"
    path.write_bytes(gzip.compress(rss("<x>" + " " * 30_000_000 + "</x>").encode(), 9))
    assert path.stat().st_size < 100_000
    with pytest.raises(ProductDataError) as err:
        feed.read_feed(path, max_bytes=1_000_000)
    assert "byte cap" in str(err.value) and str(tmp_path) not in str(err.value)


def test_a_feed_server_sending_one_byte_per_second_is_cut_off(tmp_path):
    body = b"<rss><channel>" + b" " * 16  # 30 bytes: 30 s at this rate, where a per-read timeout never fires
    with LoopbackServer() as server:
        server.routes["/feed.xml"] = drip(server, body)
        seconds, error = timed(lambda: feed.read_feed(server.url("/feed.xml?token=s3cret"), timeout_s=2))
    assert isinstance(error, TransientError) and error.field == "feed", error
    assert "too slow" in str(error) and "s3cret" not in str(error)
    assert seconds < 2 + 4


def test_the_feed_deadline_holds_whatever_the_rate(tmp_path):
    with LoopbackServer() as server:
        server.routes["/feed.xml"] = drip(server, rss(item(1) * 1000).encode(), bytes_per_s=20_000, chunk=2000)
        # The rate is checked only after `timeout_s`: here only the deadline can stop the download.
        seconds, error = timed(lambda: feed.read_feed(server.url("/feed.xml"), timeout_s=5, deadline_s=1.0))
    assert isinstance(error, TransientError) and "within 1 s" in str(error)
    assert seconds < 1 + 3


# --------------------------------------------------------------------------- the catalog cache


FEED = rss(item(1, "Cană").replace("10,00 RON", "{price} RON"))


def test_a_feed_rewritten_in_place_with_the_same_size_and_time_stamp_is_parsed_again(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(FEED.format(price="10,00"), encoding="utf-8")
    stamp = path.stat().st_mtime_ns
    assert str(load_catalog(str(path), tmp_path / "cache").products[0].price) == "10.00"
    path.write_text(FEED.format(price="12,50"), encoding="utf-8")  # same length
    os.utime(path, ns=(stamp, stamp))  # a coarse file system (or a quick rewrite) leaves the stamp unchanged
    assert path.stat().st_mtime_ns == stamp
    assert str(load_catalog(str(path), tmp_path / "cache").products[0].price) == "12.50"


class _Plant:
    """A pickle payload that leaves a mark when unpickled."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self):
        return (Path.touch, (self.mark,))


def test_the_feed_cache_is_json_and_a_planted_pickle_never_runs(tmp_path):
    path, cache, mark = tmp_path / "feed.xml", tmp_path / "cache", tmp_path / "code-ran"
    path.write_text(FEED.format(price="10,00"), encoding="utf-8")
    first = load_catalog(str(path), cache)
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert entries and all(json.loads(p.read_text()) for p in entries)
    for entry in entries:  # whoever can write data/cache replaces the entries with code
        entry.write_bytes(pickle.dumps(_Plant(mark)))
    assert load_catalog(str(path), cache) == first
    assert not mark.exists()

"""Local files are read only for a local feed the operator gave, inside its folder or the image roots.

A remote feed or a Supabase row naming a file on the server gets nothing, and
every refusal reads the same as a missing file, so the error stored for the
shop owner tells nothing about what exists on the server.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from batch_video import feed
from batch_video.errors import ProductDataError
from batch_video.images import prepare_image
from batch_video.links import LinkPolicy, policy_from_env
from tests.security.servers import LoopbackServer, send_bytes

GENERIC = "field image_link: the link is not allowed or not readable"


def photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (640, 480), (10, 160, 60)).save(path, "JPEG")
    return path


def rss(*links: str) -> str:
    items = "".join(
        f"<item><g:id>P{n}</g:id><g:title>Produs {n}</g:title><g:price>10 RON</g:price>"
        f"<g:image_link>{link}</g:image_link></item>" for n, link in enumerate(links)
    )
    return f'<rss xmlns:g="http://base.google.com/ns/1.0"><channel>{items}</channel></rss>'


@pytest.fixture
def secret(tmp_path) -> Path:
    """A picture outside every feed folder: what an attacker would like to see published."""
    return photo(tmp_path / "server" / "private" / "secret.jpg")


def refused(product, tmp_path, policy) -> ProductDataError:
    out = Path(tempfile.mkdtemp(dir=tmp_path))
    with pytest.raises(ProductDataError) as err:
        prepare_image(product, out, policy=policy)
    assert list(out.iterdir()) == []
    return err.value


def test_a_file_link_in_a_remote_feed_is_never_read(tmp_path, secret):
    body = rss(secret.as_uri(), str(secret)).encode()
    with LoopbackServer({"/feed.xml": send_bytes(body, "application/xml")}) as server:
        url = server.url("/feed.xml")
        catalog = feed.read_feed(url)  # the operator's own feed URL may point anywhere, loopback included
    assert len(catalog.products) == 2
    for product in catalog.products:
        # What a run does (the policy of the feed's source), and what any caller gets by default.
        for policy in (LinkPolicy.for_source(url), LinkPolicy()):
            error = refused(product, tmp_path, policy)
            # The bare path became a link on the feed's own (loopback) host: refused as a network link.
            assert str(error).startswith(f"product {product.id}, {GENERIC}")
            assert "secret" not in str(error)


def test_a_bare_path_in_a_supabase_row_is_never_read(tmp_path, secret):
    rows = [{"external_id": "ROW-1", "title": "Din tabel", "price": 12, "currency": "RON", "image_link": str(secret)},
            {"external_id": "ROW-2", "title": "Din tabel", "price": 12, "currency": "RON", "image_link": secret.as_uri()}]
    catalog = feed.products_from_rows(rows)
    for product in catalog.products:
        error = refused(product, tmp_path, LinkPolicy.for_source("supabase:products"))
        assert str(error) == f"product {product.id}, {GENERIC}"


@pytest.fixture
def local_feed(tmp_path, secret) -> Path:
    folder = tmp_path / "shop"
    photo(folder / "images" / "ok.jpg")
    (folder / "images" / "escape.jpg").symlink_to(secret)
    fifo = folder / "images" / "pipe.jpg"
    os.mkfifo(fifo)  # opening a FIFO for reading would wait for a writer forever
    links = ["images/ok.jpg", "../server/private/secret.jpg", str(secret), secret.as_uri(), "images/escape.jpg",
             "images/pipe.jpg", "images/missing.jpg", "/proc/self/environ", "/etc/shadow", "/dev/zero"]
    path = folder / "feed.xml"
    path.write_text(rss(*links), encoding="utf-8")
    return path


def test_a_local_feed_reads_only_inside_its_folder_and_every_refusal_reads_alike(tmp_path, local_feed, secret):
    catalog = feed.read_feed(local_feed)
    products = {p.id: p for p in catalog.products}
    policy = LinkPolicy.for_source(str(local_feed))
    assert prepare_image(products["P0"], tmp_path / "out", policy=policy).width == 640
    messages = set()
    for product_id in ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"):
        error = refused(products[product_id], tmp_path, policy)
        assert error.product_id == product_id and error.field == "image_link"
        messages.add(str(error).replace(product_id, "<id>"))
        assert str(tmp_path) not in str(error) and "secret" not in str(error)
    # Outside, symlinked out, a FIFO, a device, missing: one message, no existence oracle.
    assert messages == {f"product <id>, {GENERIC}"}


def test_configured_image_roots_extend_a_local_feed_and_nothing_else(tmp_path, local_feed, secret, monkeypatch):
    catalog = feed.read_feed(local_feed)
    outside = next(p for p in catalog.products if p.id == "P2")
    monkeypatch.setenv("BATCH_VIDEO_IMAGE_ROOTS", str(secret.parent))
    assert prepare_image(outside, tmp_path / "out", policy=policy_from_env(str(local_feed))).width == 640
    # The same roots mean nothing to a remote feed or to Supabase rows.
    for source in ("https://shop.example/feed.xml", "supabase:products"):
        refused(outside, tmp_path, policy_from_env(source))


def test_an_oversized_local_image_is_refused_by_its_size_before_reading(tmp_path):
    folder = tmp_path / "shop"
    big = folder / "big.jpg"
    big.parent.mkdir(parents=True)
    with open(big, "wb") as handle:
        handle.truncate(41 * 1024 * 1024)  # sparse: costs no disk
    product = feed.build_product({"id": "BIG", "title": "t", "price": "1", "image_link": str(big)})
    error = refused(product, tmp_path, LinkPolicy(local_roots=(folder.resolve(),)))
    assert "larger than" in str(error)


def test_decoder_errors_do_not_reveal_paths(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "fake.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "PNG")
    (folder / "cut.png").write_bytes(buffer.getvalue()[:40])
    for name in ("fake.jpg", "cut.png"):
        product = feed.build_product({"id": "X", "title": "t", "price": "1", "image_link": str(folder / name)})
        error = refused(product, tmp_path, LinkPolicy(local_roots=(folder.resolve(),)))
        assert str(tmp_path) not in str(error) and error.field == "image_link"

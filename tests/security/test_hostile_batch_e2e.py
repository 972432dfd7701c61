"""One real batch over a hostile feed: the good products around the bad ones render, in the same backfill.

A local feed (the operator's own file) lists a good product first, then links an
attacker would write (an image server on loopback, `localhost`, the cloud
metadata address, `file://` and `../` paths to a real photo outside the feed's
folder, a 10000x9999 pixel PNG, an EPS file named .jpg), and last a good product
whose title is 20,000 characters of Markdown and HTML. `dagster dev` (webserver
and daemon) runs the backfill the CLI launches, one run per product, the way a
shop's batch runs.

Each bad product fails alone at product_image with its product and field named;
the loopback server never sees a request; the photo outside the folder is never
published; both good products are published, from the same backfill.
"""

from __future__ import annotations

import io

import dagster as dg
import pytest
from PIL import Image

from batch_video.catalog import load_catalog
from batch_video.feed import slugify_key
from batch_video.publish import LocalStorage
from dagster_project.automation.feed_sync import sync_feed_partitions
from scripts.local_dagster import LocalDagster
from tests.dagster_project.conftest import write_photo
from tests.dagster_project.test_batch_e2e import STARTUP_CEILING_S, cli_json, follow, published_for, server_env
from tests.security.servers import LoopbackServer, send_bytes
from tests.security.test_image_decoding import png_of_zeros

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

LONG_TITLE = ("Cană](https://tracker.example/p.png) <img src=x onerror=alert(1)> " * 400)[:20_000]


def item(product_id: str, link: str, title: str = "") -> str:
    title = title or f"Produs {product_id}"
    return (f"<item><g:id>{product_id}</g:id><g:title><![CDATA[{title}]]></g:title><g:brand>Test</g:brand>"
            f"<g:price>19,99 RON</g:price><g:image_link>{link}</g:image_link>"
            f"<g:availability>in_stock</g:availability></item>")


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_good_products_around_hostile_ones_render_in_the_same_backfill(tmp_path, monkeypatch, capsys):
    shop = tmp_path / "shop"
    write_photo(shop / "images" / "first.jpg")
    write_photo(shop / "images" / "last.jpg")
    outside = write_photo(tmp_path / "server-secrets" / "private.jpg")  # a real photo, outside the feed's folder
    png_of_zeros(shop / "images" / "bomb.png", 10000, 9999)
    (shop / "images" / "ghost.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")

    with LoopbackServer({"/secret.jpg": send_bytes(jpeg(), "image/jpeg")}) as internal:
        hostile = {
            "RAU-LOOPBACK": internal.url("/secret.jpg"),
            "RAU-LOCALHOST": internal.url("/secret.jpg", host="localhost"),
            "RAU-METADATA": "http://169.254.169.254/latest/meta-data/iam/photo.jpg",
            "RAU-FILE-URL": outside.as_uri(),
            "RAU-TRAVERSAL": "../server-secrets/private.jpg",
            "RAU-PIXELS": "images/bomb.png",
            "RAU-EPS": "images/ghost.jpg",
        }
        feed = shop / "feed.xml"
        feed.write_text(
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">'
            "<channel><title>Hostile</title>"
            + item("BUN-PRIMUL", "images/first.jpg")
            + "".join(item(product_id, link) for product_id, link in hostile.items())
            + item("BUN-ULTIMUL", "images/last.jpg", LONG_TITLE)
            + "</channel></rss>",
            encoding="utf-8",
        )
        good = [slugify_key("BUN-PRIMUL"), slugify_key("BUN-ULTIMUL")]
        bad = {slugify_key(product_id): product_id for product_id in hostile}

        env = server_env(tmp_path, feed, preset="preview", duration_min_s="1", tail_s="0.5")
        home = tmp_path / "dagster_home"
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with LocalDagster(home, env=env, startup_timeout_s=STARTUP_CEILING_S) as client:
            instance = dg.DagsterInstance.from_config(str(home))
            try:
                sync_feed_partitions(instance, load_catalog(str(feed)))
                launched = cli_json(capsys, "batch", "launch", "--all", "--json", "--url", client.url)
                assert sorted(launched["products"]) == sorted([*good, *bad])
                done, _ = follow(capsys, client.url, launched["backfill_id"], instance)
                runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": launched["backfill_id"]}))
                assert all(r.dagster_run.tags.get("dagster/max_runtime") for r in runs)
            finally:
                instance.dispose()
        assert internal.requests == []  # refused before any connection: the server never saw the product

    rows = {row["partition_key"]: row for row in done["products"]}
    for key in good:
        assert rows[key]["status"] == "succeeded", rows[key]
        assert published_for(rows[key]["video"], key)
    for key, product_id in bad.items():
        row = rows[key]
        assert (row["status"], row["stage"]) == ("failed", "product_image"), row
        assert product_id in row["error"] and "image_link" in row["error"], row
    assert done["totals"]["succeeded"] == 2 and done["totals"]["failed"] == len(bad)

    storage = LocalStorage(tmp_path / "output")
    assert sorted(storage.manifest()["videos"]) == sorted(good)  # nothing of the bad ones was published
    assert not any(storage.live_video(key) for key in bad)
    # The long title was cut, not copied whole into the product's record.
    record = (tmp_path / "data" / "work" / good[1] / "product.json").read_text(encoding="utf-8")
    assert len(record) < 5_000

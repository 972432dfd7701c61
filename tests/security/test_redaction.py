"""A feed or image URL's credentials and query string never reach logs, metadata, the sensor cursor or errors.

The feed is served for real on loopback (the operator's own feed URL may point
anywhere); its URL carries a user, a password and a token, as shops' export
links do. Every text the sensor, the assets and the errors leave behind is
searched for them.
"""

from __future__ import annotations

import logging

import dagster as dg
import pytest

from batch_video.errors import ProductDataError
from batch_video.feed import slugify_key
from batch_video.redact import redact_url, source_id
from dagster_project.assets import product_record
from dagster_project.automation.feed_sync import SyncOptions, build_feed_sync_sensor
from dagster_project.resources import CatalogResource
from tests.dagster_project.automation.test_feed_sync import publishing_for
from tests.dagster_project.conftest import FEED_TEMPLATE, chain_resources
from tests.security.servers import LoopbackServer, send_bytes

SECRETS = ("shopuser", "pa55word", "t0ken-value", "sig=")


def secret_free(text: str) -> bool:
    return not any(secret in text for secret in SECRETS)


def with_secrets(url: str) -> str:
    """`url` with a user, a password and a token added, as a shop's export link carries them."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://shopuser:pa55word@{rest}?token=t0ken-value&sig=abc"


def tick(sensor, instance, catalog, cursor=None):
    resources = {"catalog": catalog, "publishing": publishing_for(catalog)}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def test_redact_url_keeps_scheme_host_and_path_only():
    url = "https://shopuser:pa55word@shop.example:8443/export/feed.xml?token=t0ken-value#frag"
    assert redact_url(url) == "https://shop.example:8443/export/feed.xml?…"
    # The cursor's name for a source: readable, secret-free, and still different when only the token changes.
    assert secret_free(source_id(url))
    assert source_id(url) != source_id(url.replace("t0ken-value", "other"))
    assert source_id("/srv/feeds/feed.xml") == "/srv/feeds/feed.xml"


def test_a_domain_error_never_carries_a_url_secret():
    err = ProductDataError("could not download https://shopuser:pa55word@cdn.example/p.jpg?sig=abc: HTTP 403",
                           product_id="p1", field="image_link")
    assert secret_free(str(err)) and secret_free(err.message)
    assert "https://cdn.example/p.jpg?…" in str(err)


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def test_the_feed_sensor_keeps_the_feed_url_secrets_out_of_cursor_logs_skips_and_observations(
        instance, tmp_path, caplog):
    feed = FEED_TEMPLATE.encode()
    routes = {"/feed.xml": send_bytes(feed, "application/xml")}
    sensor = build_feed_sync_sensor(name="redaction_sensor", options=SyncOptions())
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with LoopbackServer(routes) as server:
        url = with_secrets(server.url("/feed.xml"))
        catalog = CatalogResource(feed_url=url, cache_dir=str(tmp_path / "cache"))

        first = tick(sensor, instance, catalog)
        assert isinstance(first, dg.SensorResult) and first.run_requests  # the feed was read through that URL
        for request in first.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        texts.append(first.cursor)

        unchanged = tick(sensor, instance, catalog, first.cursor)
        assert isinstance(unchanged, dg.SkipReason)
        texts.append(unchanged.skip_message)

        # A product leaves the feed: the observation that says so names the feed.
        server.routes["/feed.xml"] = send_bytes(feed.split(b"<item>")[0] + b"<item>" + feed.split(b"<item>")[1]
                                         + b"</channel></rss>", "application/xml")
        removed = tick(sensor, instance, catalog, first.cursor)
        assert isinstance(removed, dg.SensorResult) and removed.asset_events
        texts.append(removed.cursor)
        texts.extend(str(event.metadata) for event in removed.asset_events)

        # The server fails: the skip reason and the error logged name the feed too.
        server.routes["/feed.xml"] = send_bytes(b"nope", status=500)
        failed = tick(sensor, instance, catalog, removed.cursor)
        assert isinstance(failed, dg.SkipReason) and "127.0.0.1" in failed.skip_message
        texts.append(failed.skip_message)
    texts.extend(record.getMessage() for record in caplog.records)
    leaked = [text for text in texts if not secret_free(text)]
    assert not leaked, leaked
    assert any(redact_url(url) in text for text in texts)


def test_product_record_metadata_names_the_feed_and_image_link_without_their_secrets(tmp_path, instance):
    feed = tmp_path / "feed" / "feed.xml"
    feed.parent.mkdir()
    feed.write_text(FEED_TEMPLATE.replace("<g:image_link>images/mug.jpg", "<g:image_link>"
                                          + with_secrets("https://cdn.example/mug.jpg").replace("&", "&amp;")),
                    encoding="utf-8")
    resources = chain_resources(feed, tmp_path)
    key = slugify_key("CANA 1")
    instance.add_dynamic_partitions("products", [key])
    result = dg.materialize([product_record], partition_key=key, instance=instance,
                            resources={k: resources[k] for k in ("catalog", "workspace", "batch_settings")})
    (materialization,) = result.asset_materializations_for_node("product_record")
    metadata = {name: str(value.value) for name, value in materialization.metadata.items()}
    assert metadata["image_link"] == "https://cdn.example/mug.jpg?…"
    assert all(secret_free(text) for text in metadata.values()), metadata

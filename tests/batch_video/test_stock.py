"""Stock-aware publishing, the pure part: which availabilities render, which videos leave and return."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batch_video.errors import ConfigError
from batch_video.models import FeedReadResult, Product
from batch_video.stock import StockPolicy, plan_shelf
from batch_video.sync import plan_sync, select_runs


def product(key: str, availability: str) -> Product:
    return Product(id=key.upper(), key=key, title=f"Produs {key}", price=Decimal("100"), currency="RON",
                   image_link="https://x/y.jpg", availability=availability, content_hash=f"h-{key}-{availability}")


def test_out_of_stock_is_not_rendered_and_preorder_only_when_allowed():
    default = StockPolicy()
    assert default.renders("in_stock") and default.renders("") and default.renders("limited_availability")
    assert not default.renders("out_of_stock") and not default.renders("preorder") and not default.renders("backorder")
    shop = StockPolicy.from_env({"BATCH_VIDEO_RENDER_AVAILABILITY": "preorder, backorder"})
    assert shop.renders("preorder") and shop.renders("backorder") and not shop.renders("out_of_stock")
    assert StockPolicy.from_env({}).unpublish is True
    assert StockPolicy.from_env({"BATCH_VIDEO_UNPUBLISH_UNAVAILABLE": "false"}).unpublish is False


def test_a_policy_that_would_render_out_of_stock_products_is_refused():
    with pytest.raises(ConfigError) as err:
        StockPolicy.from_env({"BATCH_VIDEO_RENDER_AVAILABILITY": "out_of_stock"})
    assert err.value.field == "render_availability"
    with pytest.raises(ConfigError):
        StockPolicy.from_env({"BATCH_VIDEO_UNPUBLISH_UNAVAILABLE": "maybe"})


def test_the_sync_plan_adds_unavailable_products_but_runs_none_of_them():
    feed = FeedReadResult((product("a", "in_stock"), product("b", "out_of_stock"), product("c", "preorder")), source="feed.xml")
    plan = plan_sync(feed, [])
    assert plan.new == ("a", "b", "c")  # every product gets its partition (the grid shows them all)
    assert plan.unavailable == {"b": "out_of_stock", "c": "preorder"}
    assert plan.to_run == ("a",) and plan.counts()["unavailable"] == 2
    assert select_runs(plan, {}, {}, max_runs=10).run_now == ("a",)
    allowed = plan_sync(feed, [], policy=StockPolicy(render=frozenset({"preorder"})))
    assert allowed.to_run == ("a", "c")


def test_a_live_video_of_an_out_of_stock_or_removed_product_is_withdrawn():
    current = {"a": "h1", "b": "h2-out", "broken": "hx"}
    shelf = plan_shelf(current, {"b": "out_of_stock"}, ["gone"],
                       videos={"a": True, "b": True, "gone": True, "never": True},
                       previous_hashes={"a": "h1", "b": "h2"}, policy=StockPolicy())
    assert shelf.withdraw == ("b", "gone") and shelf.restore == ()
    assert shelf.reasons == {"b": "out_of_stock", "gone": "removed_from_feed"}
    # A product whose data is broken now is not in `current` nor removed: its video stays.
    assert "never" not in shelf.withdraw


def test_a_shop_that_keeps_videos_withdraws_nothing():
    shelf = plan_shelf({"b": "h2-out"}, {"b": "out_of_stock"}, ["gone"], {"b": True, "gone": True}, {}, StockPolicy(unpublish=False))
    assert not shelf


def test_a_withdrawn_video_returns_only_when_its_product_is_back_as_it_was_rendered():
    current = {"back": "h1", "repriced": "h3", "still-out": "h4-out"}
    shelf = plan_shelf(current, {"still-out": "out_of_stock"}, [],
                       videos={"back": False, "repriced": False, "still-out": False, "live": True},
                       previous_hashes={"back": "h1", "repriced": "h2", "still-out": "h4"}, policy=StockPolicy())
    assert shelf.restore == ("back",) and shelf.reasons["back"] == "back_in_stock"
    assert shelf.withdraw == ()  # and "repriced" is rendered again by the sync (it changed), not restored


def test_every_format_of_a_product_leaves_and_returns_with_it():
    # a three-format batch records `<key>`, `<key>--square` and `<key>--landscape`
    videos = {"b": True, "b--square": True, "b--landscape": True, "a": True, "a--square": True}
    out = plan_shelf({"a": "h1", "b": "h2-out"}, {"b": "out_of_stock"}, [], videos=videos,
                     previous_hashes={"a": "h1", "b": "h2"}, policy=StockPolicy())
    assert out.withdraw == ("b", "b--landscape", "b--square")
    assert set(out.reasons.values()) == {"out_of_stock"}
    back = plan_shelf({"a": "h1", "b": "h2"}, {}, [], videos={**videos, **{k: False for k in out.withdraw}},
                      previous_hashes={"a": "h1", "b": "h2"}, policy=StockPolicy())
    assert back.restore == ("b", "b--landscape", "b--square") and back.withdraw == ()

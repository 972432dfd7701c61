"""The pure partition diff, the sensor cursor, run selection and the CLI reports."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from batch_video import sync
from batch_video.feed import read_feed
from batch_video.models import FeedProblem, FeedReadResult, Product
from batch_video.sync import FeedVersion, SyncCursor, diff_partitions, plan_sync, select_runs

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def product(key: str, digest: str, *, sale: str | None = None) -> Product:
    return Product(
        id=key.upper(),
        key=key,
        title=f"Produs {key}",
        price=Decimal("100"),
        currency="RON",
        image_link="https://x/y.jpg",
        sale_price=None if sale is None else Decimal(sale),
        content_hash=digest,
    )


def test_diff_partitions_classifies_every_key():
    plan = diff_partitions(
        current={"a": "h1", "b": "h2", "c": "h3-new", "d": "h4"},
        existing_keys=["b", "c", "d", "gone", "broken"],
        previous_hashes={"b": "h2", "c": "h3", "gone": "h9"},
        invalid_keys=["broken"],
    )
    assert plan.new == ("a",)
    assert plan.unchanged == ("b",)
    assert plan.changed == ("c",)
    assert plan.unrendered == ("d",)  # a partition that was never materialized
    assert plan.removed == ("gone",)
    assert plan.invalid_existing == ("broken",)
    assert plan.to_run == ("a", "c", "d")


def test_diff_of_an_empty_instance_is_all_new():
    plan = diff_partitions({"b": "1", "a": "2"}, [], {})
    assert plan.new == ("a", "b") and not (plan.changed or plan.unchanged or plan.removed)


def test_plan_sync_from_a_feed_keeps_invalid_products_partitions():
    result = read_feed(FEEDS / "merchant_rss.xml")
    hashes = {p.key: p.content_hash for p in result.products}
    existing = [*hashes, "sku-005", "sku-999"]  # SKU-005 is in the feed but invalid now
    plan = plan_sync(result, existing, hashes)
    assert plan.removed == ("sku-999",)
    assert plan.invalid_existing == ("sku-005",)
    assert plan.unchanged == tuple(sorted(hashes))
    assert plan.counts()["invalid"] == len(result.problems) == 4
    assert plan.duplicates == ("SKU-004",)


def test_plan_sync_without_history_treats_existing_keys_as_unchanged():
    result = FeedReadResult(products=(product("a", "1"), product("b", "2")))
    plan = plan_sync(result, ["a"])
    assert plan.new == ("b",) and plan.unchanged == ("a",) and plan.to_run == ("b",)


def test_cursor_round_trip_and_bad_cursors():
    cursor = SyncCursor(source="/f.xml", version=FeedVersion(sha256="abc", etag='"1"'), requested={"k": "h"}, backlog=3,
                        shelf_failed=2)
    assert SyncCursor.from_json(cursor.to_json()) == cursor
    assert SyncCursor.from_json(cursor.to_json()).shelf_failed == 2
    assert SyncCursor.from_json(cursor.to_json()).requested == {"k": "h"}
    assert SyncCursor.from_json(None) == SyncCursor()
    assert SyncCursor.from_json("not json") == SyncCursor()
    assert SyncCursor.from_json(json.dumps({"v": 99})) == SyncCursor()


def test_cursor_skips_only_the_same_feed_version_without_backlog():
    version = FeedVersion(sha256="abc")
    cursor = SyncCursor(source="/f.xml", version=version)
    assert cursor.unchanged("/f.xml", FeedVersion(sha256="abc"))
    assert not cursor.unchanged("/f.xml", FeedVersion(sha256="def"))
    assert not cursor.unchanged("/other.xml", version)
    assert not SyncCursor(source="/f.xml", version=version, backlog=5).unchanged("/f.xml", version)
    assert not SyncCursor(source="/f.xml", version=version, shelf_failed=1).unchanged("/f.xml", version)  # retry the shelf
    assert not SyncCursor().unchanged("", FeedVersion())  # nothing known: never skip


def test_feed_version_prefers_content_then_validators():
    assert FeedVersion(sha256="a", etag="1").same_as(FeedVersion(sha256="a", etag="2"))
    assert not FeedVersion(sha256="a", etag="1").same_as(FeedVersion(sha256="b", etag="1"))
    assert FeedVersion(etag="1").same_as(FeedVersion(etag="1"))
    assert FeedVersion(last_modified="Mon").same_as(FeedVersion(last_modified="Mon"))
    assert not FeedVersion().same_as(FeedVersion())


def test_select_runs_caps_and_carries_over():
    current = {f"k{i:02d}": f"h{i}" for i in range(10)}
    plan = diff_partitions(current, [], {})
    first = select_runs(plan, {}, {}, max_runs=4)
    assert first.run_now == ("k00", "k01", "k02", "k03")
    assert len(first.backlog) == 6
    # next tick: nothing materialized yet; the requested ones are not asked again
    second = select_runs(plan, {}, first.requested, max_runs=4)
    assert second.run_now == ("k04", "k05", "k06", "k07")
    third = select_runs(plan, {}, second.requested, max_runs=4)
    assert third.run_now == ("k08", "k09") and not third.backlog
    assert set(third.requested) == set(current)


def test_select_runs_forgets_materialized_and_removed_keys_and_rerequests_a_new_version():
    plan = diff_partitions({"a": "h2", "b": "h1"}, ["a", "b"], {"a": "h1", "b": "h1"})
    selection = select_runs(plan, {"a": "h1", "b": "h1"}, {"a": "h1", "b": "h1", "gone": "x"}, max_runs=10)
    assert selection.run_now == ("a",)  # requested for h1 before, changed to h2 now
    assert selection.requested == {"a": "h2"}  # b's request materialized, gone left the feed


def test_select_runs_does_not_repeat_a_run_that_failed_before_recording():
    plan = diff_partitions({"a": "h1"}, ["a"], {})
    assert select_runs(plan, {}, {"a": "h1"}, max_runs=10).run_now == ()


def test_run_key_names_product_and_version():
    assert sync.run_key("sku-1", "abc") == "sku-1@abc"


def test_inspect_report_counts_and_text():
    result = read_feed(FEEDS / "merchant_rss.xml")
    report = sync.feed_inspect_report(result, first_rows=2)
    assert report["counts"] == {"valid": 4, "invalid": 4, "skipped": 0, "problems": 4, "on_sale": 1, "duplicates": 1}
    assert report["format"] == "Google Merchant feed (XML)"
    assert [row["key"] for row in report["first_rows"]] == ["sku-001", "sku-002"]
    assert report["problems"][0] == {
        "product_id": "SKU-005",
        "field": "sale_price",
        "raw_value": "doar azi",
        "reason": "cannot read a price from 'doar azi'",
        "position": 5,
        "kind": "invalid",
        "key": "sku-005",
    }
    json.dumps(report)  # --json prints it as is
    text = sync.format_inspect_report(report)
    assert "valid: 4  invalid: 4  not for sale: 0  on sale: 1  duplicates: 1" in text
    assert "#5 SKU-005: sale_price" in text
    assert "1249.00 RON -> 999.99 RON" in text


def test_sync_report_lists_counts_and_keys():
    problem = FeedProblem("X", "price", "abc", "cannot read", 3)
    plan = diff_partitions({"a": "1", "b": "2"}, ["b", "c"], {"b": "1"})
    plan = sync.SyncPlan(**{**plan.__dict__, "problems": (problem,)})
    text = sync.format_sync_report(plan, applied=False)
    assert text.splitlines()[0].startswith("1 new, 1 changed, 0 unchanged, 1 removed")
    assert "new: a" in text and "changed: b" in text and "removed: c" in text
    assert "--delete-removed" in text and "dry run" in text and "product X: field price" in text


def test_select_runs_defers_busy_partitions_to_the_backlog():
    plan = diff_partitions({"a": "h1", "b": "h2", "c": "h3"}, [], {})
    selection = select_runs(plan, {}, {}, max_runs=1, busy={"a"})
    assert selection.run_now == ("b",)
    assert selection.backlog == ("c", "a")
    assert "a" not in selection.requested  # asked again once its running run is over

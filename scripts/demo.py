"""The demo batch: sample feed -> partitions -> a real Dagster backfill -> a table.

Starts `dagster dev` (webserver + daemon) on a repo-local instance, syncs the
bundled feed, launches a backfill of every product whose video is missing or
out of date, follows it, prints one row per product, then stops Dagster.
Exit 0 when every product succeeded except the sample's deliberately broken one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batch_video.feed import slugify_key  # noqa: E402
from batch_video.sample import BROKEN_PRODUCT_ID, FEED_PATH as SAMPLE_FEED  # noqa: E402

# The sample feed's broken product (its photo does not exist): it must fail, alone, at this stage.
EXPECTED_FAILURES = {slugify_key(BROKEN_PRODUCT_ID): "product_image"}


def configure_environment() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home"))
    os.environ.setdefault("BATCH_VIDEO_DATA_DIR", str(ROOT / "data"))
    os.environ.setdefault("BATCH_VIDEO_OUTPUT_DIR", str(ROOT / "output"))
    os.environ.setdefault("BATCH_VIDEO_FEED_URL", str(SAMPLE_FEED))
    # The demo runs offline: espeak-ng speaks (the Edge service is unreachable here).
    os.environ.setdefault("BATCH_VIDEO_TTS_PROVIDER", "espeak")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != (ROOT / "dagster.yaml").read_text():
        config.write_text((ROOT / "dagster.yaml").read_text())


def stale_products(instance, catalog, settings_hash: str) -> tuple[list[str], list[str]]:
    """Split product keys into (to render, up to date) by the last published content, settings and renderer."""
    import dagster as dg

    from batch_video.pipeline import RENDER_VERSION

    to_render, up_to_date = [], []
    for product in catalog.products:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("published_video"), asset_partitions=[product.key]), limit=1
        )
        meta = result.records[0].asset_materialization.metadata if result.records else {}
        same = (
            meta.get("content_hash") is not None
            and meta["content_hash"].value == product.content_hash
            and meta.get("settings_hash") is not None
            and meta["settings_hash"].value == settings_hash
            and meta.get("render_version") is not None
            and meta["render_version"].value == RENDER_VERSION
        )
        (up_to_date if same else to_render).append(product.key)
    return to_render, up_to_date


def main() -> int:
    configure_environment()
    import dagster as dg

    from batch_video.catalog import load_catalog
    from batch_video.settings import BatchSettings
    from batch_video.stages import STAGES
    from dagster_project.automation.feed_sync import sync_feed_partitions
    from dagster_project.console.batch import format_table, progress_bar, wait_for_backfill
    from dagster_project.console.client import DagsterClient
    from dagster_project.console.status import ProductStatus, published_location
    from scripts.local_dagster import LocalDagster

    port = int(os.environ.get("BATCH_VIDEO_DEMO_PORT", "3000"))
    client = DagsterClient(f"http://127.0.0.1:{port}")
    if client.is_up():
        raise SystemExit(f"something already serves {client.url}; stop it (e.g. `make dev`) or set BATCH_VIDEO_DEMO_PORT")
    feed = os.environ["BATCH_VIDEO_FEED_URL"]
    instance = dg.DagsterInstance.get()
    catalog = load_catalog(feed)
    plan, _ = sync_feed_partitions(instance, catalog)
    print(f"feed {feed}: {len(catalog.products)} products ({len(plan.new)} new partitions), {len(catalog.problems)} invalid")
    to_render, up_to_date = stale_products(instance, catalog, BatchSettings.from_env().settings_hash())
    if up_to_date:
        print(f"{len(up_to_date)} products are up to date (same feed data and settings): not re-rendered")

    rows: list[ProductStatus] = []
    if to_render:
        print("starting Dagster (webserver + daemon)...")
        with LocalDagster(os.environ["DAGSTER_HOME"], port=port) as client:
            backfill_id = client.launch_backfill(
                to_render, STAGES, title="demo batch", tags={"batch_video/launched_by": "make-demo"}
            )
            print(f"backfill {backfill_id}: {len(to_render)} products, one run each -> {client.backfill_link(backfill_id)}")
            last = [""]

            def show(current: list[ProductStatus]) -> None:
                line = progress_bar(current)
                if line != last[0]:
                    print("  " + line, flush=True)
                    last[0] = line

            rows = wait_for_backfill(instance, backfill_id, on_poll=show, timeout_s=1800)
    rows += [
        ProductStatus(key, "skipped", "published_video", video=f"{published_location(instance, key)} (up to date)")
        for key in up_to_date
    ]
    print()
    print(format_table(rows))

    grid = instance.get_status_by_partition(
        dg.AssetKey("published_video"), [p.key for p in catalog.products], dg.DynamicPartitionsDefinition(name="products")
    ) or {}
    print("asset grid (published_video): " + ", ".join(f"{k}={v.value if v else 'missing'}" for k, v in grid.items()))

    expected = EXPECTED_FAILURES if Path(feed).resolve() == SAMPLE_FEED.resolve() else {}
    failed = {r.partition_key: r.stage for r in rows if r.status not in {"succeeded", "skipped"}}
    unexpected = {k: v for k, v in failed.items() if expected.get(k) != v}
    print()
    print("Open the UI with `make dev` (http://127.0.0.1:3000): Assets -> published_video shows the same grid.")
    if unexpected:
        print(f"UNEXPECTED failures: {unexpected}")
        return 1
    print(f"demo OK: {sum(r.status in {'succeeded', 'skipped'} for r in rows)} videos in {os.environ['BATCH_VIDEO_OUTPUT_DIR']}/videos"
          + (f"; {len(failed)} expected failure(s): {', '.join(failed)}" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

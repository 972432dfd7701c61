"""The demo batch: sample feed -> partitions -> a real Dagster backfill -> a table.

Syncs the bundled feed into `products` partitions and decides, from the
instance's history, which products need rendering before starting anything:
when none does, Dagster is not started at all. Otherwise it starts the webserver
and code server, launches a backfill of those products, then starts the daemon,
whose first pass takes the batch at once (a daemon already running would take it
at its next pass, up to 30 s later). It follows the products until each has
finished, tells Dagster's processes to stop, prints one row per product while
they shut down, then waits for them.
Exit 0 when every product succeeded except the sample's deliberately broken one.

`BATCH_VIDEO_DEMO_TIMINGS=PATH` writes the seconds of each step as JSON (make bench-demo).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batch_video.feed import slugify_key  # noqa: E402
from batch_video.sample import BROKEN_PRODUCT_ID, FEED_PATH as SAMPLE_FEED  # noqa: E402

# The sample feed's broken product (its photo does not exist): it must fail, alone, at this stage.
EXPECTED_FAILURES = {slugify_key(BROKEN_PRODUCT_ID): "product_image"}
# Stages whose outcome depends only on the feed entry and the settings: a bad-input failure there
# repeats until one of them changes, so it is not re-run with the same ones.
INPUT_STAGES = ("product_record", "product_image", "voiceover_script", "voiceover_audio")


class Steps:
    """Seconds spent in each step of the demo, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = STARTED

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def write(self, path: str) -> None:
        Path(path).write_text(json.dumps({**self.seconds, "total (in python)": time.perf_counter() - STARTED}, indent=1))


def configure_environment() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home"))
    os.environ.setdefault("BATCH_VIDEO_DATA_DIR", str(ROOT / "data"))
    os.environ.setdefault("BATCH_VIDEO_OUTPUT_DIR", str(ROOT / "output"))
    os.environ.setdefault("BATCH_VIDEO_FEED_URL", str(SAMPLE_FEED))
    # The demo runs offline: espeak-ng speaks (the Edge service is unreachable here).
    os.environ.setdefault("BATCH_VIDEO_TTS_PROVIDER", "espeak")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    config, profile = home / "dagster.yaml", ROOT / "deploy" / "local" / "dagster.yaml"
    if not config.exists() or config.read_text() != profile.read_text():
        config.write_text(profile.read_text())


def _latest(instance, fetch, asset: str, key: str):
    import dagster as dg

    result = fetch(dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1)
    return result.records[0] if result.records else None


def _value(metadata, name: str):
    entry = metadata.get(name)
    return entry.value if entry is not None else None


def repeated_failure(instance, product, settings_hash: str) -> tuple[str, str] | None:
    """(stage, reason) when the product's last attempt failed on bad input with the feed entry and settings it has now."""
    record = _latest(instance, instance.fetch_materializations, "product_record", product.key)
    if record is None:
        return None
    meta = record.asset_materialization.metadata
    if _value(meta, "content_hash") != product.content_hash or _value(meta, "settings_hash") != settings_hash:
        return None
    for stage in INPUT_STAGES:
        failure = _latest(instance, instance.fetch_observations, stage, product.key)
        if failure is None or failure.storage_id < record.storage_id:
            continue
        observed = failure.event_log_entry.asset_observation
        success = _latest(instance, instance.fetch_materializations, stage, product.key)
        if "failure" in observed.metadata and _value(observed.metadata, "retryable") is False and (
            success is None or success.storage_id < failure.storage_id
        ):
            return stage, str(_value(observed.metadata, "failure"))
    return None


def stale_products(instance, catalog, settings_hash: str) -> tuple[list[str], list[str], dict[str, tuple[str, str]]]:
    """Split product keys into (to render, up to date, failed before with the same data: key -> (stage, reason)).

    Up to date: the last published video was made from the same content, settings and renderer.
    """
    from batch_video.pipeline import RENDER_VERSION

    to_render, up_to_date, failed_before = [], [], {}
    for product in catalog.products:
        record = _latest(instance, instance.fetch_materializations, "published_video", product.key)
        meta = record.asset_materialization.metadata if record else {}
        same = (
            _value(meta, "content_hash") == product.content_hash
            and _value(meta, "settings_hash") == settings_hash
            and _value(meta, "render_version") == RENDER_VERSION
        )
        if same:
            up_to_date.append(product.key)
        elif failure := repeated_failure(instance, product, settings_hash):
            failed_before[product.key] = failure
        else:
            to_render.append(product.key)
    return to_render, up_to_date, failed_before


def run_batch(keys: list[str], port: int, steps: Steps, *, previous_flow: bool = False) -> tuple[list, "LocalDagster | None"]:
    """Start Dagster, render `keys` as one backfill and tell Dagster to stop; one row per product, and the
    LocalDagster whose `stop()` waits for its processes to end (None when stopped already; all are stopped if
    this raises).

    `previous_flow` is how the demo ran before (`make bench-demo` measures both): `dagster dev`
    started whole, the backfill taken at the daemon's next pass, and the demo waiting until the
    daemon marks the backfill finished (its pass after the last product).
    """
    from batch_video.stages import STAGES
    from dagster_project.console.batch import follow_backfill
    from dagster_project.batch_status import TERMINAL
    from dagster_project.run_tags import run_limit_tags
    from scripts.local_dagster import LocalDagster

    print("starting Dagster (webserver + code server)...", flush=True)
    server = LocalDagster(os.environ["DAGSTER_HOME"], port=port, daemon_after_launch=not previous_flow)
    client = server.start()
    try:
        steps.done("start dagster (webserver + code location loaded)")
        backfill_id = client.launch_backfill(keys, STAGES, title="demo batch", tags={"batch_video/launched_by": "make-demo", **run_limit_tags()})
        server.start_daemon()
        print(f"backfill {backfill_id}: {len(keys)} products, one run each -> {client.backfill_link(backfill_id)}", flush=True)
        steps.done("launch backfill")

        def first_start(rows: list) -> None:
            if "launch -> first product starts" not in steps.seconds and any(r.start_time for r in rows):
                steps.done("launch -> first product starts")

        # Without the previous flow, every product's run has finished: its row is final. The backfill itself is
        # marked finished by the daemon's next pass (at the next `make dev` or demo if not before).
        done = None if previous_flow else (lambda rows: all(r.status in TERMINAL for r in rows))
        _, rows = follow_backfill(client, backfill_id, poll_s=1.0, timeout_s=1800, on_rows=first_start, done=done)
        steps.done("products run")
    except BaseException:
        server.stop()
        raise
    if previous_flow:  # it waited for Dagster to stop before printing anything
        print("stopping Dagster...", flush=True)
        server.stop()
        steps.done("stop dagster")
        return rows, None
    print("stopping Dagster (the table below is printed while it shuts down)...", flush=True)
    server.begin_stop()
    return rows, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--previous-flow", action="store_true", help=argparse.SUPPRESS)  # make bench-demo's baseline
    args = parser.parse_args(argv)
    steps = Steps()
    configure_environment()
    import dagster as dg

    from batch_video.catalog import load_catalog
    from batch_video.settings import BatchSettings
    from dagster_project.automation.feed_sync import sync_feed_partitions
    from dagster_project.console.client import DagsterClient
    from dagster_project.batch_status import ProductStatus

    steps.done("python start + imports")
    port = int(os.environ.get("BATCH_VIDEO_DEMO_PORT", "3000"))
    feed = os.environ["BATCH_VIDEO_FEED_URL"]
    instance = dg.DagsterInstance.get()
    catalog = load_catalog(feed)
    plan, _ = sync_feed_partitions(instance, catalog)
    print(f"feed {feed}: {len(catalog.products)} products ({len(plan.new)} new partitions), {len(catalog.problems)} invalid")
    steps.done("read feed + sync partitions")
    to_render, up_to_date, failed_before = stale_products(instance, catalog, BatchSettings.from_env().settings_hash())
    if args.previous_flow:  # the demo used to re-run a product that failed on bad input each time
        to_render, failed_before = to_render + list(failed_before), {}
    if up_to_date:
        print(f"{len(up_to_date)} products are up to date (same feed data and settings): not re-rendered")
    for key, (stage, _) in failed_before.items():
        print(f"{key} failed at {stage} with the same feed data and settings: not re-run "
              "(fix the feed entry, or retry it with `batch-video batch launch --failed`)")
    steps.done("decide what to render")

    rows: list[ProductStatus] = []
    server = None
    if to_render:
        if DagsterClient(f"http://127.0.0.1:{port}").is_up():
            raise SystemExit(f"something already serves http://127.0.0.1:{port}; stop it (e.g. `make dev`) or set BATCH_VIDEO_DEMO_PORT")
        rows, server = run_batch(to_render, port, steps, previous_flow=args.previous_flow)
    else:
        print("nothing needed rendering: Dagster was not started")
    try:
        report(instance, catalog, rows, failed_before, up_to_date, steps)
    finally:
        if server is not None:
            server.stop()
            steps.done("stop dagster")
    if os.environ.get("BATCH_VIDEO_DEMO_TIMINGS"):
        steps.write(os.environ["BATCH_VIDEO_DEMO_TIMINGS"])

    print()
    print("Open the UI with `make dev` (http://127.0.0.1:3000): Assets -> published_video shows the same grid.")
    return verdict(rows, catalog, "demo", Path(os.environ["BATCH_VIDEO_OUTPUT_DIR"]) / "videos")


def report(instance, catalog, rows: list, failed_before: dict, up_to_date: list[str], steps: Steps) -> None:
    """Print one row per product (this run's, then those not re-run) and the asset grid's statuses."""
    from dagster_project.batch_status import ProductStatus, published_location
    from dagster_project.console.batch import format_table
    import dagster as dg

    rows += [ProductStatus(key, "failed", stage, error=f"{reason} (earlier attempt, same data)")
             for key, (stage, reason) in failed_before.items()]
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
    steps.done("table + grid")


def verdict(rows, catalog, name: str, videos: Path) -> int:
    """0 when only the sample's broken product failed (at its stage), else 1; says which."""
    # The sample feed, or a copy of it (make bench-demo edits one): its broken product is expected to fail.
    expected = EXPECTED_FAILURES if any(p.id == BROKEN_PRODUCT_ID for p in catalog.products) else {}
    failed = {r.partition_key: r.stage for r in rows if r.status not in {"succeeded", "skipped"}}
    unexpected = {k: v for k, v in failed.items() if expected.get(k) != v}
    if unexpected:
        print(f"UNEXPECTED failures: {unexpected}")
        return 1
    print(f"{name} OK: {sum(r.status in {'succeeded', 'skipped'} for r in rows)} videos in {videos}"
          + (f"; {len(failed)} expected failure(s): {', '.join(failed)}" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`batch-video batch ...`: launch and follow batches (partition backfills)."""

from __future__ import annotations

import argparse
import json
import time

from dagster_project.batch_client import DagsterClient
from dagster_project.batch_status import STAGES, ProductStatus, product_statuses

TERMINAL = {"succeeded", "failed", "canceled", "skipped"}


def format_table(rows: list[ProductStatus]) -> str:
    width = max([len(r.partition_key) for r in rows] + [7])
    lines = [f"{'product':<{width}}  {'status':<10}  {'stage':<16}  {'seconds':>7}  video / error"]
    for row in rows:
        seconds = f"{row.seconds:.1f}" if row.seconds is not None else "-"
        detail = row.video if row.status == "succeeded" else (row.error.splitlines()[0] if row.error else "")
        lines.append(f"{row.partition_key:<{width}}  {row.status:<10}  {row.stage:<16}  {seconds:>7}  {detail}")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    lines.append("totals: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return "\n".join(lines)


def progress_bar(rows: list[ProductStatus], width: int = 30) -> str:
    done = sum(r.status in TERMINAL for r in rows)
    total = max(len(rows), 1)
    filled = round(width * done / total)
    running = [r.partition_key for r in rows if r.status == "running"]
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{len(rows)} done" + (f", running: {running[0]}" if running else "")


def wait_for_backfill(instance, backfill_id: str, *, poll_s: float = 1.0, on_poll=None, timeout_s: float | None = None) -> list[ProductStatus]:
    """Poll until every product of the backfill has finished (or `timeout_s` passes)."""
    started = time.monotonic()
    while True:
        rows = product_statuses(instance, backfill_id)
        backfill = instance.get_backfill(backfill_id)
        if on_poll:
            on_poll(rows)
        finished = backfill is not None and backfill.status.value != "REQUESTED"
        if finished and all(r.status in TERMINAL | {"not_started"} for r in rows):
            return rows
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            return rows
        time.sleep(poll_s)


def cmd_launch(args: argparse.Namespace) -> int:
    from dagster_project.cli import _instance

    instance = _instance()
    keys = args.products.split(",") if args.products else list(instance.get_dynamic_partitions("products"))
    client = DagsterClient(args.url)
    backfill_id = client.launch_backfill(keys, STAGES, title=args.title, tags={"batch_video/launched_by": "cli"})
    print(f"backfill {backfill_id}: {len(keys)} products")
    print(client.backfill_link(backfill_id))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from dagster_project.cli import _instance

    instance = _instance()
    rows = product_statuses(instance, args.backfill_id)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], ensure_ascii=False, indent=1))
    else:
        print(format_table(rows))
    return 0


def add_batch_commands(sub: argparse._SubParsersAction) -> None:
    batch = sub.add_parser("batch", help="launch and follow batches (partition backfills)")
    batch_sub = batch.add_subparsers(dest="batch_command", required=True)
    launch = batch_sub.add_parser("launch", help="launch a backfill of the product-video assets")
    launch.add_argument("--products", help="comma-separated partition keys (default: all)")
    launch.add_argument("--title", default="batch-video batch")
    launch.add_argument("--url", default="", help="Dagster webserver URL (default $BATCH_VIDEO_DAGSTER_URL or local)")
    launch.set_defaults(func=cmd_launch)
    status = batch_sub.add_parser("status", help="one row per product of a backfill")
    status.add_argument("backfill_id")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

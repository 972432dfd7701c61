"""`batch-video batch ...`: launch, follow, retry and cancel batches (partition backfills).

Every command talks to a running Dagster webserver over GraphQL
(`--url`, default `$BATCH_VIDEO_DAGSTER_URL` or the local `make dev` one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from typing import Any, Callable, Mapping, Sequence

from batch_video.errors import ConfigError
from batch_video.report import totals as report_totals, write_report
from batch_video.settings import BatchSettings
from batch_video.stages import STAGES
from dagster_project.batch_report import build_report
from dagster_project.batch_status import TERMINAL, ProductStatus, all_finished, totals
from dagster_project.console.client import DagsterClient
from dagster_project.console.estimate import CATEGORIES, Estimate, classify, duration, estimate, throughput
from dagster_project.run_tags import ESTIMATE_TAG, PLAN_TAG, run_limit_tags, settings_tags

DEFAULT_CAP = 500
CAP_ENV = "BATCH_VIDEO_BATCH_CAP"
SELECTIONS = ("products", "all", "failed", "new", "stale")
FEED_ENV = "BATCH_VIDEO_FEED_URL"
# What --stale leaves out: rendered from the feed as it is, held back by the stock policy, or gone from the feed.
STALE_SKIPS = ("unchanged", "held_back", "not_in_feed")
# Above this many products, --watch shows the running products and the latest failures, not every row.
FULL_TABLE_ROWS = 40
# `batch cancel` cancels this many queued runs itself (the next the queue would start before the stop_canceled_batches
# sensor's next tick); Dagster cancels the rest. On SQLite canceling a queued run creates its event-log file: 100 at
# once took longer than the client's 30 s timeout on a loaded machine.
CANCEL_QUEUED_AT_ONCE = 10


# -- output (pure) --------------------------------------------------------------


def format_table(rows: list[ProductStatus], workers: Mapping[str, str] | None = None) -> str:
    """One line per product; `workers` (product -> the run worker that made it) adds a column."""
    width = max([len(r.partition_key) for r in rows] + [7])
    worker_width = max([len(w) for w in (workers or {}).values()] + [6])
    worker_head = f"  {'worker':<{worker_width}}" if workers is not None else ""
    lines = [f"{'product':<{width}}  {'status':<10}  {'stage':<16}  {'seconds':>7}{worker_head}  video / error"]
    for row in rows:
        seconds = f"{row.seconds:.1f}" if row.seconds is not None else "-"
        detail = row.error_line if row.status == "failed" else row.video
        worker = f"  {(workers or {}).get(row.partition_key, '-'):<{worker_width}}" if workers is not None else ""
        lines.append(f"{row.partition_key:<{width}}  {row.status:<10}  {row.stage:<16}  {seconds:>7}{worker}  {detail}".rstrip())
    lines.append(format_totals(rows))
    return "\n".join(lines)


def format_totals(rows: list[ProductStatus]) -> str:
    counts = totals(rows)
    return f"totals: {len(rows)} products: " + ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def progress_counts(rows: list[ProductStatus], width: int = 30) -> str:
    """The bar, the counts and the running product: the part of the progress line that changes when a product moves."""
    done = sum(r.status in TERMINAL for r in rows)
    filled = round(width * done / max(len(rows), 1))
    running = [r.partition_key for r in rows if r.status == "running"]
    failed = sum(r.status == "failed" for r in rows)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{len(rows)} done"
        + (f", {failed} failed" if failed else "")
        + (f", running: {running[0]}" if running else "")
    )


def progress_bar(rows: list[ProductStatus], width: int = 30, *, now: float | None = None) -> str:
    speed = throughput(rows, now=now).describe(now=now)
    return progress_counts(rows, width) + (f"; {speed}" if speed else "")


def progress_printer(prefix: str = "  ") -> Callable[[list[ProductStatus]], None]:
    """A poll callback that prints the progress line when a product moves, not on every poll (the ETA alone
    changes every time, and a log of identical lines but for the ETA says nothing)."""
    last = [""]

    def show(rows: list[ProductStatus]) -> None:
        counts = progress_counts(rows)
        if counts != last[0]:
            print(prefix + progress_bar(rows), flush=True)
            last[0] = counts

    return show


def follow_backfill(
    client: DagsterClient,
    backfill_id: str,
    *,
    poll_s: float,
    timeout_s: float | None,
    on_rows: Callable[[list[ProductStatus]], None] | None = None,
    done: Callable[[list[ProductStatus]], bool] | None = None,
) -> tuple[dict[str, Any], list[ProductStatus]]:
    """Wait for a backfill over the webserver, printing its progress line whenever a product moves (the demos and
    the benchmarks follow their batch this way); the backfill and its rows at the end."""
    print_progress = progress_printer()

    def show(_backfill: dict[str, Any], rows: list[ProductStatus]) -> None:
        if on_rows is not None:
            on_rows(rows)
        print_progress(rows)

    return client.wait_for_backfill(backfill_id, poll_s=poll_s, timeout_s=timeout_s, on_poll=show, done=done)


def watch_rows(rows: list[ProductStatus]) -> list[ProductStatus]:
    """The rows `--watch` redraws: all of a small batch; of a big one, the running products and the latest failures."""
    if len(rows) <= FULL_TABLE_ROWS:
        return rows
    failed = sorted((r for r in rows if r.status == "failed"), key=lambda r: r.end_time or 0)[-FULL_TABLE_ROWS // 2:]
    return [r for r in rows if r.status == "running"] + failed


def status_document(backfill: dict[str, Any], rows: list[ProductStatus]) -> dict[str, Any]:
    return {
        "backfill_id": backfill.get("id"),
        "status": backfill.get("status"),
        "title": backfill.get("title"),
        "finished": all_finished(rows, backfill.get("status", "")),
        "totals": totals(rows),
        "products": [r.to_dict() for r in rows],
    }


# -- choosing products and settings (pure) ---------------------------------------


def select_keys(selection: str, grid: dict[str, dict[str, str]], products: Sequence[str] = ()) -> list[str]:
    """Partition keys for a selection; `grid` is asset name -> {key: status} (see DagsterClient)."""
    all_keys = list(grid.get("published_video") or next(iter(grid.values()), {}))
    if selection == "products":
        unknown = [k for k in products if k not in all_keys]
        if unknown:
            raise ConfigError(
                f"unknown product partition(s): {', '.join(unknown)} (sync the feed first: batch-video feed sync FEED)",
                field="products",
            )
        return list(dict.fromkeys(products))
    failed = {k for statuses in grid.values() for k, s in statuses.items() if s == "failed"}
    if selection == "all":
        return all_keys
    if selection == "failed":
        return [k for k in all_keys if k in failed]
    if selection == "new":
        published = grid.get("published_video") or {}
        return [k for k in all_keys if published.get(k) == "missing" and k not in failed]
    if selection == "stale":  # narrowed to new, changed and failed ones by cmd_launch once the feed is read
        return all_keys
    raise ConfigError(f"unknown selection {selection!r}", field="selection")


def setting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The batch settings given on the command line (flags + --set NAME=VALUE)."""
    overrides: dict[str, Any] = {}
    for f in fields(BatchSettings):
        value = getattr(args, f"setting_{f.name}", None)
        if value is not None:
            overrides[f.name] = value
    for item in getattr(args, "set", None) or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects NAME=VALUE, got {item!r}", field="set")
        overrides[name.strip()] = value
    return overrides


def launch_title(keys: Sequence[str], selection: str, overrides: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in overrides.items())
    return f"batch-video: {len(keys)} products ({selection})" + (f" [{settings}]" if settings else "")


def batch_cap() -> int:
    raw = os.environ.get(CAP_ENV, "")
    try:
        return int(raw) if raw else DEFAULT_CAP
    except ValueError:
        raise ConfigError(f"{CAP_ENV}={raw!r} is not a whole number", field=CAP_ENV) from None


# -- commands ---------------------------------------------------------------------


def _client(args: argparse.Namespace) -> DagsterClient:
    return DagsterClient(args.url)


def read_feed(feed: str) -> tuple[dict[str, str], set[str]]:
    """Partition key -> content hash of each valid product in the feed as it is now, and the keys whose availability
    the stock policy does not render (out of stock; preorder and backorder unless allowed), as the feed sync holds them."""
    from batch_video.catalog import load_catalog
    from batch_video.stock import StockPolicy

    products = load_catalog(feed).products
    policy = StockPolicy.from_env()
    return {p.key: p.content_hash for p in products}, {p.key for p in products if not policy.renders(p.availability)}


def plan_summary(categories: dict[str, list[str]], selection: str) -> str:
    """'9000 new, 100 changed, 3 failed, 897 unchanged skipped' (what the launch renders and skips)."""
    parts = []
    for name in CATEGORIES:
        count = len(categories.get(name) or ())
        if count:
            skipped = name in STALE_SKIPS and selection == "stale"
            parts.append(f"{count} {name}" + (" skipped" if skipped else ""))
    return ", ".join(parts) or "no products"


def cmd_launch(args: argparse.Namespace) -> int:
    client = _client(args)
    overrides = setting_overrides(args)
    tags = settings_tags(overrides)  # validates before anything is launched
    selection = next(s for s in SELECTIONS if getattr(args, s.replace("-", "_"), None))
    grid = client.asset_grid(STAGES)
    products = [p.strip() for p in args.products.split(",") if p.strip()] if args.products else []
    keys = select_keys(selection, grid, products)
    feed = args.feed or os.environ.get(FEED_ENV, "")
    if selection == "stale" and not feed:
        raise ConfigError(f"--stale compares the feed with what was rendered: give --feed or set ${FEED_ENV}", field="feed")
    hashes, held_back = read_feed(feed) if feed and keys else (None, set())
    # Only the feed-driven selection holds back what the stock policy does not render, like the sensor; a launch
    # that names its products (--all, --products, --failed, --new) renders what it names.
    categories = classify(keys, grid, client.recorded_content_hashes(keys) if hashes else {}, hashes,
                          held_back if selection == "stale" else ())
    if selection == "stale":
        skipped = {k for name in STALE_SKIPS for k in categories[name]}
        keys = [k for k in keys if k not in skipped]
    plan = plan_summary(categories, selection)
    guess = estimate(len(keys), client.recent_product_runs(), client.max_concurrent_runs()) if keys else None
    if args.dry_run:
        _print_plan(args, selection, keys, categories, plan, guess)
        return 0
    if not keys:
        print(f"nothing to launch: no {selection} products" + (f" ({plan})" if selection == "stale" else ""))
        return 0
    cap = batch_cap()
    if len(keys) > cap and not args.yes:
        print(f"refusing to launch {len(keys)} products (more than {cap}); add --yes to confirm", file=sys.stderr)
        return 2
    tags.update({"batch_video/launched_by": "cli", "batch_video/selection": selection, PLAN_TAG: plan, **run_limit_tags()})
    if guess is not None:
        tags[ESTIMATE_TAG] = f"~{duration(guess.wall_s)} ({guess.per_product_s:.1f} s per product, {guess.concurrency} at a time)"
    title = args.title or launch_title(keys, selection, overrides)
    backfill_id = client.launch_backfill(keys, STAGES, title=title, tags=tags)
    if args.json:
        print(json.dumps({"backfill_id": backfill_id, "products": keys, "url": client.backfill_link(backfill_id), "tags": tags,
                          "estimate": guess.to_dict() if guess else None}))
    else:
        print(f"backfill {backfill_id}: {len(keys)} products ({title}): {plan}")
        if guess is not None:
            print(f"estimate: {guess.describe()}")
        # Dagster's backfill daemon takes a new backfill at its next pass (a fixed 30 s loop).
        print("the first product starts at the backfill daemon's next pass (within 30 s)")
        print(client.backfill_link(backfill_id))
    return 0


def _print_plan(args: argparse.Namespace, selection: str, keys: list[str], categories: dict[str, list[str]],
                plan: str, guess: Estimate | None) -> None:
    if args.json:
        print(json.dumps({"selection": selection, "would_launch": len(keys), "categories": {k: len(v) for k, v in categories.items()},
                          "plan": plan, "estimate": guess.to_dict() if guess else None}))
        return
    print(f"dry run (--{selection}): would launch {len(keys)} products: {plan}")
    for name in CATEGORIES:
        if categories[name]:
            print(f"  {name:<10} {len(categories[name]):>6}  e.g. {', '.join(categories[name][:3])}")
    if "published" in categories and categories["published"]:
        print(f"  (published products are not told apart as changed or unchanged without the feed: --feed or ${FEED_ENV})")
    print(f"estimate: {guess.describe()}" if guess else "estimate: no successful product run on this instance yet")


def cmd_status(args: argparse.Namespace) -> int:
    client = _client(args)
    if not args.watch:
        backfill, rows = client.product_statuses(args.backfill_id)
        _print_status(args, backfill, rows)
        return 0
    interactive = sys.stdout.isatty() and not args.json
    last = [""]
    print_progress = progress_printer(prefix="")

    def show(backfill: dict[str, Any], rows: list[ProductStatus]) -> None:
        if args.json:
            line = json.dumps(status_document(backfill, rows), ensure_ascii=False)
            if line != last[0]:
                print(line, flush=True)
                last[0] = line
            return
        text = format_table(watch_rows(rows)) + "\n" + progress_bar(rows) + f"  (backfill {backfill['status'].lower()})"
        if interactive:
            sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
            sys.stdout.flush()
        else:
            print_progress(rows)

    backfill, rows = client.wait_for_backfill(args.backfill_id, poll_s=args.interval, timeout_s=args.timeout, on_poll=show)
    if not args.json and not interactive:
        print(format_table(rows))
    return 0 if all_finished(rows, backfill["status"]) else 3


def _print_status(args: argparse.Namespace, backfill: dict[str, Any], rows: list[ProductStatus]) -> None:
    if args.json:
        # Indented for a person reading a small batch; one line for a big one (indenting 10,000 rows takes seconds).
        print(json.dumps(status_document(backfill, rows), ensure_ascii=False, indent=1 if len(rows) <= FULL_TABLE_ROWS else None))
        return
    print(f"backfill {backfill['id']} ({backfill['status'].lower()}): {backfill.get('title') or ''}")
    print(format_table(rows))


def cmd_report(args: argparse.Namespace) -> int:
    """One row per product (and format) of a batch, written as each --out file (.xlsx, .csv or .html)."""
    client = _client(args)
    backfill, rows = client.product_statuses(args.backfill_id)
    report = build_report(rows, client)
    title = backfill.get("title") or f"batch {backfill['id']}"
    written = [str(write_report(report, out, title=title)) for out in args.out]
    if not all_finished(rows, backfill["status"]):
        print(f"note: backfill {args.backfill_id} is still {backfill['status'].lower()}: the report shows it as it is now",
              file=sys.stderr)
    counts = ", ".join(f"{n} {status}" for status, n in report_totals(report).items())
    if args.json:
        print(json.dumps({"backfill_id": backfill["id"], "files": written, "rows": len(report), "totals": report_totals(report)}))
    else:
        print(f"backfill {backfill['id']}: {len(report)} rows ({counts}) written to {', '.join(written)}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    client = _client(args)
    backfill, rows = client.product_statuses(args.backfill_id)
    failed = [r.partition_key for r in rows if r.status == "failed"]
    if not failed:
        print(f"backfill {args.backfill_id} has no failed products; nothing to retry")
        return 0
    if not all_finished(rows, backfill["status"]):
        print(f"backfill {args.backfill_id} is still {backfill['status'].lower()}; retry it once it has finished", file=sys.stderr)
        return 2
    child = client.retry_backfill(args.backfill_id)
    if args.json:
        print(json.dumps({"backfill_id": child, "parent": args.backfill_id, "products": failed, "url": client.backfill_link(child)}))
    else:
        print(f"backfill {child}: retrying {len(failed)} failed products of {args.backfill_id} from their failed stage: {', '.join(failed)}")
        print(client.backfill_link(child))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    client = _client(args)
    client.cancel_backfill(args.backfill_id)
    # The daemon acts on a canceled backfill on its next pass (every 30 s), and meanwhile the queue keeps
    # starting products: stop the running runs and cancel the queued ones next in line now. The queue starts
    # the oldest first, a few a minute, so the rest of a big batch's queued runs wait safely for the
    # stop_canceled_batches sensor (every 5 s) or the daemon, which cancel them on the instance itself.
    # A STARTING run (launched, not yet picked up by a run worker) is one Dagster's terminate refuses; that
    # sensor cancels it within seconds.
    ids = client.run_ids_by_status(args.backfill_id)
    next_in_line = ids["waiting"][-CANCEL_QUEUED_AT_ONCE:]  # newest first
    # The queued ones first: a terminated run frees its slot, and the queue would start the next queued product.
    runs = [r for r in client.runs_by_ids(next_in_line + ids["running"]) if r.status in ("QUEUED", "STARTED")]
    refused = client.terminate_runs([r.run_id for r in runs])
    if refused:
        # The backfill daemon or the stop_canceled_batches sensor may have got to a run between the listing and
        # the terminate call ("could not be terminated due to having status CANCELING"): it stops all the same.
        now = {r.run_id: r.status for r in client.runs_by_ids(list(refused))}
        refused = {run_id: why for run_id, why in refused.items() if now.get(run_id) not in ("CANCELING", "CANCELED")}
    queued = sorted(r.partition_key for r in runs if r.status == "QUEUED" and r.run_id not in refused)
    stopping = sorted(r.partition_key for r in runs if r.status == "STARTED" and r.run_id not in refused)
    not_stopped = {r.partition_key: refused[r.run_id] for r in runs if r.run_id in refused}
    left = len(ids["waiting"]) - len(next_in_line)
    if args.json:
        print(json.dumps({"backfill_id": args.backfill_id, "canceled_queued": queued, "stopping": stopping,
                          "not_stopped": not_stopped, "queued_left_to_dagster": left}))
        return 0
    print(f"backfill {args.backfill_id}: canceled; {len(queued) + left} queued products will not start"
          + (f", stopping {', '.join(stopping)}" if stopping else ""))
    if left:
        print(f"  {left} of them are canceled by Dagster within seconds (the stop_canceled_batches sensor)")
    for key, reason in sorted(not_stopped.items()):
        print(f"  {key}: not stopped: {reason}")
    return 0


# -- argument parsing ------------------------------------------------------------------

_SETTING_HELP = {
    "tts_provider": "voice provider: auto | edge | espeak",
    "voice": "Edge voice name",
    "script_mode": "voiceover mode: template | ai",
    "script_template": "voiceover text template",
    "duration_min_s": "shortest video (s)",
    "duration_max_s": "longest video (s); the voiceover drives the length in between",
    "preset": "encoding preset: tiktok | reels | youtube_shorts | generic | square | landscape | preview",
    "motion": "photo motion (layout): auto | zoom_in | zoom_out | pan_left | ...",
    "cta_text": "call-to-action text",
    "captions": "burn in captions",
    "denoise": "photo filter",
    "sharpen": "photo filter",
    "color_correct": "photo filter",
    "font_path": "brand kit: font file",
    "accent_color": "brand kit: accent colour (#RRGGBB)",
    "logo_path": "brand kit: logo image",
    "template": "video template: classic | showcase | sale, or a path to the shop's own .yaml/.json template",
    "transition": "between photos: auto | crossfade | slide | zoom_through | cut",
    "max_extra_photos": "additional feed photos used as scenes after the main one (default 4)",
    "formats": "several presets per product in one batch, e.g. tiktok,square,landscape (the first under the plain names)",
    "music_path": "music bed: an audio file or a folder (one track per product), ducked under the voice",
}


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("batch settings (default: BATCH_VIDEO_* env / the code location's config)")
    for f in fields(BatchSettings):
        flag = "--" + f.name.replace("_", "-")
        dest = f"setting_{f.name}"
        help_text = _SETTING_HELP.get(f.name, f.name.replace("_", " "))
        if f.type == "bool":
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(flag, dest=dest, default=None, metavar=f.name.upper(), help=help_text)
    group.add_argument("--set", action="append", metavar="NAME=VALUE", help="any batch setting by its field name")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="", help="Dagster webserver URL (default $BATCH_VIDEO_DAGSTER_URL or http://127.0.0.1:3000)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def add_batch_commands(sub: argparse._SubParsersAction) -> None:
    batch = sub.add_parser("batch", help="launch and follow batches (partition backfills)")
    batch_sub = batch.add_subparsers(dest="batch_command", required=True)

    launch = batch_sub.add_parser("launch", help="launch a backfill of the product-video assets")
    which = launch.add_mutually_exclusive_group(required=True)
    which.add_argument("--products", help="comma-separated partition keys")
    which.add_argument("--all", action="store_true", help="every product partition")
    which.add_argument("--failed", action="store_true", help="products whose last attempt failed at some stage")
    which.add_argument("--new", action="store_true", help="products never published nor failed")
    which.add_argument("--stale", action="store_true",
                       help="new, changed (feed entry differs from the one rendered) and failed products; unchanged ones skipped")
    launch.add_argument("--feed", default="", help=f"the feed, to tell changed products from unchanged ones (default ${FEED_ENV})")
    launch.add_argument("--dry-run", action="store_true",
                        help="print what would render (new, changed, failed, unchanged) and a wall-time estimate; launch nothing")
    launch.add_argument("--title", default="", help="backfill title (default: count, selection and settings)")
    launch.add_argument("--yes", action="store_true", help=f"confirm a batch above the cap (${CAP_ENV}, default {DEFAULT_CAP})")
    _add_common(launch)
    _add_setting_flags(launch)
    launch.set_defaults(func=cmd_launch)

    status = batch_sub.add_parser("status", help="one row per product of a backfill")
    status.add_argument("backfill_id")
    status.add_argument("--watch", action="store_true", help="refresh until every product has finished")
    status.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes with --watch")
    status.add_argument("--timeout", type=float, default=None, help="stop watching after this many seconds")
    _add_common(status)
    status.set_defaults(func=cmd_status)

    report = batch_sub.add_parser(
        "report", help="a batch's report: one row per product (and format) with status, reason, voice, checks, links"
    )
    report.add_argument("backfill_id")
    report.add_argument("--out", action="append", required=True, metavar="FILE",
                        help="report file: .xlsx (Excel/LibreOffice), .csv or .html (with poster thumbnails); repeatable")
    _add_common(report)
    report.set_defaults(func=cmd_report)

    retry = batch_sub.add_parser("retry", help="re-run a finished backfill's failed products from their failed stage")
    retry.add_argument("backfill_id")
    _add_common(retry)
    retry.set_defaults(func=cmd_retry)

    cancel = batch_sub.add_parser("cancel", help="cancel a backfill: queued products are not started, running ones are stopped")
    cancel.add_argument("backfill_id")
    _add_common(cancel)
    cancel.set_defaults(func=cmd_cancel)

"""`batch-video`: sync feeds into partitions, render one product, run batches."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from batch_video.errors import BatchVideoError
from batch_video.settings import BatchSettings

logger = logging.getLogger("batch_video.cli")


def _instance():
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("DAGSTER_HOME is not set: point it at the Dagster instance folder (make sets .dagster_home)")
    return dg.DagsterInstance.get()


def cmd_feed_sync(args: argparse.Namespace) -> int:
    from batch_video.catalog import load_catalog
    from batch_video.sync import format_sync_report
    from dagster_project.sensors import sync_feed_partitions

    plan, applied = sync_feed_partitions(
        _instance(), load_catalog(args.feed), delete_removed=args.delete_removed, dry_run=args.dry_run
    )
    if args.json:
        report = {name: list(getattr(plan, name)) for name in ("new", "changed", "unchanged", "removed", "unrendered")}
        report.update(counts=plan.counts(), applied=applied, problems=[str(p) for p in plan.problems])
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(f"feed {args.feed}")
        print(format_sync_report(plan, applied=not args.dry_run, deleted=applied["deleted"] > 0))
    return 0


def cmd_feed_inspect(args: argparse.Namespace) -> int:
    from batch_video.feed import read_feed
    from batch_video.sync import feed_inspect_report, format_inspect_report

    report = feed_inspect_report(read_feed(args.feed), first_rows=args.rows)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_inspect_report(report))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from batch_video import feed, pipeline, render
    from batch_video.catalog import load_catalog

    settings = BatchSettings.from_env()
    if args.preset:
        settings = settings.merged({"preset": args.preset})
    catalog = load_catalog(args.feed)
    keys = [p.key for p in catalog.products] if args.product == "all" else [_key_for(catalog, args.product, feed)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "work"
    videos, failures = [], 0
    for key in keys:
        try:
            outcome = pipeline.render_product(catalog, key, data_dir, settings, cache_dir=data_dir / "tts-cache", force=args.force)
        except BatchVideoError as err:
            failures += 1
            print(f"{key}: FAILED: {err}", file=sys.stderr)
            continue
        target = out / f"{key}.mp4"
        target.write_bytes(outcome.video.video_path.read_bytes())
        (out / f"{key}.jpg").write_bytes(outcome.video.poster_path.read_bytes())
        videos.append(target)
        print(f"{key}: {target} ({outcome.video.duration_s:.2f} s, {outcome.video.size_bytes / 1e6:.2f} MB{', reused' if outcome.reused else ''})")
    if args.contact_sheet and videos:
        sheet = out / "contact-sheet.png"
        render.contact_sheet(videos, sheet)
        print(f"contact sheet: {sheet}")
    return 1 if failures else 0


def _key_for(catalog, product: str, feed_module) -> str:
    by_id = {p.id: p.key for p in catalog.products}
    if product in by_id:
        return by_id[product]
    return feed_module.slugify_key(product) if product not in catalog.by_key() else product


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batch-video", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    feed_parser = sub.add_parser("feed", help="feed commands")
    feed_sub = feed_parser.add_subparsers(dest="feed_command", required=True)
    sync = feed_sub.add_parser("sync", help="register the feed's products as `products` partitions")
    sync.add_argument("feed")
    sync.add_argument("--delete-removed", action="store_true", help="delete partitions of products gone from the feed")
    sync.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(func=cmd_feed_sync)
    inspect = feed_sub.add_parser("inspect", help="counts, invalid rows with reasons, duplicates, first rows")
    inspect.add_argument("feed")
    inspect.add_argument("--json", action="store_true")
    inspect.add_argument("--rows", type=int, default=10, help="how many first rows to show")
    inspect.set_defaults(func=cmd_feed_inspect)

    render = sub.add_parser("render", help="render products without Dagster (debugging)")
    render.add_argument("--feed", required=True)
    render.add_argument("--product", required=True, help="feed id or partition key, or 'all'")
    render.add_argument("--out", required=True)
    render.add_argument("--preset")
    render.add_argument("--force", action="store_true", help="render even when nothing changed")
    render.add_argument("--contact-sheet", action="store_true", help="also write contact-sheet.png")
    render.set_defaults(func=cmd_render)

    from dagster_project import batch_cli

    batch_cli.add_batch_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except BatchVideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

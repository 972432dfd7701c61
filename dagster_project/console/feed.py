"""`batch-video feed ...`: register a feed's products as partitions, inspect a feed."""

from __future__ import annotations

import argparse
import json
import os


def _instance():
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("DAGSTER_HOME is not set: point it at the Dagster instance folder (make sets .dagster_home)")
    return dg.DagsterInstance.get()


def cmd_feed_sync(args: argparse.Namespace) -> int:
    from batch_video.catalog import load_catalog
    from batch_video.sync import format_sync_report
    from dagster_project.automation.feed_sync import sync_feed_partitions

    plan, applied = sync_feed_partitions(
        _instance(), load_catalog(args.feed, currency=args.currency), delete_removed=args.delete_removed, dry_run=args.dry_run
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

    report = feed_inspect_report(read_feed(args.feed, default_currency=args.currency), first_rows=args.rows)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_inspect_report(report))
    return 0


def add_currency_option(parser: argparse.ArgumentParser) -> None:
    """`--currency`: the shop's currency for prices written without one; `main` resolves it (flag, else the setting)."""
    parser.add_argument(
        "--currency",
        help="the shop's currency, for prices the feed writes without one (default: $BATCH_VIDEO_FEED_CURRENCY or RON)",
    )


def resolve_currency(args: argparse.Namespace) -> None:
    """Turn `--currency` (or, without it, the setting) into a currency code; a `ConfigError` names a wrong one."""
    if hasattr(args, "currency"):
        from batch_video.catalog import FEED_CURRENCY_ENV, feed_currency

        args.currency = feed_currency({FEED_CURRENCY_ENV: args.currency} if args.currency else None)


def add_feed_commands(sub: argparse._SubParsersAction) -> None:
    feed_parser = sub.add_parser("feed", help="feed commands")
    feed_sub = feed_parser.add_subparsers(dest="feed_command", required=True)
    sync = feed_sub.add_parser("sync", help="register the feed's products as `products` partitions")
    sync.add_argument("feed")
    sync.add_argument("--delete-removed", action="store_true", help="delete partitions of products gone from the feed")
    sync.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    sync.add_argument("--json", action="store_true")
    add_currency_option(sync)
    sync.set_defaults(func=cmd_feed_sync)
    inspect = feed_sub.add_parser("inspect", help="counts, invalid rows with reasons, duplicates, first rows")
    inspect.add_argument("feed")
    inspect.add_argument("--json", action="store_true")
    inspect.add_argument("--rows", type=int, default=10, help="how many first rows to show")
    add_currency_option(inspect)
    inspect.set_defaults(func=cmd_feed_inspect)

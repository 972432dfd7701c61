"""`batch-video prune`: free disk in the data folder (work folders, feed and voiceover caches)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from batch_video.prune import MAX_AGE_ENV, MAX_GB_ENV, PruneSettings, prune_data


def cmd_prune(args: argparse.Namespace) -> int:
    settings = PruneSettings.from_env()
    if args.max_age_days is not None:
        settings = PruneSettings(max_age_s=args.max_age_days * 86400, max_bytes=settings.max_bytes)
    if args.max_gb is not None:
        settings = PruneSettings(max_age_s=settings.max_age_s, max_bytes=int(args.max_gb * 1e9))
    report = prune_data(Path(args.data_dir), settings, dry_run=args.dry_run)
    for entry in report.removed:
        print(f"{'would remove' if args.dry_run else 'removed'} {entry.kind} {entry.path} ({entry.size_bytes / 1e6:.1f} MB)")
    print(report.summary())
    return 0


def add_prune_command(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "prune", help="remove old work folders and cache entries",
        description="Remove per-product work folders and feed/voiceover cache entries unused for --max-age-days "
                    f"(default ${MAX_AGE_ENV} or 30), then the least recently used while the data folder is over "
                    f"--max-gb (default ${MAX_GB_ENV}, none). Nothing used in the last hour; never published videos.",
    )
    parser.add_argument("--data-dir", default=os.environ.get("BATCH_VIDEO_DATA_DIR", "data"))
    parser.add_argument("--max-age-days", type=float)
    parser.add_argument("--max-gb", type=float)
    parser.add_argument("--dry-run", action="store_true", help="only list what would go")
    parser.set_defaults(func=cmd_prune)

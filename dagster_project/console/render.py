"""`batch-video render`: render products without Dagster, through the same stages as a batch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from batch_video.errors import BatchVideoError
from batch_video.settings import BatchSettings
from dagster_project.console.feed import add_currency_option


def cmd_render(args: argparse.Namespace) -> int:
    from batch_video import feed, pipeline, render
    from batch_video.catalog import load_catalog

    settings = BatchSettings.from_env()
    if args.preset:
        settings = settings.merged({"preset": args.preset})
    catalog = load_catalog(args.feed, currency=args.currency)
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


def add_render_command(sub: argparse._SubParsersAction) -> None:
    render = sub.add_parser("render", help="render products without Dagster (debugging)")
    render.add_argument("--feed", required=True)
    render.add_argument("--product", required=True, help="feed id or partition key, or 'all'")
    render.add_argument("--out", required=True)
    render.add_argument("--preset")
    render.add_argument("--force", action="store_true", help="render even when nothing changed")
    render.add_argument("--contact-sheet", action="store_true", help="also write contact-sheet.png")
    add_currency_option(render)
    render.set_defaults(func=cmd_render)

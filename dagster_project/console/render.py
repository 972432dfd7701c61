"""`batch-video render`: render products without Dagster, through the same stages and checks as a batch.

A video that a batch would refuse to publish (a failed quality check) is not
written to --out; the command prints the same reasons the batch's run shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from batch_video.errors import BatchVideoError
from batch_video.settings import BatchSettings
from dagster_project.console.feed import add_currency_option


def cmd_render(args: argparse.Namespace) -> int:
    """Each product through the batch's stages, its video checked as a batch checks it: a refused video is not written to --out."""
    from batch_video import feed, files, pipeline, render
    from batch_video.catalog import load_catalog
    from batch_video.render.spec import validate_settings
    from batch_video.workspace import ProductWorkspace

    settings = BatchSettings.from_env()
    if args.preset:
        settings = settings.merged({"preset": args.preset})
    if args.formats is not None:
        settings = settings.merged({"formats": args.formats})
    try:
        validate_settings(settings)
    except BatchVideoError as err:
        print(f"render: {err}", file=sys.stderr)
        return 2
    catalog = load_catalog(args.feed, currency=args.currency)
    keys = [p.key for p in catalog.products] if args.product == "all" else [_key_for(catalog, args.product, feed)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "work"
    videos, scenes, failures = [], [], 0
    for key in keys:
        try:
            result = pipeline.make_video(catalog, ProductWorkspace(data_dir, key), settings,
                                         cache_dir=data_dir / "tts-cache", force=args.force)
            refusal = result.refusal()
            if refusal is not None:
                raise refusal
        except BatchVideoError as err:
            failures += 1
            print(f"{key}: FAILED: {err}", file=sys.stderr)
            continue
        for index, made in enumerate(result.formats):
            # The names a batch publishes under: the first format's plain, the others `<key>--<format>`.
            name = pipeline.format_key(key, "" if index == 0 else made.format)
            video = made.video
            target = out / f"{name}.mp4"
            files.copy_file(video.video_path, target)
            files.copy_file(video.poster_path, out / f"{name}.jpg")
            videos.append(target)
            scenes.append(video.extra.get("scenes"))
            print(f"{key}: {target} ({made.format} {video.width}x{video.height}, {video.duration_s:.2f} s, "
                  f"{video.size_bytes / 1e6:.2f} MB, {made.verdict.summary}{', reused' if made.reused else ''})")
    if args.contact_sheet and videos:
        sheet = out / "contact-sheet.png"
        render.contact_sheet(videos, sheet, scenes=scenes)
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
    render.add_argument("--formats", help="several presets, e.g. tiktok,square,landscape (default: "
                                          "BATCH_VIDEO_FORMATS, else the preset alone); each written to --out")
    render.add_argument("--force", action="store_true", help="render even when nothing changed")
    render.add_argument("--contact-sheet", action="store_true",
                        help="also write contact-sheet.png: a row per video, a frame per scene and the last frame")
    add_currency_option(render)
    render.set_defaults(func=cmd_render)

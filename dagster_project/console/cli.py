"""`batch-video`: sync feeds into partitions, render one product, run batches, prune the data folder."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from batch_video.errors import BatchVideoError
from dagster_project.console.batch import add_batch_commands
from dagster_project.console.feed import add_feed_commands, resolve_currency
from dagster_project.console.prune import add_prune_command
from dagster_project.console.render import add_render_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batch-video", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    add_feed_commands(sub)
    add_render_command(sub)
    add_batch_commands(sub)
    add_prune_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        resolve_currency(args)
        return args.func(args)
    except BatchVideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

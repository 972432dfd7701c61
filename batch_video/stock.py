"""Stock-aware publishing, the pure part: which products render, and which videos leave or return to the shelf.

A feed says each product's `availability` (Google's `in_stock`, `out_of_stock`,
`preorder`, `backorder`; readers normalize Romanian and schema.org forms). A
video keeps selling what it shows, so:

- products that are out of stock (or discontinued) are not rendered; preorder and
  backorder are not either unless `StockPolicy.render` allows them
  (`BATCH_VIDEO_RENDER_AVAILABILITY=preorder,backorder`); an empty or unknown
  availability counts as in stock;
- a product whose video is live and that goes out of stock, or leaves the feed,
  has its video withdrawn (unpublished: taken off the public place, kept aside,
  the record marked), unless `StockPolicy.unpublish` is off
  (`BATCH_VIDEO_UNPUBLISH_UNAVAILABLE=false` keeps it);
- a withdrawn video returns when its product is available again with the same
  content it was rendered from; a product that changed meanwhile (a new price) is
  rendered again instead, and the new video is published as usual.

A product whose data is broken now (an invalid price) keeps its video: bad input
never takes away what was published.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from batch_video.errors import ConfigError
from batch_video.feed.keys import product_of

# Availabilities that are not rendered by default (after `normalize_availability`).
HELD_BACK = frozenset({"out_of_stock", "discontinued", "preorder", "backorder"})
# Of those, the ones a shop may choose to render anyway (selling ahead of stock).
MAY_RENDER = frozenset({"preorder", "backorder"})

# Why a video left the shelf (in the records' events and the sync's observations).
REASON_OUT_OF_STOCK = "out_of_stock"
REASON_REMOVED = "removed_from_feed"
REASON_BACK_IN_STOCK = "back_in_stock"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class StockPolicy:
    render: frozenset[str] = frozenset()  # held-back availabilities rendered anyway (a subset of MAY_RENDER)
    unpublish: bool = True  # withdraw the videos of unavailable or removed products

    def __post_init__(self) -> None:
        unknown = set(self.render) - MAY_RENDER
        if unknown:
            raise ConfigError(
                f"BATCH_VIDEO_RENDER_AVAILABILITY: {', '.join(sorted(unknown))} cannot be rendered;"
                f" allowed: {', '.join(sorted(MAY_RENDER))}",
                field="render_availability",
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "StockPolicy":
        env = os.environ if environ is None else environ
        render = frozenset(v.strip().lower() for v in env.get("BATCH_VIDEO_RENDER_AVAILABILITY", "").split(",") if v.strip())
        unpublish = env.get("BATCH_VIDEO_UNPUBLISH_UNAVAILABLE", "").strip().lower()
        if unpublish and unpublish not in _TRUE | _FALSE:
            raise ConfigError(f"BATCH_VIDEO_UNPUBLISH_UNAVAILABLE={unpublish!r}: use true or false", field="unpublish_unavailable")
        return cls(render=render - {"in_stock"}, unpublish=unpublish not in _FALSE)

    def renders(self, availability: str) -> bool:
        """Whether a product with this (normalized) availability gets a video."""
        return availability not in HELD_BACK or availability in self.render


@dataclass(frozen=True)
class ShelfPlan:
    """Videos to take down and to put back, each with the reason the records and observations carry."""

    withdraw: tuple[str, ...] = ()
    restore: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __bool__(self) -> bool:
        return bool(self.withdraw or self.restore)


def plan_shelf(
    current: Mapping[str, str],
    unavailable: Mapping[str, str],
    removed: tuple[str, ...] | list[str],
    videos: Mapping[str, bool],
    previous_hashes: Mapping[str, str],
    policy: StockPolicy,
) -> ShelfPlan:
    """Which videos leave the shelf and which return.

    `current` maps each product in the feed now to its content hash;
    `unavailable` the ones held back to their availability; `removed` the keys
    that left the feed; `videos` maps each product with a video to whether it is live (False: withdrawn);
    `previous_hashes` the content each product was last rendered from.
    """
    withdraw: list[str] = []
    restore: list[str] = []
    reasons: dict[str, str] = {}
    # `videos` has a row per published format (`<key>--<format>` after the first): each follows its product.
    if policy.unpublish:
        gone = set(removed)
        for key, live in videos.items():
            product = product_of(key)
            if not live:
                continue
            if product in unavailable:
                withdraw.append(key)
                reasons[key] = REASON_OUT_OF_STOCK if unavailable[product] == "out_of_stock" else unavailable[product]
            elif product in gone:
                withdraw.append(key)
                reasons[key] = REASON_REMOVED
    for key, live in videos.items():
        product = product_of(key)
        if live or product not in current or product in unavailable:
            continue
        if previous_hashes.get(product) == current[product]:
            restore.append(key)
            reasons[key] = REASON_BACK_IN_STOCK
        # otherwise the product changed while it was away: the sync renders it again (see SyncPlan.to_run)
    return ShelfPlan(tuple(sorted(withdraw)), tuple(sorted(restore)), reasons)

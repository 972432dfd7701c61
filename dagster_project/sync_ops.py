"""Apply a feed to the `products` partitions of a Dagster instance (dict report form)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from batch_video.catalog import load_catalog
from dagster_project.sensors import sync_feed_partitions as _sync


def sync_feed_partitions(instance: dg.DagsterInstance, feed_source: str, *, delete_removed: bool = False) -> dict[str, Any]:
    """Add new product keys; report new/changed/unchanged/removed as lists of keys."""
    catalog = load_catalog(feed_source)
    plan, _ = _sync(instance, catalog, delete_removed=delete_removed)
    return {
        "feed": feed_source,
        "valid": len(catalog.products),
        "invalid": len(catalog.problems),
        "problems": [str(p) for p in catalog.problems],
        "new": list(plan.new),
        "changed": list(plan.changed),
        "unchanged": list(plan.unchanged + plan.unrendered),
        "removed": list(plan.removed),
    }

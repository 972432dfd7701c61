"""Apply a feed to the `products` partitions of a Dagster instance."""

from __future__ import annotations

from typing import Any

import dagster as dg

from batch_video.catalog import load_catalog

PARTITIONS_NAME = "products"


def sync_feed_partitions(instance: dg.DagsterInstance, feed_source: str, *, delete_removed: bool = False) -> dict[str, Any]:
    """Add new product keys, report unchanged/removed (deleting them when asked)."""
    catalog = load_catalog(feed_source)
    keys = [p.key for p in catalog.products]
    existing = set(instance.get_dynamic_partitions(PARTITIONS_NAME))
    new = [k for k in keys if k not in existing]
    removed = sorted(existing - set(keys))
    if new:
        instance.add_dynamic_partitions(PARTITIONS_NAME, new)
    if delete_removed:
        for key in removed:
            instance.delete_dynamic_partition(PARTITIONS_NAME, key)
    return {
        "feed": feed_source,
        "valid": len(catalog.products),
        "invalid": len(catalog.problems),
        "problems": [str(p) for p in catalog.problems],
        "new": new,
        "changed": [],
        "unchanged": [k for k in keys if k in existing],
        "removed": removed,
    }

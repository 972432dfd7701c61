"""Keeping the `products` partitions in step with a feed: the pure part (no Dagster here).

`plan_sync` compares what the feed holds now (key -> content hash) with the
partitions that exist and the hash each one was last materialized with, and
says which keys are new, changed, unchanged or removed. `SyncCursor` is the
small state a sensor keeps between ticks; `select_runs` picks this tick's runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping

from batch_video.feed import slugify_key
from batch_video.models import FeedProblem, FeedReadResult
from batch_video.stock import StockPolicy

logger = logging.getLogger(__name__)

CURSOR_VERSION = 1


@dataclass(frozen=True)
class SyncPlan:
    """What a feed means for the partitions. Keys are sorted, so plans compare and print stably."""

    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # Existing partitions whose product is still in the feed but invalid now:
    # kept (a broken price should not delete a product), reported, not run.
    invalid_existing: tuple[str, ...] = ()
    # Existing partitions never materialized (or whose hash is unknown): run them.
    unrendered: tuple[str, ...] = ()
    # Products in the feed held back by their availability (key -> availability): not run (see batch_video.stock).
    unavailable: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    hashes: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    problems: tuple[FeedProblem, ...] = ()
    duplicates: tuple[str, ...] = ()

    @property
    def to_run(self) -> tuple[str, ...]:
        """Keys that need a run: new first, then changed, then never rendered (none held back by availability)."""
        return tuple(key for key in self.new + self.changed + self.unrendered if key not in self.unavailable)

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "unrendered": len(self.unrendered),
            "unavailable": len(self.unavailable),
            "invalid": sum(1 for p in self.problems if not p.skipped),
            "skipped": sum(1 for p in self.problems if p.skipped),
            "invalid_existing": len(self.invalid_existing),
            "duplicates": len(self.duplicates),
        }

    def summary(self) -> str:
        return ", ".join(f"{count} {name}" for name, count in self.counts().items())


def diff_partitions(
    current: Mapping[str, str],
    existing_keys: Iterable[str],
    previous_hashes: Mapping[str, str],
    *,
    invalid_keys: Iterable[str] = (),
) -> SyncPlan:
    """Classify keys: `current` maps key -> content hash of the feed as it is now.

    `previous_hashes` maps key -> the hash its latest materialization recorded;
    an existing key missing from it has never been rendered (`unrendered`).
    Existing keys absent from the feed are `removed`, unless listed in
    `invalid_keys` (still in the feed, but invalid now).
    """
    existing = set(existing_keys)
    invalid = set(invalid_keys) - set(current)
    new, changed, unchanged, unrendered = [], [], [], []
    for key, digest in current.items():
        if key not in existing:
            new.append(key)
        elif key not in previous_hashes:
            unrendered.append(key)
        elif previous_hashes[key] != digest:
            changed.append(key)
        else:
            unchanged.append(key)
    gone = existing - set(current)
    return SyncPlan(
        new=tuple(sorted(new)),
        changed=tuple(sorted(changed)),
        unchanged=tuple(sorted(unchanged)),
        removed=tuple(sorted(gone - invalid)),
        invalid_existing=tuple(sorted(gone & invalid)),
        unrendered=tuple(sorted(unrendered)),
        hashes=dict(current),
    )


def plan_sync(
    result: FeedReadResult,
    existing_keys: Iterable[str],
    previous_hashes: Mapping[str, str] | None = None,
    *,
    policy: StockPolicy | None = None,
) -> SyncPlan:
    """The partition changes a parsed feed calls for (see `diff_partitions`).

    Without `previous_hashes` every existing key counts as unchanged: that is
    the CLI's view when it has no Dagster history at hand. Products whose
    availability `policy` does not render (default: out of stock, preorder,
    backorder) get their partition but no run.
    """
    policy = policy or StockPolicy()
    existing = list(existing_keys)
    current = {p.key: p.content_hash for p in result.products}
    if previous_hashes is None:
        previous_hashes = {key: current[key] for key in existing if key in current}
    # A product with broken data keeps its partition; one the shop took off sale (a draft, hidden) has left the feed.
    invalid_keys = {slugify_key(p.product_id) for p in result.problems if p.product_id and not p.skipped}
    plan = diff_partitions(current, existing, previous_hashes, invalid_keys=invalid_keys)
    unavailable = {p.key: p.availability for p in result.products if not policy.renders(p.availability)}
    return SyncPlan(
        **{**plan.__dict__, "unavailable": unavailable, "problems": result.problems, "duplicates": result.duplicates},
    )


# --------------------------------------------------------------------------- sensor state


@dataclass(frozen=True)
class FeedVersion:
    """What identifies one version of a feed: HTTP validators and the content's sha256."""

    sha256: str = ""
    etag: str = ""
    last_modified: str = ""

    def same_as(self, other: "FeedVersion") -> bool:
        if self.sha256 and other.sha256:
            return self.sha256 == other.sha256
        if self.etag and other.etag:
            return self.etag == other.etag
        return bool(self.last_modified) and self.last_modified == other.last_modified


@dataclass(frozen=True)
class SyncCursor:
    """A sensor's memory between ticks, kept small (it is stored on every tick).

    `requested` maps key -> the content hash a run was requested for and not yet
    seen materialized, so a queued product is not requested twice and a product
    whose run failed early is not requested again until it changes. `backlog`
    counts runs left over by the per-tick cap: while it is non-zero the sensor
    keeps working even if the feed did not change. `shelf_failed` counts videos
    the last tick could not take down or put back: while it is non-zero every
    tick tries the shelf again, even if the feed did not change.
    """

    source: str = ""
    version: FeedVersion = FeedVersion()
    requested: Mapping[str, str] = field(default_factory=dict, hash=False)
    backlog: int = 0
    shelf_failed: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "source": self.source,
                "version": self.version.__dict__,
                "requested": dict(sorted(self.requested.items())),
                "backlog": self.backlog,
                "shelf_failed": self.shelf_failed,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> "SyncCursor":
        """The cursor a sensor stored; an empty, unknown or damaged one starts afresh."""
        if not text:
            return cls()
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(f"cursor version {data.get('v')!r}")
            return cls(
                source=str(data.get("source", "")),
                version=FeedVersion(**{k: str(v) for k, v in (data.get("version") or {}).items() if k in FeedVersion.__dataclass_fields__}),
                requested={str(k): str(v) for k, v in (data.get("requested") or {}).items()},
                backlog=int(data.get("backlog", 0)),
                shelf_failed=int(data.get("shelf_failed", 0)),
            )
        except (ValueError, TypeError, AttributeError) as err:
            logger.warning("ignoring unreadable feed sensor cursor (%s); starting afresh", err)
            return cls()

    def unchanged(self, source: str, version: FeedVersion) -> bool:
        """True when this tick can be skipped: same feed, same version, nothing left over, no shelf move to retry."""
        return self.source == source and self.backlog == 0 and self.shelf_failed == 0 and self.version.same_as(version)


@dataclass(frozen=True)
class RunSelection:
    run_now: tuple[str, ...]
    backlog: tuple[str, ...]
    requested: Mapping[str, str] = field(default_factory=dict, hash=False)


def select_runs(
    plan: SyncPlan,
    previous_hashes: Mapping[str, str],
    requested: Mapping[str, str],
    *,
    max_runs: int,
    busy: Collection[str] = (),
) -> RunSelection:
    """This tick's runs: the plan's `to_run` minus those already requested for the same hash, capped.

    Keys in `busy` (a run of that partition is queued or running) wait in the
    backlog, so two runs never write one partition's files at once. Returns
    the new `requested` map: entries whose hash has since been materialized,
    or whose key left the feed, are dropped.
    """
    still_pending = {
        key: digest
        for key, digest in requested.items()
        if key in plan.hashes and previous_hashes.get(key) != digest
    }
    candidates = [key for key in plan.to_run if still_pending.get(key) != plan.hashes[key]]
    busy = set(busy)
    runnable = [key for key in candidates if key not in busy]
    deferred = [key for key in candidates if key in busy]
    run_now = tuple(runnable[: max(max_runs, 0)])
    for key in run_now:
        still_pending[key] = plan.hashes[key]
    backlog = tuple(runnable[len(run_now) :]) + tuple(deferred)
    return RunSelection(run_now=run_now, backlog=backlog, requested=still_pending)


def run_key(partition_key: str, digest: str) -> str:
    """One run per product version: Dagster drops a sensor's repeated run keys."""
    return f"{partition_key}@{digest}"


# --------------------------------------------------------------------------- reports for the CLI


def feed_inspect_report(result: FeedReadResult, *, first_rows: int = 10) -> dict[str, Any]:
    """What `batch-video feed inspect FEED --json` prints."""
    invalid_ids = {p.product_id for p in result.problems if not p.skipped}
    return {
        "source": result.source,
        "format": result.format,
        "counts": {
            "valid": len(result.products),
            "invalid": len(invalid_ids),
            "skipped": sum(1 for p in result.problems if p.skipped),
            "problems": len(result.problems),
            "on_sale": sum(1 for p in result.products if p.on_sale),
            "duplicates": len(result.duplicates),
        },
        "problems": [
            {
                "product_id": p.product_id,
                "field": p.field,
                "raw_value": p.raw_value,
                "reason": p.reason,
                "position": p.position,
                "kind": p.kind,
                "key": slugify_key(p.product_id) if p.product_id else "",
            }
            for p in result.problems
        ],
        "duplicates": list(result.duplicates),
        "first_rows": [
            {
                "key": p.key,
                "id": p.id,
                "title": p.title,
                "price": f"{p.price} {p.currency}",
                "sale_price": "" if p.sale_price is None else f"{p.sale_price} {p.currency}",
                "on_sale": p.on_sale,
                "availability": p.availability,
                "image_link": p.image_link,
            }
            for p in result.products[:first_rows]
        ],
    }


def format_inspect_report(report: Mapping[str, Any]) -> str:
    """The human-readable form of `feed_inspect_report`."""
    counts = report["counts"]
    lines = [
        f"feed: {report['source']}" + (f" ({report['format']})" if report.get("format") else ""),
        f"valid: {counts['valid']}  invalid: {counts['invalid']}  not for sale: {counts.get('skipped', 0)}"
        f"  on sale: {counts['on_sale']}  duplicates: {counts['duplicates']}",
    ]
    for kind, label in (("invalid", "invalid:"), ("skipped", "not for sale (skipped):")):
        found = [p for p in report["problems"] if p.get("kind", "invalid") == kind]
        if found:
            lines.append(label)
        for p in found:
            where = f"#{p['position']} " if p["position"] else ""
            lines.append(f"  {where}{p['product_id'] or '?'}: {p['field']}: {p['reason']} (raw: {p['raw_value']!r})")
    if report["duplicates"]:
        lines.append("duplicate ids (first kept): " + ", ".join(report["duplicates"]))
    if report["first_rows"]:
        lines.append("first rows:")
        for row in report["first_rows"]:
            sale = f" -> {row['sale_price']}" if row["on_sale"] else ""
            lines.append(f"  {row['key']:<28} {row['price']}{sale}  {row['title']}")
    return "\n".join(lines)


def format_sync_report(plan: SyncPlan, *, applied: bool = True, deleted: bool = False) -> str:
    """What `batch-video feed sync FEED` prints: counts, then the keys that changed."""
    lines = [plan.summary()]
    for label, keys in (("new", plan.new), ("changed", plan.changed), ("removed", plan.removed),
                        ("not rendered (availability)", tuple(sorted(plan.unavailable)))):
        if keys:
            shown = ", ".join(keys[:20]) + (f", ... ({len(keys) - 20} more)" if len(keys) > 20 else "")
            lines.append(f"{label}: {shown}")
    if plan.removed:
        lines.append("removed partitions deleted" if deleted else "removed partitions kept (use --delete-removed to delete them)")
    for problem in plan.problems[:20]:
        lines.append(f"{'not for sale' if problem.skipped else 'invalid'}: {problem}")
    if len(plan.problems) > 20:
        lines.append(f"... {len(plan.problems) - 20} more (batch-video feed inspect lists them all)")
    if not applied:
        lines.append("(dry run: nothing changed)")
    return "\n".join(lines)

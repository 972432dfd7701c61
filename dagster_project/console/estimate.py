"""What a batch will do and how long it will take, before and while it runs (pure; no Dagster, no I/O).

- `classify`: the products of a selection as new / changed / failed / unchanged, from the
  asset grid, the content hash each product was last rendered from (product_record's data
  version) and, when the feed can be read, the hash it has now.
- `estimate`: the batch's wall time from the recent runs recorded on the instance (each
  stage's median time, the median run and the median gap between runs) and the run queue's
  concurrency.
- `throughput`: products per minute so far and the time left, for `batch status --watch`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Collection, Mapping, Sequence

from batch_video.stages import PUBLISHED_VIDEO, STAGES

CATEGORIES = ("new", "changed", "failed", "unchanged", "published", "held_back", "not_in_feed")
# Runs further apart than this were not queued one after the other: not a gap between runs.
MAX_GAP_S = 120.0


def classify(
    keys: Sequence[str],
    grid: Mapping[str, Mapping[str, str]],
    recorded: Mapping[str, str],
    feed_hashes: Mapping[str, str] | None,
    held_back: Collection[str] = (),
) -> dict[str, list[str]]:
    """Each key in one category, in order of precedence.

    not_in_feed: the feed was read and the product is not (or no longer validly) in it;
    held_back: in the feed, but its availability is not rendered (out of stock; preorder and backorder unless
    the stock policy allows them: `batch_video.stock`);
    failed: the latest attempt failed at some stage; new: never published; changed / unchanged:
    published, and the feed's content hash differs from / equals the one it was rendered from;
    published: published, the feed not read (no `--feed`), so changes cannot be told.
    """
    failed = {k for statuses in grid.values() for k, s in statuses.items() if s == "failed"}
    published = grid.get(PUBLISHED_VIDEO) or {}
    out: dict[str, list[str]] = {name: [] for name in CATEGORIES}
    for key in keys:
        if feed_hashes is not None and key not in feed_hashes:
            out["not_in_feed"].append(key)
        elif key in held_back:
            out["held_back"].append(key)
        elif key in failed:
            out["failed"].append(key)
        elif published.get(key) != "materialized":
            out["new"].append(key)
        elif feed_hashes is None:
            out["published"].append(key)
        elif feed_hashes[key] != recorded.get(key):
            out["changed"].append(key)
        else:
            out["unchanged"].append(key)
    return out


@dataclass(frozen=True)
class RecentRun:
    partition_key: str
    backfill_id: str
    start_time: float
    end_time: float
    stage_seconds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    products: int
    concurrency: int
    per_product_s: float  # median run (process start to end) + median gap between runs
    run_s: float
    gap_s: float
    stage_s: Mapping[str, float]  # each stage's median
    sample_runs: int

    @property
    def wall_s(self) -> float:
        return self.products * self.per_product_s / max(self.concurrency, 1)

    def describe(self) -> str:
        stages = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.stage_s.items())
        return (
            f"~{duration(self.wall_s)} for {self.products} products: {self.per_product_s:.1f} s each "
            f"(run {self.run_s:.1f} s + {self.gap_s:.1f} s between runs; stages {stages}), "
            f"{self.concurrency} at a time; from the last {self.sample_runs} successful product runs"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "wall_s": round(self.wall_s, 1)}


def estimate(products: int, recent: Sequence[RecentRun], concurrency: int) -> Estimate | None:
    """The wall time of `products` more products like the recent ones; None without a successful run."""
    if not recent:
        return None
    runs = [r.end_time - r.start_time for r in recent]
    by_backfill: dict[str, list[RecentRun]] = {}
    for run in recent:
        by_backfill.setdefault(run.backfill_id, []).append(run)
    gaps = []
    for runs_of_one in by_backfill.values():
        ordered = sorted(runs_of_one, key=lambda r: r.start_time)
        gaps += [b.start_time - a.end_time for a, b in zip(ordered, ordered[1:]) if 0 <= b.start_time - a.end_time <= MAX_GAP_S]
    stage_s = {
        name: statistics.median(r.stage_seconds[name] for r in recent if name in r.stage_seconds)
        for name in STAGES
        if any(name in r.stage_seconds for r in recent)
    }
    run_s = statistics.median(runs)
    gap_s = statistics.median(gaps) if gaps else 0.0
    return Estimate(products, max(concurrency, 1), run_s + gap_s, run_s, gap_s, stage_s, len(recent))


@dataclass(frozen=True)
class Throughput:
    done: int
    remaining: int
    per_minute: float
    eta_s: float | None

    def describe(self, now: float | None = None) -> str:
        if self.per_minute <= 0:
            return ""
        eta = ""
        if self.eta_s is not None and self.remaining:
            finish = time.strftime("%H:%M", time.localtime((time.time() if now is None else now) + self.eta_s))
            eta = f", ETA {duration(self.eta_s)} ({finish})"
        return f"{self.per_minute:.1f} products/min{eta}"


def throughput(rows: Sequence[Any], *, now: float | None = None) -> Throughput:
    """Products per minute since the batch's first product started, and the time the rest will take."""
    now = time.time() if now is None else now
    # A big batch's status knows when a published product finished, not when it started (client.bulk_backfill_runs).
    starts = [r.start_time if r.start_time is not None else r.end_time for r in rows
              if r.start_time is not None or r.end_time is not None]
    done = sum(r.status in ("succeeded", "failed", "canceled", "skipped") for r in rows)
    remaining = len(rows) - done
    if not starts or not done:
        return Throughput(done, remaining, 0.0, None)
    elapsed = max(now - min(starts), 1e-6)
    per_minute = 60.0 * done / elapsed
    return Throughput(done, remaining, per_minute, 60.0 * remaining / per_minute if per_minute else None)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"

"""Pruning the data folder: per-product work folders and caches go by age, then by size.

Everything under `data/` can be made again (a work folder by re-running its
product, a cache entry by parsing or speaking again), but nothing removed it,
so a busy shop's disk filled up with work folders of products long gone and
feed parses of every version of the feed. `prune_data` removes, oldest use
first:

- anything not used for `max_age_s` (default 30 days);
- then, while the whole lot is larger than `max_bytes`, the least recently used.

Nothing used in the last `min_age_s` (an hour) is touched, so a running batch
keeps its folders. Published videos (the output folder, Supabase) are never
touched here. `batch-video prune` runs it; `BATCH_VIDEO_PRUNE_MAX_AGE_DAYS` and
`BATCH_VIDEO_PRUNE_MAX_GB` set the defaults.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE_DAYS = 30.0
MIN_AGE_S = 3600.0
MAX_AGE_ENV = "BATCH_VIDEO_PRUNE_MAX_AGE_DAYS"
MAX_GB_ENV = "BATCH_VIDEO_PRUNE_MAX_GB"


@dataclass(frozen=True)
class Entry:
    """One unit that goes whole: a work folder, a feed-cache file, a voiceover-cache entry."""

    path: Path
    kind: str
    used_at: float  # newest modification inside
    size_bytes: int


@dataclass(frozen=True)
class PruneReport:
    removed: tuple[Entry, ...] = ()
    kept_bytes: int = 0
    dry_run: bool = False
    by_kind: Mapping[str, int] = field(default_factory=dict)

    @property
    def removed_bytes(self) -> int:
        return sum(entry.size_bytes for entry in self.removed)

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.by_kind.items())) or "nothing"
        return f"{verb} {kinds} ({self.removed_bytes / 1e6:.1f} MB); {self.kept_bytes / 1e6:.1f} MB kept"


@dataclass(frozen=True)
class PruneSettings:
    max_age_s: float | None = DEFAULT_MAX_AGE_DAYS * 86400
    max_bytes: int | None = None
    min_age_s: float = MIN_AGE_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "PruneSettings":
        env = os.environ if environ is None else environ
        days = env.get(MAX_AGE_ENV, "").strip()
        gigabytes = env.get(MAX_GB_ENV, "").strip()
        return cls(
            max_age_s=float(days) * 86400 if days else DEFAULT_MAX_AGE_DAYS * 86400,
            max_bytes=int(float(gigabytes) * 1e9) if gigabytes else None,
        )


def _tree(path: Path) -> tuple[float, int]:
    """(newest mtime, total bytes) of a file or a folder's files."""
    if path.is_file():
        info = path.stat()
        return info.st_mtime, info.st_size
    # The files' times, not the folder's: a folder's own time changes whenever an entry is added or removed.
    newest, total = 0.0, 0
    for folder, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                info = os.stat(os.path.join(folder, name))
                newest, total = max(newest, info.st_mtime), total + info.st_size
    return newest or path.stat().st_mtime, total


def entries(data_dir: Path) -> Iterator[Entry]:
    """What pruning may remove under `data_dir`, each as one unit."""
    data_dir = Path(data_dir)
    candidates: list[tuple[str, Path]] = []
    work = data_dir / "work"
    if work.is_dir():
        candidates += [("work folder", p) for p in work.iterdir() if p.is_dir()]
    feeds = data_dir / "cache" / "feeds"
    if feeds.is_dir():
        candidates += [("feed cache", p) for p in feeds.iterdir() if p.is_file() and not p.name.startswith(".")]
    tts = data_dir / "cache" / "tts"
    if tts.is_dir():
        candidates += [("voiceover cache", meta.parent) for meta in tts.glob("??/*/meta.json")]
    for kind, path in candidates:
        try:
            used_at, size = _tree(path)
        except OSError:
            continue  # gone meanwhile
        yield Entry(path, kind, used_at, size)


def prune_data(data_dir: Path, settings: PruneSettings = PruneSettings(), *, dry_run: bool = False,
               now: float | None = None) -> PruneReport:
    """Remove what is too old, then the least recently used while over the size cap (see the module doc)."""
    now = time.time() if now is None else now
    found = sorted(entries(data_dir), key=lambda entry: entry.used_at)
    total = sum(entry.size_bytes for entry in found)
    removed: list[Entry] = []
    for entry in found:
        age = now - entry.used_at
        if age < settings.min_age_s:
            continue
        too_old = settings.max_age_s is not None and age > settings.max_age_s
        too_big = settings.max_bytes is not None and total > settings.max_bytes
        if not (too_old or too_big):
            continue
        if not dry_run:
            discard(entry.path)
        removed.append(entry)
        total -= entry.size_bytes
    by_kind: dict[str, int] = {}
    for entry in removed:
        by_kind[entry.kind] = by_kind.get(entry.kind, 0) + 1
    report = PruneReport(tuple(removed), total, dry_run, by_kind)
    logger.info("prune %s: %s", data_dir, report.summary())
    return report


def discard(path: Path) -> None:
    """Remove a file or a folder; a folder is renamed aside first, so no reader sees half of it."""
    if path.is_dir():
        aside = path.parent / f".{path.name}.{uuid.uuid4().hex}.discard"
        with contextlib.suppress(OSError):
            os.rename(path, aside)
            shutil.rmtree(aside, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

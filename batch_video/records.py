"""Records of feeds, products and published videos: local SQLite or Supabase tables.

The SQLite schema mirrors `supabase/migrations/` (same tables, columns and
unique keys), so apps can read either. A video row is keyed by
(profile, partition key): publishing upserts it, a failure marks it `failed`
with the stage and message but keeps the previously published video's path
and URL, so an app can keep showing the old video next to the error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from batch_video.errors import ConfigError, ProductDataError
from batch_video.models import Product, PublishedVideo
from batch_video.publish.common import Generation, superseded
from batch_video.redact import shop_message
from batch_video.service_errors import call_with_retries

logger = logging.getLogger(__name__)

STATUS_PUBLISHED = "published"
STATUS_FAILED = "failed"
STATUS_UNPUBLISHED = "unpublished"  # taken down while its product is out of stock or gone (batch_video.stock)
# What `product_video_events` records: a video taken down and put back, each with its reason.
EVENT_UNPUBLISHED = "unpublished"
EVENT_REPUBLISHED = "republished"
MAX_ERROR_MESSAGE_CHARS = 4000
UPSERT_BATCH_SIZE = 500
SQLITE_SCHEMA_VERSION = 3  # bump with an upgrade step when the tables change (2: withdrawn videos; 3: run order)
STAGE = "records"


@dataclass(frozen=True)
class VideoRecord:
    """One row of `product_videos`."""

    partition_key: str
    external_id: str
    status: str
    storage: str | None = None
    storage_path: str | None = None
    url: str | None = None
    poster_url: str | None = None
    duration_s: float | None = None
    size_bytes: int | None = None
    content_hash: str | None = None
    settings_hash: str | None = None
    provider: str | None = None
    run_id: str | None = None
    run_started_at: str | None = None
    backfill_id: str | None = None
    error_stage: str | None = None
    error_message: str | None = None
    failed_at: str | None = None
    published_at: str | None = None
    unpublished_at: str | None = None  # set while the video is withdrawn (not live); cleared when it is back
    unpublish_reason: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    profile_id: str | None = None
    feed_id: str | None = None
    product_id: str | None = None  # the `products` row, when the feed's products were recorded
    id: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "VideoRecord":
        known = {f.name for f in fields(cls)}
        values = {k: row[k] for k in row.keys() if k in known}
        for name in ("id", "profile_id", "feed_id", "product_id"):
            if values.get(name) is not None:
                values[name] = str(values[name])
        if values.get("duration_s") is not None:
            values["duration_s"] = float(values["duration_s"])
        for name in ("failed_at", "published_at", "unpublished_at", "created_at", "updated_at", "run_started_at"):
            if isinstance(values.get(name), datetime):
                values[name] = values[name].isoformat()
        return cls(**values)


class Records(ABC):
    """Feeds, products and video rows of one shop, in SQLite or Supabase.

    record_video/record_failure are shared: they build the row and the backend upserts it.
    """

    @abstractmethod
    def upsert_feed(self, url: str, *, name: str = "") -> str: ...

    @abstractmethod
    def upsert_products(self, feed: str, products: Iterable[Product]) -> int: ...

    @abstractmethod
    def get_video(self, key: str) -> VideoRecord | None: ...

    @abstractmethod
    def _upsert_video(self, values: dict[str, Any], feed: str | None) -> VideoRecord: ...

    def record_video(
        self,
        key: str,
        product_id: str,
        published: PublishedVideo,
        *,
        duration_s: float | None = None,
        settings_hash: str = "",
        provider: str = "",
        run_id: str | None = None,
        backfill_id: str | None = None,
        feed: str | None = None,
        generation: Generation | None = None,
    ) -> VideoRecord:
        """Make `published` the product's live video: the commit point of a publish.

        With a `generation`, a row written by a newer run is never replaced (the
        tables' `newer_run_wins` trigger): that raises `Superseded`.
        """
        values = video_row(
            key, product_id, published, duration_s=duration_s, settings_hash=settings_hash, provider=provider,
            run_id=(generation.run_id if generation else "") or run_id, backfill_id=backfill_id, now=_utc_now(),
            run_started_at=generation.iso() if generation else None,
        )
        record = self._upsert_video(values, feed)
        if not _written(record, values):
            raise superseded(key, record.run_id if record else None, record.run_started_at if record else None)
        logger.info("product %s: recorded published video %s", product_id, record.storage_path)
        return record

    def record_failure(
        self,
        key: str,
        product_id: str,
        stage: str,
        message: str,
        *,
        run_id: str | None = None,
        backfill_id: str | None = None,
        feed: str | None = None,
        run_started_at: str | None = None,
    ) -> VideoRecord:
        """Mark the product failed, keeping its live video; a newer run's row is left as it is."""
        values = failure_row(key, product_id, stage, message, run_id=run_id, backfill_id=backfill_id, now=_utc_now(),
                             run_started_at=run_started_at)
        record = self._upsert_video(values, feed)
        if not _written(record, values):
            logger.info("product %s: not recording the failure of older run %s over run %s", product_id, run_id,
                        record.run_id if record else None)
            return record
        logger.info("product %s: recorded failure at stage %s", product_id, stage)
        return record

    # -- the shelf: videos taken down and put back (batch_video.stock) ----------------

    @abstractmethod
    def video_states(self) -> dict[str, bool]:
        """Every product with a video: partition key -> whether its video is live (False: withdrawn)."""

    @abstractmethod
    def _add_event(self, row: dict[str, Any]) -> None: ...

    @abstractmethod
    def video_events(self, key: str) -> list[dict[str, Any]]:
        """The product's `product_video_events` rows, oldest first."""

    def record_unpublished(self, key: str, reason: str) -> VideoRecord | None:
        """Mark the product's video withdrawn (status `unpublished`) and log the event; None if it has no video."""
        return self._shelve(key, EVENT_UNPUBLISHED, reason)

    def record_republished(self, key: str, reason: str) -> VideoRecord | None:
        """Mark the product's withdrawn video live again (status `published`) and log the event."""
        return self._shelve(key, EVENT_REPUBLISHED, reason)

    def _shelve(self, key: str, event: str, reason: str) -> VideoRecord | None:
        current = self.get_video(key)
        if current is None or not current.storage_path:
            return current
        withdrawn = current.unpublished_at is not None
        if withdrawn == (event == EVENT_UNPUBLISHED):
            return current  # already so: a repeated sync changes nothing
        now = _utc_now()
        values: dict[str, Any] = {"partition_key": key, "external_id": current.external_id}
        if event == EVENT_UNPUBLISHED:
            values.update(status=STATUS_UNPUBLISHED, unpublished_at=now, unpublish_reason=reason)
        else:
            values.update(status=STATUS_PUBLISHED, unpublished_at=None, unpublish_reason=None)
        record = self._upsert_video(values, None)
        self._add_event({"partition_key": key, "external_id": current.external_id, "event": event, "reason": reason,
                         "storage_path": current.storage_path, "created_at": now})
        logger.info("product %s: video %s (%s)", current.external_id, event, reason)
        return record


def _written(record: "VideoRecord | None", values: Mapping[str, Any]) -> bool:
    """Whether the upsert of `values` took effect (the trigger leaves a newer run's row alone)."""
    if record is None:
        return False
    if values.get("run_started_at") is None:
        return True
    return record.run_id == values.get("run_id") and _same_instant(record.run_started_at, values["run_started_at"])


def _same_instant(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    parse = lambda text: datetime.fromisoformat(str(text).replace("Z", "+00:00"))  # noqa: E731
    return parse(a) == parse(b)


def product_row(product: Product) -> dict[str, Any]:
    """The `products` columns for one feed item (prices as exact decimal strings)."""
    return {
        "external_id": product.id,
        "partition_key": product.key,
        "title": product.title,
        "description": product.description,
        "brand": product.brand,
        "product_type": product.product_type,
        "link": product.link,
        "image_link": product.image_link,
        "additional_image_links": list(product.additional_image_links),
        "price": str(product.price),
        "sale_price": None if product.sale_price is None else str(product.sale_price),
        "currency": product.currency,
        "price_raw": product.price_raw,
        "sale_price_raw": product.sale_price_raw,
        "availability": product.availability,
        "content_hash": product.content_hash,
    }


def video_row(
    key: str,
    product_id: str,
    published: PublishedVideo,
    *,
    duration_s: float | None,
    settings_hash: str,
    provider: str,
    run_id: str | None,
    backfill_id: str | None,
    now: str,
    run_started_at: str | None = None,
) -> dict[str, Any]:
    """Columns a successful publish sets; the error columns are cleared."""
    if published.partition_key != key:
        raise ProductDataError(
            f"published video is for {published.partition_key!r}, not {key!r}", product_id=product_id, field="partition_key", stage=STAGE
        )
    return {
        "partition_key": key,
        "external_id": product_id,
        "status": STATUS_PUBLISHED,
        "storage": published.storage,
        "storage_path": published.storage_path,
        "url": published.location,
        "poster_url": published.poster_location,
        "duration_s": duration_s,
        "size_bytes": published.size_bytes,
        "content_hash": published.content_hash,
        "settings_hash": settings_hash or None,
        "provider": provider or None,
        "run_id": run_id,
        "run_started_at": run_started_at,
        "backfill_id": backfill_id,
        "error_stage": None,
        "error_message": None,
        "unpublished_at": None,
        "unpublish_reason": None,
        "failed_at": None,
        "published_at": now,
    }


def failure_row(
    key: str, product_id: str, stage: str, message: str, *, run_id: str | None, backfill_id: str | None, now: str,
    run_started_at: str | None = None,
) -> dict[str, Any]:
    """Columns a failure sets; the published video's columns are deliberately absent.

    The message is what the shop owner reads: one short line, no server paths, no URL secrets.
    """
    return {
        "partition_key": key,
        "external_id": product_id,
        "status": STATUS_FAILED,
        "error_stage": stage,
        "error_message": shop_message(message) or "failed",
        "failed_at": now,
        "run_id": run_id,
        "run_started_at": run_started_at,
        "backfill_id": backfill_id,
    }


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------
# SQLite (default, one machine)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS product_feeds (
    id            TEXT PRIMARY KEY,
    profile_id    TEXT NOT NULL DEFAULT '',
    url           TEXT NOT NULL,
    name          TEXT,
    last_read_at  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (profile_id, url)
);
CREATE TABLE IF NOT EXISTS products (
    id                      TEXT PRIMARY KEY,
    profile_id              TEXT NOT NULL DEFAULT '',
    feed_id                 TEXT NOT NULL REFERENCES product_feeds(id) ON DELETE CASCADE,
    external_id             TEXT NOT NULL,
    partition_key           TEXT,
    title                   TEXT NOT NULL,
    description             TEXT,
    brand                   TEXT,
    product_type            TEXT,
    link                    TEXT,
    image_link              TEXT,
    additional_image_links  TEXT,
    price                   TEXT NOT NULL,
    sale_price              TEXT,
    currency                TEXT NOT NULL,
    price_raw               TEXT,
    sale_price_raw          TEXT,
    availability            TEXT,
    content_hash            TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    UNIQUE (feed_id, external_id)
);
CREATE INDEX IF NOT EXISTS products_profile_partition_key_idx ON products (profile_id, partition_key);
CREATE TABLE IF NOT EXISTS product_videos (
    id             TEXT PRIMARY KEY,
    profile_id     TEXT NOT NULL DEFAULT '',
    feed_id        TEXT REFERENCES product_feeds(id) ON DELETE SET NULL,
    product_id     TEXT REFERENCES products(id) ON DELETE SET NULL,
    external_id    TEXT NOT NULL,
    partition_key  TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('published', 'failed', 'unpublished')),
    storage        TEXT,
    storage_path   TEXT,
    url            TEXT,
    poster_url     TEXT,
    duration_s     REAL,
    size_bytes     INTEGER,
    content_hash   TEXT,
    settings_hash  TEXT,
    provider       TEXT,
    run_id         TEXT,
    backfill_id    TEXT,
    error_stage    TEXT,
    error_message  TEXT,
    failed_at      TEXT,
    published_at   TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    run_started_at TEXT,
    unpublished_at TEXT,
    unpublish_reason TEXT,
    UNIQUE (profile_id, partition_key),
    CHECK (status <> 'failed' OR error_message IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS product_videos_failed_idx ON product_videos (profile_id, failed_at) WHERE status = 'failed';
CREATE INDEX IF NOT EXISTS product_videos_product_idx ON product_videos (product_id);
CREATE TABLE IF NOT EXISTS product_video_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id     TEXT NOT NULL DEFAULT '',
    partition_key  TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    event          TEXT NOT NULL CHECK (event IN ('unpublished', 'republished')),
    reason         TEXT,
    storage_path   TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS product_video_events_key_idx ON product_video_events (profile_id, partition_key, id);
"""

# A run older than the one whose row is there changes nothing (see supabase/migrations: newer_run_wins).
# ISO-8601 UTC times with microseconds compare correctly as text.
SQLITE_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS product_videos_newer_run_wins BEFORE UPDATE ON product_videos
WHEN OLD.run_started_at IS NOT NULL AND NEW.run_started_at IS NOT NULL
     AND NEW.run_started_at < OLD.run_started_at AND NEW.run_id IS NOT OLD.run_id
BEGIN SELECT RAISE(IGNORE); END;
"""


def _allow_unpublished(conn: sqlite3.Connection) -> None:
    """Upgrade a file made before videos could be withdrawn: SQLite changes a CHECK only by rebuilding the table."""
    (table_sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'product_videos'").fetchone()
    if "'unpublished'" in table_sql:
        return
    old_columns = [row["name"] for row in conn.execute("PRAGMA table_info(product_videos)")]
    statements = [s.strip() for s in SQLITE_SCHEMA.split(";") if "product_videos " in s or "product_videos\n" in s]
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ALTER TABLE product_videos RENAME TO product_videos_before_unpublished")
        for index in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                                  "'product_videos_before_unpublished' AND sql IS NOT NULL").fetchall():
            conn.execute(f'DROP INDEX "{index["name"]}"')
        for statement in statements:
            conn.execute(statement)
        columns = ", ".join(old_columns)
        conn.execute(f"INSERT INTO product_videos ({columns}) SELECT {columns} FROM product_videos_before_unpublished")
        conn.execute("DROP TABLE product_videos_before_unpublished")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    logger.info("records: product_videos can now hold withdrawn (unpublished) videos")


class SQLiteRecords(Records):
    """Records in one SQLite file (WAL; each call its own short transaction, so
    several processes can write at once)."""

    name = "sqlite"

    def __init__(self, path: str | Path, *, profile_id: str = "", busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.profile_id = profile_id
        self.busy_timeout_s = busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                with self._connect() as conn:
                    self._create_or_upgrade(conn)
                return
            except sqlite3.OperationalError as err:
                # Processes creating the same file at once: SQLite answers "database is locked" at once, without
                # waiting out the busy timeout, to the one whose lock upgrade would deadlock (the switch to WAL, the
                # schema's writes). Every step is idempotent, so it starts again.
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                logger.debug("records: %s is being created by another process (%s); again", self.path, err)
                time.sleep(0.05)

    def _create_or_upgrade(self, conn: sqlite3.Connection) -> None:
        """The file's schema, made or brought up to this code's version (each step idempotent)."""
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SQLITE_SCHEMA)
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SQLITE_SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path} has schema version {found}, newer than this code ({SQLITE_SCHEMA_VERSION})", field="records_path"
            )
        columns = {row["name"] for row in conn.execute("PRAGMA table_info(product_videos)")}
        if "run_started_at" not in columns:  # before version 3
            conn.execute("ALTER TABLE product_videos ADD COLUMN run_started_at TEXT")
        _allow_unpublished(conn)  # rebuilds the table: the triggers are made after it
        conn.executescript(SQLITE_TRIGGERS)
        conn.execute(f"PRAGMA user_version={SQLITE_SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"SQLiteRecords(path={str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            # IMMEDIATE takes the write lock up front, so concurrent writers queue
            # on busy_timeout instead of failing halfway with "database is locked".
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def upsert_feed(self, url: str, *, name: str = "") -> str:
        now = _utc_now()
        with self._write() as conn:
            conn.execute(
                """INSERT INTO product_feeds (id, profile_id, url, name, last_read_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (profile_id, url) DO UPDATE SET
                     name = COALESCE(NULLIF(excluded.name, ''), product_feeds.name),
                     last_read_at = excluded.last_read_at,
                     updated_at = excluded.updated_at""",
                (str(uuid.uuid4()), self.profile_id, url, name or None, now, now, now),
            )
            row = conn.execute("SELECT id FROM product_feeds WHERE profile_id = ? AND url = ?", (self.profile_id, url)).fetchone()
        return row["id"]

    def _feed_id(self, conn: sqlite3.Connection, feed: str | None) -> str | None:
        if not feed:
            return None
        row = conn.execute(
            "SELECT id FROM product_feeds WHERE profile_id = ? AND (id = ? OR url = ?)", (self.profile_id, feed, feed)
        ).fetchone()
        return row["id"] if row else None

    def upsert_products(self, feed: str, products: Iterable[Product]) -> int:
        """Insert or update the feed's products (unique on feed + external id); returns how many."""
        feed_id = self._resolve_feed(feed)
        now = _utc_now()
        rows = []
        for product in products:
            row = product_row(product)
            row["additional_image_links"] = json.dumps(row["additional_image_links"], ensure_ascii=False)
            rows.append(row)
        if not rows:
            return 0
        columns = list(rows[0])
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "external_id")
        sql = (
            f"INSERT INTO products (id, profile_id, feed_id, {', '.join(columns)}, created_at, updated_at) "
            f"VALUES (?, ?, ?, {', '.join('?' for _ in columns)}, ?, ?) "
            f"ON CONFLICT (feed_id, external_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at"
        )
        with self._write() as conn:
            conn.executemany(
                sql, [(str(uuid.uuid4()), self.profile_id, feed_id, *(r[c] for c in columns), now, now) for r in rows]
            )
        return len(rows)

    def _resolve_feed(self, feed: str) -> str:
        with self._connect() as conn:
            found = self._feed_id(conn, feed)
        return found or self.upsert_feed(feed)

    def _upsert_video(self, values: dict[str, Any], feed: str | None) -> VideoRecord:
        now = values.get("published_at") or values.get("failed_at") or _utc_now()
        feed_id = self._resolve_feed(feed) if feed else None
        columns = list(values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "partition_key")
        with self._write() as conn:
            product_id = self._product_id(conn, feed_id, values["external_id"])
            conn.execute(
                f"INSERT INTO product_videos (id, profile_id, feed_id, product_id, {', '.join(columns)}, created_at, updated_at) "
                f"VALUES (?, ?, ?, ?, {', '.join('?' for _ in columns)}, ?, ?) "
                f"ON CONFLICT (profile_id, partition_key) DO UPDATE SET {updates}, "
                "feed_id = COALESCE(excluded.feed_id, product_videos.feed_id), "
                "product_id = COALESCE(excluded.product_id, product_videos.product_id), "
                "updated_at = excluded.updated_at",
                (str(uuid.uuid4()), self.profile_id, feed_id, product_id, *values.values(), now, now),
            )
            row = conn.execute(
                "SELECT * FROM product_videos WHERE profile_id = ? AND partition_key = ?", (self.profile_id, values["partition_key"])
            ).fetchone()
        return VideoRecord.from_row(row)

    def _product_id(self, conn: sqlite3.Connection, feed_id: str | None, external_id: str) -> str | None:
        if feed_id:
            row = conn.execute("SELECT id FROM products WHERE feed_id = ? AND external_id = ?", (feed_id, external_id)).fetchone()
        else:
            row = conn.execute(
                "SELECT id FROM products WHERE profile_id = ? AND external_id = ? ORDER BY updated_at DESC LIMIT 1",
                (self.profile_id, external_id),
            ).fetchone()
        return row["id"] if row else None

    def get_video(self, key: str) -> VideoRecord | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM product_videos WHERE profile_id = ? AND partition_key = ?", (self.profile_id, key)
            ).fetchone()
        return VideoRecord.from_row(row) if row else None

    def video_states(self) -> dict[str, bool]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT partition_key, unpublished_at FROM product_videos WHERE profile_id = ? AND storage_path IS NOT NULL",
                (self.profile_id,),
            ).fetchall()
        return {row["partition_key"]: row["unpublished_at"] is None for row in rows}

    def _add_event(self, row: dict[str, Any]) -> None:
        columns = list(row)
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO product_video_events (profile_id, {', '.join(columns)}) VALUES (?, {', '.join('?' for _ in columns)})",
                (self.profile_id, *row.values()),
            )

    def video_events(self, key: str) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM product_video_events WHERE profile_id = ? AND partition_key = ? ORDER BY id", (self.profile_id, key)
            ).fetchall()
        return [dict(row) for row in rows]

    def list_failures(self) -> list[VideoRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM product_videos WHERE profile_id = ? AND status = 'failed' ORDER BY failed_at DESC", (self.profile_id,)
            ).fetchall()
        return [VideoRecord.from_row(r) for r in rows]

    def get_product(self, feed: str, external_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            feed_id = self._feed_id(conn, feed)
            row = conn.execute("SELECT * FROM products WHERE feed_id = ? AND external_id = ?", (feed_id, external_id)).fetchone()
        if row is None:
            return None
        product = dict(row)
        product["additional_image_links"] = json.loads(product["additional_image_links"] or "[]")
        return product


# --------------------------------------------------------------------------
# Supabase (PostgREST)


class SupabaseRecords(Records):
    """The same records through PostgREST with the service-role client.

    Writes are upserts on the tables' unique keys (`on_conflict=...` with
    `Prefer: resolution=merge-duplicates`), so a retried request cannot
    duplicate a row. Failures of 5xx/network kind are retried with backoff.
    """

    name = "supabase"

    def __init__(
        self,
        client: Any,
        *,
        profile_id: str,
        attempts: int = 4,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not profile_id or not _looks_like_uuid(profile_id):
            raise ConfigError(
                f"profile id {profile_id!r} must be the owner's auth user id (a UUID)", field="BATCH_VIDEO_PROFILE_ID", stage=STAGE
            )
        self.client = client
        self.profile_id = profile_id
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.sleep = sleep
        self._feed_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SupabaseRecords(profile_id={self.profile_id!r})"

    def _run(self, build: Callable[[], Any], what: str, product_id: str | None = None) -> list[dict[str, Any]]:
        def execute() -> list[dict[str, Any]]:
            query = build()
            if hasattr(query, "retry"):
                query = query.retry(False)  # one retry policy: ours, with our backoff
            return query.execute().data

        return call_with_retries(
            execute, what=what, stage=STAGE, product_id=product_id, attempts=self.attempts, backoff_s=self.backoff_s,
            sleep=self.sleep,
        )

    def upsert_feed(self, url: str, *, name: str = "") -> str:
        row = {"profile_id": self.profile_id, "url": url, "last_read_at": _utc_now()}
        if name:
            row["name"] = name
        data = self._run(
            lambda: self.client.table("product_feeds").upsert(row, on_conflict="profile_id,url"), f"upserting feed {url}"
        )
        if not data:
            raise ConfigError(f"upserting feed {url} returned no row (is the migration applied?)", stage=STAGE)
        self._feed_ids[url] = data[0]["id"]
        return data[0]["id"]

    def _resolve_feed(self, feed: str) -> str:
        if _looks_like_uuid(feed):
            return feed
        return self._feed_ids.get(feed) or self.upsert_feed(feed)

    def upsert_products(self, feed: str, products: Iterable[Product]) -> int:
        feed_id = self._resolve_feed(feed)
        rows = [{**product_row(p), "profile_id": self.profile_id, "feed_id": feed_id} for p in products]
        for start in range(0, len(rows), UPSERT_BATCH_SIZE):
            batch = rows[start : start + UPSERT_BATCH_SIZE]
            self._run(
                lambda batch=batch: self.client.table("products").upsert(
                    batch, on_conflict="feed_id,external_id", returning="minimal"
                ),
                f"upserting {len(batch)} products of feed {feed}",
            )
        return len(rows)

    def _upsert_video(self, values: dict[str, Any], feed: str | None) -> VideoRecord:
        row = {**values, "profile_id": self.profile_id}
        if feed:
            row["feed_id"] = self._resolve_feed(feed)
        data = self._run(
            lambda: self.client.table("product_videos").upsert(row, on_conflict="profile_id,partition_key"),
            f"recording video row for {values['partition_key']}",
            product_id=values["external_id"],
        )
        if data:
            return VideoRecord.from_row(data[0])
        # No row back: the newer_run_wins trigger kept a newer run's row. Say whose.
        return self.get_video(values["partition_key"]) or VideoRecord.from_row(row)

    def iter_product_rows(self, *, feed: str | None = None, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """The profile's `products` rows (optionally one feed's), page by page in external_id order.

        This is the catalog source for shops whose products live in Supabase
        (`batch_video.feed.products_from_rows` turns the rows into Products).
        """
        feed_id = self._resolve_feed(feed) if feed else None
        start = 0
        while True:
            def page(start: int = start) -> Any:
                query = self.client.table("products").select("*").eq("profile_id", self.profile_id)
                if feed_id:
                    query = query.eq("feed_id", feed_id)
                return query.order("external_id").range(start, start + page_size - 1)

            rows = self._run(page, f"reading products {start}-{start + page_size - 1}")
            yield from rows
            if len(rows) < page_size:
                return
            start += page_size

    def list_failures(self, *, limit: int = 100) -> list[VideoRecord]:
        """The profile's failed products, newest first (served by the partial index on failed rows)."""
        data = self._run(
            lambda: self.client.table("product_videos")
            .select("*")
            .eq("profile_id", self.profile_id)
            .eq("status", STATUS_FAILED)
            .order("failed_at", desc=True)
            .limit(limit),
            "listing failed videos",
        )
        return [VideoRecord.from_row(row) for row in data]

    def get_video(self, key: str) -> VideoRecord | None:
        data = self._run(
            lambda: self.client.table("product_videos")
            .select("*")
            .eq("profile_id", self.profile_id)
            .eq("partition_key", key)
            .limit(1),
            f"reading video row for {key}",
            product_id=key,
        )
        return VideoRecord.from_row(data[0]) if data else None

    def video_states(self, *, page_size: int = 1000) -> dict[str, bool]:
        states: dict[str, bool] = {}
        start = 0
        while True:
            def page(start: int = start) -> Any:
                return (self.client.table("product_videos").select("*").eq("profile_id", self.profile_id)
                        .order("partition_key").range(start, start + page_size - 1))

            rows = self._run(page, f"reading video rows {start}-{start + page_size - 1}")
            states.update({row["partition_key"]: row.get("unpublished_at") is None for row in rows if row.get("storage_path")})
            if len(rows) < page_size:
                return states
            start += page_size

    def _add_event(self, row: dict[str, Any]) -> None:
        event = {**row, "profile_id": self.profile_id}
        self._run(lambda: self.client.table("product_video_events").insert(event),
                  f"recording the {row['event']} event of {row['partition_key']}", product_id=row["external_id"])

    def video_events(self, key: str) -> list[dict[str, Any]]:
        return self._run(
            lambda: self.client.table("product_video_events").select("*").eq("profile_id", self.profile_id)
            .eq("partition_key", key).order("id"),
            f"reading the video events of {key}",
            product_id=key,
        )

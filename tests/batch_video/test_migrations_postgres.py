"""Every migration in supabase/migrations/ applied to an empty PostgreSQL, then the SQL the
pipeline relies on: upserts, uniqueness, lookups (and their indexes), triggers and RLS.

Needs a server: `eval "$(scripts/start_test_postgres.sh)"` sets BATCH_VIDEO_TEST_PG_DSN.
Skipped without it locally; a failure in CI (CI=true), where it must run.

SupabaseRecords is exercised end to end: its real supabase-py requests are answered
by `PostgrestBridge`, a small stand-in for PostgREST that turns the upsert/select
requests into the SQL PostgREST runs for them (json_populate_recordset +
ON CONFLICT (on_conflict columns) DO UPDATE SET col = EXCLUDED.col) under the
service_role role, and returns PostgREST's error format and statuses.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

psycopg = pytest.importorskip("psycopg")
from psycopg import sql  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402

from batch_video.errors import ProductDataError  # noqa: E402
from batch_video.models import Product, PublishedVideo  # noqa: E402
from batch_video.publish import Generation, Superseded  # noqa: E402
from batch_video.records import SQLiteRecords, SupabaseRecords  # noqa: E402

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((REPO / "supabase" / "migrations").glob("*.sql"))
BOOTSTRAP = REPO / "tests" / "fixtures" / "supabase" / "bootstrap.sql"
TABLES = ("product_feeds", "products", "product_videos", "product_video_events")
SHOP_A = "aaaaaaaa-0000-4000-8000-00000000000a"
SHOP_B = "bbbbbbbb-0000-4000-8000-00000000000b"
BASE = "https://local-test.supabase.co"


@pytest.fixture(scope="module")
def server_dsn():
    dsn = os.environ.get("BATCH_VIDEO_TEST_PG_DSN")
    if not dsn:
        if os.environ.get("CI") == "true":
            pytest.fail("BATCH_VIDEO_TEST_PG_DSN is not set in CI: run `eval \"$(scripts/start_test_postgres.sh)\"` first")
        pytest.skip("no test PostgreSQL (set BATCH_VIDEO_TEST_PG_DSN, see scripts/start_test_postgres.sh)")
    return dsn


@pytest.fixture(scope="module")
def dsn(server_dsn):
    """A brand-new database with the bootstrap stand-ins and every migration applied in order."""
    name = f"bv_migrations_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database = make_conninfo(server_dsn, dbname=name)
    try:
        with psycopg.connect(database, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
            conn.execute(BOOTSTRAP.read_text())
            for migration in MIGRATIONS:
                conn.execute(migration.read_text())
        yield database
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE auth.users, public.product_feeds, public.products, public.product_videos, "
                     "public.product_video_events CASCADE")
        conn.execute("INSERT INTO auth.users (id, email) VALUES (%s, 'a@shop.ro'), (%s, 'b@shop.ro')", (SHOP_A, SHOP_B))
        yield conn


# ---------------------------------------------------------------- a stand-in for PostgREST

# SQLSTATE -> HTTP status, as PostgREST maps them
_STATUS_FOR_SQLSTATE = {"23505": 409, "23503": 409, "23502": 400, "23514": 400, "42501": 403, "42P10": 400, "22P02": 400}


class PostgrestBridge:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.statements: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        table = request.url.path.rsplit("/", 1)[-1]
        assert table in TABLES, table
        assert request.headers["apikey"] and request.headers["authorization"].startswith("Bearer ")
        try:
            with psycopg.connect(self.dsn) as conn, conn.transaction():
                conn.execute("SET LOCAL ROLE service_role")
                conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps({"role": "service_role"}),))
                if request.method == "POST":
                    return self._upsert(conn, table, request)
                if request.method == "GET":
                    return self._select(conn, table, request)
        except psycopg.Error as exc:
            diag = exc.diag
            status = _STATUS_FOR_SQLSTATE.get(diag.sqlstate or "", 500 if (diag.sqlstate or "").startswith(("XX", "57", "08")) else 400)
            return httpx.Response(status, json={"code": diag.sqlstate, "details": diag.message_detail,
                                                "hint": diag.message_hint, "message": diag.message_primary})
        raise AssertionError(f"unexpected {request.method}")

    def _upsert(self, conn, table: str, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        rows = body if isinstance(body, list) else [body]
        params = request.url.params
        # `columns` lists every key of a bulk body, quoted like identifiers ("a","b")
        columns = [c.strip('"') for c in params["columns"].split(",")] if "columns" in params else list(rows[0])
        prefer = {p.strip() for p in request.headers.get("prefer", "").split(",")}
        target = sql.SQL("public.{}").format(sql.Identifier(table))
        column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        statement = sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM json_populate_recordset(NULL::{t}, %s) _").format(
            t=target, c=column_list)
        if "on_conflict" in params:
            conflict = sql.SQL(", ").join(sql.Identifier(c) for c in params["on_conflict"].split(","))
            if "resolution=merge-duplicates" in prefer:
                updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns)
                statement += sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(conflict, updates)
            elif "resolution=ignore-duplicates" in prefer:
                statement += sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(conflict)
        statement = sql.SQL("WITH written AS ({} RETURNING *) SELECT coalesce(json_agg(written), '[]') FROM written").format(statement)
        self.statements.append(statement.as_string(conn))
        data = conn.execute(statement, (json.dumps(rows),)).fetchone()[0]
        if "return=representation" in prefer:
            return httpx.Response(201, json=data)
        return httpx.Response(201)

    def _select(self, conn, table: str, request: httpx.Request) -> httpx.Response:
        conditions, values, limit, offset, order = [], [], None, None, None
        for name, value in request.url.params.multi_items():
            if name == "select":
                assert value == "*"
            elif name == "limit":
                limit = int(value)
            elif name == "offset":
                offset = int(value)
            elif name == "order":
                column, _, direction = value.partition(".")
                order = sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL("DESC" if direction.startswith("desc") else "ASC"))
            else:
                operator, _, operand = value.partition(".")
                assert operator == "eq", value
                conditions.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
                values.append(operand)
        statement = sql.SQL("SELECT * FROM public.{}").format(sql.Identifier(table))
        if conditions:
            statement += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)
        if order is not None:
            statement += sql.SQL(" ORDER BY ") + order
        if limit is not None:
            statement += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
        if offset is not None:
            statement += sql.SQL(" OFFSET {}").format(sql.Literal(offset))
        statement = sql.SQL("SELECT coalesce(json_agg(r), '[]') FROM ({}) r").format(statement)
        return httpx.Response(200, json=conn.execute(statement, values).fetchone()[0])


@pytest.fixture
def bridge(dsn):
    bridge = PostgrestBridge(dsn)
    with respx.mock:
        respx.route(url__startswith=f"{BASE}/rest/v1/").mock(side_effect=bridge)
        yield bridge


def supabase_records(profile_id: str = SHOP_A) -> SupabaseRecords:
    from supabase import ClientOptions, create_client

    client = create_client(BASE, "test-service-role-key", ClientOptions(auto_refresh_token=False, persist_session=False))
    return SupabaseRecords(client, profile_id=profile_id, attempts=2, backoff_s=0, sleep=lambda s: None)


def product(pid: str, price: str = "1249.90", **kw) -> Product:
    return Product(id=pid, key=pid.lower(), title=f"Produs {pid} — ăâîșț", price=Decimal(price), currency="RON",
                   image_link=f"https://shop.ro/img/{pid}.jpg", price_raw=f"{price} lei", content_hash=f"c{pid}{price}", **kw)


def published(key: str, content_hash: str) -> PublishedVideo:
    return PublishedVideo(key, f"https://x/{content_hash}.mp4", f"https://x/{content_hash}.jpg", "supabase", 4321, content_hash,
                          f"{SHOP_A}/{key}/{content_hash}.mp4")


# ---------------------------------------------------------------- the schema


def test_migrations_are_named_for_the_supabase_cli_and_applied(db):
    assert MIGRATIONS, "no migrations found"
    for migration in MIGRATIONS:
        assert re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", migration.name), migration.name
    rows = db.execute(
        "SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY relname"
    ).fetchall()
    assert rows == [("product_feeds", True), ("product_video_events", True), ("product_videos", True), ("products", True)]


def test_sqlite_schema_mirrors_the_postgres_tables(db, tmp_path):
    SQLiteRecords(tmp_path / "r.sqlite")
    lite = sqlite3.connect(tmp_path / "r.sqlite")
    for table in TABLES:
        pg_columns = [r[0] for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (table,)).fetchall()]
        lite_columns = [r[1] for r in lite.execute(f"PRAGMA table_info({table})").fetchall()]
        assert lite_columns == pg_columns, table


@pytest.mark.parametrize(
    "query, params, index",
    [
        ("SELECT * FROM product_videos WHERE profile_id = %s AND partition_key = %s", (SHOP_A, "k"),
         "product_videos_profile_partition_key_key"),
        ("SELECT * FROM product_videos WHERE profile_id = %s AND status = 'failed' ORDER BY failed_at DESC", (SHOP_A,),
         "product_videos_failed_idx"),
        ("SELECT * FROM products WHERE feed_id = %s AND external_id = %s", (SHOP_A, "P1"), "products_feed_external_id_key"),
        ("SELECT * FROM products WHERE profile_id = %s AND partition_key = %s", (SHOP_A, "p1"), "products_profile_partition_key_idx"),
        ("SELECT * FROM product_feeds WHERE profile_id = %s AND url = %s", (SHOP_A, "u"), "product_feeds_profile_url_key"),
    ],
)
def test_the_pipeline_lookups_use_an_index(db, query, params, index):
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")
        plan = json.dumps(db.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0])
    assert f'"Index Name": "{index}"' in plan


# ---------------------------------------------------------------- uniqueness and constraints


def _feed(db, profile=SHOP_A, url="https://shop.ro/feed.xml") -> str:
    return str(db.execute(
        "INSERT INTO product_feeds (profile_id, url) VALUES (%s, %s) RETURNING id", (profile, url)).fetchone()[0])


def test_products_are_unique_per_feed_and_external_id(db):
    feed, other = _feed(db), _feed(db, url="https://shop.ro/other.xml")
    insert = "INSERT INTO products (profile_id, feed_id, external_id, title, price, currency) VALUES (%s, %s, %s, 't', 1, 'RON')"
    db.execute(insert, (SHOP_A, feed, "P1"))
    db.execute(insert, (SHOP_A, other, "P1"))  # same id, other feed: fine
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(insert, (SHOP_A, feed, "P1"))


@pytest.mark.parametrize(
    "columns, values",
    [
        ("status", "'done'"),  # unknown status
        ("status, error_message", "'failed', NULL"),  # a failure must say why
        ("status, storage", "'published', 's3'"),
        ("status, size_bytes", "'published', -1"),
    ],
)
def test_video_rows_are_checked(db, columns, values):
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(f"INSERT INTO product_videos (profile_id, external_id, partition_key, {columns}) VALUES (%s, 'P', 'p', {values})",
                   (SHOP_A,))


def test_prices_must_be_valid(db):
    feed = _feed(db)
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO products (profile_id, feed_id, external_id, title, price, currency) VALUES (%s, %s, 'P', 't', -1, 'RON')",
                   (SHOP_A, feed))
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO products (profile_id, feed_id, external_id, title, price, currency) VALUES (%s, %s, 'P', 't', 1, 'lei')",
                   (SHOP_A, feed))


def test_deleting_a_profile_removes_its_rows(db):
    feed = _feed(db)
    db.execute("INSERT INTO product_videos (profile_id, feed_id, external_id, partition_key, status) VALUES (%s, %s, 'P', 'p', 'published')",
               (SHOP_A, feed))
    db.execute("DELETE FROM auth.users WHERE id = %s", (SHOP_A,))
    assert db.execute("SELECT count(*) FROM product_feeds").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM product_videos").fetchone()[0] == 0


# ---------------------------------------------------------------- SupabaseRecords against the real schema


def test_records_upserts_through_postgrest_sql(db, bridge):
    records = supabase_records()
    feed_id = records.upsert_feed("https://shop.ro/feed.xml", name="Main")
    assert records.upsert_feed("https://shop.ro/feed.xml") == feed_id

    records.upsert_products("https://shop.ro/feed.xml", [product("P1"), product("P2", sale_price=Decimal("999.99"),
                                                                                  sale_price_raw="999,99 lei")])
    records.upsert_products("https://shop.ro/feed.xml", [product("P1", price="1100.00")])

    rows = db.execute("SELECT external_id, price, sale_price, price_raw, sale_price_raw, image_link, content_hash, title, "
                      "additional_image_links, created_at < updated_at FROM products ORDER BY external_id").fetchall()
    assert rows == [
        ("P1", Decimal("1100.00"), None, "1100.00 lei", "", "https://shop.ro/img/P1.jpg", "cP11100.00", "Produs P1 — ăâîșț", [], True),
        ("P2", Decimal("1249.90"), Decimal("999.99"), "1249.90 lei", "999,99 lei", "https://shop.ro/img/P2.jpg", "cP21249.90",
         "Produs P2 — ăâîșț", [], False),
    ]
    assert db.execute("SELECT name FROM product_feeds").fetchall() == [("Main",)]
    assert any("ON CONFLICT (\"feed_id\", \"external_id\") DO UPDATE" in s for s in bridge.statements)


def test_video_row_lifecycle(db, bridge):
    records = supabase_records()
    records.upsert_products("https://shop.ro/feed.xml", [product("P1")])

    failed = records.record_failure("p1", "P1", "voiceover_audio", "edge-tts timed out", run_id="r1", feed="https://shop.ro/feed.xml")
    assert (failed.status, failed.storage_path, failed.product_id is not None) == ("failed", None, True)

    first = records.record_video("p1", "P1", published("p1", "h1"), duration_s=7.5, settings_hash="s1", provider="edge",
                                 run_id="r2", backfill_id="bf1", feed="https://shop.ro/feed.xml")
    assert (first.status, first.error_message, first.failed_at, first.content_hash) == ("published", None, None, "h1")
    assert first.id == failed.id and first.duration_s == 7.5 and first.backfill_id == "bf1"

    again = records.record_failure("p1", "P1", "render", "ffmpeg exited 1", run_id="r3")
    assert (again.status, again.error_stage, again.storage_path, again.url) == (
        "failed", "render", f"{SHOP_A}/p1/h1.mp4", "https://x/h1.mp4")

    # the same content twice: still one row, no duplicate
    records.record_video("p1", "P1", published("p1", "h2"), run_id="r4")
    records.record_video("p1", "P1", published("p1", "h2"), run_id="r4")
    assert db.execute("SELECT count(*), min(content_hash), min(status) FROM product_videos").fetchone() == (1, "h2", "published")
    assert records.get_video("p1").content_hash == "h2"
    assert records.get_video("nope") is None


def test_a_video_taken_down_and_put_back_keeps_both_events(db, bridge):
    records = supabase_records()
    records.upsert_products("https://shop.ro/feed.xml", [product("P1"), product("P2")])
    records.record_video("p1", "P1", published("p1", "h1"), run_id="r1", feed="https://shop.ro/feed.xml")
    records.record_video("p2", "P2", published("p2", "h2"), run_id="r1", feed="https://shop.ro/feed.xml")
    supabase_records(SHOP_B).record_video("p9", "P9", published("p9", "h9"))
    assert records.video_states(page_size=1) == {"p1": True, "p2": True}  # page by page, this shop only

    down = records.record_unpublished("p1", "out_of_stock")
    assert (down.status, down.unpublish_reason, down.unpublished_at is not None) == ("unpublished", "out_of_stock", True)
    assert records.video_states() == {"p1": False, "p2": True}
    back = records.record_republished("p1", "back_in_stock")
    assert (back.status, back.unpublished_at, back.storage_path) == ("published", None, f"{SHOP_A}/p1/h1.mp4")
    events = records.video_events("p1")
    assert [(e["event"], e["reason"], e["external_id"]) for e in events] == [
        ("unpublished", "out_of_stock", "P1"), ("republished", "back_in_stock", "P1")]
    # The shop's app sees the history; another shop does not.
    assert db.execute("SELECT count(*) FROM product_video_events WHERE profile_id = %s", (SHOP_A,)).fetchone()[0] == 2
    with as_user(db, SHOP_B):
        assert db.execute("SELECT count(*) FROM product_video_events").fetchone()[0] == 0
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE product_videos SET status = 'hidden' WHERE partition_key = 'p2'")


def test_failed_products_are_listed_newest_first(db, bridge):
    records = supabase_records()
    records.record_failure("a", "A", "product_image", "HTTP 404")
    records.record_failure("b", "B", "render", "ffmpeg exited 1")
    records.record_video("c", "C", published("c", "h"))
    supabase_records(SHOP_B).record_failure("d", "D", "render", "other shop")
    assert [(r.partition_key, r.error_stage) for r in records.list_failures()] == [("b", "render"), ("a", "product_image")]


def test_video_is_linked_to_its_product_whichever_arrives_first(db, bridge):
    records = supabase_records()
    records.record_video("p7", "P7", published("p7", "h"), feed="https://shop.ro/feed.xml")
    assert db.execute("SELECT product_id FROM product_videos").fetchone()[0] is None
    records.upsert_products("https://shop.ro/feed.xml", [product("P7")])
    linked = db.execute("SELECT v.product_id = p.id FROM product_videos v, products p").fetchone()[0]
    assert linked is True


def test_profiles_do_not_share_rows(db, bridge):
    supabase_records(SHOP_A).record_video("k", "K", published("k", "ha"))
    supabase_records(SHOP_B).record_video("k", "K", published("k", "hb"))
    assert supabase_records(SHOP_A).get_video("k").content_hash == "ha"
    assert supabase_records(SHOP_B).get_video("k").content_hash == "hb"


def test_concurrent_publishes_of_one_product_leave_one_row(db, bridge):
    errors = []

    def work(i):
        try:
            supabase_records().record_video("p1", "P1", published("p1", f"h{i % 2}"), run_id=f"r{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.execute("SELECT count(*) FROM product_videos").fetchone()[0] == 1


def test_a_constraint_violation_comes_back_as_a_clear_product_error(db, bridge):
    records = supabase_records()
    bad = PublishedVideo("p1", "u", "p", "ftp", 1, "h", "path")  # storage must be local or supabase
    with pytest.raises(ProductDataError) as info:
        records.record_video("p1", "P1", bad)
    assert "product P1" in str(info.value) and "23514" in str(info.value) and "product_videos_storage_check" in str(info.value)


# ---------------------------------------------------------------- row-level security


@contextlib.contextmanager
def as_user(db, profile_id: str | None, role: str = "authenticated") -> Iterator[None]:
    """Requests as Supabase's PostgREST makes them for this user (`role`, the JWT claims), in a transaction rolled
    back afterwards."""
    db.execute("BEGIN")
    try:
        db.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        claims = {"role": role} | ({"sub": profile_id} if profile_id else {})
        db.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield
    finally:
        db.execute("ROLLBACK")


def _seed_two_shops(db):
    for shop in (SHOP_A, SHOP_B):
        feed = _feed(db, profile=shop)
        db.execute("INSERT INTO products (profile_id, feed_id, external_id, title, price, currency) VALUES (%s, %s, 'P', 't', 1, 'RON')",
                   (shop, feed))
        db.execute("INSERT INTO product_videos (profile_id, feed_id, external_id, partition_key, status) "
                   "VALUES (%s, %s, 'P', 'p', 'published')", (shop, feed))
        db.execute("INSERT INTO product_video_events (profile_id, partition_key, external_id, event, reason) "
                   "VALUES (%s, 'p', 'P', 'unpublished', 'out_of_stock')", (shop,))


def test_signed_in_users_see_only_their_own_rows(db):
    _seed_two_shops(db)
    with as_user(db, SHOP_A):
        for table in TABLES:
            owners = db.execute(sql.SQL("SELECT DISTINCT profile_id::text FROM public.{}").format(sql.Identifier(table))).fetchall()
            assert owners == [(SHOP_A,)], table


def test_users_manage_their_feeds_but_not_others_nor_the_pipeline_tables(db):
    _seed_two_shops(db)
    with as_user(db, SHOP_A):
        db.execute("INSERT INTO product_feeds (profile_id, url) VALUES (%s, 'https://shop.ro/new.xml')", (SHOP_A,))
        assert db.execute("UPDATE product_feeds SET name = 'x'").rowcount == 2  # own two feeds only
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # RLS: another profile's feed
            db.execute("INSERT INTO product_feeds (profile_id, url) VALUES (%s, 'https://evil/x.xml')", (SHOP_B,))
    with as_user(db, SHOP_A):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # only the pipeline writes videos
            db.execute("UPDATE product_videos SET status = 'failed', error_message = 'x'")


def test_anonymous_requests_read_nothing(db):
    _seed_two_shops(db)
    with as_user(db, None, role="anon"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("SELECT * FROM product_videos")


def test_service_role_sees_everything(db):
    _seed_two_shops(db)
    with as_user(db, None, role="service_role"):
        assert db.execute("SELECT count(*) FROM product_videos").fetchone()[0] == 2


# ---------------------------------------------------------------- two runs of one product; the private bucket


def test_an_older_run_never_replaces_a_newer_runs_row_through_postgrest(db, bridge):
    records = supabase_records()
    newer, older = Generation("run-b", 2_000_000_000.0), Generation("run-a", 1_000_000_000.0)
    records.record_video("p1", "P1", PublishedVideo("p1", "u2", "p2", "supabase", 2, "new", f"{SHOP_A}/p1/new.mp4"),
                         generation=newer)
    with pytest.raises(Superseded) as info:
        records.record_video("p1", "P1", PublishedVideo("p1", "u1", "p1", "supabase", 1, "old", f"{SHOP_A}/p1/old.mp4"),
                             generation=older)
    assert "run-b" in str(info.value)
    # An older run's failure is not recorded over the newer row either.
    records.record_failure("p1", "P1", "render", "late", run_id="run-a", run_started_at=older.iso())
    row = db.execute("SELECT storage_path, status, run_id FROM product_videos WHERE partition_key = 'p1'").fetchone()
    assert row == (f"{SHOP_A}/p1/new.mp4", "published", "run-b")
    # The rule is the database's: a plain SQL writer is held to it too.
    db.execute("UPDATE product_videos SET storage_path = 'x', run_id = 'run-a', run_started_at = %s WHERE partition_key = 'p1'",
               (older.iso(),))
    assert db.execute("SELECT storage_path FROM product_videos WHERE partition_key = 'p1'").fetchone() == (f"{SHOP_A}/p1/new.mp4",)


def test_the_videos_bucket_is_private_and_owners_read_only_their_own_objects(db):
    assert db.execute("SELECT public FROM storage.buckets WHERE id = 'product-videos'").fetchone() == (False,)
    db.execute("TRUNCATE storage.objects")
    for shop in (SHOP_A, SHOP_B):
        db.execute("INSERT INTO storage.objects (bucket_id, name) VALUES ('product-videos', %s)", (f"{shop}/p/abc.mp4",))
    for profile, role, expected in ((SHOP_A, "authenticated", [f"{SHOP_A}/p/abc.mp4"]), (None, "anon", [])):
        with as_user(db, profile, role):
            assert [r[0] for r in db.execute("SELECT name FROM storage.objects")] == expected

"""SupabaseStorage and SupabaseRecords through the real `supabase` client and its httpx
calls, answered by respx with the documented Storage and PostgREST formats."""

from __future__ import annotations

import json
import logging
import subprocess
from decimal import Decimal

import httpx
import pytest
import respx
from supabase import ClientOptions, create_client

from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.hashing import file_sha256
from batch_video.models import Product, PublishedVideo
from batch_video.publish import SupabaseStorage, publish_video
from batch_video.records import SupabaseRecords

BASE = "https://shopproj.supabase.co"
KEY = "eyJhbGciOiJIUzI1NiJ9.service-role-test-key.sig"
PROFILE = "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
BUCKET = "product-videos"
STORAGE = f"{BASE}/storage/v1"
REST = f"{BASE}/rest/v1"


def storage_error(status: int, error: str, message: str) -> httpx.Response:
    # Storage API error body: statusCode is a string
    return httpx.Response(status, json={"statusCode": str(status), "error": error, "message": message})


def postgrest_error(status: int, code: str, message: str, details=None, hint=None) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "details": details, "hint": hint, "message": message})


def object_info(path: str, size: int, content_type: str = "video/mp4") -> httpx.Response:
    return httpx.Response(200, json={
        "id": "9b3c4d5e-0000-4000-8000-00000000000a", "name": path, "version": "v1", "bucket_id": BUCKET, "size": size,
        "content_type": content_type, "cache_control": "max-age=31536000", "etag": '"abc"', "metadata": {},
        "last_modified": "2026-11-25T22:00:00.000Z", "created_at": "2026-11-25T22:00:00.000Z",
    })


NOT_FOUND = storage_error(404, "not_found", "Object not found")


@pytest.fixture
def client():
    return create_client(BASE, KEY, ClientOptions(auto_refresh_token=False, persist_session=False))


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def storage(client, sleeps):
    return SupabaseStorage(client, BUCKET, profile_id=PROFILE, public_urls=True, attempts=3, backoff_s=0.01, sleep=sleeps.append)


@pytest.fixture
def records(client, sleeps):
    return SupabaseRecords(client, profile_id=PROFILE, attempts=3, backoff_s=0.01, sleep=sleeps.append)


@pytest.fixture(scope="module")
def media(tiny_media):  # the shared tiny video and poster, and the Storage paths their content names
    video, poster = tiny_media
    global HASH, VIDEO_PATH, POSTER_PATH
    HASH = file_sha256(video)[:32]
    VIDEO_PATH, POSTER_PATH = f"{PROFILE}/mouse-m1/{HASH}.mp4", f"{PROFILE}/mouse-m1/{HASH}.jpg"
    return video, poster


def assert_service_role_headers(request: httpx.Request) -> None:
    assert request.headers["apikey"] == KEY
    assert request.headers["authorization"] == f"Bearer {KEY}"


def object_url(path: str) -> str:
    return f"{STORAGE}/object/{BUCKET}/{path}"


def info_url(path: str) -> str:
    return f"{STORAGE}/object/info/{BUCKET}/{path}"


# Objects are named after the sha256 of the video's bytes: set by the `media` fixture.
HASH = VIDEO_PATH = POSTER_PATH = ""
# What an earlier publish left live (another content).
OLD_VIDEO, OLD_POSTER = f"{PROFILE}/mouse-m1/{'0' * 32}.mp4", f"{PROFILE}/mouse-m1/{'0' * 32}.jpg"


# ---------------------------------------------------------------- Storage


@respx.mock
def test_publish_uploads_poster_and_video_then_verifies_and_returns_public_url(storage, media):
    video, poster = media
    size = video.stat().st_size
    respx.get(info_url(POSTER_PATH)).mock(return_value=NOT_FOUND)
    video_info = respx.get(info_url(VIDEO_PATH)).mock(side_effect=[NOT_FOUND, object_info(VIDEO_PATH, size)])
    poster_upload = respx.post(object_url(POSTER_PATH)).mock(return_value=httpx.Response(200, json={"Key": f"{BUCKET}/{POSTER_PATH}", "id": "p1"}))
    video_upload = respx.post(object_url(VIDEO_PATH)).mock(return_value=httpx.Response(200, json={"Key": f"{BUCKET}/{VIDEO_PATH}", "id": "v1"}))

    published = storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={"product_id": "M1"})

    assert published == PublishedVideo(
        partition_key="mouse-m1",
        location=f"{STORAGE}/object/public/{BUCKET}/{VIDEO_PATH}",
        poster_location=f"{STORAGE}/object/public/{BUCKET}/{POSTER_PATH}",
        storage="supabase",
        size_bytes=size,
        content_hash=HASH,
        storage_path=VIDEO_PATH,
    )
    assert video_info.call_count == 2  # before (skip if present) and after (verify) the upload
    request = video_upload.calls.last.request
    assert request.method == "POST"
    assert_service_role_headers(request)
    assert request.headers["x-upsert"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.read()
    assert f'name="file"; filename="{HASH}.mp4"'.encode() in body and b"Content-Type: video/mp4" in body
    assert video.read_bytes() in body
    assert b'name="cacheControl"\r\n\r\n31536000' in body
    assert b'{"product_id": "M1", "render_hash": "hash1"}' in body  # object metadata
    poster_body = poster_upload.calls.last.request.read()
    assert b"Content-Type: image/jpeg" in poster_body and poster.read_bytes() in poster_body


@respx.mock
def test_publishing_the_same_content_twice_uploads_nothing(storage, media):
    video, poster = media
    respx.get(info_url(POSTER_PATH)).mock(return_value=object_info(POSTER_PATH, poster.stat().st_size, "image/jpeg"))
    respx.get(info_url(VIDEO_PATH)).mock(return_value=object_info(VIDEO_PATH, video.stat().st_size))
    uploads = respx.post(url__startswith=f"{STORAGE}/object/{BUCKET}/").mock(return_value=httpx.Response(200, json={"Key": "x"}))

    published = storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})

    assert published.storage_path == VIDEO_PATH
    assert uploads.call_count == 0


def test_uploads_go_under_the_configured_prefix(client, media):
    storage = SupabaseStorage(client, BUCKET, profile_id=PROFILE, prefix="/shop-a/videos/", attempts=1)
    assert storage.object_path("k", "h", "mp4") == f"shop-a/videos/{PROFILE}/k/h.mp4"


@respx.mock
def test_signed_urls_use_the_configured_expiry(client, media, sleeps):
    video, poster = media
    storage = SupabaseStorage(client, BUCKET, profile_id=PROFILE, signed_url_expiry_s=600, attempts=2, backoff_s=0, sleep=sleeps.append)
    respx.get(info_url(POSTER_PATH)).mock(return_value=object_info(POSTER_PATH, poster.stat().st_size, "image/jpeg"))
    respx.get(info_url(VIDEO_PATH)).mock(return_value=object_info(VIDEO_PATH, video.stat().st_size))
    sign_video = respx.post(f"{STORAGE}/object/sign/{BUCKET}/{VIDEO_PATH}").mock(
        return_value=httpx.Response(200, json={"signedURL": f"/object/sign/{BUCKET}/{VIDEO_PATH}?token=tok-video"}))
    respx.post(f"{STORAGE}/object/sign/{BUCKET}/{POSTER_PATH}").mock(
        return_value=httpx.Response(200, json={"signedURL": f"/object/sign/{BUCKET}/{POSTER_PATH}?token=tok-poster"}))

    published = storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})

    assert published.location == f"{STORAGE}/object/sign/{BUCKET}/{VIDEO_PATH}?token=tok-video"
    assert published.poster_location.endswith("?token=tok-poster")
    request = sign_video.calls.last.request
    assert_service_role_headers(request)
    assert json.loads(request.content) == {"expiresIn": "600"}


@respx.mock
def test_upload_5xx_is_retried_with_backoff_then_succeeds(storage, media, sleeps):
    video, poster = media
    respx.get(info_url(POSTER_PATH)).mock(return_value=object_info(POSTER_PATH, poster.stat().st_size, "image/jpeg"))
    respx.get(info_url(VIDEO_PATH)).mock(side_effect=[NOT_FOUND, object_info(VIDEO_PATH, video.stat().st_size)])
    upload = respx.post(object_url(VIDEO_PATH)).mock(side_effect=[
        storage_error(503, "ServiceUnavailable", "Service Unavailable"),
        httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json={"Key": f"{BUCKET}/{VIDEO_PATH}"}),
    ])

    published = storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})

    assert upload.call_count == 3
    assert sleeps == [0.01, 0.02]
    assert published.storage_path == VIDEO_PATH


@respx.mock
def test_upload_5xx_that_persists_raises_transient_error_naming_the_product(storage, media, sleeps):
    video, poster = media
    respx.get(info_url(POSTER_PATH)).mock(return_value=object_info(POSTER_PATH, poster.stat().st_size, "image/jpeg"))
    respx.get(info_url(VIDEO_PATH)).mock(return_value=NOT_FOUND)
    upload = respx.post(object_url(VIDEO_PATH)).mock(return_value=storage_error(500, "InternalError", "Internal Server Error"))

    with pytest.raises(TransientError) as info:
        storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})

    assert upload.call_count == 3
    assert info.value.product_id == "mouse-m1" and info.value.field == "video_path"
    assert "HTTP 500" in str(info.value) and "Internal Server Error" in str(info.value)


@pytest.mark.parametrize(
    "response, error_type, words",
    [
        (storage_error(413, "Payload too large", "The object exceeded the maximum allowed size"), ProductDataError,
         ["HTTP 413", "maximum allowed size"]),
        (storage_error(409, "Duplicate", "The resource already exists"), ProductDataError, ["HTTP 409", "already exists"]),
        (storage_error(400, "Unauthorized", "new row violates row-level security policy"), ProductDataError, ["HTTP 400", "row-level"]),
        (storage_error(403, "Unauthorized", "invalid signature"), ConfigError, ["HTTP 403", "check the Supabase"]),
        (storage_error(404, "Bucket not found", "Bucket not found"), ConfigError, ["HTTP 404", "Bucket not found"]),
    ],
)
@respx.mock
def test_upload_4xx_fails_at_once_with_a_clear_error(storage, media, sleeps, response, error_type, words):
    video, poster = media
    respx.get(info_url(POSTER_PATH)).mock(return_value=object_info(POSTER_PATH, poster.stat().st_size, "image/jpeg"))
    respx.get(info_url(VIDEO_PATH)).mock(return_value=NOT_FOUND)
    upload = respx.post(object_url(VIDEO_PATH)).mock(return_value=response)

    with pytest.raises(error_type) as info:
        storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})

    assert upload.call_count == 1 and sleeps == []
    message = str(info.value)
    assert message.startswith("product mouse-m1, field video_path:")
    for word in words:
        assert word in message
    assert KEY not in message


@respx.mock
@pytest.mark.parametrize("stored, said", [
    (lambda video: object_info(VIDEO_PATH, 17), "17 bytes"),
    (lambda video: object_info(VIDEO_PATH, video.stat().st_size, "text/plain;charset=UTF-8"), "text/plain"),
], ids=["short", "wrong-type"])
def test_an_upload_stored_short_or_with_the_wrong_type_is_never_published(storage, media, stored, said):
    video, poster = media
    respx.get(info_url(POSTER_PATH)).mock(return_value=object_info(POSTER_PATH, poster.stat().st_size, "image/jpeg"))
    respx.get(info_url(VIDEO_PATH)).mock(side_effect=[NOT_FOUND, stored(video)])
    respx.post(object_url(VIDEO_PATH)).mock(return_value=httpx.Response(200, json={"Key": f"{BUCKET}/{VIDEO_PATH}"}))

    with pytest.raises(TransientError) as info:
        storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})
    assert said in str(info.value)


@respx.mock
def test_an_object_of_the_wrong_type_is_uploaded_again(storage, media):
    video, poster = media
    respx.get(info_url(POSTER_PATH)).mock(return_value=object_info(POSTER_PATH, poster.stat().st_size, "image/jpeg"))
    respx.get(info_url(VIDEO_PATH)).mock(side_effect=[object_info(VIDEO_PATH, video.stat().st_size, "application/octet-stream"),
                                                      object_info(VIDEO_PATH, video.stat().st_size)])
    upload = respx.post(object_url(VIDEO_PATH)).mock(return_value=httpx.Response(200, json={"Key": f"{BUCKET}/{VIDEO_PATH}"}))

    storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})
    assert upload.call_count == 1


@respx.mock
def test_a_missing_bucket_is_a_configuration_error_before_any_upload(storage, media, sleeps):
    video, poster = media
    respx.get(info_url(POSTER_PATH)).mock(return_value=storage_error(404, "Bucket not found", "Bucket not found"))
    upload = respx.post(url__startswith=f"{STORAGE}/object/{BUCKET}/").mock(return_value=httpx.Response(200, json={"Key": "k"}))

    with pytest.raises(ConfigError) as info:
        storage.publish("mouse-m1", video, poster, content_hash="hash1", metadata={})
    assert "Bucket not found" in str(info.value) and upload.call_count == 0 and sleeps == []


@respx.mock
def test_discard_removes_the_old_video_and_its_poster(storage):
    remove = respx.delete(f"{STORAGE}/object/{BUCKET}").mock(return_value=httpx.Response(200, json=[]))

    storage.discard(f"{PROFILE}/k/old.mp4", keep=f"{PROFILE}/k/new.mp4")
    storage.discard(f"{PROFILE}/k/new.mp4", keep=f"{PROFILE}/k/new.mp4")  # the live one: kept
    storage.discard("someone-else/k/old.mp4")  # outside this profile: never touched

    assert remove.call_count == 1
    request = remove.calls.last.request
    assert_service_role_headers(request)
    assert json.loads(request.content) == {"prefixes": [f"{PROFILE}/k/old.mp4", f"{PROFILE}/k/old.jpg"]}


@respx.mock
def test_discard_failure_does_not_fail_the_publish(storage, caplog):
    respx.delete(f"{STORAGE}/object/{BUCKET}").mock(return_value=storage_error(403, "Unauthorized", "denied"))
    with caplog.at_level(logging.WARNING):
        storage.discard(f"{PROFILE}/k/old.mp4")
    assert "could not remove" in caplog.text


def test_storage_requires_bucket_and_profile(client):
    with pytest.raises(ConfigError) as info:
        SupabaseStorage(client, "", profile_id=PROFILE)
    assert info.value.field == "SUPABASE_BUCKET"
    with pytest.raises(ConfigError) as info:
        SupabaseStorage(client, BUCKET, profile_id="")
    assert info.value.field == "BATCH_VIDEO_PROFILE_ID"


# ---------------------------------------------------------------- PostgREST


def video_row_response(**overrides):
    row = {
        "id": "0d8f7e6a-1111-4222-8333-444455556666", "profile_id": PROFILE, "feed_id": None, "product_id": None,
        "external_id": "M1", "partition_key": "mouse-m1", "status": "published", "storage": "supabase",
        "storage_path": OLD_VIDEO, "url": "https://x/v.mp4", "poster_url": "https://x/p.jpg", "duration_s": 7.5,
        "size_bytes": 1000, "content_hash": "hash1", "settings_hash": "s1", "provider": "edge", "run_id": "r1",
        "backfill_id": None, "error_stage": None, "error_message": None, "failed_at": None,
        "published_at": "2026-11-25T22:00:00+00:00", "created_at": "2026-11-25T22:00:00+00:00",
        "updated_at": "2026-11-25T22:00:00+00:00",
    }
    row.update(overrides)
    return row


def echo_upsert(request: httpx.Request) -> httpx.Response:
    """PostgREST's answer to an upsert with return=representation: the row as written."""
    return httpx.Response(201, json=[video_row_response(**json.loads(request.content))])


def published(content_hash="hash1"):
    return PublishedVideo("mouse-m1", "https://x/v.mp4", "https://x/p.jpg", "supabase", 1000, content_hash, f"{PROFILE}/mouse-m1/{content_hash}.mp4")


@respx.mock
def test_record_video_upserts_on_profile_and_partition_key(records):
    route = respx.post(f"{REST}/product_videos").mock(return_value=httpx.Response(201, json=[video_row_response()]))

    row = records.record_video("mouse-m1", "M1", published(), duration_s=7.5, settings_hash="s1", provider="edge",
                               run_id="r1", backfill_id="bf-1")

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/rest/v1/product_videos"
    assert request.url.params["on_conflict"] == "profile_id,partition_key"
    assert_service_role_headers(request)
    prefer = {p.strip() for p in request.headers["prefer"].split(",")}
    assert {"resolution=merge-duplicates", "return=representation"} <= prefer
    body = json.loads(request.content)
    assert body["profile_id"] == PROFILE and body["partition_key"] == "mouse-m1" and body["external_id"] == "M1"
    assert (body["status"], body["storage_path"], body["content_hash"], body["size_bytes"]) == (
        "published", f"{PROFILE}/mouse-m1/hash1.mp4", "hash1", 1000)
    assert (body["duration_s"], body["settings_hash"], body["provider"], body["run_id"], body["backfill_id"]) == (
        7.5, "s1", "edge", "r1", "bf-1")
    assert body["error_message"] is None and body["error_stage"] is None
    assert "feed_id" not in body
    assert row.status == "published" and row.id == "0d8f7e6a-1111-4222-8333-444455556666"


@respx.mock
def test_record_failure_leaves_the_published_columns_alone(records):
    route = respx.post(f"{REST}/product_videos").mock(return_value=httpx.Response(
        201, json=[video_row_response(status="failed", error_stage="render", error_message="ffmpeg exited 1")]))

    row = records.record_failure("mouse-m1", "M1", "render", "ffmpeg exited 1", run_id="r2")

    body = json.loads(route.calls.last.request.content)
    assert (body["status"], body["error_stage"], body["error_message"], body["run_id"]) == ("failed", "render", "ffmpeg exited 1", "r2")
    assert not {"storage_path", "url", "poster_url", "content_hash", "size_bytes", "published_at"} & set(body)
    assert row.storage_path == OLD_VIDEO  # the database kept it, and we report what it holds


@respx.mock
def test_get_video_selects_by_profile_and_key(records):
    route = respx.get(f"{REST}/product_videos").mock(return_value=httpx.Response(200, json=[video_row_response()]))
    row = records.get_video("mouse-m1")
    params = route.calls.last.request.url.params
    assert (params["select"], params["profile_id"], params["partition_key"], params["limit"]) == (
        "*", f"eq.{PROFILE}", "eq.mouse-m1", "1")
    assert row.content_hash == "hash1" and row.duration_s == 7.5

    route.mock(return_value=httpx.Response(200, json=[]))
    assert records.get_video("mouse-m1") is None


@respx.mock
def test_upsert_products_resolves_the_feed_then_upserts_in_batches(records):
    feed_id = "11111111-2222-4333-8444-555555555555"
    feeds = respx.post(f"{REST}/product_feeds").mock(return_value=httpx.Response(201, json=[{"id": feed_id, "url": "https://shop.ro/feed.xml"}]))
    products = respx.post(f"{REST}/products").mock(return_value=httpx.Response(201))
    items = [Product(id=f"P{i}", key=f"p{i}", title="T", price=Decimal("1249.90"), currency="RON", image_link="https://i/x.jpg",
                     price_raw="1.249,90 lei", sale_price=Decimal("999") if i == 0 else None) for i in range(501)]

    assert records.upsert_products("https://shop.ro/feed.xml", items) == 501
    records.upsert_products("https://shop.ro/feed.xml", items[:1])  # feed id is cached now

    assert feeds.call_count == 1
    feed_request = feeds.calls.last.request
    assert feed_request.url.params["on_conflict"] == "profile_id,url"
    assert json.loads(feed_request.content)["profile_id"] == PROFILE
    assert products.call_count == 3
    first = products.calls[0].request
    assert first.url.params["on_conflict"] == "feed_id,external_id"
    assert "return=minimal" in first.headers["prefer"] and "resolution=merge-duplicates" in first.headers["prefer"]
    batch = json.loads(first.content)
    assert len(batch) == 500 and len(json.loads(products.calls[1].request.content)) == 1
    assert batch[0]["feed_id"] == feed_id and batch[0]["profile_id"] == PROFILE and batch[0]["external_id"] == "P0"
    assert (batch[0]["price"], batch[0]["sale_price"], batch[0]["price_raw"]) == ("1249.90", "999", "1.249,90 lei")
    assert batch[1]["sale_price"] is None


@pytest.mark.parametrize(
    "failure",
    [
        postgrest_error(503, "PGRST001", "Database client error. Retrying the connection."),
        postgrest_error(504, "PGRST003", "Timed out acquiring connection from connection pool."),
        httpx.Response(502, text="<html>Bad gateway</html>"),
        postgrest_error(500, "57014", "canceling statement due to statement timeout"),
    ],
)
@respx.mock
def test_postgrest_5xx_is_retried(records, sleeps, failure):
    route = respx.post(f"{REST}/product_videos").mock(side_effect=[failure, httpx.Response(201, json=[video_row_response()])])
    records.record_video("mouse-m1", "M1", published())
    assert route.call_count == 2 and sleeps == [0.01]


@respx.mock
def test_postgrest_conflict_is_a_clear_non_retried_error(records, sleeps):
    route = respx.post(f"{REST}/product_videos").mock(return_value=postgrest_error(
        409, "23505", 'duplicate key value violates unique constraint "product_videos_pkey"',
        details="Key (id)=(0d8f7e6a-1111-4222-8333-444455556666) already exists."))

    with pytest.raises(ProductDataError) as info:
        records.record_video("mouse-m1", "M1", published())

    assert route.call_count == 1 and sleeps == []
    message = str(info.value)
    assert message.startswith("product M1:")
    assert "23505" in message and "duplicate key" in message and "already exists" in message


@respx.mock
def test_postgrest_bad_key_is_a_configuration_error(records):
    respx.post(f"{REST}/product_videos").mock(return_value=postgrest_error(401, "PGRST301", "JWSError JWSInvalidSignature"))
    with pytest.raises(ConfigError) as info:
        records.record_video("mouse-m1", "M1", published())
    assert "JWSInvalidSignature" in str(info.value) and KEY not in str(info.value)


@respx.mock
def test_a_schema_without_the_migration_is_a_configuration_error(records):
    respx.post(f"{REST}/product_videos").mock(return_value=postgrest_error(
        400, "42P10", "there is no unique or exclusion constraint matching the ON CONFLICT specification"))
    with pytest.raises(ConfigError) as info:
        records.record_video("mouse-m1", "M1", published())
    assert "ON CONFLICT" in str(info.value)


@respx.mock
def test_missing_table_is_a_configuration_error(records):
    respx.get(f"{REST}/product_videos").mock(return_value=postgrest_error(
        404, "PGRST205", "Could not find the table 'public.product_videos' in the schema cache"))
    with pytest.raises(ConfigError) as info:
        records.get_video("mouse-m1")
    assert "migrations" in str(info.value)


def test_records_require_a_uuid_profile(client):
    with pytest.raises(ConfigError):
        SupabaseRecords(client, profile_id="shop-a")


# ---------------------------------------------------------------- end to end, in order


@respx.mock
def test_publish_video_replaces_the_old_object_only_after_the_row_points_at_the_new_one(storage, records, media, caplog):
    video, poster = media
    new_path, new_poster = VIDEO_PATH, POSTER_PATH
    # The row before the publish, then (read again before discarding) the row it wrote.
    respx.get(f"{REST}/product_videos").mock(side_effect=[
        httpx.Response(200, json=[video_row_response()]), httpx.Response(200, json=[video_row_response(storage_path=new_path)])])
    respx.get(info_url(new_poster)).mock(return_value=NOT_FOUND)
    respx.get(info_url(new_path)).mock(side_effect=[NOT_FOUND, object_info(new_path, video.stat().st_size)])
    respx.post(object_url(new_poster)).mock(return_value=httpx.Response(200, json={"Key": "k"}))
    respx.post(object_url(new_path)).mock(return_value=httpx.Response(200, json={"Key": "k"}))
    respx.post(f"{REST}/product_videos").mock(side_effect=echo_upsert)
    remove = respx.delete(f"{STORAGE}/object/{BUCKET}").mock(return_value=httpx.Response(200, json=[]))

    with caplog.at_level(logging.DEBUG):
        publish_video(storage, records, key="mouse-m1", product_id="M1", video_path=video, poster_path=poster,
                      content_hash="hash2", run_id="r2")

    order = [(c.request.method, c.request.url.path) for c in respx.calls]
    assert order.index(("POST", f"/storage/v1/object/{BUCKET}/{new_path}")) < order.index(("POST", "/rest/v1/product_videos"))
    assert order[-1] == ("DELETE", f"/storage/v1/object/{BUCKET}")
    assert json.loads(remove.calls.last.request.content) == {"prefixes": [OLD_VIDEO, OLD_POSTER]}
    assert KEY not in caplog.text


@respx.mock
def test_an_interrupted_upload_leaves_the_old_row_and_object_alone(storage, records, media, sleeps):
    video, poster = media
    respx.get(f"{REST}/product_videos").mock(return_value=httpx.Response(200, json=[video_row_response()]))
    respx.get(url__startswith=f"{STORAGE}/object/info/").mock(return_value=NOT_FOUND)
    respx.post(url__startswith=f"{STORAGE}/object/{BUCKET}/").mock(side_effect=httpx.RemoteProtocolError("peer closed connection"))
    upsert = respx.post(f"{REST}/product_videos").mock(return_value=httpx.Response(201, json=[video_row_response()]))
    remove = respx.delete(f"{STORAGE}/object/{BUCKET}").mock(return_value=httpx.Response(200, json=[]))

    with pytest.raises(TransientError) as info:
        publish_video(storage, records, key="mouse-m1", product_id="M1", video_path=video, poster_path=poster, content_hash="hash2")

    assert "peer closed connection" in str(info.value)
    assert len(sleeps) == 2  # retried, then handed to Dagster's retry policy
    assert upsert.call_count == 0 and remove.call_count == 0


@respx.mock
def test_list_failures_asks_for_failed_rows_newest_first(records):
    route = respx.get(f"{REST}/product_videos").mock(return_value=httpx.Response(200, json=[
        video_row_response(status="failed", error_stage="render", error_message="boom", failed_at="2026-11-25T22:00:00+00:00")]))
    failures = records.list_failures(limit=20)
    params = route.calls.last.request.url.params
    assert (params["status"], params["order"], params["limit"], params["profile_id"]) == ("eq.failed", "failed_at.desc", "20", f"eq.{PROFILE}")
    assert [f.error_stage for f in failures] == ["render"]


@respx.mock
def test_failed_row_update_keeps_the_old_object(storage, records, media, sleeps):
    video, poster = media
    respx.get(f"{REST}/product_videos").mock(return_value=httpx.Response(200, json=[video_row_response()]))
    respx.get(url__startswith=f"{STORAGE}/object/info/").mock(return_value=object_info("x", video.stat().st_size))
    respx.post(url__startswith=f"{STORAGE}/object/{BUCKET}/").mock(return_value=httpx.Response(200, json={"Key": "k"}))
    respx.post(f"{REST}/product_videos").mock(return_value=postgrest_error(503, "PGRST001", "Database client error."))
    remove = respx.delete(f"{STORAGE}/object/{BUCKET}").mock(return_value=httpx.Response(200, json=[]))

    with pytest.raises(TransientError):
        publish_video(storage, records, key="mouse-m1", product_id="M1", video_path=video, poster_path=poster, content_hash="hash2")
    assert remove.call_count == 0

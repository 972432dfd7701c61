"""Taking a video down and putting it back: the local folder with real files, Supabase Storage over its wire format."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from supabase import ClientOptions, create_client

from batch_video.publish import LocalStorage, SupabaseStorage, publish_video
from batch_video.records import SQLiteRecords
from batch_video import shelf
from batch_video.errors import TransientError
from batch_video.models import PublishedVideo
from batch_video.shelf import drop_withdrawn, restore_video, withdraw_video

BASE = "https://shopproj.supabase.co"
PROFILE = "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
BUCKET = "product-videos"
STORAGE = f"{BASE}/storage/v1"


@pytest.fixture
def local(tmp_path, tiny_media):
    storage = LocalStorage(tmp_path / "output")
    records = SQLiteRecords(tmp_path / "output" / "records.sqlite")
    for key in ("cana", "ceas"):
        publish_video(storage, records, key=key, product_id=key.upper(), video_path=tiny_media[0], poster_path=tiny_media[1],
                      content_hash=f"h-{key}", run_id="r1")
    return storage, records


def test_a_withdrawn_local_video_leaves_the_public_folder_and_comes_back_as_it_was(local, tiny_media):
    storage, records = local
    live = storage.read_entry("cana")
    video, poster = storage.root / live["video"], storage.root / live["poster"]

    assert withdraw_video(storage, records, "cana", reason="out_of_stock") is True
    assert storage.read_entry("cana") is None and not video.exists() and not poster.exists()
    assert set(storage.manifest()["videos"]) == {"ceas"}  # the other product is untouched
    assert set(storage.rebuild_manifest()["videos"]) == {"ceas"}  # and a rebuilt index agrees
    assert (storage.root / "withdrawn" / "cana" / "entry.json").exists()
    assert records.get_video("cana").status == "unpublished"
    assert withdraw_video(storage, records, "cana", reason="out_of_stock") is True  # a repeated sync: no harm
    assert [e["event"] for e in records.video_events("cana")] == ["unpublished"]

    assert restore_video(storage, records, "cana", reason="back_in_stock") is True
    assert storage.read_entry("cana") == live and storage.manifest()["videos"]["cana"] == live
    assert video.read_bytes() == tiny_media[0].read_bytes() and poster.read_bytes() == tiny_media[1].read_bytes()
    assert not (storage.root / "withdrawn" / "cana").exists()
    assert records.get_video("cana").status == "published"
    assert restore_video(storage, records, "cana", reason="back_in_stock") is False  # live already
    assert [e["event"] for e in records.video_events("cana")] == ["unpublished", "republished"]


def test_a_withdrawal_cut_short_between_the_entry_and_the_files_is_finished_by_the_next(local, monkeypatch):
    storage, records = local
    live = storage.read_entry("ceas")

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(shelf, "_move", disk_full)
        with pytest.raises(TransientError, match="could not take the video down"):
            withdraw_video(storage, records, "ceas", reason="out_of_stock")
    assert storage.read_entry("ceas") is None and (storage.root / live["video"]).exists()  # not live, files in place
    assert records.get_video("ceas").status == "published"  # the records were not told yet
    assert withdraw_video(storage, records, "ceas", reason="out_of_stock") is True  # the next sync finishes it
    assert not (storage.root / live["video"]).exists() and records.get_video("ceas").status == "unpublished"


def test_a_newer_render_replaces_the_withdrawn_copy(local, tiny_media, tmp_path):
    storage, records = local
    withdraw_video(storage, records, "cana", reason="out_of_stock")
    publish_video(storage, records, key="cana", product_id="CANA", video_path=tiny_media[0], poster_path=tiny_media[1],
                  content_hash="h-cana-repriced", run_id="r2")
    drop_withdrawn(storage, "cana")
    assert not (storage.root / "withdrawn" / "cana").exists() and storage.read_entry("cana") is not None
    assert records.get_video("cana").status == "published" and records.video_states()["cana"] is True
    assert restore_video(storage, records, "cana", reason="back_in_stock") is False  # nothing to restore


# ---------------------------------------------------------------- Supabase Storage


class FakeBucket:
    """Supabase Storage's object endpoints (info, move, list, remove) over a dict of path -> size, as the wire format says."""

    def __init__(self, objects: dict[str, int]) -> None:
        self.objects = objects
        respx.get(url__startswith=f"{STORAGE}/object/info/{BUCKET}/").mock(side_effect=self.info)
        self.moves = respx.post(f"{STORAGE}/object/move").mock(side_effect=self.move)
        respx.post(f"{STORAGE}/object/list/{BUCKET}").mock(side_effect=self.list)
        self.removes = respx.delete(f"{STORAGE}/object/{BUCKET}").mock(side_effect=self.remove)

    def info(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.split(f"/object/info/{BUCKET}/", 1)[1]
        if path not in self.objects:
            return httpx.Response(404, json={"statusCode": "404", "error": "not_found", "message": "Object not found"})
        return httpx.Response(200, json={"name": path, "size": self.objects[path], "content_type": "video/mp4"})

    def move(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["bucketId"] == BUCKET
        self.objects[body["destinationKey"]] = self.objects.pop(body["sourceKey"])
        return httpx.Response(200, json={"message": "Successfully moved"})

    def list(self, request: httpx.Request) -> httpx.Response:
        folder = json.loads(request.content)["prefix"].rstrip("/") + "/"
        names = {path[len(folder):].split("/", 1)[0]: "/" in path[len(folder):] for path in self.objects if path.startswith(folder)}
        return httpx.Response(200, json=[{"name": name, "id": None if is_folder else f"id-{name}"}
                                         for name, is_folder in sorted(names.items())])

    def remove(self, request: httpx.Request) -> httpx.Response:
        paths = json.loads(request.content)["prefixes"]
        for path in paths:
            self.objects.pop(path, None)
        return httpx.Response(200, json=[{"name": path} for path in paths])


def supabase_shelf(tmp_path, live: str):
    client = create_client(BASE, "eyJ.service-role.sig", ClientOptions(auto_refresh_token=False, persist_session=False))
    storage = SupabaseStorage(client, BUCKET, profile_id=PROFILE, attempts=2, backoff_s=0, sleep=lambda s: None)
    records = SQLiteRecords(tmp_path / "records.sqlite")  # the row: which object is live
    records.record_video("cana", "CANA", PublishedVideo("cana", "https://x/v", "https://x/p", "supabase", 10, "hash1", live))
    return storage, records


@respx.mock
def test_a_withdrawn_supabase_object_moves_aside_and_back(tmp_path):
    live = f"{PROFILE}/cana/hash1.mp4"
    storage, records = supabase_shelf(tmp_path, live)
    bucket = FakeBucket({live: 10, live.replace(".mp4", ".jpg"): 5})
    objects = bucket.objects

    assert withdraw_video(storage, records, "cana", reason="out_of_stock") is True
    assert sorted(objects) == [f"{PROFILE}/withdrawn/cana/hash1.jpg", f"{PROFILE}/withdrawn/cana/hash1.mp4"]
    assert withdraw_video(storage, records, "cana", reason="out_of_stock") is True and bucket.moves.call_count == 2  # idempotent
    assert restore_video(storage, records, "cana", reason="back_in_stock") is True
    assert sorted(objects) == [f"{PROFILE}/cana/hash1.jpg", live]
    assert [e["event"] for e in records.video_events("cana")] == ["unpublished", "republished"]


@respx.mock
def test_a_newer_render_replaces_the_withdrawn_supabase_objects_and_never_touches_the_live_ones(tmp_path):
    old = f"{PROFILE}/cana/hash1.mp4"
    storage, records = supabase_shelf(tmp_path, old)
    bucket = FakeBucket({old: 10, old.replace(".mp4", ".jpg"): 5, f"{PROFILE}/ceas/hash9.mp4": 10})
    withdraw_video(storage, records, "cana", reason="out_of_stock")
    # A repriced render goes live (what publish_video leaves: new objects, the row pointing at them).
    new = f"{PROFILE}/cana/hash2.mp4"
    bucket.objects.update({new: 11, new.replace(".mp4", ".jpg"): 6, f"{PROFILE}/withdrawn/cana--vertical/hash1.mp4": 10})
    drop_withdrawn(storage, "cana", live_path=new)
    assert sorted(bucket.objects) == sorted([new, new.replace(".mp4", ".jpg"), f"{PROFILE}/ceas/hash9.mp4",
                                             f"{PROFILE}/withdrawn/cana--vertical/hash1.mp4"])  # other keys untouched

    # A sync raced the publish and took the new video down already: its copy aside is the product's only video.
    withdraw = {f"{PROFILE}/withdrawn/cana/hash2.mp4": 11, f"{PROFILE}/withdrawn/cana/hash2.jpg": 6,
                f"{PROFILE}/withdrawn/cana/hash1.mp4": 10}
    bucket.objects.update(withdraw)
    drop_withdrawn(storage, "cana", live_path=new)
    assert f"{PROFILE}/withdrawn/cana/hash1.mp4" not in bucket.objects
    assert {f"{PROFILE}/withdrawn/cana/hash2.mp4", f"{PROFILE}/withdrawn/cana/hash2.jpg"} <= set(bucket.objects)


@respx.mock
def test_a_withdrawn_supabase_copy_that_cannot_be_removed_is_logged_and_the_publish_stands(tmp_path, caplog):
    old = f"{PROFILE}/cana/hash1.mp4"
    storage, records = supabase_shelf(tmp_path, old)
    bucket = FakeBucket({old: 10, old.replace(".mp4", ".jpg"): 5})
    withdraw_video(storage, records, "cana", reason="out_of_stock")
    bucket.removes.mock(return_value=httpx.Response(503, json={"statusCode": "503", "error": "unavailable", "message": "down"}))
    drop_withdrawn(storage, "cana", live_path=f"{PROFILE}/cana/hash2.mp4")  # does not raise
    assert f"{PROFILE}/withdrawn/cana/hash1.mp4" in bucket.objects
    assert "cana" in caplog.text and "withdrawn copy could not be removed" in caplog.text


@respx.mock
def test_a_withdrawn_supabase_listing_naming_objects_outside_its_folder_removes_none_of_them(tmp_path):
    old = f"{PROFILE}/cana/hash1.mp4"
    storage, records = supabase_shelf(tmp_path, old)
    other = f"{PROFILE}/ceas/hash9.mp4"
    bucket = FakeBucket({old: 10, old.replace(".mp4", ".jpg"): 5, other: 10})
    withdraw_video(storage, records, "cana", reason="out_of_stock")
    answer = bucket.list

    def hostile_list(request: httpx.Request) -> httpx.Response:
        # A listing that also names objects outside withdrawn/cana/ (another product's live video, the folder itself).
        listed = answer(request).json() + [{"name": "../../ceas/hash9.mp4", "id": "x"}, {"name": "..", "id": "y"}]
        return httpx.Response(200, json=listed)

    respx.post(f"{STORAGE}/object/list/{BUCKET}").mock(side_effect=hostile_list)
    drop_withdrawn(storage, "cana", live_path=f"{PROFILE}/cana/hash2.mp4")
    # What was asked to be removed, whatever the server makes of `..`: only objects inside withdrawn/cana/.
    asked = [path for call in bucket.removes.calls for path in json.loads(call.request.content)["prefixes"]]
    assert sorted(asked) == sorted([f"{PROFILE}/withdrawn/cana/hash1.mp4", f"{PROFILE}/withdrawn/cana/hash1.jpg"])
    assert other in bucket.objects

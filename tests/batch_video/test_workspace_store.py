"""Stage outputs in S3-compatible object storage, against a real S3 server (moto's, from scripts/start_test_s3.sh).

Two data folders stand for two hosts: what one host's stage wrote, the other reads
from the store, and neither reads the other's folder.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from batch_video.errors import ConfigError
from batch_video.models import PreparedImage, Product, RenderedVideo, Voiceover, WordTiming
from batch_video.objectstore import S3ObjectStore, StoreLocation
from batch_video.workspace import ProductWorkspace, StageOutputMissing
from tests.conftest import s3_client

KEY = "cana-1"


def store_for(endpoint: str, bucket: str, prefix: str = "work") -> S3ObjectStore:
    return S3ObjectStore(s3_client(endpoint), StoreLocation(bucket, prefix))


@pytest.fixture
def hosts(tmp_path, s3_endpoint, s3_bucket):
    """(host A's workspace, host B's workspace, the store): separate folders, one bucket."""
    store = store_for(s3_endpoint, s3_bucket)
    return (ProductWorkspace(tmp_path / "host-a", KEY, store), ProductWorkspace(tmp_path / "host-b", KEY, store), store)


def product() -> Product:
    return Product(id="CANA 1", key=KEY, title="Cană", price=Decimal("49.99"), currency="RON", image_link="x.jpg",
                   content_hash="abc")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rendered(ws: ProductWorkspace, video: bytes) -> RenderedVideo:
    return RenderedVideo(
        video_path=write(ws.path("video.mp4"), video), poster_path=write(ws.path("poster.jpg"), b"\xff\xd8\xffposter"),
        duration_s=5.0, width=360, height=640, fps=30, size_bytes=len(video), preset="preview", render_seconds=1.0,
    )


def test_a_stage_written_on_one_host_is_read_on_another(hosts):
    a, b, _ = hosts
    a.save_product(product())
    image = write(a.path("image.jpg"), b"\xff\xd8\xff" + b"jpeg" * 1000)
    a.save_image(PreparedImage(path=image, width=64, height=48, source_width=64, source_height=48, source_format="JPEG",
                               has_alpha=False))
    audio = write(a.path("voiceover.wav"), b"RIFF" + b"\0" * 4000)
    write(a.path("captions.srt"), b"1\n00:00:00,000 --> 00:00:01,000\nCana\n")
    words = (WordTiming(word="Cana", start=0.0, end=0.5),)
    a.save_voiceover(Voiceover(audio_path=audio, duration_s=1.0, words=words, provider="espeak", voice="ro"), ())
    a.save_render(rendered(a, b"\0\0\0\x18ftypmp42" + b"v1" * 5000), "hash-1")
    a.save_verdict("hash-1", True, "all checks passed")

    assert b.load_product() == product()
    loaded_image = b.load_image()
    assert loaded_image.path == b.root / "image.jpg" and loaded_image.path.read_bytes() == image.read_bytes()
    voiceover, _ = b.load_voiceover()
    assert voiceover.audio_path == b.root / "voiceover.wav" and voiceover.audio_path.read_bytes() == audio.read_bytes()
    assert voiceover.words == words
    assert (b.root / "captions.srt").exists()
    video, inputs_hash = b.load_render()
    assert inputs_hash == "hash-1" and video.video_path.read_bytes() == (a.root / "video.mp4").read_bytes()
    assert video.poster_path.read_bytes() == (a.root / "poster.jpg").read_bytes()
    # The publish stage may run on yet another host: the quality verdict travels with the render.
    assert b.load_verdict("hash-1") == (True, "all checks passed")
    # Manifests name files, never a host's folder.
    for manifest in b.root.glob("*.json"):
        assert str(a.root) not in manifest.read_text()


def test_additional_photos_travel_with_their_folders(hosts):
    a, b, _ = hosts
    extras = []
    for n in (1, 2):  # every additional photo is called image.jpg, in its own folder
        path = write(a.path(f"extra/{n}/image.jpg"), b"\xff\xd8\xff" + bytes([n]) * 500)
        extras.append(PreparedImage(path=path, width=64, height=48, source_width=64, source_height=48,
                                    source_format="JPEG", has_alpha=False))
    a.save_extra_images(tuple(extras), ("additional photo 3 (lipsa.jpg): skipped: not found",))

    loaded, skipped = b.load_extra_images()
    assert [p.path for p in loaded] == [b.root / "extra" / "1" / "image.jpg", b.root / "extra" / "2" / "image.jpg"]
    assert [p.path.read_bytes() for p in loaded] == [e.path.read_bytes() for e in extras]
    assert skipped == ("additional photo 3 (lipsa.jpg): skipped: not found",)
    assert str(a.root) not in (b.root / "extra_images.json").read_text()


def test_the_store_wins_over_a_stale_local_copy(hosts):
    a, b, _ = hosts
    b.save_render(rendered(b, b"\0\0\0\x18ftypmp42old"), "old")
    a.save_render(rendered(a, b"\0\0\0\x18ftypmp42new" * 100), "new")  # a later run, on the other host

    video, inputs_hash = b.load_render()
    assert inputs_hash == "new" and video.video_path.read_bytes() == b"\0\0\0\x18ftypmp42new" * 100


def test_an_interrupted_commit_leaves_the_previous_output_readable(hosts, monkeypatch):
    a, b, store = hosts
    a.save_render(rendered(a, b"\0\0\0\x18ftypmp42first"), "first")

    def killed(key, data):
        raise KeyboardInterrupt  # the run dies after uploading the new files, before the manifest

    monkeypatch.setattr(store, "put_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        a.save_render(rendered(a, b"\0\0\0\x18ftypmp42second"), "second")
    monkeypatch.undo()

    video, inputs_hash = b.load_render()
    assert inputs_hash == "first" and video.video_path.read_bytes() == b"\0\0\0\x18ftypmp42first"


def test_replaced_objects_are_deleted_and_unchanged_files_are_not_uploaded_again(hosts, s3_endpoint, s3_bucket):
    a, _, _ = hosts
    client = s3_client(s3_endpoint)

    def objects() -> set[str]:
        return {o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])}

    a.save_render(rendered(a, b"\0\0\0\x18ftypmp42one"), "one")
    first = objects()
    a.save_render(rendered(a, b"\0\0\0\x18ftypmp42one"), "one")  # same content: same objects
    assert objects() == first
    a.save_render(rendered(a, b"\0\0\0\x18ftypmp42two"), "two")
    second = objects()
    manifest = json.loads(client.get_object(Bucket=s3_bucket, Key=f"work/{KEY}/render.json")["Body"].read())
    assert {f"work/{e['object']}" for e in manifest["files"].values()} | {f"work/{KEY}/render.json"} == second
    video_objects = [k for k in first if k.endswith("video.mp4")]
    assert video_objects and not set(video_objects) & second  # the old video is gone, the poster (same bytes) kept


def test_a_missing_stage_output_names_the_product_and_stage(hosts):
    _, b, _ = hosts
    with pytest.raises(StageOutputMissing) as caught:
        b.load_voiceover()
    assert caught.value.product_id == KEY and caught.value.stage == "voiceover_audio"
    assert "voiceover.json" in str(caught.value)


def test_a_file_tampered_with_in_the_store_is_refused(hosts, s3_endpoint, s3_bucket):
    a, b, _ = hosts
    a.save_render(rendered(a, b"\0\0\0\x18ftypmp42good"), "good")
    client = s3_client(s3_endpoint)
    manifest = json.loads(client.get_object(Bucket=s3_bucket, Key=f"work/{KEY}/render.json")["Body"].read())
    client.put_object(Bucket=s3_bucket, Key=f"work/{manifest['files']['video.mp4']['object']}", Body=b"bad")

    with pytest.raises(Exception, match="does not match its manifest"):
        b.load_render()
    assert not (b.root / "video.mp4").exists()


def test_a_missing_bucket_is_a_configuration_error(tmp_path, s3_endpoint):
    ws = ProductWorkspace(tmp_path, KEY, store_for(s3_endpoint, "no-such-bucket-here"))
    with pytest.raises(ConfigError, match="NoSuchBucket"):
        ws.save_product(product())


@pytest.mark.parametrize("url", ["bucket/prefix", "https://bucket", "s3://", ""])
def test_store_urls_must_name_a_bucket(url):
    with pytest.raises(ConfigError, match="s3://<bucket>"):
        StoreLocation.parse(url)


def test_store_url_parts():
    assert StoreLocation.parse("s3://videos/shop-1/work/") == StoreLocation("videos", "shop-1/work")
    assert StoreLocation.parse("s3://videos").url() == "s3://videos"

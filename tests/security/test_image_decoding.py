"""Decoding a feed's picture is bounded: known photo formats only, pixels counted before decoding.

The memory figures are measured in a real subprocess (peak RSS), side by side
with the same subprocess doing nothing but the imports.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from batch_video import images
from batch_video.errors import ProductDataError
from batch_video.images import prepare_image
from batch_video.links import LinkPolicy
from batch_video.models import Product

REPO = Path(__file__).resolve().parents[2]


def product(link: str) -> Product:
    return Product(id="BOMB-1", key="bomb-1", title="T", price=Decimal("10"), currency="RON", image_link=link)


def prepare(path: Path, tmp_path: Path):
    return prepare_image(product(str(path)), tmp_path / "out", policy=LinkPolicy(local_roots=(path.parent.resolve(),)))


def png_of_zeros(path: Path, width: int, height: int) -> Path:
    """A real, fully decodable RGB PNG of width x height black pixels; zeros compress ~1000:1."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)  # filter byte + RGB
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


PEAK_RSS_SCRIPT = """
import json, resource, sys
from decimal import Decimal
from pathlib import Path
from batch_video.images import prepare_image
from batch_video.links import LinkPolicy
from batch_video.models import Product
outcome = "skipped"
if sys.argv[1] != "-":
    src = Path(sys.argv[1])
    product = Product(id="BOMB-1", key="bomb-1", title="T", price=Decimal("1"), currency="RON", image_link=str(src))
    try:
        prepare_image(product, src.parent / "out", policy=LinkPolicy(local_roots=(src.parent.resolve(),)))
        outcome = "decoded"
    except Exception as err:
        outcome = f"{type(err).__name__}: {err}"
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "outcome": outcome}))
"""


def peak_rss(argument: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, argument], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_405_kb_png_of_100_megapixels_is_refused_before_decoding(tmp_path):
    bomb = png_of_zeros(tmp_path / "bomb.png", 10_000, 9_999)
    assert bomb.stat().st_size < 500_000
    baseline, measured = peak_rss("-"), peak_rss(str(bomb))
    print(f"peak RSS: imports only {baseline['peak_mb']:.0f} MB, with the 10000x9999 PNG {measured['peak_mb']:.0f} MB "
          f"(+{measured['peak_mb'] - baseline['peak_mb']:.0f} MB); {measured['outcome']}")
    assert "ProductDataError" in measured["outcome"] and "10000x9999" in measured["outcome"]
    # Decoding it would take ~300 MB for the pixels alone (~840 MB with the conversions).
    assert measured["peak_mb"] - baseline["peak_mb"] < 60


def test_the_pixel_cap_is_about_40_megapixels_and_read_from_the_header(tmp_path):
    assert 35_000_000 <= images.MAX_SOURCE_PIXELS <= 45_000_000
    over = png_of_zeros(tmp_path / "over.png", 7_000, 6_000)  # 42 MP
    with pytest.raises(ProductDataError) as err:
        prepare(over, tmp_path)
    assert "7000x6000" in str(err.value) and err.value.field == "image_link"


def test_a_postscript_file_never_starts_ghostscript(tmp_path, monkeypatch):
    # A `gs` on PATH that leaves a mark: Pillow's EPS plugin would run it to rasterize the file.
    bin_dir, mark = tmp_path / "bin", tmp_path / "ghostscript-ran"
    bin_dir.mkdir()
    (bin_dir / "gs").write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    eps = tmp_path / "photo.jpg"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\nshowpage\n%%EOF\n")
    with pytest.raises(ProductDataError) as err:
        prepare(eps, tmp_path)
    assert "not in a supported format" in str(err.value)
    assert not mark.exists()


@pytest.mark.parametrize("fmt", ["ICO", "PCX", "TGA", "PPM", "SGI", "DDS"])
def test_formats_outside_the_photo_allow_list_are_refused(tmp_path, fmt):
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(path, fmt)
    with pytest.raises(ProductDataError) as err:
        prepare(path, tmp_path)
    assert "not in a supported format" in str(err.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"] + (["AVIF"] if "AVIF" in images.PHOTO_FORMATS else []))
def test_the_photo_formats_are_accepted(tmp_path, fmt):
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.new("RGB", (640, 480), (1, 2, 3)).save(path, fmt)
    assert prepare(path, tmp_path).source_format == fmt


def test_a_gif_with_many_frames_uses_the_first_without_walking_them(tmp_path):
    frames = [Image.new("P", (600, 600), i % 200) for i in range(300)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=20)
    buffer = io.BytesIO(path.read_bytes())
    assert Image.open(buffer).n_frames == 300
    out = prepare(path, tmp_path)
    assert any("first frame" in w for w in out.warnings)

"""prepare_image: odd photos are generated here rather than shipped as files."""

from __future__ import annotations

import io
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import socket
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from batch_video import images
from batch_video.errors import ProductDataError, TransientError
from batch_video.images import prepare_image
from batch_video.links import IMAGE_LIMITS, LinkPolicy
from batch_video.models import Product
from batch_video.net import AddressPolicy
from tests.security.servers import LoopbackServer, send_bytes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def product(link: str) -> Product:
    return Product(id="SKU-7", key="sku-7", title="T", price=Decimal("10"), currency="RON", image_link=link)


def prepare(link: str, tmp_path: Path, **kw):
    """prepare_image with local files allowed under `tmp_path` (as for a local feed kept there)."""
    return prepare_image(product(link), tmp_path / "out", policy=LinkPolicy(local_roots=(tmp_path.resolve(),)), **kw)


def save(image: Image.Image, path: Path, fmt: str, **kw) -> str:
    image.save(path, fmt, **kw)
    return str(path)


def jpeg_bytes(size=(800, 600), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def test_plain_jpeg_is_copied_as_rgb_jpeg(tmp_path):
    src = save(Image.new("RGB", (1200, 900), (10, 120, 200)), tmp_path / "a.jpg", "JPEG")
    out = prepare(src, tmp_path)
    assert out.path == tmp_path / "out" / "image.jpg"
    assert (out.width, out.height) == (1200, 900)
    assert (out.source_width, out.source_height, out.source_format) == (1200, 900, "JPEG")
    assert not out.has_alpha and out.warnings == ()
    with Image.open(out.path) as im:
        assert im.mode == "RGB"
        r, g, b = im.getpixel((600, 450))
        assert abs(r - 10) < 6 and abs(g - 120) < 6 and abs(b - 200) < 6


@pytest.mark.parametrize("size", [(4000, 500), (500, 4000), (1000, 1000), (3000, 2000)])
def test_any_aspect_ratio_keeps_its_shape(tmp_path, size):
    src = save(Image.new("RGB", size, (90, 90, 90)), tmp_path / "a.png", "PNG")
    out = prepare(src, tmp_path)
    assert abs(out.width / out.height - size[0] / size[1]) < 0.01
    assert max(out.width, out.height) <= images.MAX_SIDE
    extreme = max(size) / min(size) > images.EXTREME_ASPECT
    assert any("aspect" in w for w in out.warnings) == extreme


def test_png_with_real_transparency_stays_rgba_png(tmp_path):
    im = Image.new("RGBA", (600, 600), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (100, 100, 500, 500))
    src = save(im, tmp_path / "cut.png", "PNG")
    # A stale JPEG from a previous run must not survive next to the PNG.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "image.jpg").write_bytes(b"old")
    out = prepare(src, tmp_path)
    assert out.has_alpha and out.path.name == "image.png"
    assert not (tmp_path / "out" / "image.jpg").exists()
    with Image.open(out.path) as res:
        assert res.mode == "RGBA"
        assert res.getpixel((10, 10))[3] == 0 and res.getpixel((300, 300)) == (255, 0, 0, 255)


def test_fully_opaque_alpha_becomes_jpeg(tmp_path):
    src = save(Image.new("RGBA", (600, 600), (0, 200, 0, 255)), tmp_path / "opaque.png", "PNG")
    out = prepare(src, tmp_path)
    assert not out.has_alpha and out.path.suffix == ".jpg"


def test_webp_with_transparency(tmp_path):
    im = Image.new("RGBA", (640, 480), (0, 0, 255, 0))
    im.paste((0, 0, 255, 255), (200, 100, 440, 380))
    src = save(im, tmp_path / "a.webp", "WEBP", lossless=True)
    out = prepare(src, tmp_path)
    assert out.source_format == "WEBP" and out.has_alpha


def test_palette_png_with_transparent_index(tmp_path):
    im = Image.new("P", (500, 500), 0)
    im.putpalette([255, 255, 255, 200, 0, 0] + [0] * 762)
    im.paste(1, (100, 100, 400, 400))
    src = save(im, tmp_path / "p.png", "PNG", transparency=0)
    out = prepare(src, tmp_path)
    assert out.has_alpha


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    # Pure cyan+yellow ink = green.
    src = save(Image.new("CMYK", (700, 500), (255, 0, 255, 0)), tmp_path / "cmyk.jpg", "JPEG")
    out = prepare(src, tmp_path)
    with Image.open(out.path) as im:
        assert im.mode == "RGB"
        r, g, b = im.getpixel((350, 250))
    assert g > 150 and r < 80 and b < 80


def test_grayscale_jpeg_becomes_rgb(tmp_path):
    src = save(Image.new("L", (700, 500), 128), tmp_path / "grey.jpg", "JPEG")
    out = prepare(src, tmp_path)
    with Image.open(out.path) as im:
        assert im.mode == "RGB"
        r, g, b = im.getpixel((10, 10))
    assert abs(r - 128) < 4 and r == g == b


def test_sixteen_bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    arr = np.full((500, 500), 32768, np.uint16)
    src = save(Image.fromarray(arr), tmp_path / "g16.png", "PNG")
    out = prepare(src, tmp_path)
    with Image.open(out.path) as im:
        assert abs(im.getpixel((5, 5))[0] - 128) <= 2


def test_exif_orientation_is_applied(tmp_path):
    # Landscape pixels, red on the left half, tagged "rotate 90 CW to display" (6).
    im = Image.new("RGB", (1000, 500), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 500, 500))
    exif = Image.Exif()
    exif[0x0112] = 6
    src = save(im, tmp_path / "rot.jpg", "JPEG", exif=exif.tobytes())
    out = prepare(src, tmp_path)
    assert (out.width, out.height) == (500, 1000)
    with Image.open(out.path) as res:
        # After a 90 degree clockwise turn the old left half is on top.
        top = res.getpixel((250, 200))
        bottom = res.getpixel((250, 800))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_tiny_image_is_upscaled_with_a_warning(tmp_path):
    src = save(Image.new("RGB", (60, 40), (1, 2, 3)), tmp_path / "tiny.png", "PNG")
    out = prepare(src, tmp_path)
    assert min(out.width, out.height) >= images.MIN_SIDE
    assert (out.source_width, out.source_height) == (60, 40)
    assert any("small" in w for w in out.warnings)


def test_huge_image_is_downscaled(tmp_path):
    src = save(Image.new("RGB", (7500, 5000), (40, 40, 40)), tmp_path / "huge.jpg", "JPEG", quality=50)
    out = prepare(src, tmp_path)
    assert (out.width, out.height) == (2048, 1365)
    assert (out.source_width, out.source_height) == (7500, 5000)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims width x height pixels."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8  # signature
    body = bytearray(data[ihdr + 8: ihdr + 8 + 13])
    body[0:8] = struct.pack(">II", width, height)
    data[ihdr + 8: ihdr + 8 + 13] = body
    data[ihdr + 21: ihdr + 25] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(body)) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("claimed", [(12_000, 12_000), (50_000, 50_000)])
def test_decompression_bomb_is_refused_clearly(tmp_path, claimed):
    # 12000^2 is past our limit but below Pillow's own refusal; 50000^2 is past both.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(*claimed))
    with pytest.raises(ProductDataError) as err:
        prepare(str(bomb), tmp_path)
    assert err.value.field == "image_link" and err.value.product_id == "SKU-7"
    assert "decompression bomb" in str(err.value) and str(tmp_path) not in str(err.value)
    assert f"{claimed[0]}x{claimed[1]}" in str(err.value) or claimed[0] > 40_000


def test_missing_file_names_product_and_field_but_not_the_path(tmp_path):
    missing = tmp_path / "nope" / "photo.jpg"
    with pytest.raises(ProductDataError) as err:
        prepare(str(missing), tmp_path)
    assert err.value.field == "image_link" and "SKU-7" in str(err.value)
    assert "not allowed or not readable" in str(err.value) and str(tmp_path) not in str(err.value)


def test_undecodable_file(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_text("<html>not an image</html>")
    with pytest.raises(ProductDataError) as err:
        prepare(str(bad), tmp_path)
    assert "not in a supported format" in str(err.value) and str(bad) not in str(err.value)


def test_truncated_jpeg_is_a_product_error(tmp_path):
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(jpeg_bytes()[:200])
    with pytest.raises(ProductDataError):
        prepare(str(bad), tmp_path)


def test_file_url_with_escaped_characters(tmp_path):
    folder = tmp_path / "my photos"
    folder.mkdir()
    save(Image.new("RGB", (640, 480)), folder / "ș x.jpg", "JPEG")
    url = (folder / "ș x.jpg").as_uri()
    assert "%20" in url
    out = prepare(url, tmp_path)
    assert out.width == 640


def test_empty_link(tmp_path):
    with pytest.raises(ProductDataError) as err:
        prepare("", tmp_path)
    assert err.value.field == "image_link"


@pytest.fixture
def image_server():
    with LoopbackServer() as server:
        yield server


def served(server: LoopbackServer, tmp_path: Path, path: str, route, **limits):
    """prepare_image of `path` on the loopback server, allowed explicitly (loopback is refused by default)."""
    server.routes[path] = route
    policy = LinkPolicy(addresses=AddressPolicy.parse("127.0.0.1"), limits=replace(IMAGE_LIMITS, **limits))
    return prepare_image(product(server.url(path)), tmp_path / "out", policy=policy)


def test_http_download(tmp_path, image_server):
    out = served(image_server, tmp_path, "/p.jpg", send_bytes(jpeg_bytes(), "image/jpeg"))
    assert (out.width, out.height) == (800, 600)


def test_http_404_is_a_product_error_naming_the_url_without_its_query(tmp_path, image_server):
    with pytest.raises(ProductDataError) as err:
        policy = LinkPolicy(addresses=AddressPolicy.parse("127.0.0.1"))
        prepare_image(product(image_server.url("/gone.jpg?token=s3cret")), tmp_path / "out", policy=policy)
    assert image_server.url("/gone.jpg") in str(err.value) and "404" in str(err.value)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_http_5xx_is_transient(tmp_path, image_server, status):
    with pytest.raises(TransientError) as err:
        served(image_server, tmp_path, "/p.jpg", send_bytes(b"", status=status))
    assert err.value.retryable and err.value.field == "image_link"


def test_network_error_is_transient(tmp_path, image_server):
    closed = image_server.url("/p.jpg").replace(str(image_server.port), str(free_port()))
    with pytest.raises(TransientError):
        prepare_image(product(closed), tmp_path / "out", policy=LinkPolicy(addresses=AddressPolicy.parse("127.0.0.1")))


def test_download_size_cap(tmp_path, image_server):
    with pytest.raises(ProductDataError) as err:
        served(image_server, tmp_path, "/big.jpg", send_bytes(jpeg_bytes()), max_bytes=1000)
    assert "cap" in str(err.value)


def test_html_page_instead_of_image(tmp_path, image_server):
    with pytest.raises(ProductDataError) as err:
        served(image_server, tmp_path, "/p.jpg", send_bytes(b"<html>login</html>", "text/html"))
    assert "not in a supported format" in str(err.value)


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (500, 500), c) for c in [(255, 0, 0), (0, 255, 0)]]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = prepare(str(src), tmp_path)
    assert any("first frame" in w for w in out.warnings)
    with Image.open(out.path) as im:
        r, g, _ = im.convert("RGB").getpixel((250, 250))
    assert r > 200 and g < 60

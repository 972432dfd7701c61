"""Fetch a product photo and normalize it for the renderer.

Whatever the feed links to (a local path, `file://`, http/https), the result is
one upright sRGB `image.jpg`, or `image.png` when the photo has real
transparency, sized so the renderer never has to upscale much nor decode a
giant file again.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from batch_video.errors import ProductDataError, TransientError
from batch_video.models import PreparedImage, Product

logger = logging.getLogger(__name__)

# The largest canvas is 1920 px wide and the photo box is zoomed by at most
# ~1.3x, so 2048 px on the long side keeps every preset sharp.
MAX_SIDE = 2048
# Below this short side the photo looks soft on a 1080 px canvas; we upscale it
# (so the renderer works with a sane size) but say so.
MIN_SIDE = 480
UPSCALE_TARGET_SIDE = 720
# Refuse anything claiming more pixels than this before decoding it: a 100
# MP photo is already far beyond any product shot, and a crafted header can
# claim billions.
MAX_SOURCE_PIXELS = 100_000_000
MAX_DOWNLOAD_BYTES = 40 * 1024 * 1024
# An alpha channel counts as transparency only if some pixel is clearly see-through.
ALPHA_OPAQUE_THRESHOLD = 250
EXTREME_ASPECT = 4.0
JPEG_QUALITY = 92

_SRGB_PROFILE = ImageCms.createProfile("sRGB")


def prepare_image(product: Product, out_dir: str | os.PathLike, *, timeout_s: float = 20.0) -> PreparedImage:
    """Fetch `product.image_link` and write a normalized image into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    link = (product.image_link or "").strip()
    if not link:
        raise ProductDataError("product has no image link", product_id=product.id, field="image_link")

    data = _fetch(link, product_id=product.id, timeout_s=timeout_s)
    image, source_format, source_size, notes = _decode(data, link, product_id=product.id)
    image, has_alpha = _normalize_mode(image)
    image, size_notes = _normalize_size(image)
    notes.extend(size_notes)

    name, fmt, save_kw = ("image.png", "PNG", {"optimize": False, "compress_level": 6}) if has_alpha else (
        "image.jpg", "JPEG", {"quality": JPEG_QUALITY, "subsampling": 0, "optimize": True})
    path = out_dir / name
    _atomic_save(image, path, fmt, save_kw)
    # A re-run that flips between JPEG and PNG must not leave the old one behind
    # for anyone globbing the folder.
    stale = out_dir / ("image.jpg" if has_alpha else "image.png")
    if stale.exists():
        stale.unlink()

    for note in notes:
        logger.warning("product %s: %s", product.id, note)
    return PreparedImage(
        path=path,
        width=image.width,
        height=image.height,
        source_width=source_size[0],
        source_height=source_size[1],
        source_format=source_format,
        has_alpha=has_alpha,
        warnings=tuple(notes),
    )


def _fetch(link: str, *, product_id: str, timeout_s: float) -> bytes:
    parsed = urlparse(link)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        return _download(link, product_id=product_id, timeout_s=timeout_s)
    if scheme == "file":
        path = Path(unquote(parsed.path))
    elif scheme and len(scheme) > 1:  # one letter would be a Windows drive
        raise ProductDataError(
            f"unsupported image link scheme {scheme!r}: {link}", product_id=product_id, field="image_link")
    else:
        path = Path(link)
    if not path.is_file():
        raise ProductDataError(f"image file not found: {path}", product_id=product_id, field="image_link")
    size = path.stat().st_size
    if size > MAX_DOWNLOAD_BYTES:
        raise ProductDataError(
            f"image file too large ({size} bytes > {MAX_DOWNLOAD_BYTES}): {path}",
            product_id=product_id, field="image_link")
    return path.read_bytes()


def _download(url: str, *, product_id: str, timeout_s: float) -> bytes:
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
            with client.stream("GET", url, headers={"User-Agent": "batch-video/0.1"}) as response:
                status = response.status_code
                if status >= 500 or status in (408, 425, 429):
                    raise TransientError(
                        f"image server answered HTTP {status} for {url}", product_id=product_id, field="image_link")
                if status >= 400:
                    raise ProductDataError(
                        f"image not available (HTTP {status}): {url}", product_id=product_id, field="image_link")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > MAX_DOWNLOAD_BYTES:
                    raise ProductDataError(
                        f"image too large ({declared} bytes > {MAX_DOWNLOAD_BYTES}): {url}",
                        product_id=product_id, field="image_link")
                chunks, total = [], 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > MAX_DOWNLOAD_BYTES:
                        raise ProductDataError(
                            f"image too large (more than {MAX_DOWNLOAD_BYTES} bytes): {url}",
                            product_id=product_id, field="image_link")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.InvalidURL as exc:
        raise ProductDataError(f"invalid image URL {url}: {exc}", product_id=product_id, field="image_link") from exc
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise TransientError(
            f"could not download image {url}: {type(exc).__name__}: {exc}", product_id=product_id, field="image_link"
        ) from exc


def _decode(data: bytes, link: str, *, product_id: str) -> tuple[Image.Image, str, tuple[int, int], list[str]]:
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below 2x its limit; we decide ourselves below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            source_format = image.format or "unknown"
            width, height = image.size
            if width <= 0 or height <= 0:
                raise ProductDataError(f"image has no pixels: {link}", product_id=product_id, field="image_link")
            if width * height > MAX_SOURCE_PIXELS:
                raise ProductDataError(
                    f"image claims {width}x{height} pixels (> {MAX_SOURCE_PIXELS}), refusing a possible "
                    f"decompression bomb: {link}", product_id=product_id, field="image_link")
            if getattr(image, "n_frames", 1) > 1:
                notes.append(f"animated {source_format} image: using its first frame")
                image.seek(0)
            if source_format == "JPEG" and max(width, height) > 2 * MAX_SIDE:
                # Decode huge JPEGs at a reduced DCT scale: much faster and smaller.
                image.draft(image.mode, (MAX_SIDE, MAX_SIDE))
            image.load()
    except ProductDataError:
        raise
    except Image.DecompressionBombError as exc:
        raise ProductDataError(
            f"refusing a possible decompression bomb: {link}: {exc}", product_id=product_id, field="image_link"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ProductDataError(
            f"cannot decode image {link}: {exc}", product_id=product_id, field="image_link") from exc

    try:
        image = ImageOps.exif_transpose(image)
    except Exception as exc:  # a corrupt EXIF block should not lose the photo
        notes.append(f"ignored unreadable EXIF orientation: {exc}")
    image = _to_srgb(image, notes)
    return image, source_format, (width, height), notes


def _to_srgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """Apply an embedded ICC profile (typical for CMYK print photos) so colours stay right."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = (ImageCms.getProfileDescription(source_profile) or "").lower()
        if "srgb" in description and image.mode in ("RGB", "RGBA"):
            return image
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        base = image.convert("RGB") if image.mode == "RGBA" else image
        converted = ImageCms.profileToProfile(base, source_profile, _SRGB_PROFILE, outputMode="RGB")
        if alpha is not None:
            converted.putalpha(alpha)
        return converted
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        notes.append(f"ignored unusable ICC profile: {exc}")
        return image


def _normalize_mode(image: Image.Image) -> tuple[Image.Image, bool]:
    """-> (RGB or RGBA image, has real transparency)."""
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    elif image.mode in ("LA", "La", "RGBa"):
        image = image.convert("RGBA")
    elif image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale down to 8 bits rather than clipping at 255.
        image = image.point(lambda v: v / 256).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode == "RGBA":
        low, _ = image.getchannel("A").getextrema()
        if low < ALPHA_OPAQUE_THRESHOLD:
            return image, True
        return image.convert("RGB"), False
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image, False


def _normalize_size(image: Image.Image) -> tuple[Image.Image, list[str]]:
    notes: list[str] = []
    width, height = image.size
    long_side, short_side = max(width, height), min(width, height)
    if long_side / short_side > EXTREME_ASPECT:
        notes.append(f"image has an extreme aspect ratio ({width}x{height}); it will be cropped in the video")
    scale = 1.0
    if long_side > MAX_SIDE:
        scale = MAX_SIDE / long_side
    elif short_side < MIN_SIDE:
        scale = min(UPSCALE_TARGET_SIDE / short_side, MAX_SIDE / long_side)
        notes.append(
            f"image is small ({width}x{height}); upscaled x{scale:.2f}, it may look soft")
    if abs(scale - 1.0) < 1e-6:
        return image, notes
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 0.5:
        # Two-step shrink: reduce() is a fast box filter, LANCZOS finishes cleanly.
        factor = int(1 / scale / 1.5)
        if factor >= 2:
            image = image.reduce(factor)
    return image.resize(new_size, Image.Resampling.LANCZOS), notes


def _atomic_save(image: Image.Image, path: Path, fmt: str, save_kw: dict) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, fmt, **save_kw)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise

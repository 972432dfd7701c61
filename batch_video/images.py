"""Fetch a product photo and normalize it for the renderer.

Whatever the feed links to (http/https through the guarded fetcher, or a local
file where `batch_video.links` allows one), the result is one upright sRGB
`image.jpg`, or `image.png` when the photo has real transparency, sized so the
renderer never has to upscale much nor decode a giant file again.

Decoding is bounded: only common photo formats are opened (never EPS, which
would start Ghostscript on feed content), and the pixel count is checked from
the header before any pixel is decoded.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError, features

from batch_video import files
from batch_video.errors import ProductDataError
from batch_video.links import LinkPolicy, read_link
from batch_video.models import PreparedImage, Product

logger = logging.getLogger(__name__)

# The largest canvas is 1920 px wide and the photo box is zoomed by at most
# ~1.3x, so 2048 px on the long side keeps every preset sharp.
MAX_SIDE = 2048
# Below this short side the photo looks soft on a 1080 px canvas; we upscale it
# (so the renderer works with a sane size) but say so.
MIN_SIDE = 480
UPSCALE_TARGET_SIDE = 720
# Refuse anything claiming more pixels than this before decoding it: 40 MP is
# beyond any product shot (a full-frame camera gives 24-45 MP), and a crafted
# header can claim billions. Decoding 40 MP takes at most ~160 MB (RGBA).
MAX_SOURCE_PIXELS = 40_000_000
# The formats product photos come in; Pillow tries no other plugin (no EPS/PostScript, no PDF, no ICNS...).
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF") + (("AVIF",) if features.check("avif") else ())
# An alpha channel counts as transparency only if some pixel is clearly see-through.
ALPHA_OPAQUE_THRESHOLD = 250
EXTREME_ASPECT = 4.0
JPEG_QUALITY = 92

_SRGB_PROFILE = ImageCms.createProfile("sRGB")


def prepare_image(
    product: Product, out_dir: str | os.PathLike, *, policy: LinkPolicy = LinkPolicy(), field: str = "image_link",
    link: str | None = None,
) -> PreparedImage:
    """Fetch `product.image_link` (or `link`) under `policy` and write a normalized image into `out_dir`.

    The default policy reaches public http(s) hosts only; local files need a
    policy built for a local feed (`LinkPolicy.for_source`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    link = (product.image_link if link is None else link or "").strip()
    if not link:
        raise ProductDataError("product has no image link", product_id=product.id, field=field)

    data = read_link(link, policy, product_id=product.id, field=field)
    image, source_format, source_size, notes = _decode(data, product_id=product.id, field=field)
    image, has_alpha = _normalize_mode(image)
    image, size_notes = _normalize_size(image)
    notes.extend(size_notes)

    name, fmt, save_kw = ("image.png", "PNG", {"optimize": False, "compress_level": 6}) if has_alpha else (
        "image.jpg", "JPEG", {"quality": JPEG_QUALITY, "subsampling": 0, "optimize": True})
    path = out_dir / name
    with files.atomic_open(path) as handle:
        image.save(handle, fmt, **save_kw)
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


def _decode(data: bytes, *, product_id: str, field: str) -> tuple[Image.Image, str, tuple[int, int], list[str]]:
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below 2x its limit; we decide ourselves below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
            source_format = image.format or "unknown"
            width, height = image.size
            if width <= 0 or height <= 0:
                raise ProductDataError("the image has no pixels", product_id=product_id, field=field)
            if width * height > MAX_SOURCE_PIXELS:
                raise ProductDataError(
                    f"the image claims {width}x{height} pixels, more than {MAX_SOURCE_PIXELS // 1_000_000} MP: refusing a"
                    " possible decompression bomb", product_id=product_id, field=field)
            # `is_animated` looks for a second frame only; `n_frames` would walk (and decode) every frame of a GIF.
            if getattr(image, "is_animated", False):
                notes.append(f"animated {source_format} image: using its first frame")
                image.seek(0)
            if source_format == "JPEG" and max(width, height) > 2 * MAX_SIDE:
                # Decode huge JPEGs at a reduced DCT scale: much faster and smaller.
                image.draft(image.mode, (MAX_SIDE, MAX_SIDE))
            image.load()
    except ProductDataError:
        raise
    except Image.DecompressionBombError:
        raise ProductDataError(
            "refusing a possible decompression bomb", product_id=product_id, field=field) from None
    except UnidentifiedImageError:
        raise ProductDataError(
            f"the image is not in a supported format ({', '.join(PHOTO_FORMATS)})", product_id=product_id, field=field
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ProductDataError(
            f"cannot decode the image ({_short_reason(exc)})", product_id=product_id, field=field) from None

    try:
        image = ImageOps.exif_transpose(image)
    except Exception as exc:  # a corrupt EXIF block should not lose the photo
        notes.append(f"ignored unreadable EXIF orientation: {exc}")
    image = _to_srgb(image, notes)
    return image, source_format, (width, height), notes


def _short_reason(exc: BaseException) -> str:
    """A short, path-free reason from a decoder error."""
    return type(exc).__name__ + (f": {str(exc)[:80]}" if str(exc) and "/" not in str(exc) else "")


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

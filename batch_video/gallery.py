"""A product's photos for the video: the main one (required) and up to N additional ones.

Every additional photo goes through the same fetch and checks as the main
one (`images.prepare_image`). One that cannot be used (missing, unreadable,
too large, a link repeated) or that shows the same picture as a photo already
kept, at whatever size (compared by perceptual hash), is skipped with a
warning; it never fails the product. Only the main photo is required.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from batch_video import images
from batch_video.errors import BatchVideoError
from batch_video.links import LinkPolicy
from batch_video.models import PreparedImage, Product

logger = logging.getLogger(__name__)

# Two photos whose 64-bit perceptual hashes differ in at most this many bits, and whose colours match
# (every cell of a 4x4 grid of mean colours within this many levels of 255), are the same picture.
DUPLICATE_BITS = 10
DUPLICATE_COLOUR_LEVELS = 24.0
EXTRA_DIR = "extra"


@dataclass(frozen=True)
class Gallery:
    main: PreparedImage
    extras: tuple[PreparedImage, ...] = ()
    warnings: tuple[str, ...] = ()  # one per skipped additional photo, naming the link and why

    @property
    def photos(self) -> tuple[PreparedImage, ...]:
        return (self.main, *self.extras)


@dataclass(frozen=True)
class Fingerprint:
    """What makes two files the same picture: its structure (a perceptual hash) and its colours."""

    phash: int
    colours: np.ndarray  # 4x4x3 mean RGB

    def same_picture(self, other: "Fingerprint") -> bool:
        # The hash alone sees grey structure only: the same shirt photographed in red and in white, or two
        # plain backdrops, hash alike and are still different pictures.
        return (hamming(self.phash, other.phash) <= DUPLICATE_BITS
                and float(np.abs(self.colours - other.colours).max()) <= DUPLICATE_COLOUR_LEVELS)


def fingerprint(path: str | os.PathLike) -> Fingerprint:
    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((64, 64), Image.Resampling.BOX)
    colours = np.asarray(rgb.resize((4, 4), Image.Resampling.BOX), dtype=np.float32)
    return Fingerprint(_dct_hash(np.asarray(rgb.convert("L"), dtype=np.float32)), colours)


def perceptual_hash(path: str | os.PathLike) -> int:
    """64-bit DCT hash of the picture's structure: equal for the same photo at any size or JPEG quality."""
    with Image.open(path) as image:
        grey = np.asarray(image.convert("L").resize((64, 64), Image.Resampling.BOX), dtype=np.float32)
    return _dct_hash(grey)


def _dct_hash(grey64: np.ndarray) -> int:
    small = cv2.resize(grey64, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].flatten()[1:]  # the lowest frequencies, without the mean (DC)
    bits = low > np.median(low)
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def prepare_gallery(
    product: Product,
    out_dir: str | os.PathLike,
    *,
    policy: LinkPolicy = LinkPolicy(),
    max_extra: int = 4,
    main: PreparedImage | None = None,
) -> Gallery:
    """The main photo (its errors fail the product) plus up to `max_extra` usable, distinct additional photos.

    Every link is fetched under `policy` (see `LinkPolicy.for_source`). `main`
    skips preparing the main photo again when it already is. Additional photos
    land in `out_dir/extra/<n>/`.
    """
    out_dir = Path(out_dir)
    if main is None:
        main = images.prepare_image(product, out_dir, policy=policy)
    # Photos from an earlier run (the feed may list fewer now) must not linger.
    shutil.rmtree(out_dir / EXTRA_DIR, ignore_errors=True)
    kept: list[PreparedImage] = []
    seen = [(fingerprint(main.path), "the main photo")]
    notes: list[str] = []
    seen_links = {product.image_link.strip()}
    for position, link in enumerate(product.additional_image_links, start=1):
        if len(kept) >= max_extra:
            break
        link = (link or "").strip()
        label = f"additional photo {position} ({link or 'empty link'})"
        if not link:
            notes.append(f"{label}: skipped: the link is empty")
            continue
        if link in seen_links:
            notes.append(f"{label}: skipped: the same link as an earlier photo")
            continue
        seen_links.add(link)
        try:
            photo = images.prepare_image(product, out_dir / EXTRA_DIR / str(len(kept) + 1), policy=policy,
                                         field="additional_image_link", link=link)
        except BatchVideoError as err:
            notes.append(f"{label}: skipped: {err.message}")
            continue
        looks = fingerprint(photo.path)
        twin = next((name for other, name in seen if looks.same_picture(other)), None)
        if twin is not None:
            notes.append(f"{label}: skipped: the same picture as {twin}")
            continue
        seen.append((looks, f"additional photo {position}"))
        kept.append(photo)
    for note in notes:
        logger.warning("product %s: %s", product.id, note)
    return Gallery(main, tuple(kept), tuple(notes))


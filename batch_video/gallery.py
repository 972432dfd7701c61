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

# Two photos whose 64-bit perceptual hashes differ in at most this many bits are the same picture.
DUPLICATE_BITS = 10
EXTRA_DIR = "extra"


@dataclass(frozen=True)
class Gallery:
    main: PreparedImage
    extras: tuple[PreparedImage, ...] = ()
    warnings: tuple[str, ...] = ()  # one per skipped additional photo, naming the link and why

    @property
    def photos(self) -> tuple[PreparedImage, ...]:
        return (self.main, *self.extras)


def perceptual_hash(path: str | os.PathLike) -> int:
    """64-bit DCT hash of the picture's structure: equal for the same photo at any size or JPEG quality."""
    with Image.open(path) as image:
        grey = np.asarray(image.convert("L").resize((64, 64), Image.Resampling.BOX), dtype=np.float32)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA)
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
    hashes = [(perceptual_hash(main.path), "the main photo")]
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
        digest = perceptual_hash(photo.path)
        twin = next((name for h, name in hashes if hamming(h, digest) <= DUPLICATE_BITS), None)
        if twin is not None:
            notes.append(f"{label}: skipped: the same picture as {twin}")
            continue
        hashes.append((digest, f"additional photo {position}"))
        kept.append(photo)
    for note in notes:
        logger.warning("product %s: %s", product.id, note)
    return Gallery(main, tuple(kept), tuple(notes))


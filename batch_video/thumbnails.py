"""Small inline previews for UIs that cannot read the local disk (e.g. Dagster's)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image


def thumbnail_data_uri(image_path: Path, width: int = 180, quality: int = 70) -> str:
    """A `data:image/jpeg;base64,...` URI of the image scaled to `width` pixels."""
    with Image.open(image_path) as img:
        # A JPEG decodes straight at 1/2..1/8 scale when that is still larger than the thumbnail: many times faster.
        img.draft("RGB", (width * 2, width * 2 * img.height // max(1, img.width)))
        img = img.convert("RGB")
        height = max(1, round(img.height * width / img.width))
        img = img.resize((width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_markdown(image_path: Path, alt: str = "preview", width: int = 180) -> str:
    return f"![{alt}]({thumbnail_data_uri(image_path, width)})"

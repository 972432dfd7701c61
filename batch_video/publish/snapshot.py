"""The video and poster a publish sends, read once from open handles and named by their content.

Stage outputs live in the product's work folder, where a render may replace
`video.mp4` at any time (a newer run of the same product). A publish opens the
video and poster once and uses only those handles: the bytes it hashes are the
bytes it writes or uploads, so a content-addressed name always matches its
content.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1 << 20
# Hex digits of the video's sha256 in object and file names.
NAME_HASH_CHARS = 32


@dataclass(frozen=True)
class Snapshot:
    video: BinaryIO
    poster: BinaryIO
    content_hash: str  # sha256 of the video's bytes, NAME_HASH_CHARS hex digits
    video_size: int
    poster_size: int

    @classmethod
    @contextlib.contextmanager
    def of(cls, video_path: Path, poster_path: Path) -> Iterator["Snapshot"]:
        with open(video_path, "rb") as video, open(poster_path, "rb") as poster:
            digest = hashlib.sha256()
            for chunk in iter(lambda: video.read(CHUNK_BYTES), b""):
                digest.update(chunk)
            video.seek(0)
            yield cls(video, poster, digest.hexdigest()[:NAME_HASH_CHARS],
                      os.fstat(video.fileno()).st_size, os.fstat(poster.fileno()).st_size)

    def rewound(self, handle: BinaryIO) -> BinaryIO:
        handle.seek(0)
        return handle

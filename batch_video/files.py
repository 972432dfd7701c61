"""Files that readers see whole or not at all.

Every writer in batch_video goes through here: the new content is written to a
temporary file beside the target (same folder, so the same filesystem), flushed
to disk (fsync), renamed over the target, and the folder's entry is synced
too. A reader, or a run killed half-way, sees the old file or the whole new
one, never a part. On any error (an interrupt included) the temporary file is
removed and the target is left as it was.

- `atomic_open(target)`: a handle to write into.
- `atomic_path(target)`: a fresh path for a child program (ffmpeg, espeak-ng) to write.
- `write_bytes` / `write_text` / `write_json` / `copy_file`: the usual cases.

Temporary names are `.<target name>.<pid>.<random><suffix>`: hidden, unique per
writer, and recognisable by the process that left them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import IO, Any, Iterator

COPY_CHUNK_BYTES = 1 << 20


def temp_name_for(target: Path, suffix: str = ".tmp") -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def _create_temp(target: Path, suffix: str) -> tuple[int, Path]:
    """An exclusive new file beside `target`, with the permissions a plain open() would give (umask applies)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temp = temp_name_for(target, suffix)
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:  # pragma: no cover - 32 random bits and our pid
            continue


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(temp: Path, target: Path) -> None:
    os.replace(temp, target)
    fsync_dir(target.parent)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(target: Path | str, mode: str = "wb", *, encoding: str | None = None, suffix: str = ".tmp") -> Iterator[IO[Any]]:
    """Write `target` through the yielded handle; it replaces `target` only when the block ends without error."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes a whole new file: mode 'w' or 'wb', not {mode!r}")
    target = Path(target)
    fd, temp = _create_temp(target, suffix)
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _commit(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(target: Path | str, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh path beside `target` for a program to write; renamed over `target` when the block ends without error.

    Keep `suffix` the target's extension when the program picks its format from it (ffmpeg).
    The path exists (empty) when yielded, so a program must be allowed to overwrite (ffmpeg -y).
    """
    target = Path(target)
    fd, temp = _create_temp(target, suffix)
    os.close(fd)
    try:
        yield temp
        _fsync_path(temp)
        _commit(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_bytes(target: Path | str, data: bytes) -> None:
    with atomic_open(target, "wb") as handle:
        handle.write(data)


def write_text(target: Path | str, text: str) -> None:
    with atomic_open(target, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json(target: Path | str, data: Any, **dump_options: Any) -> None:
    """JSON as UTF-8 (non-ASCII kept as is); `dump_options` go to json.dump (indent, default, sort_keys)."""
    with atomic_open(target, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, **dump_options)


def copy_file(source: Path | str, target: Path | str) -> None:
    with open(source, "rb") as src, atomic_open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, COPY_CHUNK_BYTES)

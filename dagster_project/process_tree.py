"""Processes started by a process, however deep: what a run worker leaves behind when it must go at once."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...), parents before their children."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def kill_tree(pid: int, *, include_self: bool = True) -> None:
    """SIGKILL `pid`'s descendants, deepest first, then `pid` itself."""
    for target in [*reversed(descendants(pid)), *([pid] if include_self else [])]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass

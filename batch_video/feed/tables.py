"""Tabular catalogs: a header row, then rows of text cells, whatever file they came from (CSV, XLSX, ODS)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

from batch_video.feed.keys import fold_ascii

Row = tuple[int, Sequence[str]]  # (1-based data row number, cells)


@dataclass(frozen=True)
class Table:
    """A catalog table: its headers and its data rows, read lazily (a CSV is never held in memory whole)."""

    headers: Sequence[str]
    rows: Iterable[Row]
    container: str  # "CSV", "XLSX", "ODS": named in messages and in the feed's format


def normalize_header(name: str) -> str:
    """`"Preț redus"` -> `"pret_redus"`; `"g:image_link"` -> `"image_link"`; `"In stock?"` -> `"in_stock"`."""
    text = fold_ascii(name).strip().lower()
    if text.startswith("g:"):
        text = text[2:]
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


class Columns:
    """Where a platform's columns are in a header: role -> index, from each role's aliases (first alias found wins)."""

    def __init__(self, headers: Sequence[str], aliases: Mapping[str, Sequence[str]]) -> None:
        position = {}
        for index, header in enumerate(headers):
            position.setdefault(normalize_header(header), index)
        self.normalized = set(position)
        self.index: dict[str, int] = {}
        for role, names in aliases.items():
            for name in names:
                if name in position:
                    self.index[role] = position[name]
                    break

    def __contains__(self, role: str) -> bool:
        return role in self.index

    def get(self, cells: Sequence[str], role: str) -> str:
        """The cell of `role` in a row, stripped; `""` when the column is absent or the row is short."""
        index = self.index.get(role)
        if index is None or index >= len(cells):
            return ""
        return str(cells[index] or "").strip()


def numbered_columns(headers: Sequence[str], patterns: Mapping[str, str]) -> dict[int, dict[str, int]]:
    """Numbered column groups (`Attribute 1 name`, `Option2 Value`): number -> {role: column index}.

    `patterns` maps a role to a regex over the normalized header whose groups capture the number
    (alternatives may each have their own group: the one that matched counts).
    """
    groups: dict[int, dict[str, int]] = {}
    for index, header in enumerate(headers):
        normalized = normalize_header(header)
        for role, pattern in patterns.items():
            match = re.fullmatch(pattern, normalized)
            if match:
                number = next(group for group in match.groups() if group)
                groups.setdefault(int(number), {}).setdefault(role, index)
    return dict(sorted(groups.items()))


def iter_nonblank(rows: Iterable[Row]) -> Iterator[Row]:
    """Rows with at least one non-empty cell (spreadsheets and CSVs often end with blank lines)."""
    for position, cells in rows:
        if any(str(cell or "").strip() for cell in cells):
            yield position, cells

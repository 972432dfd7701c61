"""Products from the Supabase `products` table, as PostgREST returns its rows (the client call stays outside)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Iterable, Mapping

from batch_video.feed.fields import RawItem, collect
from batch_video.models import FeedReadResult

_PLAIN_NUMBER = re.compile(r"\d+(\.\d+)?")  # how PostgREST writes a numeric column

def products_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    default_currency: str = "RON",
    source: str = "supabase:products",
) -> FeedReadResult:
    """Products from `products` table rows as PostgREST returns them (numbers may be floats or strings)."""

    def raw_fields(row: Mapping[str, Any]) -> dict[str, Any]:
        fields = dict(row)
        fields["id"] = row.get("external_id") or row.get("id") or ""
        for name in ("price", "sale_price"):
            value = row.get(name)
            # PostgREST returns numeric columns as JSON numbers or plain strings ("1249.50"):
            # those are exact already, unlike the shop's own text kept in `<name>_raw`.
            if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                fields[name] = Decimal(str(value))
            elif isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value.strip()):
                fields[name] = Decimal(value.strip())
            elif value in (None, ""):
                fields[name] = row.get(f"{name}_raw") or ""
            fields[f"{name}_raw"] = row.get(f"{name}_raw") or ("" if value is None else str(value))
        links = row.get("additional_image_links") or ()
        fields["additional_image_links"] = list(links) if not isinstance(links, str) else links
        return fields

    items = (RawItem(raw_fields(row), position) for position, row in enumerate(rows, start=1))
    return collect(items, base=None, default_currency=default_currency, source=source)

"""Google Merchant feeds: RSS 2.0 `<item>` and Atom `<entry>` with the `g:` namespace, parsed streaming."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, BinaryIO, Iterator

from batch_video.errors import ProductDataError
from batch_video.feed.fields import RawItem

GOOGLE_NS = "http://base.google.com/ns/1.0"

_XML_FIELDS = {
    "id": "id",
    "title": "title",
    "description": "description",
    "summary": "description",
    "content": "description",
    "brand": "brand",
    "product_type": "product_type",
    "price": "price",
    "sale_price": "sale_price",
    "availability": "availability",
    "link": "link",
    "image_link": "image_link",
    "currency": "currency",
}


_TAG_NAMES: dict[str, tuple[str, str]] = {}


def _local_name(tag: str) -> tuple[str, str]:
    """`"{ns}name"` -> `("ns", "name")`, memoized: a feed repeats the same dozen tags."""
    found = _TAG_NAMES.get(tag)
    if found is None:
        if tag.startswith("{"):
            ns, _, name = tag[1:].partition("}")
            found = (ns, name)
        else:
            found = ("", tag)
        if len(_TAG_NAMES) < 10_000:
            _TAG_NAMES[tag] = found
    return found


def iter_xml_items(stream: BinaryIO) -> Iterator[RawItem]:
    """Yield each `<item>` (RSS) or `<entry>` (Atom) as raw fields, dropping it once read.

    Fields in the `g:` namespace win over plain RSS/Atom ones (`title`, `link`,
    `description`/`summary`, Atom `id`), which are only a fallback.
    """
    stack: list[ET.Element] = []
    position = 0
    try:
        for event, elem in ET.iterparse(stream, events=("start", "end")):
            if event == "start":
                stack.append(elem)
                continue
            stack.pop()
            _, name = _local_name(elem.tag)
            if name not in ("item", "entry"):
                continue
            position += 1
            yield RawItem(_item_fields(elem), position)
            elem.clear()
            if stack:
                stack[-1].remove(elem)
    except ET.ParseError as err:
        raise ProductDataError(f"the feed is not well-formed XML: {err} (after item {position})", field="feed") from None


def _item_fields(item: ET.Element) -> dict[str, Any]:
    google: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    additional: list[str] = []
    for child in item:
        ns, name = _local_name(child.tag)
        is_google = "base.google.com" in ns or ns == GOOGLE_NS
        if name == "additional_image_link" and is_google:
            text = (child.text or "").strip()
            additional.extend(part for part in re.split(r"[,\s]+", text) if part)
            continue
        field = _XML_FIELDS.get(name)
        if field is None:
            continue
        if name == "link" and not is_google and child.get("href") is not None:
            rel = child.get("rel", "alternate")
            if rel == "alternate" and "link" not in plain:
                plain["link"] = child.get("href")
            continue
        text = "".join(child.itertext())
        target = google if is_google else plain
        target.setdefault(field, text.strip())
    fields = {**plain, **{k: v for k, v in google.items() if v}}
    fields["additional_image_links"] = additional
    return fields

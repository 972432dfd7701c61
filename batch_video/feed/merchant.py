"""Google Merchant feeds: RSS 2.0 `<item>` and Atom `<entry>` with the `g:` namespace, parsed streaming.

Bounds a feed can't talk its way past:

- no DOCTYPE, entity declaration or external entity, wherever it appears in the
  prolog (after a megabyte of comment, in UTF-16...): an expat guard reads the
  prolog first and stops at the declaration itself, before any entity is
  recorded or expanded (see `_PrologGuard`);
- every element is dropped once it ends, items after their fields are read and
  everything between items too, so memory stays flat in the size of the feed;
- nesting deeper than `XmlLimits.max_depth` and more than `max_items` items
  stop the feed with a clear message; a field's text is taken up to
  `max_field_chars` (and `fields` cuts it further, with a warning); the feed's
  byte size is capped by the reader (`fetch.DEFAULT_MAX_BYTES`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator
from xml.parsers import expat

from batch_video.errors import ProductDataError
from batch_video.feed.fields import RawItem

GOOGLE_NS = "http://base.google.com/ns/1.0"
CHUNK_BYTES = 1 << 16

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


@dataclass(frozen=True)
class XmlLimits:
    """What one Merchant feed may hold. 100,000 products is a real catalog; these leave room above it."""

    max_depth: int = 64
    max_items: int = 500_000
    # Raw text kept per field while parsing (HTML included); `fields` cuts the clean text shorter.
    max_field_chars: int = 64 * 1024
    max_fields_per_item: int = 500


class _Refused(Exception):
    """Raised from an expat handler to stop the parse right there."""


class _RootStarted(Exception):
    """The prolog is over: no DOCTYPE can follow."""


class _PrologGuard:
    """An expat parser that reads the feed up to its root element and refuses any DOCTYPE or entity.

    A DOCTYPE (and with it every entity declaration) can only stand in the
    prolog, before the root element; once the root element starts, expat itself
    rejects a later `<!DOCTYPE` as malformed. So the guard reads the same bytes
    as the tree parser until then, and stops the feed at the declaration, before
    anything is recorded or expanded, however the prolog is written (after a
    megabyte of comment, in UTF-16...).
    """

    def __init__(self) -> None:
        self.done = False
        self.parser = expat.ParserCreate()
        self.parser.StartDoctypeDeclHandler = self._refuse("a DOCTYPE declaration")
        self.parser.EntityDeclHandler = self._refuse("an entity declaration")
        self.parser.UnparsedEntityDeclHandler = self._refuse("an entity declaration")
        self.parser.ExternalEntityRefHandler = self._refuse("an external entity")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartElementHandler = self._root_started

    @staticmethod
    def _refuse(what: str) -> Callable[..., Any]:
        def handler(*args: Any) -> Any:
            raise _Refused(f"the feed contains {what}, which product feeds never need")

        return handler

    @staticmethod
    def _root_started(*args: Any) -> None:
        raise _RootStarted

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        try:
            self.parser.Parse(chunk, not chunk)
        except _RootStarted:
            self.done = True
            self.parser = None  # type: ignore[assignment]
        except expat.ExpatError:
            self.done = True  # malformed: the tree parser reports it with its position


def iter_xml_items(stream: BinaryIO, *, limits: XmlLimits = XmlLimits()) -> Iterator[RawItem]:
    """Yield each `<item>` (RSS) or `<entry>` (Atom) as raw fields, dropping every element once it ends.

    Fields in the `g:` namespace win over plain RSS/Atom ones (`title`, `link`,
    `description`/`summary`, Atom `id`), which are only a fallback.
    """
    guard = _PrologGuard()
    pull = ET.XMLPullParser(events=("start", "end"))
    stack: list[ET.Element] = []
    position = 0
    item_depth = 0  # depth of the open item, 0 outside items
    try:
        while True:
            chunk = stream.read(CHUNK_BYTES)
            guard.feed(chunk)  # before the tree parser sees these bytes
            if chunk:
                pull.feed(chunk)
            else:
                pull.close()
            for event, elem in pull.read_events():
                if event == "start":
                    stack.append(elem)
                    if len(stack) > limits.max_depth:
                        raise _Refused(f"elements are nested more than {limits.max_depth} deep")
                    if not item_depth and _local_name(elem.tag)[1] in ("item", "entry"):
                        position += 1
                        if position > limits.max_items:
                            raise _Refused(f"the feed has more than {limits.max_items} items")
                        item_depth = len(stack)
                    continue
                depth = len(stack)
                stack.pop()
                if item_depth and depth > item_depth:
                    continue  # a field (or inside one): read with its item
                if depth == item_depth:
                    item_depth = 0
                    yield RawItem(_item_fields(elem, limits), position)
                # Every finished element outside an item goes too: nothing accumulates between items.
                elem.clear()
                if stack:
                    stack[-1].remove(elem)
            if not chunk:
                return
    except _Refused as err:
        raise ProductDataError(f"{err} (after item {max(position - 1, 0)})", field="feed") from None
    except ET.ParseError as err:
        raise ProductDataError(f"the feed is not well-formed XML: {err} (after item {position})", field="feed") from None


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


def _item_fields(item: ET.Element, limits: XmlLimits) -> dict[str, Any]:
    google: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    additional: list[str] = []
    if len(item) > limits.max_fields_per_item:
        raise _Refused(f"an item has more than {limits.max_fields_per_item} fields")
    for child in item:
        ns, name = _local_name(child.tag)
        attrs = child.attrib
        is_google = "base.google.com" in ns or ns == GOOGLE_NS
        if name == "additional_image_link" and is_google:
            text = (child.text or "")[: limits.max_field_chars].strip()
            additional.extend(part for part in re.split(r"[,\s]+", text) if part)
            continue
        field = _XML_FIELDS.get(name)
        if field is None:
            continue
        if name == "link" and not is_google and attrs.get("href") is not None:
            rel = attrs.get("rel", "alternate")
            if rel == "alternate" and "link" not in plain:
                plain["link"] = attrs.get("href")
            continue
        target = google if is_google else plain
        target.setdefault(field, _text(child, limits.max_field_chars).strip())
    fields = {**plain, **{k: v for k, v in google.items() if v}}
    fields["additional_image_links"] = additional
    return fields


def _text(element: ET.Element, limit: int) -> str:
    """The element's text and its descendants' (like `itertext`), at most `limit` characters."""
    if not len(element):  # the usual field: plain text, no child elements
        return (element.text or "")[:limit]
    parts, size = [], 0
    for piece in element.itertext():
        parts.append(piece[: limit - size])
        size += len(parts[-1])
        if size >= limit:
            break
    return "".join(parts)

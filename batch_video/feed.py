"""Product feeds as shops publish them: Google Merchant XML (RSS/Atom), CSV/TSV exports, Supabase rows.

Every reader turns raw fields into the same validated `Product`; an item with a
missing or unparseable required field becomes a `FeedProblem` naming the product,
the field and the raw value, and never stops the rest of the feed.

XML is parsed streaming (`iterparse`, each item dropped once read), so memory
stays flat in the size of the feed apart from the products kept. Remote feeds
are streamed to a temporary file with a size cap (which also bounds a gzip bomb).
Titles and descriptions are stored with HTML tags and entities removed and
whitespace collapsed; the script stage does its own speech normalization.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import io
import json
import logging
import os
import re
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.models import FeedProblem, FeedReadResult, Product

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
KEY_MAX_LENGTH = 64
KEY_HASH_LENGTH = 8
GOOGLE_NS = "http://base.google.com/ns/1.0"
REQUIRED_FIELDS = ("id", "title", "price", "image_link")

# --------------------------------------------------------------------------- prices

_CURRENCY_WORDS = {
    "lei": "RON",
    "leu": "RON",
    "ron": "RON",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "$": "USD",
    "usd": "USD",
    "£": "GBP",
    "gbp": "GBP",
}
_PRICE_PATTERN = re.compile(
    r"^\s*(?P<pre>[^\d\s.,+-]+)?\s*(?P<sign>[-+])?\s*(?P<num>[\d][\d\s.,'\u00a0\u202f]*)\s*(?P<post>[^\d\s.,]+\.?)?\s*$"
)


def _currency_from_token(token: str) -> str:
    cleaned = token.strip().rstrip(".")
    mapped = _CURRENCY_WORDS.get(cleaned.lower())
    if mapped:
        return mapped
    if re.fullmatch(r"[A-Za-z]{3}", cleaned):
        return cleaned.upper()
    raise ValueError(f"unknown currency {token.strip()!r}")


_SIMPLE_NUMBER = re.compile(r"\d{1,3}(?:[.,]\d{1,2})?|\d{4,}(?:[.,]\d{1,3})?")
_NUMBER_SPACES = re.compile(r"[\s'\u00a0\u202f]")


def _parse_number(text: str) -> Decimal:
    if _SIMPLE_NUMBER.fullmatch(text):  # the common `249.99` / `249,99` / `1249,000`: one mark, no grouping possible
        return Decimal(text.replace(",", "."))
    digits = _NUMBER_SPACES.sub("", text)
    if not digits:
        raise ValueError("no number")
    last_dot, last_comma = digits.rfind("."), digits.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal_mark = "." if last_dot > last_comma else ","
    elif last_dot >= 0 or last_comma >= 0:
        mark = "." if last_dot >= 0 else ","
        parts = digits.split(mark)
        # One separator followed by exactly three digits is a thousands mark
        # (`1.249` lei); prices do not carry three decimals.
        if len(parts) > 2 or (len(parts[1]) == 3 and parts[0] not in ("", "0")):
            decimal_mark = ""
        else:
            decimal_mark = mark
    else:
        decimal_mark = ""
    thousands_mark = {"": None, ".": ",", ",": "."}[decimal_mark]
    if decimal_mark:
        whole, _, cents = digits.rpartition(decimal_mark)
    else:
        whole, cents = digits, ""
    groups = re.split(r"[.,]", whole) if (thousands_mark or not decimal_mark) else [whole]
    if len(groups) > 1:
        if thousands_mark and any(sep != thousands_mark for sep in re.findall(r"[.,]", whole)):
            raise ValueError("mixed thousands separators")
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            raise ValueError("misplaced thousands separator")
    whole_digits = "".join(groups)
    if not whole_digits.isdigit() or (cents and not cents.isdigit()):
        raise ValueError("not a number")
    return Decimal(f"{whole_digits}.{cents}" if cents else whole_digits)


_PLAIN_NUMBER = re.compile(r"\d+(\.\d+)?")
_NO_CENTS = re.compile(r"(?<=\d)[.,]-(?!\d)")  # `249,- lei`: a whole amount


def parse_price(raw: str, default_currency: str = "RON") -> tuple[Decimal, str]:
    """`"1.249,00 RON"` -> `(Decimal("1249.00"), "RON")`; raises `ValueError` saying why not.

    Accepts the forms real feeds write: `249,99 RON`, `249.99 RON`,
    `1,249.99 USD`, `249 lei`, `RON 249.99`, `€ 19,90`, and a bare number
    (which takes `default_currency`). Zero and negative prices are refused.
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError("empty price")
    text = _NO_CENTS.sub("", text)
    match = _PRICE_PATTERN.match(text)
    if not match:
        raise ValueError(f"cannot read a price from {text!r}")
    pre, post = match.group("pre"), match.group("post")
    if pre and post:
        raise ValueError(f"two currencies in {text!r}")
    currency = _currency_from_token(pre or post) if (pre or post) else default_currency.upper()
    try:
        amount = _parse_number(match.group("num").strip())
    except (ValueError, InvalidOperation) as err:
        raise ValueError(f"cannot read a price from {text!r}: {err}") from None
    if match.group("sign") == "-":
        raise ValueError("negative price")
    if amount <= 0:
        raise ValueError("price must be greater than zero")
    return amount, currency


# --------------------------------------------------------------------------- partition keys

_FOLD_EXTRA = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i"})


def fold_ascii(text: str) -> str:
    """`"Șosete Mărime"` -> `"Sosete Marime"`: diacritics dropped, other non-ASCII removed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _short_hash(text: str, length: int = KEY_HASH_LENGTH) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def slugify_key(product_id: str) -> str:
    """A partition key for a feed id: `[a-z0-9._-]`, at most 64 characters, never empty.

    Diacritics are folded, letters lowercased and any run of other characters
    becomes `-`. A long id is cut and gets a hash of the full id, so two long ids
    sharing a prefix still get different keys. Ids that only differ in case or
    punctuation slug alike; `assign_partition_keys` separates those.
    """
    slug = fold_ascii(str(product_id)).lower()
    slug = re.sub(r"[^a-z0-9._-]+", "-", slug)
    slug = re.sub(r"\.{2,}", ".", slug)  # "..." is Dagster's partition range syntax
    slug = re.sub(r"-{2,}", "-", slug).strip("-.")
    if not slug:
        return f"id-{_short_hash(str(product_id))}"
    if len(slug) > KEY_MAX_LENGTH:
        keep = KEY_MAX_LENGTH - KEY_HASH_LENGTH - 1
        slug = f"{slug[:keep].rstrip('-.')}-{_short_hash(str(product_id))}"
    return slug


def assign_partition_keys(ids: Iterable[str]) -> dict[str, str]:
    """Map each distinct feed id to a unique partition key, whatever the feed order.

    Ids whose slugs collide are resolved the same way every time: the id equal to
    its slug keeps it (else the smallest id does), the others get `-<hash of id>`.
    """
    ids_list = list(ids)
    by_slug: dict[str, list[str]] = {}
    for product_id in dict.fromkeys(ids_list):
        by_slug.setdefault(slugify_key(product_id), []).append(product_id)
    keys: dict[str, str] = {}
    taken = set(by_slug)
    order = list(dict.fromkeys(ids_list))
    for slug, members in by_slug.items():
        if len(members) == 1:
            keys[members[0]] = slug
            continue
        owner = slug if slug in members else min(members)
        keys[owner] = slug
        for product_id in sorted(m for m in members if m != owner):
            length = KEY_HASH_LENGTH
            while True:
                suffix = _short_hash(product_id, length)
                base = slug[: KEY_MAX_LENGTH - len(suffix) - 1].rstrip("-.")
                candidate = f"{base}-{suffix}"
                if candidate not in taken:
                    break
                length += 4
            taken.add(candidate)
            keys[product_id] = candidate
    return {product_id: keys[product_id] for product_id in order}


# --------------------------------------------------------------------------- text cleanup

_TAG = re.compile(r"<[^>]{0,2000}>")
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/h\d)\b[^>]*>", re.IGNORECASE)


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(raw: str | None) -> str:
    """Plain text from feed text that may hold HTML tags, entities, CDATA noise or control characters."""
    if not raw:
        return ""
    text = html.unescape(raw) if "&" in raw else raw
    text = _CONTROL_CHARS.sub("", text)
    if "<" in text:
        text = _BLOCK_TAG.sub(" ", text)
        text = _TAG.sub("", text)
        text = html.unescape(text) if "&" in text else text
    return " ".join(text.split())


_AVAILABILITY = {
    "in stock": "in_stock",
    "in_stock": "in_stock",
    "instock": "in_stock",
    "in stoc": "in_stock",
    "disponibil": "in_stock",
    "out of stock": "out_of_stock",
    "out_of_stock": "out_of_stock",
    "outofstock": "out_of_stock",
    "stoc epuizat": "out_of_stock",
    "indisponibil": "out_of_stock",
    "epuizat": "out_of_stock",
    "preorder": "preorder",
    "pre-order": "preorder",
    "precomanda": "preorder",
    "backorder": "backorder",
    "la comanda": "backorder",
}


def normalize_availability(raw: str) -> str:
    """Google's values (`in_stock`, `out_of_stock`, `preorder`, `backorder`); unknown kept lowercased."""
    text = " ".join(fold_ascii(raw).lower().split())
    if text.startswith("http"):  # schema.org form: https://schema.org/InStock
        text = text.rsplit("/", 1)[-1]
    return _AVAILABILITY.get(text, text.replace(" ", "_"))


# --------------------------------------------------------------------------- building products


_HASHED_FIELDS = (
    "id",
    "title",
    "description",
    "brand",
    "product_type",
    "price",
    "sale_price",
    "currency",
    "availability",
    "image_link",
    "additional_image_links",
)


def _hash_fields(fields: Mapping[str, Any]) -> str:
    payload = []
    for name in _HASHED_FIELDS:
        value = fields.get(name)
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f")  # 19.9 and 19.90 are one price
        elif isinstance(value, tuple):
            value = list(value)
        payload.append(value)
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def content_hash(product: Product) -> str:
    """A hash of everything that changes the video (not the shop link, the raw price text or the key).

    Stable across feed formats: the same product from XML, CSV or Supabase hashes alike.
    """
    return _hash_fields(product.__dict__)


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_ABSOLUTE_SCHEMES = ("http", "https", "file", "data")


def _scheme(link: str) -> str:
    match = _SCHEME.match(link)
    return match.group(1).lower() if match else ""


def resolve_link(link: str, base: str | None) -> str:
    """An absolute link: relative ones against the feed's folder (local) or URL (remote)."""
    link = link.strip()
    if not link or base is None or link.startswith(("https://", "http://")):
        return link
    scheme = _scheme(link)
    if scheme in _ABSOLUTE_SCHEMES or (scheme and "://" in link):
        return link
    if base.startswith(("http://", "https://")):
        return urljoin(base, link)
    if link.startswith("//"):
        return "https:" + link
    path = Path(link)
    return str(path if path.is_absolute() else (Path(base) / path).resolve())


def _check_link(link: str, field: str) -> None:
    if link.startswith(("https://", "http://")):
        return
    scheme = _scheme(link)
    if "://" in link and scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported {field} scheme {scheme!r}")


def _amount(value: Any, currency: str) -> tuple[Decimal, str]:
    """A price given as text (parsed) or as an exact number from a database (taken as is)."""
    if isinstance(value, Decimal):
        if value <= 0:
            raise ValueError("price must be greater than zero")
        return value, currency.upper()
    return parse_price(str(value), currency)


@dataclass(frozen=True)
class RawItem:
    """One feed item's fields as written, before validation."""

    fields: Mapping[str, Any]
    position: int


def build_product(
    raw: Mapping[str, Any],
    *,
    position: int | None = None,
    base: str | None = None,
    default_currency: str = "RON",
    key: str = "",
) -> Product | list[FeedProblem]:
    """A validated Product or the problems that keep `raw` from being one."""
    fields = validate_fields(raw, position=position, base=base, default_currency=default_currency)
    return fields if isinstance(fields, list) else _make_product(fields, key)


def _make_product(fields: dict[str, Any], key: str) -> Product:
    return Product(key=key, content_hash=_hash_fields(fields), **fields)


def validate_fields(
    raw: Mapping[str, Any],
    *,
    position: int | None = None,
    base: str | None = None,
    default_currency: str = "RON",
) -> dict[str, Any] | list[FeedProblem]:
    """Product fields (all but key and hash) from raw feed fields, or the problems found."""
    product_id = str(raw.get("id") or "").strip()
    problems: list[FeedProblem] = []

    def problem(field: str, value: Any, reason: str) -> None:
        problems.append(FeedProblem(product_id, field, "" if value is None else str(value), reason, position))

    if not product_id:
        problem("id", raw.get("id"), "missing id")
    title = clean_text(raw.get("title"))
    if not title:
        problem("title", raw.get("title"), "missing title")

    currency_override = str(raw.get("currency") or "").strip().upper()
    fallback_currency = currency_override or default_currency
    price_value = raw.get("price")
    price_raw = str(raw.get("price_raw") or price_value or "").strip()
    price: Decimal | None = None
    currency = fallback_currency
    if price_value is None or str(price_value).strip() == "":
        problem("price", price_raw, "missing price")
    else:
        try:
            price, currency = _amount(price_value, fallback_currency)
        except ValueError as err:
            problem("price", price_value, str(err))

    sale_value = raw.get("sale_price")
    sale_raw = str(raw.get("sale_price_raw") or sale_value or "").strip()
    sale_price: Decimal | None = None
    if sale_value is not None and str(sale_value).strip():
        try:
            sale_price, sale_currency = _amount(sale_value, currency)
            if sale_currency != currency:
                problem("sale_price", sale_raw, f"currency {sale_currency} differs from the price's {currency}")
                sale_price = None
        except ValueError as err:
            problem("sale_price", sale_value, str(err))

    image_raw = str(raw.get("image_link") or "").strip()
    image_link = ""
    if not image_raw:
        problem("image_link", image_raw, "missing image link")
    else:
        try:
            _check_link(image_raw, "image_link")
            image_link = resolve_link(image_raw, base)
        except ValueError as err:
            problem("image_link", image_raw, str(err))

    if problems:
        return problems
    extra = raw.get("additional_image_links") or ()
    if isinstance(extra, str):
        extra = [part for part in re.split(r"[,|\s]+", extra) if part]
    additional = tuple(resolve_link(str(link), base) for link in extra if str(link).strip())
    return {
        "id": product_id,
        "title": title,
        "price": price,
        "currency": currency,
        "image_link": image_link,
        "price_raw": price_raw,
        "description": clean_text(raw.get("description")),
        "brand": clean_text(raw.get("brand")),
        "product_type": clean_text(raw.get("product_type")),
        "sale_price": sale_price,
        "sale_price_raw": sale_raw,
        "availability": normalize_availability(str(raw.get("availability") or "")),
        "link": resolve_link(str(raw.get("link") or ""), base),
        "additional_image_links": additional,
    }


def collect(items: Iterable[RawItem], *, base: str | None, default_currency: str, source: str) -> FeedReadResult:
    """Validate raw items, drop duplicate ids (first kept), assign partition keys."""
    valid: list[dict[str, Any]] = []
    problems: list[FeedProblem] = []
    seen: set[str] = set()
    duplicates: dict[str, None] = {}
    for item in items:
        product_id = str(item.fields.get("id") or "").strip()
        if product_id and product_id in seen:
            duplicates[product_id] = None
            continue
        if product_id:
            seen.add(product_id)
        fields = validate_fields(item.fields, position=item.position, base=base, default_currency=default_currency)
        if isinstance(fields, list):
            problems.extend(fields)
        else:
            valid.append(fields)
    keys = assign_partition_keys(fields["id"] for fields in valid)
    keyed = tuple(_make_product(fields, keys[fields["id"]]) for fields in valid)
    if problems:
        logger.info("feed %s: %d valid products, %d problems", source, len(keyed), len(problems))
    return FeedReadResult(products=keyed, problems=tuple(problems), duplicates=tuple(duplicates), source=source)


# --------------------------------------------------------------------------- Google Merchant XML

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


# --------------------------------------------------------------------------- CSV / TSV

_CSV_HEADERS = {
    "id": ("id", "sku", "cod", "cod_produs", "product_id", "item_id", "cod_articol", "id_produs", "offer_id"),
    "title": ("title", "name", "produs", "denumire", "nume", "nume_produs", "denumire_produs", "product_name", "titlu"),
    "description": ("description", "descriere", "descriere_produs", "product_description"),
    "brand": ("brand", "marca", "producator", "manufacturer"),
    "product_type": ("product_type", "categorie", "category", "tip_produs", "google_product_category"),
    "price": ("price", "pret", "pret_lista", "pret_vanzare", "pret_cu_tva", "regular_price"),
    "sale_price": ("sale_price", "pret_redus", "pret_promo", "pret_promotional", "pret_oferta", "special_price"),
    "currency": ("currency", "moneda", "valuta"),
    "availability": ("availability", "disponibilitate", "stare_stoc"),
    "link": ("link", "url", "url_produs", "product_url", "link_produs"),
    "image_link": ("image_link", "image", "imagine", "image_url", "poza", "imagine_principala", "link_imagine", "main_image"),
    "additional_image_links": (
        "additional_image_link",
        "additional_image_links",
        "imagini_aditionale",
        "imagini_suplimentare",
        "alte_imagini",
    ),
}
_HEADER_TO_FIELD = {alias: field for field, aliases in _CSV_HEADERS.items() for alias in aliases}


def normalize_header(name: str) -> str:
    """`"Preț redus"` -> `"pret_redus"`; `"g:image_link"` -> `"image_link"`."""
    text = fold_ascii(name).strip().lower()
    if text.startswith("g:"):
        text = text[2:]
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def map_headers(headers: Iterable[str]) -> dict[int, str]:
    """Column index -> product field, for the columns we know (first alias wins)."""
    mapping: dict[int, str] = {}
    for index, header in enumerate(headers):
        field = _HEADER_TO_FIELD.get(normalize_header(header))
        if field and field not in mapping.values():
            mapping[index] = field
    return mapping


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in ("\t", ";", ",", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# Long HTML descriptions exceed the csv module's 128 KiB default; the byte cap bounds the feed anyway.
csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))


def iter_csv_items(stream: BinaryIO) -> Iterator[RawItem]:
    """Yield rows of a CSV/TSV export (`,`, `;`, tab or `|`; UTF-8 with or without BOM)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        header_line = text.readline()
        if header_line.lower().startswith("sep=") and len(header_line.strip()) == 5:
            # Excel's hint line (`sep=;`) names the delimiter; the header follows it.
            delimiter = header_line.strip()[4]
            header_line = text.readline()
        else:
            delimiter = _sniff_delimiter(header_line)
        headers = next(csv.reader([header_line], delimiter=delimiter))
        mapping = map_headers(headers)
        missing = [f for f in REQUIRED_FIELDS if f not in mapping.values()]
        if missing:
            raise ProductDataError(
                f"the CSV header has no column for {', '.join(missing)} (columns: {', '.join(h.strip() for h in headers)})",
                field=missing[0],
            )
        position = 0
        for position, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
            if not any(cell.strip() for cell in row):
                continue
            yield RawItem({field: row[index] for index, field in mapping.items() if index < len(row)}, position)
    except csv.Error as err:
        raise ProductDataError(f"the CSV cannot be read after row {position}: {err}", field="feed") from None
    except UnicodeDecodeError as err:
        raise ProductDataError(f"the feed is not UTF-8 text: {err}", field="feed") from None
    finally:
        text.detach()


# --------------------------------------------------------------------------- sources


class _CappedReader(io.RawIOBase):
    """Reads from `inner` and refuses to go past `max_bytes` (bounds gzip bombs and huge files)."""

    def __init__(self, inner: BinaryIO, max_bytes: int, label: str) -> None:
        self.inner, self.max_bytes, self.label, self.count = inner, max_bytes, label, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.max_bytes:
            raise ProductDataError(f"feed {self.label} is larger than the {self.max_bytes} byte cap", field="feed")
        buffer[: len(data)] = data
        return len(data)


def is_remote(source: str) -> bool:
    return str(source).startswith(("http://", "https://"))


@dataclass(frozen=True)
class FetchedFeed:
    """A feed's bytes on local disk plus what identifies this version of it."""

    path: Path
    base: str  # what relative links resolve against: the feed's folder or URL
    sha256: str = ""
    etag: str = ""
    last_modified: str = ""
    size_bytes: int = 0
    temporary: bool = False

    def discard(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_feed(
    source: str,
    *,
    timeout_s: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    etag: str = "",
    last_modified: str = "",
    dest_dir: str | Path | None = None,
    client: Any = None,
) -> FetchedFeed | None:
    """Bring the feed to local disk; `None` when the server says it is unchanged (304).

    A local path is used in place (hashed, not copied). A URL is streamed to a
    temporary file with a byte cap; `etag`/`last_modified` make the request
    conditional. Network failures and 5xx raise `TransientError`.
    """
    source = str(source)
    if source.startswith("file://"):
        source = urlsplit(source).path
    if not is_remote(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigError(f"feed file {source} does not exist", field="feed")
        return FetchedFeed(path=path, base=str(path.resolve().parent), sha256=file_sha256(path), size_bytes=path.stat().st_size)

    import httpx

    headers = {"Accept-Encoding": "gzip, deflate", "User-Agent": "batch-video feed reader"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_client = client is None
    client = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    fd, tmp_name = tempfile.mkstemp(prefix="feed-", suffix=".download", dir=dest_dir)
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, client.stream("GET", source, headers=headers) as response:
            if response.status_code == 304:
                tmp_path.unlink(missing_ok=True)
                return None
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientError(f"feed {source} answered HTTP {response.status_code}", field="feed")
            if response.status_code >= 400:
                raise ConfigError(f"feed {source} answered HTTP {response.status_code}", field="feed")
            digest, size = hashlib.sha256(), 0
            for chunk in response.iter_bytes():  # decoded: Content-Encoding gzip is undone here
                size += len(chunk)
                if size > max_bytes:
                    raise ProductDataError(f"feed {source} is larger than the {max_bytes} byte cap", field="feed")
                digest.update(chunk)
                out.write(chunk)
            final_url = str(response.url)
            return FetchedFeed(
                path=tmp_path,
                base=final_url,
                sha256=digest.hexdigest(),
                etag=response.headers.get("etag", ""),
                last_modified=response.headers.get("last-modified", ""),
                size_bytes=size,
                temporary=True,
            )
    except httpx.HTTPError as err:
        tmp_path.unlink(missing_ok=True)
        raise TransientError(f"could not fetch feed {source}: {type(err).__name__}: {err}", field="feed") from err
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    finally:
        if own_client:
            client.close()


def _open_decoded(path: Path, max_bytes: int) -> BinaryIO:
    raw = open(path, "rb")
    if raw.read(2) == b"\x1f\x8b":  # a .gz file (local, or served without Content-Encoding)
        raw.seek(0)
        inner: BinaryIO = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    else:
        raw.seek(0)
        inner = raw
    return io.BufferedReader(_CappedReader(inner, max_bytes, str(path)), buffer_size=1 << 16)  # type: ignore[return-value]


def sniff_format(stream: io.BufferedReader) -> str:
    """`"xml"` or `"csv"` from the first bytes (after a BOM and whitespace)."""
    head = stream.peek(4096)[:4096]
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return "xml" if text.startswith(b"<") else "csv"


def iter_feed_items(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawItem]:
    """Raw items of a local feed file (XML or CSV/TSV, optionally gzipped), streaming."""
    with _open_decoded(path, max_bytes) as stream:
        kind = sniff_format(stream)  # type: ignore[arg-type]
        if kind == "xml":
            # Merchant feeds never declare entities; refusing them up front keeps an
            # entity-expansion bomb from reaching the parser (expat's own limit is the backstop).
            if b"<!ENTITY" in stream.peek(1 << 16).upper():  # type: ignore[attr-defined]
                raise ProductDataError("the feed declares XML entities, which product feeds never need", field="feed")
            yield from iter_xml_items(stream)
        else:
            yield from iter_csv_items(stream)


def read_feed_file(
    fetched: FetchedFeed,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    default_currency: str = "RON",
    source: str | None = None,
) -> FeedReadResult:
    items = iter_feed_items(fetched.path, max_bytes=max_bytes)
    return collect(items, base=fetched.base, default_currency=default_currency, source=source or str(fetched.path))


def read_feed(
    source: str | Path,
    *,
    timeout_s: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    default_currency: str = "RON",
) -> FeedReadResult:
    """Read a Google Merchant RSS/Atom or CSV/TSV feed from a path or http(s) URL.

    Invalid items become `FeedProblem`s; a feed that cannot be read at all raises
    (`ConfigError` missing file or 4xx, `TransientError` network/5xx,
    `ProductDataError(field="feed")` malformed or over the size cap).
    """
    fetched = fetch_feed(str(source), timeout_s=timeout_s, max_bytes=max_bytes)
    assert fetched is not None  # unconditional request: never 304
    try:
        return read_feed_file(fetched, max_bytes=max_bytes, default_currency=default_currency, source=str(source))
    finally:
        fetched.discard()


# --------------------------------------------------------------------------- Supabase rows


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

"""From raw feed fields to a validated Product: cleanup, prices, links, content hash, keys."""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin

from batch_video.feed.keys import assign_partition_keys, fold_ascii
from batch_video.feed.prices import parse_price
from batch_video.models import FeedProblem, FeedReadResult, Product
from batch_video.redact import redact_url

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("id", "title", "price", "image_link")

# The longest text kept per field, in characters after HTML and whitespace cleanup: longer text is cut,
# with a warning, so a feed can't push megabytes into product.json, records or Dagster metadata.
TEXT_MAX_CHARS = {"title": 300, "brand": 150, "product_type": 500, "description": 5000, "availability": 50}
# Longer than these, a value can't be right: the product is refused, naming the field.
ID_MAX_CHARS = 200
LINK_MAX_CHARS = 2048
PRICE_MAX_CHARS = 100
# Google Merchant allows up to 10 additional images.
MAX_ADDITIONAL_IMAGES = 10

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
    """One feed item's fields as written, before validation.

    A reader that already knows the row is not a product (a draft, a variable
    product's parent row) sets `problem`: it is reported as is, not validated.
    """

    fields: Mapping[str, Any]
    position: int
    problem: FeedProblem | None = None


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


def _shown(value: Any) -> str:
    """A raw value as kept in a FeedProblem: never more than a line's worth."""
    text = "" if value is None else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def validate_fields(
    raw: Mapping[str, Any],
    *,
    position: int | None = None,
    base: str | None = None,
    default_currency: str = "RON",
    warn: Callable[[FeedProblem], None] | None = None,
) -> dict[str, Any] | list[FeedProblem]:
    """Product fields (all but key and hash) from raw feed fields, or the problems found.

    Text longer than `TEXT_MAX_CHARS` is cut and reported through `warn`.
    """
    product_id = str(raw.get("id") or "").strip()
    problems: list[FeedProblem] = []
    if len(product_id) > ID_MAX_CHARS:
        problems.append(FeedProblem(_shown(product_id), "id", _shown(product_id),
                                    f"id is longer than {ID_MAX_CHARS} characters", position))
        return problems

    def problem(field: str, value: Any, reason: str) -> None:
        problems.append(FeedProblem(product_id, field, _shown(value), reason, position))

    def text(field: str) -> str:
        value = clean_text(raw.get(field))
        limit = TEXT_MAX_CHARS[field]
        if len(value) > limit:
            if warn is not None:
                warn(FeedProblem(product_id, field, _shown(value), f"{len(value)} characters, cut to {limit}", position))
            value = value[:limit].rstrip()
        return value

    if not product_id:
        problem("id", raw.get("id"), "missing id")
    title = text("title")
    if not title:
        problem("title", raw.get("title"), "missing title")
    too_long = [name for name in ("price", "sale_price", "price_raw", "sale_price_raw", "currency")
                if len(str(raw.get(name) or "")) > PRICE_MAX_CHARS]
    for name in too_long:
        problem(name.removesuffix("_raw"), raw.get(name), f"longer than {PRICE_MAX_CHARS} characters")
    if too_long:
        return problems

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
    elif len(image_raw) > LINK_MAX_CHARS:
        problem("image_link", image_raw, f"longer than {LINK_MAX_CHARS} characters")
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
    extra = [str(link).strip() for link in extra if str(link).strip() and len(str(link).strip()) <= LINK_MAX_CHARS]
    if len(extra) > MAX_ADDITIONAL_IMAGES:
        if warn is not None:
            warn(FeedProblem(product_id, "additional_image_links", f"{len(extra)} links",
                             f"only the first {MAX_ADDITIONAL_IMAGES} are used", position))
        extra = extra[:MAX_ADDITIONAL_IMAGES]
    additional = tuple(resolve_link(link, base) for link in extra)
    link = str(raw.get("link") or "").strip()
    return {
        "id": product_id,
        "title": title,
        "price": price,
        "currency": currency,
        "image_link": image_link,
        "price_raw": price_raw,
        "description": text("description"),
        "brand": text("brand"),
        "product_type": text("product_type"),
        "sale_price": sale_price,
        "sale_price_raw": sale_raw,
        "availability": normalize_availability(text("availability")),
        "link": resolve_link(link, base) if len(link) <= LINK_MAX_CHARS else "",
        "additional_image_links": additional,
    }


def collect(items: Iterable[RawItem], *, base: str | None, default_currency: str, source: str) -> FeedReadResult:
    """Validate raw items, drop duplicate ids (first kept), assign partition keys."""
    valid: list[dict[str, Any]] = []
    problems: list[FeedProblem] = []
    warnings: list[FeedProblem] = []
    seen: set[str] = set()
    duplicates: dict[str, None] = {}
    for item in items:
        if item.problem is not None:
            problems.append(item.problem)
            continue
        product_id = str(item.fields.get("id") or "").strip()
        if product_id and product_id in seen:
            duplicates[product_id] = None
            continue
        if product_id:
            seen.add(product_id)
        fields = validate_fields(
            item.fields, position=item.position, base=base, default_currency=default_currency, warn=warnings.append
        )
        if isinstance(fields, list):
            problems.extend(fields)
        else:
            valid.append(fields)
    keys = assign_partition_keys(fields["id"] for fields in valid)
    keyed = tuple(_make_product(fields, keys[fields["id"]]) for fields in valid)
    if problems:
        logger.info("feed %s: %d valid products, %d problems", redact_url(source), len(keyed), len(problems))
    if warnings:
        logger.warning("feed %s: %d fields cut or dropped, e.g. %s", redact_url(source), len(warnings), warnings[0])
    return FeedReadResult(
        products=keyed, problems=tuple(problems), duplicates=tuple(duplicates), source=source, warnings=tuple(warnings)
    )

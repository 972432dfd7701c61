"""Shopify product exports (Products → Export → CSV for Excel or plain CSV), read as they come.

Columns (Shopify's product CSV; the newer export's names are accepted too):
`Handle` (`URL handle`), `Title`, `Body (HTML)` (`Description`), `Vendor`,
`Type`, `Product Category`, `Published`, `Status`, `Gift Card`,
`Option1..3 Name` / `Option1..3 Value`, `Variant SKU` (`SKU`), `Variant Price`
(`Price`), `Variant Compare At Price` (`Compare-at price`), `Variant Inventory
Tracker` / `Qty` / `Policy`, `Image Src` (`Product image URL`), `Image
Position`, `Variant Image` (`Variant image URL`).

- One product spans the rows that share a `Handle`: the first carries title,
  body, vendor, options and status; later rows add variants and photos.
- Each variant is a product, titled with its option values (`Tricou - Roșu / M`);
  a product whose only variant is `Default Title` is one product.
- The photos are the `Image Src` rows in `Image Position` order; a variant's
  `Variant Image`, when set, comes first.
- `Variant Compare At Price` above `Variant Price` is a sale: the compare-at
  price is the price and the variant price the sale price.
- Only `active` products are for sale (`draft` and `archived` are reported as
  skipped with the reason; so are gift cards). An export without `Status`
  (older ones) uses `Published`.
- Availability: a tracked variant with no stock is out of stock, or on backorder
  when its inventory policy is `continue`; an untracked one is in stock.

The product id is the handle (`tricou-bumbac`) for a single-variant product and
`handle/option values` (`tricou-bumbac/Roșu/M`) for a variant: both are stable
across re-exports, so the partition keys are too. The rows of one handle are
expected together, as Shopify writes them; a handle that shows up again later
is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator, Sequence

from batch_video.feed.fields import RawItem
from batch_video.feed.prices import parse_price
from batch_video.feed.tables import Columns, Table
from batch_video.models import FeedProblem

logger = logging.getLogger(__name__)

PLATFORM = "Shopify product export"

_COLUMNS = {
    "handle": ("handle", "url_handle"),
    "title": ("title",),
    "body": ("body_html", "description", "body"),
    "vendor": ("vendor",),
    "type": ("type", "product_type"),
    "category": ("product_category", "standard_product_type"),
    "published": ("published", "published_on_online_store"),
    "status": ("status",),
    "gift_card": ("gift_card",),
    "option1_value": ("option1_value",),
    "option2_value": ("option2_value",),
    "option3_value": ("option3_value",),
    "sku": ("variant_sku", "sku"),
    "price": ("variant_price", "price"),
    "compare_at": ("variant_compare_at_price", "compare_at_price"),
    "tracker": ("variant_inventory_tracker", "inventory_tracker"),
    "qty": ("variant_inventory_qty", "inventory_quantity", "variant_inventory_quantity"),
    "policy": ("variant_inventory_policy", "continue_selling_when_out_of_stock"),
    "image_src": ("image_src", "product_image_url"),
    "image_position": ("image_position",),
    "variant_image": ("variant_image", "variant_image_url"),
}
_OPTIONS = ("option1_value", "option2_value", "option3_value")
_VARIANT_ROLES = ("option1_value", "option2_value", "option3_value", "sku", "price", "compare_at")
_DEFAULT_OPTION = "default title"
_TRUE = {"true", "yes", "1", "da"}
_FALSE = {"false", "no", "0", "nu"}


def looks_like(headers: Sequence[str]) -> bool:
    """True for a header Shopify's product export wrote."""
    columns = Columns(headers, _COLUMNS)
    return "handle" in columns and bool(_SHOPIFY_ONLY & columns.normalized)


_SHOPIFY_ONLY = {"variant_price", "variant_sku", "option1_value", "body_html", "image_src", "product_image_url"}


@dataclass
class _Group:
    """The rows of one handle."""

    handle: str
    first_position: int
    rows: list[tuple[int, Sequence[str]]] = field(default_factory=list)
    stray: bool = False  # the handle showed up before, apart from these rows


class _Reader:
    def __init__(self, table: Table) -> None:
        self.columns = Columns(table.headers, _COLUMNS)
        self.tracked_column = "tracker" in self.columns

    def cell(self, cells: Sequence[str], role: str) -> str:
        return self.columns.get(cells, role)

    def first(self, group: _Group, role: str) -> str:
        """A product-level cell: the first row that has it (Shopify writes it on the handle's first row)."""
        for _, cells in group.rows:
            value = self.cell(cells, role)
            if value:
                return value
        return ""

    def items(self, group: _Group) -> Iterator[RawItem]:
        handle = group.handle
        status = self.first(group, "status")
        published = self.first(group, "published")
        skip = self.not_for_sale(status, published, self.first(group, "gift_card"))
        if skip:
            role, raw, reason = skip
            yield RawItem({"id": handle}, group.first_position, problem=FeedProblem(handle, role, raw, reason, group.first_position, kind="skipped"))
            return
        title = self.first(group, "title")
        gallery = self.gallery(group)
        variants = [(position, cells) for position, cells in group.rows if any(self.cell(cells, role) for role in _VARIANT_ROLES)]
        shared = {
            "title": title,
            "description": self.first(group, "body"),
            "brand": self.first(group, "vendor"),
            "product_type": self.first(group, "type") or self.first(group, "category"),
        }
        if not variants:
            problem = FeedProblem(handle, "price", "", "no variant row (no Variant Price, SKU or option value)", group.first_position)
            yield RawItem({"id": handle}, group.first_position, problem=problem)
            return
        single = len(variants) == 1
        for number, (position, cells) in enumerate(variants, start=1):
            values = [self.cell(cells, role) for role in _OPTIONS]
            named = [value for value in values if value and value.lower() != _DEFAULT_OPTION]
            if single and not named:
                product_id, variant_title = handle, title
            else:
                suffix = "/".join(named) or self.cell(cells, "sku") or str(number)
                product_id = f"{handle}/{suffix}"
                variant_title = f"{title} - {' / '.join(named)}" if named and title else title
            fields = {
                **shared,
                "id": product_id,
                "title": variant_title,
                "availability": self.availability(cells),
                **self.prices(cells),
                **self.photos(self.cell(cells, "variant_image"), gallery),
            }
            yield RawItem(fields, position)

    def not_for_sale(self, status: str, published: str, gift_card: str) -> tuple[str, str, str] | None:
        if "status" in self.columns:
            if status.lower() != "active":
                shown = status or "(empty)"
                return "status", status, f"Status {shown}: only active products are for sale"
        elif published.lower() in _FALSE:
            return "published", published, "not published (Published = FALSE)"
        if gift_card.lower() in _TRUE:
            return "gift_card", gift_card, "gift card, not a product to film"
        return None

    def gallery(self, group: _Group) -> list[str]:
        """`Image Src` links in `Image Position` order (rows without a position keep their place after those with one)."""
        images: list[tuple[float, int, str]] = []
        for order, (_, cells) in enumerate(group.rows):
            link = self.cell(cells, "image_src")
            if not link:
                continue
            try:
                rank = float(self.cell(cells, "image_position"))
            except ValueError:
                rank = float("inf")
            images.append((rank, order, link))
        return list(dict.fromkeys(link for _, _, link in sorted(images)))

    @staticmethod
    def photos(variant_image: str, gallery: list[str]) -> dict[str, object]:
        ordered = list(dict.fromkeys(([variant_image] if variant_image else []) + gallery))
        return {"image_link": ordered[0] if ordered else "", "additional_image_links": ordered[1:]}

    def prices(self, cells: Sequence[str]) -> dict[str, str]:
        price, compare_at = self.cell(cells, "price"), self.cell(cells, "compare_at")
        if not compare_at or not price:
            return {"price": price, "sale_price": ""}
        try:
            compare_amount, price_amount = parse_price(compare_at)[0], parse_price(price)[0]
        except ValueError:
            if _is_zero(compare_at):
                return {"price": price, "sale_price": ""}
            # An unreadable compare-at price leaves the sale state unknown: validation names it.
            return {"price": compare_at, "sale_price": price}
        if compare_amount > price_amount:
            return {"price": compare_at, "sale_price": price}
        return {"price": price, "sale_price": ""}

    def availability(self, cells: Sequence[str]) -> str:
        qty_text = self.cell(cells, "qty")
        tracked = bool(self.cell(cells, "tracker")) if self.tracked_column else bool(qty_text)
        if not tracked:
            return "in_stock"
        try:
            qty = Decimal(qty_text.replace(",", "")) if qty_text else Decimal(0)
        except ArithmeticError:
            return ""
        if qty > 0:
            return "in_stock"
        policy = self.cell(cells, "policy").lower()
        return "backorder" if policy in ("continue", *_TRUE) else "out_of_stock"


def _is_zero(text: str) -> bool:
    try:
        return Decimal(text.replace(",", ".")) == 0
    except ArithmeticError:
        return False


def iter_shopify_items(table: Table) -> Iterator[RawItem]:
    """Products of a Shopify export, one handle's rows at a time."""
    reader = _Reader(table)
    done: set[str] = set()
    group: _Group | None = None
    for position, cells in table.rows:
        if not any(str(cell).strip() for cell in cells):
            continue
        handle = reader.cell(cells, "handle")
        if group is not None and (not handle or handle == group.handle):
            group.rows.append((position, cells))  # an empty handle continues the product above
            continue
        if group is not None:
            yield from _flush(reader, group)
            done.add(group.handle)
            group = None
        if not handle:
            problem = FeedProblem("", "handle", "", "row without a Handle before any product", position)
            yield RawItem({}, position, problem=problem)
            continue
        group = _Group(handle, position, [(position, cells)], stray=handle in done)
    if group is not None:
        yield from _flush(reader, group)


def _flush(reader: _Reader, group: _Group) -> Iterator[RawItem]:
    if not group.stray:
        yield from reader.items(group)
        return
    reason = (
        f"rows {group.first_position}-{group.rows[-1][0]} repeat a handle seen earlier: "
        "keep each product's rows one after another, as Shopify exports them (sort by Handle)"
    )
    problem = FeedProblem(group.handle, "handle", group.handle, reason, group.first_position)
    yield RawItem({"id": group.handle}, group.first_position, problem=problem)

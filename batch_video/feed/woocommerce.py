"""WooCommerce product exports (Products → Export, the built-in CSV exporter), read as they come.

Columns (English, or the Romanian a `ro_RO` shop exports; the importer/exporter
schema): `ID`, `Type`, `SKU`, `Name`, `Published`, `Visibility in catalog`,
`Short description`, `Description`, `Date sale price starts/ends`, `In stock?`,
`Stock`, `Sale price`, `Regular price`, `Categories`, `Images`, `Parent`,
`External URL`, `Brands`, `Attribute N name` / `Attribute N value(s)`.

- `simple` (and `external`) products and `variation`s are products; a `variable`
  product is the parent of its variations, not a product itself, and a `grouped`
  product only lists others: both are reported as skipped.
- A variation takes what it leaves empty from its parent: photos (its own image,
  when set, comes first), description, brand, categories; its title gets the
  attribute values the exporter's `Name` lacks (`Hanorac - Roșu, M`).
- `Images` is the gallery, comma-separated, the first one the main photo.
- Not sellable, reported with the reason: `Published` other than 1 (draft -1,
  private 0, pending 2), `Visibility in catalog` = hidden, and the variations of
  such a parent.
- `In stock?` (1, 0, `backorder`) and `Stock` (a count, or `parent`) give the availability.
- A sale price counts only between `Date sale price starts` and `… ends`, when
  set (WooCommerce shows the sale in that window only).
- The exporter writes prices with the shop's decimal separator (`18`, `18.50`,
  `18,50`), newlines in descriptions as `\\n`, and a `'` before a cell that
  starts with `= + - @` (against spreadsheet formulas): all undone here.

The product id is the SKU (unique in a WooCommerce shop), else `id:<ID>`, the
form the `Parent` column uses: re-exporting the shop gives the same ids, so the
same partition keys.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterator, Sequence

from batch_video.feed.fields import RawItem
from batch_video.feed.tables import Columns, Table, numbered_columns
from batch_video.models import FeedProblem

logger = logging.getLogger(__name__)

PLATFORM = "WooCommerce product export"

_COLUMNS = {
    "wc_id": ("id",),
    "type": ("type", "tip"),
    "sku": ("sku", "cod_produs"),
    "name": ("name", "nume"),
    "published": ("published", "publicat"),
    "visibility": ("visibility_in_catalog", "vizibilitate_in_catalog", "catalog_visibility"),
    "short_description": ("short_description", "descriere_scurta"),
    "description": ("description", "descriere"),
    "sale_from": ("date_sale_price_starts", "data_incepere_promotie", "data_inceperii_promotiei"),
    "sale_to": ("date_sale_price_ends", "data_incheiere_promotie", "data_incheierii_promotiei"),
    "in_stock": ("in_stock", "in_stoc"),
    "stock": ("stock", "stoc"),
    "sale_price": ("sale_price", "pret_promotional", "pret_redus", "pret_de_vanzare"),
    "regular_price": ("regular_price", "pret_obisnuit", "pret_normal", "pret_standard", "pret_regulat"),
    "categories": ("categories", "categorii"),
    "images": ("images", "imagini"),
    "parent": ("parent", "parinte"),
    "external_url": ("external_url", "url_extern"),
    "brands": ("brands", "branduri", "brand", "marci", "marca"),
    "link": ("permalink", "link", "url", "product_url", "url_produs"),
}
_ATTRIBUTE_COLUMNS = {
    "name": r"(?:attribute_(\d+)_name|nume_atribut_(\d+))",
    "value": r"(?:attribute_(\d+)_value_?s?|valoare_valori_atribut_(\d+)|valori_atribut_(\d+))",
}
_BRAND_ATTRIBUTES = {"brand", "marca", "producator", "manufacturer", "brands"}


def looks_like(headers: Sequence[str]) -> bool:
    """True for a header the WooCommerce exporter wrote (English or Romanian)."""
    columns = Columns(headers, _COLUMNS)
    return "type" in columns and "regular_price" in columns and any(
        role in columns for role in ("parent", "visibility", "in_stock", "images", "published")
    )


_FORMULA_GUARD = re.compile(r"^'(?=[=+\-@\t\r])")
_LIST_SPLIT = re.compile(r"(?<!\\),")


def _unguard(text: str) -> str:
    """The exporter writes `'-5` for a cell starting with `-` (so spreadsheets do not run it as a formula)."""
    return _FORMULA_GUARD.sub("", text)


def split_list(text: str) -> list[str]:
    """`"a, b\\, c"` -> `["a", "b, c"]`: how the exporter joins images, categories and attribute values."""
    return [part.strip().replace("\\,", ",") for part in _LIST_SPLIT.split(text) if part.strip()]


def _description(text: str) -> str:
    # The exporter writes a newline as the two characters `\n` (and a literal `\n` as `\\n`).
    return text.replace("\\\\n", "\x00").replace("\\n", "\n").replace("\x00", "\\n")


def _published_state(raw: str) -> str:
    """`""` when published, else what it is (draft, private, pending review)."""
    value = raw.strip().lower()
    if value in ("", "1", "publish", "published", "yes", "true", "da"):
        return ""
    return {"-1": "draft", "draft": "draft", "0": "private", "private": "private", "2": "pending review", "pending": "pending review"}.get(
        value, f"status {raw.strip()!r}"
    )


def _availability(in_stock: str, stock: str) -> str:
    value = in_stock.strip().lower()
    if value in ("1", "instock", "in stock", "yes", "true", "da"):
        return "in_stock"
    if value in ("0", "outofstock", "out of stock", "no", "false", "nu"):
        return "out_of_stock"
    if value in ("backorder", "onbackorder", "on backorder"):
        return "backorder"
    if value:
        return value
    try:
        return "in_stock" if float(stock.replace(",", ".")) > 0 else "out_of_stock"
    except ValueError:
        return ""


def _sale_date(raw: str) -> date | None:
    text = raw.strip()
    if not text:
        return None
    for form in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text[:19], form).date()
        except ValueError:
            continue
    raise ValueError(f"cannot read the date {text!r}")


@dataclass(frozen=True)
class _Parent:
    """What a variation inherits from its variable product."""

    ref: str
    name: str
    description: str
    brand: str
    product_type: str
    link: str
    images: tuple[str, ...]
    not_sellable: str  # why the parent's variations are not for sale, or ""
    availability: str


class _Reader:
    def __init__(self, table: Table, today: date) -> None:
        self.columns = Columns(table.headers, _COLUMNS)
        self.attributes = [
            group for group in numbered_columns(table.headers, _ATTRIBUTE_COLUMNS).values() if "name" in group and "value" in group
        ]
        self.today = today

    def cell(self, cells: Sequence[str], role: str) -> str:
        return _unguard(self.columns.get(cells, role))

    def types(self, cells: Sequence[str]) -> set[str]:
        return {part.strip().lower() for part in self.cell(cells, "type").split(",") if part.strip()}

    def product_id(self, cells: Sequence[str]) -> str:
        sku = self.cell(cells, "sku")
        if sku:
            return sku
        wc_id = self.cell(cells, "wc_id")
        return f"id:{wc_id}" if wc_id else ""

    def refs(self, cells: Sequence[str]) -> list[str]:
        """How a `Parent` cell may name this row: its SKU or `id:<ID>`."""
        refs = [f"id:{self.cell(cells, 'wc_id')}"] if self.cell(cells, "wc_id") else []
        return refs + ([self.cell(cells, "sku")] if self.cell(cells, "sku") else [])

    def attribute_values(self, cells: Sequence[str]) -> list[tuple[str, str]]:
        found = []
        for group in self.attributes:
            name = _unguard(str(cells[group["name"]]).strip()) if group["name"] < len(cells) else ""
            value = _unguard(str(cells[group["value"]]).strip()) if group["value"] < len(cells) else ""
            if name or value:
                found.append((name, value))
        return found

    def brand(self, cells: Sequence[str]) -> str:
        brands = split_list(self.cell(cells, "brands"))
        if brands:
            return brands[0]
        for name, value in self.attribute_values(cells):
            if name.strip().lower() in _BRAND_ATTRIBUTES and value:
                return split_list(value)[0]
        return ""

    def description(self, cells: Sequence[str]) -> str:
        return _description(self.cell(cells, "description") or self.cell(cells, "short_description"))

    def not_sellable(self, cells: Sequence[str]) -> tuple[str, str, str]:
        """(field, raw value, reason) when this row is not for sale on its own account, else empty."""
        published = self.cell(cells, "published")
        state = _published_state(published)
        if state:
            return "published", published, f"not published ({state})"
        visibility = self.cell(cells, "visibility")
        if visibility.lower() == "hidden":
            return "visibility", visibility, "hidden from the shop's catalog (Visibility in catalog = hidden)"
        return "", "", ""

    def skipped(self, cells: Sequence[str], position: int, field: str, raw: str, reason: str) -> RawItem:
        product_id = self.product_id(cells)
        problem = FeedProblem(product_id, field, raw, reason, position, kind="skipped")
        return RawItem({"id": product_id}, position, problem=problem)

    def prices(self, cells: Sequence[str], product_id: str, position: int) -> tuple[dict[str, str], FeedProblem | None]:
        fields = {"price": self.cell(cells, "regular_price"), "sale_price": self.cell(cells, "sale_price")}
        if not fields["sale_price"]:
            return fields, None
        try:
            starts, ends = _sale_date(self.cell(cells, "sale_from")), _sale_date(self.cell(cells, "sale_to"))
        except ValueError as err:
            raw = f"{self.cell(cells, 'sale_from')} .. {self.cell(cells, 'sale_to')}"
            return fields, FeedProblem(product_id, "sale_price", raw, f"sale dates: {err}", position)
        if (starts and self.today < starts) or (ends and self.today > ends):
            fields["sale_price"] = ""  # the sale is scheduled or over: the shop shows the regular price today
        return fields, None

    def item(self, cells: Sequence[str], position: int, fields: dict[str, object]) -> RawItem:
        product_id = str(fields["id"])
        prices, problem = self.prices(cells, product_id, position)
        if problem is not None:
            return RawItem({"id": product_id}, position, problem=problem)
        return RawItem({**fields, **prices}, position)

    # ----------------------------------------------------------------- rows

    def simple(self, cells: Sequence[str], position: int) -> RawItem:
        images = split_list(self.cell(cells, "images"))
        return self.item(
            cells,
            position,
            {
                "id": self.product_id(cells),
                "title": self.cell(cells, "name"),
                "description": self.description(cells),
                "brand": self.brand(cells),
                "product_type": (split_list(self.cell(cells, "categories")) or [""])[0],
                "availability": _availability(self.cell(cells, "in_stock"), self.cell(cells, "stock")),
                "link": self.cell(cells, "link") or self.cell(cells, "external_url"),
                "image_link": images[0] if images else "",
                "additional_image_links": images[1:],
            },
        )

    def parent(self, cells: Sequence[str]) -> _Parent:
        field, raw, reason = self.not_sellable(cells)
        return _Parent(
            ref=self.product_id(cells),
            name=self.cell(cells, "name"),
            description=self.description(cells),
            brand=self.brand(cells),
            product_type=(split_list(self.cell(cells, "categories")) or [""])[0],
            link=self.cell(cells, "link"),
            images=tuple(split_list(self.cell(cells, "images"))),
            not_sellable=f"its parent product {self.product_id(cells)} is {reason}" if field else "",
            availability=_availability(self.cell(cells, "in_stock"), self.cell(cells, "stock")),
        )

    def variation(self, cells: Sequence[str], position: int, parent: _Parent) -> RawItem:
        if parent.not_sellable:
            return self.skipped(cells, position, "parent", parent.ref, parent.not_sellable)
        field, raw, reason = self.not_sellable(cells)
        if field:
            if raw.strip() == "0":  # a variation's `Enabled` box unchecked is exported as private
                reason = "variation disabled in the shop (Published = 0)"
            return self.skipped(cells, position, field, raw, reason)
        own_images = split_list(self.cell(cells, "images"))
        images = own_images[:1] + [link for link in parent.images if link not in own_images[:1]]
        stock = self.cell(cells, "stock")
        availability = parent.availability if stock.lower() == "parent" and not self.cell(cells, "in_stock") else _availability(
            self.cell(cells, "in_stock"), stock
        )
        return self.item(
            cells,
            position,
            {
                "id": self.product_id(cells),
                "title": self.variation_title(cells, parent),
                "description": self.description(cells) or parent.description,
                "brand": self.brand(cells) or parent.brand,
                "product_type": (split_list(self.cell(cells, "categories")) or [parent.product_type])[0],
                "availability": availability,
                "link": self.cell(cells, "link") or parent.link,
                "image_link": images[0] if images else "",
                "additional_image_links": images[1:],
            },
        )

    def variation_title(self, cells: Sequence[str], parent: _Parent) -> str:
        """`Hanorac - Roșu, M`: WooCommerce's own form; the exporter's `Name` may already be it, or only the parent's name."""
        name = self.cell(cells, "name") or parent.name
        values = [value for _, value in self.attribute_values(cells) if value]
        missing = [value for value in values if not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", name, re.IGNORECASE)]
        return f"{name} - {', '.join(missing)}" if missing and name else name

    def orphan(self, cells: Sequence[str], position: int) -> RawItem:
        """A variation whose parent is not in the export: a product only if it names itself and its photo."""
        parent_ref = self.cell(cells, "parent")
        if self.cell(cells, "name") and self.cell(cells, "images"):
            return self.variation(cells, position, _Parent(parent_ref, "", "", "", "", "", (), "", ""))
        product_id = self.product_id(cells)
        problem = FeedProblem(product_id, "parent", parent_ref, f"parent product {parent_ref or '(empty)'} is not in the export", position)
        return RawItem({"id": product_id}, position, problem=problem)


def iter_woocommerce_items(table: Table, *, today: date | None = None) -> Iterator[RawItem]:
    """Products of a WooCommerce export, streaming: only variable parents (a few fields each) are kept.

    A variation listed before its parent waits for it (the exporter lists parents first).
    """
    reader = _Reader(table, today or date.today())
    parents: dict[str, _Parent] = {}
    waiting: dict[str, list[tuple[int, Sequence[str]]]] = {}
    for position, cells in table.rows:
        if not any(str(cell).strip() for cell in cells):
            continue
        types = reader.types(cells)
        if any(kind.startswith("variable") for kind in types):
            parent = reader.parent(cells)
            yield reader.skipped(cells, position, "type", reader.cell(cells, "type"), "variable product: its variations are the products")
            for ref in reader.refs(cells):
                parents[ref] = parent
                for waiting_position, waiting_cells in waiting.pop(ref, []):
                    yield reader.variation(waiting_cells, waiting_position, parent)
            continue
        if any("variation" in kind for kind in types):
            parent_ref = reader.cell(cells, "parent")
            found = parents.get(parent_ref)
            if found is None:
                waiting.setdefault(parent_ref, []).append((position, list(cells)))
            else:
                yield reader.variation(cells, position, found)
            continue
        field, raw, reason = reader.not_sellable(cells)
        if field:
            yield reader.skipped(cells, position, field, raw, reason)
        elif "grouped" in types:
            yield reader.skipped(cells, position, "type", reader.cell(cells, "type"), "grouped product: the products it groups have rows of their own")
        else:
            yield reader.simple(cells, position)
    for rows in waiting.values():
        for position, cells in rows:
            yield reader.orphan(cells, position)

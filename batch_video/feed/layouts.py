"""Which reader a catalog table needs, told from its header: WooCommerce, Shopify, or the generic aliases.

No flag: a shop hands over its platform's export as it comes, as CSV or as a
spreadsheet, and the header says what it is.
"""

from __future__ import annotations

from datetime import date
from typing import Iterator, Sequence

from batch_video.feed import shopify, woocommerce
from batch_video.feed.exports import iter_generic_items, map_headers
from batch_video.feed.fields import REQUIRED_FIELDS, RawItem
from batch_video.feed.tables import Table

GENERIC, WOOCOMMERCE, SHOPIFY = "generic", "woocommerce", "shopify"
_LABELS = {WOOCOMMERCE: woocommerce.PLATFORM, SHOPIFY: shopify.PLATFORM, GENERIC: "catalog"}


def detect_layout(headers: Sequence[str]) -> str:
    if shopify.looks_like(headers):
        return SHOPIFY
    if woocommerce.looks_like(headers):
        return WOOCOMMERCE
    return GENERIC


def is_header(cells: Sequence[str]) -> bool:
    """True for a row that can head a catalog: a platform export's header, or one naming every required field."""
    headers = [str(cell) for cell in cells]
    if detect_layout(headers) != GENERIC:
        return True
    return set(REQUIRED_FIELDS) <= set(map_headers(headers).values())


def format_label(layout: str, container: str) -> str:
    """`"WooCommerce product export (CSV)"`, `"catalog (XLSX sheet 'Produse')"`."""
    return f"{_LABELS[layout]} ({container})"


def iter_table_items(table: Table, *, today: date | None = None) -> Iterator[RawItem]:
    layout = detect_layout(table.headers)
    if layout == WOOCOMMERCE:
        return woocommerce.iter_woocommerce_items(table, today=today)
    if layout == SHOPIFY:
        return shopify.iter_shopify_items(table)
    return iter_generic_items(table)

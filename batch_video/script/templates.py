"""Template mode: fill `settings.script_template` from the product's fields.

A sentence of the template whose field is missing is dropped whole, so speech
never says "None", "nan" or a dangling "Preț: lei".
"""

from __future__ import annotations

import re
import string
from decimal import Decimal, InvalidOperation
from typing import Mapping

from batch_video.errors import ConfigError
from batch_video.models import Product
from batch_video.money import format_amount
from batch_video.script.speech import calm_capitals, speakable_chars, strip_html, tidy
from batch_video.settings import BatchSettings

MISSING_VALUES = frozenset({"", "none", "nan", "null", "n/a", "na", "-", "undefined"})

_AVAILABILITY = {
    "ro": {"in_stock": "în stoc", "in stock": "în stoc", "out_of_stock": "stoc epuizat",
           "out of stock": "stoc epuizat", "preorder": "disponibil la precomandă", "backorder": "la comandă"},
    "en": {"in_stock": "in stock", "in stock": "in stock", "out_of_stock": "out of stock",
           "out of stock": "out of stock", "preorder": "available to preorder", "backorder": "on backorder"},
}  # fmt: skip
_PRICE_FIELD_THEN_CURRENCY = re.compile(r"(\{(?:price|old_price|sale_price)\})\s*(?:lei|ron|RON|Lei|LEI)\b")
_TEMPLATE_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def _present(value: object) -> str:
    text = "" if value is None else str(value).strip()
    return "" if text.lower() in MISSING_VALUES else text


def template_fields(product: Product, settings: BatchSettings) -> dict[str, str]:
    """The values a template may use; missing ones are empty strings."""
    language = (settings.language or "ro").split("-")[0].lower()
    title = tidy(calm_capitals(speakable_chars(strip_html(_present(product.title)))))
    brand = _present(product.brand)
    if brand and brand.casefold() in title.casefold():
        brand = ""  # "Sony WH-1000XM5. Sony." says the brand twice
    description = tidy(calm_capitals(strip_html(_present(product.description))))
    product_type = _present(product.product_type)
    if ">" in product_type:
        product_type = product_type.rsplit(">", 1)[-1].strip()
    currency = _present(product.currency) or "RON"

    def money(amount: object) -> str:
        if amount is None or _present(amount) == "":
            return ""
        try:
            return format_amount(Decimal(str(amount)), currency, language)
        except (InvalidOperation, ValueError):
            return ""

    discount = product.discount_percent
    availability = _present(product.availability).lower().replace("-", "_")
    return {
        "title": title,
        "brand": brand,
        "price": money(product.display_price if _present(product.price) else None),
        "old_price": money(product.price) if product.on_sale else "",
        "sale_price": money(product.sale_price) if product.on_sale else "",
        "discount": f"{discount}%" if discount else "",
        "discount_percent": str(discount) if discount else "",
        "currency": currency,
        "description": description,
        "product_type": product_type,
        "availability": _AVAILABILITY.get(language, _AVAILABILITY["en"]).get(availability, ""),
        "cta": _present(settings.cta_text),
    }


def render_template(template: str, fields: Mapping[str, str], *, product_id: str | None = None) -> str:
    """Fill `template`; a sentence that names an empty field is left out entirely."""
    template = _PRICE_FIELD_THEN_CURRENCY.sub(r"\1", template)
    formatter = string.Formatter()
    kept = []
    for sentence in _TEMPLATE_SENTENCE.split(template.strip()):
        try:
            names = [name for _, name, _, _ in formatter.parse(sentence) if name is not None]
        except ValueError as exc:
            raise ConfigError(f"script_template is malformed: {exc}", field="script_template") from None
        unknown = [n for n in names if n not in fields]
        if unknown:
            raise ConfigError(
                f"script_template uses unknown field(s) {', '.join(sorted(set(unknown)))}; "
                f"known: {', '.join(sorted(fields))}",
                field="script_template",
            )
        if any(not fields[name] for name in names):
            continue
        filled = sentence.format_map(fields).strip()
        # a field that opens a sentence ("{availability}.") starts with a capital
        kept.append(filled[:1].upper() + filled[1:])
    return tidy(" ".join(kept))

"""Money formatting for on-screen text (Romanian conventions by default)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CURRENCY_LABELS = {"RON": "lei", "EUR": "€", "USD": "$"}


def format_amount(amount: Decimal, currency: str = "RON", language: str = "ro") -> str:
    """`Decimal("1249.9")` -> `1.249,90 lei` (ro) or `1,249.90 RON` (other languages)."""
    quantized = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, cents = f"{quantized:.2f}".partition(".")
    negative = whole.startswith("-")
    whole = whole.lstrip("-")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    thousands, decimal_mark = (".", ",") if language == "ro" else (",", ".")
    number = ("-" if negative else "") + thousands.join(groups) + decimal_mark + cents
    label = CURRENCY_LABELS.get(currency.upper(), currency.upper()) if language == "ro" else currency.upper()
    return f"{number} {label}"

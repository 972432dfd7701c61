"""Prices as feeds write them: `249,99 RON`, `1.249,00 RON`, `1,249.99 USD`, `249 lei`, `RON 249.99`."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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


def currency_code(token: str) -> str:
    """`"lei"` -> `"RON"`, `"eur"` -> `"EUR"`, `"€"` -> `"EUR"`; `ValueError` for what is not a currency."""
    return _currency_from_token(token)


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

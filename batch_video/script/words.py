"""Numbers and money in words (Romanian and English), for a voice that reads prices and quantities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_RO_UNITS = ["zero", "unu", "doi", "trei", "patru", "cinci", "șase", "șapte", "opt", "nouă"]
_RO_TEENS = [
    "zece", "unsprezece", "doisprezece", "treisprezece", "paisprezece",
    "cincisprezece", "șaisprezece", "șaptesprezece", "optsprezece", "nouăsprezece",
]  # fmt: skip
_RO_TENS = ["", "", "douăzeci", "treizeci", "patruzeci", "cincizeci", "șaizeci", "șaptezeci", "optzeci", "nouăzeci"]


def _ro_below_100(n: int, feminine: bool) -> str:
    if n < 10:
        if feminine and n in (1, 2):
            return "una" if n == 1 else "două"
        return _RO_UNITS[n]
    if n < 20:
        return "douăsprezece" if (feminine and n == 12) else _RO_TEENS[n - 10]
    tens, units = divmod(n, 10)
    if units == 0:
        return _RO_TENS[tens]
    return f"{_RO_TENS[tens]} și {_ro_below_100(units, feminine)}"


def _ro_below_1000(n: int, feminine: bool) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds == 1:
        parts.append("o sută")
    elif hundreds == 2:
        parts.append("două sute")
    elif hundreds:
        parts.append(f"{_RO_UNITS[hundreds]} sute")
    if rest or not parts:
        parts.append(_ro_below_100(rest, feminine))
    return " ".join(parts)


def ro_needs_de(n: int) -> bool:
    """Romanian puts "de" between a number and its noun from 20 on, unless it ends in 01-19."""
    return n >= 20 and (n % 100 == 0 or n % 100 >= 20)


def _ro_scale(count: int, one: str, plural: str) -> str:
    if count == 1:
        return one
    words = ro_number_words(count, feminine=True)
    return f"{words} de {plural}" if ro_needs_de(count) else f"{words} {plural}"


def ro_number_words(n: int, *, feminine: bool = False) -> str:
    """Cardinal in Romanian words: 1249 -> "o mie două sute patruzeci și nouă"."""
    if n < 0:
        return "minus " + ro_number_words(-n, feminine=feminine)
    if n < 1000:
        return _ro_below_1000(n, feminine)
    parts = []
    billions, n = divmod(n, 1_000_000_000)
    millions, n = divmod(n, 1_000_000)
    thousands, rest = divmod(n, 1000)
    if billions:
        parts.append(_ro_scale(billions, "un miliard", "miliarde"))
    if millions:
        parts.append(_ro_scale(millions, "un milion", "milioane"))
    if thousands:
        parts.append(_ro_scale(thousands, "o mie", "mii"))
    if rest:
        parts.append(_ro_below_1000(rest, feminine))
    return " ".join(parts)


def ro_count(n: int, singular: str, plural: str, *, gender: str = "m") -> str:
    """A number with its noun: (1, leu) -> "un leu", (20, lei) -> "douăzeci de lei".

    gender: "m" masculine, "f" feminine, "n" neuter (like masculine in the
    singular, feminine in the plural: "un kilogram", "două kilograme").
    """
    if n == 1:
        return ("o " if gender == "f" else "un ") + singular
    words = ro_number_words(n, feminine=gender in ("f", "n"))
    return f"{words} de {plural}" if ro_needs_de(n) else f"{words} {plural}"


EN_SMALL = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def en_number_words(n: int) -> str:
    if n < 0:
        return "minus " + en_number_words(-n)
    if n < 20:
        return EN_SMALL[n]
    if n < 100:
        tens, units = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{EN_SMALL[units]}" if units else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{EN_SMALL[hundreds]} hundred" + (f" {en_number_words(rest)}" if rest else "")
    for scale, name in ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand")):
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{en_number_words(high)} {name}" + (f" {en_number_words(rest)}" if rest else "")
    raise AssertionError(n)


def en_count(n: int, singular: str, plural: str) -> str:
    return f"{en_number_words(n)} {singular if n == 1 else plural}"


# -- money ---------------------------------------------------------------------
@dataclass(frozen=True)
class _CurrencyWords:
    unit: tuple[str, str, str]  # singular, plural, gender (ro) / singular, plural, "" (en)
    cents: tuple[str, str, str]


_RO_CURRENCIES = {
    "RON": _CurrencyWords(("leu", "lei", "m"), ("ban", "bani", "m")),
    "EUR": _CurrencyWords(("euro", "euro", "m"), ("cent", "cenți", "m")),
    "USD": _CurrencyWords(("dolar", "dolari", "m"), ("cent", "cenți", "m")),
    "GBP": _CurrencyWords(("liră sterlină", "lire sterline", "f"), ("penny", "pence", "m")),
}
_EN_CURRENCIES = {
    "RON": _CurrencyWords(("leu", "lei", ""), ("ban", "bani", "")),
    "EUR": _CurrencyWords(("euro", "euros", ""), ("cent", "cents", "")),
    "USD": _CurrencyWords(("dollar", "dollars", ""), ("cent", "cents", "")),
    "GBP": _CurrencyWords(("pound", "pounds", ""), ("penny", "pence", "")),
}
CURRENCY_ALIASES = {
    "lei": "RON", "leu": "RON", "ron": "RON", "€": "EUR", "eur": "EUR", "euro": "EUR",
    "$": "USD", "usd": "USD", "£": "GBP", "gbp": "GBP",
}  # fmt: skip


@dataclass(frozen=True)
class _MoneyWords:
    """How a language says an amount: its currencies, its numbers, a number with its noun, and the joining words."""

    currencies: dict[str, _CurrencyWords]
    number_words: Callable[[int], str]
    count: Callable[[int, tuple[str, str, str]], str]
    point: str  # between the whole and the cents of a currency without words
    joiner: str  # between the whole units and the cents


_MONEY = {
    "ro": _MoneyWords(_RO_CURRENCIES, ro_number_words, lambda n, noun: ro_count(n, noun[0], noun[1], gender=noun[2]),
                      "virgulă", " și "),
    "en": _MoneyWords(_EN_CURRENCIES, en_number_words, lambda n, noun: en_count(n, noun[0], noun[1]), "point", " and "),
}


def say_amount(amount: Decimal, currency: str, language: str = "ro") -> str:
    """Money in words: 1249.99 RON -> "o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani"."""
    quantized = abs(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole = int(quantized)
    cents = int((quantized - whole) * 100)
    code = currency.upper()
    money = _MONEY["ro" if language == "ro" else "en"]
    words = money.currencies.get(code)
    if words is None:
        spoken = money.number_words(whole) + (f" {money.point} {money.number_words(cents)}" if cents else "")
        return f"{spoken} {' '.join(code)}"
    parts = [money.count(whole, words.unit)] if whole or not cents else []
    if cents:
        parts.append(money.count(cents, words.cents))
    return money.joiner.join(parts)


def parse_number(raw: str) -> Decimal:
    """A number written either way: "1.249,99", "1,249.99", "1249,99", "1.249" (thousands)."""
    raw = raw.strip().replace(" ", "").replace("\u00a0", "")
    if "," in raw and "." in raw:
        decimal_mark = "," if raw.rfind(",") > raw.rfind(".") else "."
    elif "," in raw or "." in raw:
        mark = "," if "," in raw else "."
        head, _, tail = raw.rpartition(mark)
        # one separator with exactly three digits after it groups thousands ("1.249 lei")
        decimal_mark = "" if (len(tail) == 3 and raw.count(mark) >= 1 and head.replace(mark, "").isdigit()
                              and all(len(g) == 3 for g in raw.split(mark)[1:])) else mark  # fmt: skip
        if raw.count(mark) > 1:
            decimal_mark = ""
    else:
        decimal_mark = ""
    if decimal_mark:
        thousands = "." if decimal_mark == "," else ","
        normalized = raw.replace(thousands, "").replace(decimal_mark, ".")
    else:
        normalized = raw.replace(",", "").replace(".", "")
    try:
        return Decimal(normalized)
    except InvalidOperation:
        raise ValueError(f"not a number: {raw!r}") from None

"""Voiceover scripts: fill a template from product fields, then make the text speakable.

Template mode renders `settings.script_template`; a sentence of the template
whose field is missing is dropped whole, so speech never says "None", "nan"
or a dangling "Preț: lei". The text is then normalized for speech in the
feed's language (prices as lei and bani, percentages, units and common
abbreviations in words, HTML stripped) and trimmed at a sentence boundary to
fit the longest allowed video.

An AI mode may write the text instead (`script_mode="ai"`): writers register
by name (`register_ai_writer`); the built-in `openai` one calls any
OpenAI-compatible chat-completions server. It needs `BATCH_VIDEO_AI_API_KEY`
and fails with a ConfigError without it; nothing else depends on it, and its
text goes through the same normalization and trimming.
"""

from __future__ import annotations

import html
import logging
import os
import re
import string
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Callable, Mapping

import httpx

from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.models import Product
from batch_video.money import format_amount
from batch_video.settings import BatchSettings

logger = logging.getLogger(__name__)

CHARS_PER_SECOND = 13.5  # measured: espeak-ng ro says 13-15 characters a second at +0%; slower errs on the safe side
SENTENCE_PAUSE_S = 0.35
MISSING_VALUES = frozenset({"", "none", "nan", "null", "n/a", "na", "-", "undefined"})

# --------------------------------------------------------------------------
# numbers in words
# --------------------------------------------------------------------------
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


_EN_SMALL = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def en_number_words(n: int) -> str:
    if n < 0:
        return "minus " + en_number_words(-n)
    if n < 20:
        return _EN_SMALL[n]
    if n < 100:
        tens, units = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_SMALL[units]}" if units else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_SMALL[hundreds]} hundred" + (f" {en_number_words(rest)}" if rest else "")
    for scale, name in ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand")):
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{en_number_words(high)} {name}" + (f" {en_number_words(rest)}" if rest else "")
    raise AssertionError(n)


def en_count(n: int, singular: str, plural: str) -> str:
    return f"{en_number_words(n)} {singular if n == 1 else plural}"


# --------------------------------------------------------------------------
# money
# --------------------------------------------------------------------------
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
_CURRENCY_ALIASES = {
    "lei": "RON", "leu": "RON", "ron": "RON", "€": "EUR", "eur": "EUR", "euro": "EUR",
    "$": "USD", "usd": "USD", "£": "GBP", "gbp": "GBP",
}  # fmt: skip


def say_amount(amount: Decimal, currency: str, language: str = "ro") -> str:
    """Money in words: 1249.99 RON -> "o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani"."""
    quantized = abs(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole = int(quantized)
    cents = int((quantized - whole) * 100)
    code = currency.upper()
    if language == "ro":
        words = _RO_CURRENCIES.get(code)
        if words is None:
            spoken = ro_number_words(whole) + (f" virgulă {ro_number_words(cents)}" if cents else "")
            return f"{spoken} {' '.join(code)}"
        parts = []
        if whole or not cents:
            singular, plural, gender = words.unit
            parts.append(ro_count(whole, singular, plural, gender=gender) if whole else f"zero {plural}")
        if cents:
            parts.append(ro_count(cents, words.cents[0], words.cents[1], gender=words.cents[2]))
        return " și ".join(parts)
    words = _EN_CURRENCIES.get(code)
    if words is None:
        spoken = en_number_words(whole) + (f" point {en_number_words(cents)}" if cents else "")
        return f"{spoken} {' '.join(code)}"
    parts = []
    if whole or not cents:
        parts.append(en_count(whole, words.unit[0], words.unit[1]))
    if cents:
        parts.append(en_count(cents, words.cents[0], words.cents[1]))
    return " and ".join(parts)


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


# --------------------------------------------------------------------------
# text normalization for speech
# --------------------------------------------------------------------------
_NUMBER = r"\d{1,3}(?:[.,\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CURRENCY_AFTER = r"lei|leu|ron|eur|euro|€|usd|\$|gbp|£"
_PRICE_AFTER = re.compile(rf"(?<![\w.,])({_NUMBER})\s?({_CURRENCY_AFTER})(?![\w])", re.IGNORECASE)
_PRICE_BEFORE = re.compile(rf"(€|\$|£)\s?({_NUMBER})(?![\w])")
_PERCENT = re.compile(rf"[-−]?({_NUMBER})\s?%")
_DIMENSIONS = re.compile(r"(\d+(?:[.,]\d+)?)\s?[x×]\s?(?=\d)")

# unit: (ro singular, ro plural, gender, en singular, en plural)
_UNITS: dict[str, tuple[str, str, str, str, str]] = {
    "kg": ("kilogram", "kilograme", "n", "kilogram", "kilograms"),
    "g": ("gram", "grame", "n", "gram", "grams"),
    "mg": ("miligram", "miligrame", "n", "milligram", "milligrams"),
    "l": ("litru", "litri", "m", "liter", "liters"),
    "ml": ("mililitru", "mililitri", "m", "milliliter", "milliliters"),
    "cl": ("centilitru", "centilitri", "m", "centiliter", "centiliters"),
    "m": ("metru", "metri", "m", "meter", "meters"),
    "cm": ("centimetru", "centimetri", "m", "centimeter", "centimeters"),
    "mm": ("milimetru", "milimetri", "m", "millimeter", "millimeters"),
    "km": ("kilometru", "kilometri", "m", "kilometer", "kilometers"),
    "w": ("watt", "wați", "m", "watt", "watts"),
    "kw": ("kilowatt", "kilowați", "m", "kilowatt", "kilowatts"),
    "v": ("volt", "volți", "m", "volt", "volts"),
    "mah": ("miliamper oră", "miliamperi oră", "m", "milliamp hour", "milliamp hours"),
    "gb": ("gigabait", "gigabaiți", "m", "gigabyte", "gigabytes"),
    "tb": ("terabait", "terabaiți", "m", "terabyte", "terabytes"),
    "mb": ("megabait", "megabaiți", "m", "megabyte", "megabytes"),
    "hz": ("herț", "herți", "m", "hertz", "hertz"),
    "ghz": ("gigaherț", "gigaherți", "m", "gigahertz", "gigahertz"),
    "buc": ("bucată", "bucăți", "f", "piece", "pieces"),
    "pcs": ("bucată", "bucăți", "f", "piece", "pieces"),
    "km/h": ("kilometru pe oră", "kilometri pe oră", "m", "kilometer per hour", "kilometers per hour"),
    "ore": ("oră", "ore", "f", "hour", "hours"),
    "h": ("oră", "ore", "f", "hour", "hours"),
    "min": ("minut", "minute", "n", "minute", "minutes"),
    "m²": ("metru pătrat", "metri pătrați", "m", "square meter", "square meters"),
    "mp": ("metru pătrat", "metri pătrați", "m", "square meter", "square meters"),
    "m2": ("metru pătrat", "metri pătrați", "m", "square meter", "square meters"),
    "m³": ("metru cub", "metri cubi", "m", "cubic meter", "cubic meters"),
    "°c": ("grad Celsius", "grade Celsius", "n", "degree Celsius", "degrees Celsius"),
    "°": ("grad", "grade", "n", "degree", "degrees"),
}
# Case matters for short symbols: "5G" and "4K" are not grams or kelvins, "500g" and "65W" are units.
_CASE_SENSITIVE_UNITS = {"g": ("g",), "l": ("l", "L"), "m": ("m",), "h": ("h",), "w": ("W",), "v": ("V",)}
_UNIT_PATTERN = (
    "(?i:" + "|".join(re.escape(u) for u in sorted(set(_UNITS) - set(_CASE_SENSITIVE_UNITS), key=len, reverse=True))
    + ")|" + "|".join(spelling for spellings in _CASE_SENSITIVE_UNITS.values() for spelling in spellings)
)  # fmt: skip
_UNIT_AFTER_NUMBER = re.compile(rf"(?<![\w.,])(\d+(?:[.,]\d+)?)\s?({_UNIT_PATTERN})(?![\w])")
_RO_ABBREVIATIONS = [
    (r"\bnr\.\s?", "numărul "), (r"\bex\.\s?", "de exemplu "), (r"\betc\.", "etcetera."),
    (r"\bcca\.?\s", "circa "), (r"\baprox\.\s?", "aproximativ "), (r"\bdim\.\s?", "dimensiuni "),
    (r"\bmax\.\s?", "maxim "), (r"\bmin\.\s?", "minim "), (r"\bincl\.\s?", "inclusiv "),
    (r"\bbuc\.", "bucăți"), (r"\bkm/h\b", "kilometri pe oră"), (r"\s&\s", " și "), (r"\s\+\s", " plus "),
    (r"\bpt\.?\s", "pentru "), (r"\bstr\.\s?", "strada "), (r"\btel\.\s?", "telefon "),
]  # fmt: skip
_EN_ABBREVIATIONS = [
    (r"\bno\.\s?(?=\d)", "number "), (r"\be\.g\.\s?", "for example "), (r"\betc\.", "et cetera."),
    (r"\bapprox\.\s?", "approximately "), (r"\bpcs\.?\b", "pieces"), (r"\bkm/h\b", "kilometers per hour"),
    (r"\s&\s", " and "), (r"\s\+\s", " plus "),
]  # fmt: skip
_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})
_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/li|/h\d|/div|/tr|li|p)\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_URLS = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)


def strip_html(raw: str) -> str:
    """Plain text from an HTML description: tags out, entities decoded, blocks become sentences."""
    text = _SCRIPT_STYLE.sub(" ", raw)
    text = _BLOCK_TAGS.sub(". ", text)
    text = _TAGS.sub(" ", text)
    text = html.unescape(html.unescape(text))  # feeds often double-escape (&amp;amp;)
    text = _URLS.sub(" ", text)
    return _tidy(text)


def _speakable_chars(text: str) -> str:
    out = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category.startswith("C") and char not in "\n\t":
            continue
        if char == "|":  # "Căști | Negru | Bluetooth": a list separator
            out.append(", ")
            continue
        if (category == "So" and char != "°") or char in "•●▪■□◆★☆✓✔✅❌➤►_~^*#":  # symbols and bullets
            out.append(" " if char not in "•●▪■►➤" else ". ")
            continue
        out.append(char)
    return "".join(out)


_SHORT_WORDS = frozenset(
    "cu și de la în pe din un o al ale sau ce pt cel cea fie mai nou nouă for and or the with of in on to new".split()
)


def _calm_capitals(text: str) -> str:
    """Shouted feed text ("CĂȘTI WIRELESS CU ANC") in sentence case; short acronyms stay.

    Engines spell out some all-capital words letter by letter.
    """
    letters = [c for c in text if c.isalpha()]
    if len(text.split()) < 3 or not letters or sum(c.isupper() for c in letters) < 0.7 * len(letters):
        return text

    def word(match: re.Match[str]) -> str:
        token = match.group(0)
        if len(token) <= 4 and token.lower() not in _SHORT_WORDS:
            return token  # LED, ANC, USB, HDMI
        return token.lower()

    calmed = re.sub(r"[^\W\d_]+", word, text)
    return re.sub(r"(^|[.!?]\s+)([a-zăâîșț])", lambda m: m.group(1) + m.group(2).upper(), calmed)


def _tidy(text: str) -> str:
    """Collapse spaces and repair punctuation left behind by removed pieces."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?…])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]\s*([.!?])", r"\1", text)
    text = re.sub(r"([.!?])(?:\s*\.)+", r"\1", text)
    text = re.sub(r"^[\s.,;:!?]+", "", text)
    text = re.sub(r"([.,;:!?])(?=[^\s\d.,;:!?…\"”»)])", r"\1 ", text)
    return text.strip()


def _decimal_words(raw: str, language: str, *, feminine: bool = False) -> str:
    value = parse_number(raw)
    whole = int(value)
    fraction = value - whole
    words = ro_number_words(whole, feminine=feminine) if language == "ro" else en_number_words(whole)
    if fraction:
        digits = format(fraction, "f").split(".")[1].rstrip("0")
        tail = ro_number_words(int(digits)) if language == "ro" else " ".join(_EN_SMALL[int(d)] for d in digits)
        words += (" virgulă " if language == "ro" else " point ") + tail
    return words


def normalize_for_speech(text: str, language: str = "ro", *, default_currency: str = "RON") -> str:
    """Text an engine reads naturally: prices, percentages and units in words, symbols out."""
    language = (language or "ro").split("-")[0].lower()
    text = _speakable_chars(strip_html(text) if "<" in text or "&" in text else text)
    text = text.translate(_CEDILLA_TO_COMMA)

    def price_after(match: re.Match[str]) -> str:
        currency = _CURRENCY_ALIASES[match.group(2).lower()]
        return say_amount(parse_number(match.group(1)), currency, language)

    def price_before(match: re.Match[str]) -> str:
        return say_amount(parse_number(match.group(2)), _CURRENCY_ALIASES[match.group(1)], language)

    def percent(match: re.Match[str]) -> str:
        spoken = _decimal_words(match.group(1), language)
        return f"{spoken} la sută" if language == "ro" else f"{spoken} percent"

    def unit(match: re.Match[str]) -> str:
        number, symbol = match.group(1), match.group(2)
        # a lone "m"/"h"/"l"/"g" after a number is only a unit when the number is small and plain
        singular, plural, gender, en_one, en_many = _UNITS[symbol.lower()]
        value = parse_number(number)
        if value == int(value):
            count = int(value)
            if language == "ro":
                return ro_count(count, singular, plural, gender=gender)
            return en_count(count, en_one, en_many)
        spoken = _decimal_words(number, language, feminine=gender in ("f", "n"))
        return f"{spoken} {plural if language == 'ro' else en_many}"

    text = _PRICE_AFTER.sub(price_after, text)
    text = _PRICE_BEFORE.sub(price_before, text)
    text = _PERCENT.sub(percent, text)
    by = "pe" if language == "ro" else "by"
    text = _DIMENSIONS.sub(lambda m: f"{_decimal_words(m.group(1), language)} {by} ", text)
    text = _UNIT_AFTER_NUMBER.sub(unit, text)
    for pattern, replacement in _RO_ABBREVIATIONS if language == "ro" else _EN_ABBREVIATIONS:
        text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    # "negru/alb" is a choice; digits around a slash ("1/2") are left to the engine
    text = re.sub(r"(?<=[^\W\d_])/(?=[^\W\d_])", " sau " if language == "ro" else " or ", text)
    return _tidy(text)


# --------------------------------------------------------------------------
# length
# --------------------------------------------------------------------------
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+")


def estimate_speech_seconds(text: str, *, rate_factor: float = 1.0) -> float:
    """Rough speaking time: characters at CHARS_PER_SECOND plus a pause per sentence."""
    sentences = [s for s in _SENTENCE_SPLIT.split(text.strip()) if s]
    speaking = len(text) / (CHARS_PER_SECOND * max(rate_factor, 0.1))
    return speaking + SENTENCE_PAUSE_S * max(len(sentences) - 1, 0)


def trim_to_duration(text: str, max_seconds: float, *, rate_factor: float = 1.0) -> str:
    """Keep whole sentences while they fit in `max_seconds`; never cut mid-sentence unless one
    sentence alone is too long, and then cut at a comma or word and close with a period."""
    if estimate_speech_seconds(text, rate_factor=rate_factor) <= max_seconds:
        return text
    kept: list[str] = []
    for sentence in (s for s in _SENTENCE_SPLIT.split(text.strip()) if s):
        candidate = " ".join(kept + [sentence])
        if estimate_speech_seconds(candidate, rate_factor=rate_factor) > max_seconds:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    first = _SENTENCE_SPLIT.split(text.strip())[0]
    budget = int(max_seconds * CHARS_PER_SECOND * max(rate_factor, 0.1))
    head = first[:budget]
    comma = head.rfind(",")
    cut = head[:comma] if comma >= budget // 2 else head.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "."


# --------------------------------------------------------------------------
# template mode
# --------------------------------------------------------------------------
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
    title = _tidy(_calm_capitals(_speakable_chars(strip_html(_present(product.title)))))
    brand = _present(product.brand)
    if brand and brand.casefold() in title.casefold():
        brand = ""  # "Sony WH-1000XM5. Sony." says the brand twice
    description = _tidy(_calm_capitals(strip_html(_present(product.description))))
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
    return _tidy(" ".join(kept))


# --------------------------------------------------------------------------
# AI mode (optional, pluggable)
# --------------------------------------------------------------------------
AI_PROVIDER_ENV = "BATCH_VIDEO_AI_SCRIPT_PROVIDER"  # which registered writer; default "openai"
AI_KEY_ENV = "BATCH_VIDEO_AI_API_KEY"
AI_BASE_URL_ENV = "BATCH_VIDEO_AI_BASE_URL"  # any OpenAI-compatible chat-completions endpoint
AI_MODEL_ENV = "BATCH_VIDEO_AI_MODEL"
DEFAULT_AI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_AI_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class AIScriptRequest:
    product: Product
    settings: BatchSettings
    api_key: str
    language: str
    max_seconds: float
    environ: Mapping[str, str]


AIScriptWriter = Callable[[AIScriptRequest], str]
_AI_WRITERS: dict[str, AIScriptWriter] = {}


def register_ai_writer(name: str, writer: AIScriptWriter) -> None:
    """Make an AI script writer available as `BATCH_VIDEO_AI_SCRIPT_PROVIDER=name`."""
    _AI_WRITERS[name] = writer


def _ai_prompt(request: AIScriptRequest) -> str:
    fields = template_fields(request.product, request.settings)
    facts = "\n".join(f"- {name}: {value}" for name, value in fields.items() if value and name != "cta")
    words = int(request.max_seconds * CHARS_PER_SECOND / 6)
    language = {"ro": "Romanian", "en": "English"}.get(request.language, request.language)
    return (
        f"Write the voiceover for a short vertical product video, in {language}. "
        f"At most {words} words, 2 to 4 short sentences, friendly and concrete, ending with: "
        f"{fields['cta'] or 'a call to action'}. Use only these facts; do not invent features or prices. "
        f"Plain text only, no emojis, no hashtags, no quotes.\n{facts}"
    )


def openai_compatible_writer(request: AIScriptRequest, *, timeout_s: float = 30.0) -> str:
    """Chat-completions call to OpenAI or any compatible server (`BATCH_VIDEO_AI_BASE_URL`)."""
    base_url = request.environ.get(AI_BASE_URL_ENV, "").strip() or DEFAULT_AI_BASE_URL
    model = request.environ.get(AI_MODEL_ENV, "").strip() or DEFAULT_AI_MODEL
    where = dict(product_id=request.product.id, field="script_mode", stage="script")
    try:
        response = httpx.post(
            base_url.rstrip("/") + "/chat/completions",
            headers={"Authorization": f"Bearer {request.api_key}"},
            json={"model": model, "temperature": 0.7,
                  "messages": [{"role": "user", "content": _ai_prompt(request)}]},
            timeout=timeout_s,
        )  # fmt: skip
    except httpx.HTTPError as exc:
        raise TransientError(f"AI script service unreachable ({type(exc).__name__}: {exc})", **where) from exc
    if response.status_code in (401, 403):
        raise ConfigError(f"AI script service refused the API key (HTTP {response.status_code})", **where)
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(f"AI script service busy or failing (HTTP {response.status_code})", **where)
    if response.status_code != 200:
        raise ConfigError(f"AI script request rejected (HTTP {response.status_code}): {response.text[:300]}", **where)
    try:
        text = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TransientError(f"AI script service sent an unexpected answer ({exc})", **where) from None
    if not isinstance(text, str) or not text.strip():
        raise TransientError("AI script service sent an empty script", **where)
    return text.strip().strip('"“”')


register_ai_writer("openai", openai_compatible_writer)


def _ai_script(product: Product, settings: BatchSettings, environ: Mapping[str, str]) -> str:
    api_key = environ.get(AI_KEY_ENV, "").strip()
    if not api_key:
        raise ConfigError(
            f"script_mode 'ai' needs an API key: set {AI_KEY_ENV} (or use script_mode 'template')",
            field="script_mode", product_id=product.id, stage="script",
        )  # fmt: skip
    name = environ.get(AI_PROVIDER_ENV, "").strip() or "openai"
    writer = _AI_WRITERS.get(name)
    if writer is None:
        raise ConfigError(
            f"{AI_PROVIDER_ENV}={name!r} names no AI script writer (known: {', '.join(sorted(_AI_WRITERS))})",
            field="script_mode", product_id=product.id, stage="script",
        )  # fmt: skip
    language = (settings.language or "ro").split("-")[0].lower()
    return writer(AIScriptRequest(product, settings, api_key, language, max_script_seconds(settings), environ))


# --------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------
def max_script_seconds(settings: BatchSettings) -> float:
    """Speech must leave room for the tail within the longest allowed video."""
    return max(settings.duration_max_s - settings.tail_s, 1.0)


def _rate_factor(settings: BatchSettings) -> float:
    match = re.match(r"^([+-]\d{1,3})%$", settings.tts_rate.strip())
    return 1.0 + int(match.group(1)) / 100.0 if match else 1.0


def build_script(product: Product, settings: BatchSettings, *, environ: Mapping[str, str] | None = None) -> str:
    """The text to speak for `product`, normalized for speech and trimmed to fit."""
    language = (settings.language or "ro").split("-")[0].lower()
    mode = settings.script_mode.strip().lower()
    if mode == "template":
        raw = render_template(settings.script_template, template_fields(product, settings), product_id=product.id)
    elif mode == "ai":
        raw = _ai_script(product, settings, os.environ if environ is None else environ)
    else:
        raise ConfigError(
            f"unknown script_mode {settings.script_mode!r} (template or ai)",
            field="script_mode", product_id=product.id, stage="script",
        )  # fmt: skip
    spoken = normalize_for_speech(raw, language, default_currency=product.currency or "RON")
    if not spoken:
        raise ProductDataError(
            "nothing to say: every field the script template uses is empty",
            product_id=product.id, field="title", stage="script",
        )  # fmt: skip
    trimmed = trim_to_duration(spoken, max_script_seconds(settings), rate_factor=_rate_factor(settings))
    if trimmed != spoken:
        logger.info("product %s: script trimmed from %d to %d characters to fit", product.id, len(spoken), len(trimmed))
    return trimmed

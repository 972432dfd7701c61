"""Text made speakable: prices as lei and bani, percentages, units and abbreviations in words, HTML stripped,
and trimmed at a sentence boundary to fit the longest allowed video."""

from __future__ import annotations

import html
import re
import unicodedata

from batch_video.script.words import (
    CURRENCY_ALIASES,
    EN_SMALL,
    en_count,
    en_number_words,
    parse_number,
    ro_count,
    ro_number_words,
    say_amount,
)
from batch_video.settings import BatchSettings

CHARS_PER_SECOND = 13.5  # measured: espeak-ng ro says 13-15 characters a second at +0%; slower errs on the safe side
SENTENCE_PAUSE_S = 0.35

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
    return tidy(text)


def speakable_chars(text: str) -> str:
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


def calm_capitals(text: str) -> str:
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


def tidy(text: str) -> str:
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
        tail = ro_number_words(int(digits)) if language == "ro" else " ".join(EN_SMALL[int(d)] for d in digits)
        words += (" virgulă " if language == "ro" else " point ") + tail
    return words


def normalize_for_speech(text: str, language: str = "ro", *, default_currency: str = "RON") -> str:
    """Text an engine reads naturally: prices, percentages and units in words, symbols out."""
    language = (language or "ro").split("-")[0].lower()
    text = speakable_chars(strip_html(text) if "<" in text or "&" in text else text)
    text = text.translate(_CEDILLA_TO_COMMA)

    def price_after(match: re.Match[str]) -> str:
        currency = CURRENCY_ALIASES[match.group(2).lower()]
        return say_amount(parse_number(match.group(1)), currency, language)

    def price_before(match: re.Match[str]) -> str:
        return say_amount(parse_number(match.group(2)), CURRENCY_ALIASES[match.group(1)], language)

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
    return tidy(text)


# -- length --------------------------------------------------------------------
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


def max_script_seconds(settings: BatchSettings) -> float:
    """Speech must leave room for the tail within the longest allowed video."""
    return max(settings.duration_max_s - settings.tail_s, 1.0)

from decimal import Decimal

import pytest

from batch_video.money import format_amount


@pytest.mark.parametrize(
    "amount, currency, language, expected",
    [
        ("249.99", "RON", "ro", "249,99 lei"),
        ("1249", "RON", "ro", "1.249,00 lei"),
        ("1234567.5", "RON", "ro", "1.234.567,50 lei"),
        ("0.5", "EUR", "ro", "0,50 €"),
        ("1249.99", "USD", "en", "1,249.99 USD"),
        ("19.995", "RON", "ro", "20,00 lei"),
    ],
)
def test_format_amount(amount, currency, language, expected):
    assert format_amount(Decimal(amount), currency, language) == expected

"""Scripts: template filling, missing fields, speech normalization, trimming, AI mode."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.models import Product
from batch_video.script import (
    build_script,
    estimate_speech_seconds,
    normalize_for_speech,
    parse_number,
    register_ai_writer,
    render_template,
    ro_count,
    ro_number_words,
    say_amount,
    strip_html,
    template_fields,
    trim_to_duration,
)
from batch_video.settings import BatchSettings


def product(**overrides) -> Product:
    fields = dict(
        id="SKU-1", key="sku-1", title="Căști wireless WH-1000XM5", price=Decimal("1249.99"), currency="RON",
        image_link="/tmp/x.jpg", brand="Sony",
    )  # fmt: skip
    fields.update(overrides)
    return Product(**fields)


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"), (1, "unu"), (2, "doi"), (10, "zece"), (11, "unsprezece"), (12, "doisprezece"),
        (14, "paisprezece"), (16, "șaisprezece"), (20, "douăzeci"), (21, "douăzeci și unu"),
        (99, "nouăzeci și nouă"), (100, "o sută"), (101, "o sută unu"), (200, "două sute"),
        (345, "trei sute patruzeci și cinci"), (1000, "o mie"), (1249, "o mie două sute patruzeci și nouă"),
        (2000, "două mii"), (12_000, "douăsprezece mii"), (21_000, "douăzeci și una de mii"),
        (100_000, "o sută de mii"), (1_000_000, "un milion"), (2_500_000, "două milioane cinci sute de mii"),
    ],
)  # fmt: skip
def test_romanian_number_words(number, words):
    assert ro_number_words(number) == words


def test_romanian_counts_agree_with_the_noun():
    assert ro_count(1, "leu", "lei") == "un leu"
    assert ro_count(2, "leu", "lei") == "doi lei"
    assert ro_count(19, "leu", "lei") == "nouăsprezece lei"
    assert ro_count(20, "leu", "lei") == "douăzeci de lei"
    assert ro_count(101, "leu", "lei") == "o sută unu lei"
    assert ro_count(120, "leu", "lei") == "o sută douăzeci de lei"
    assert ro_count(2, "bucată", "bucăți", gender="f") == "două bucăți"
    assert ro_count(1, "bucată", "bucăți", gender="f") == "o bucată"
    assert ro_count(22, "kilogram", "kilograme", gender="n") == "douăzeci și două de kilograme"


def test_prices_are_read_as_lei_and_bani():
    assert say_amount(Decimal("1249.99"), "RON") == (
        "o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani"
    )
    assert say_amount(Decimal("1"), "RON") == "un leu"
    assert say_amount(Decimal("0.5"), "RON") == "cincizeci de bani"
    assert say_amount(Decimal("19.01"), "EUR") == "nouăsprezece euro și un cent"
    assert say_amount(Decimal("1249.99"), "USD", "en") == "one thousand two hundred forty-nine dollars and ninety-nine cents"


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1.249,99", "1249.99"), ("1,249.99", "1249.99"), ("1249,99", "1249.99"), ("1249.9", "1249.9"),
     ("1.249", "1249"), ("49", "49"), ("2.499.000", "2499000"), ("0,50", "0.50")],
)  # fmt: skip
def test_numbers_written_either_way(raw, value):
    assert parse_number(raw) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Preț: 1.249,99 lei", "Preț: o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani"),
        ("Doar 49 RON!", "Doar patruzeci și nouă de lei!"),
        ("La 19,90 €", "La nouăsprezece euro și nouăzeci de cenți"),
        ("Acum €5", "Acum cinci euro"),
        ("Reducere -20%!", "Reducere douăzeci la sută!"),
        ("Greutate 2,5 kg.", "Greutate două virgulă cinci kilograme."),
        ("Dimensiuni 30x40 cm.", "Dimensiuni treizeci pe patruzeci de centimetri."),
        ("Set 3 buc. Baterie 5000 mAh.", "Set trei bucăți. Baterie cinci mii de miliamperi oră."),
        ("Viteza max. 25 km/h, aprox. 2 ore", "Viteza maxim douăzeci și cinci de kilometri pe oră, aproximativ două ore"),
        ("Cafea & ceai", "Cafea și ceai"),
        ("Pachet 500g, 65W, 12V, 8GB, 16 Gb", "Pachet cinci sute de grame, șaizeci și cinci de wați, doisprezece volți, "
                                              "opt gigabaiți, șaisprezece gigabaiți"),
        ("Telefon 5G, ecran 4K, 2 KG", "Telefon 5G, ecran 4K, două kilograme"),
        ("Husă negru/alb | 1/2 preț", "Husă negru sau alb, 1/2 preț"),
        ("Covor 6 m², pt. living, spălare la 30°C", "Covor șase metri pătrați, pentru living, spălare la treizeci de grade Celsius"),
        ("Ulei de măsline 1 l", "Ulei de măsline un litru"),
        ("Ţesătură de bumbac, cusături fine", "Țesătură de bumbac, cusături fine"),
        ("Căşti ★★★★★ • Bluetooth 5.3", "Căști. Bluetooth 5.3"),
    ],
)  # fmt: skip
def test_romanian_normalization(text, spoken):
    assert normalize_for_speech(text, "ro") == spoken


def test_english_normalization():
    assert normalize_for_speech("Only $19.99, 20% off, 2 kg & 3 pcs", "en") == (
        "Only nineteen dollars and ninety-nine cents, twenty percent off, two kilograms and three pieces"
    )


def test_html_and_entities_are_stripped():
    raw = "<p>Căști <b>premium</b> &amp; confortabile</p><ul><li>ANC&nbsp;activ</li><li>30 ore</li></ul>" \
          "<script>alert(1)</script>Vezi https://shop.example/x"  # fmt: skip
    assert strip_html(raw) == "Căști premium & confortabile. ANC activ. 30 ore. Vezi"
    assert normalize_for_speech("Lapte &amp;amp; miere", "ro") == "Lapte și miere"


def test_default_template_speaks_title_and_price_without_repeating_the_brand():
    assert build_script(product(), BatchSettings()) == (
        "Căști wireless WH-1000XM5. Sony. Preț: o mie două sute patruzeci și nouă de lei și "
        "nouăzeci și nouă de bani."
    )
    # the brand already in the title is not said twice
    text = build_script(product(title="Sony WH-1000XM5"), BatchSettings())
    assert text.startswith("Sony WH-1000XM5. Preț:")


@pytest.mark.parametrize("missing", ["", "None", "nan", "NaN", "null", " n/a "])
def test_missing_fields_drop_out_cleanly(missing):
    text = build_script(product(brand=missing, description=missing), BatchSettings(
        script_template="{title}. De la {brand}. {description}. Preț: {price} lei. {cta}"))
    assert text == (
        "Căști wireless WH-1000XM5. Preț: o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani. "
        "Comandă acum!"
    )
    assert "None" not in text and "nan" not in text.lower().split()


def test_sale_fields_only_when_on_sale():
    template = "{title}. Reducere {discount}! Acum {price}, în loc de {old_price}."
    on_sale = build_script(product(sale_price=Decimal("999")), BatchSettings(script_template=template))
    assert on_sale == (
        "Căști wireless WH-1000XM5. Reducere douăzeci la sută! Acum nouă sute nouăzeci și nouă de lei, "
        "în loc de o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani."
    )
    assert build_script(product(), BatchSettings(script_template=template)) == "Căști wireless WH-1000XM5."


def test_price_in_another_currency_keeps_its_own_currency_words():
    text = build_script(product(price=Decimal("49.9"), currency="EUR"), BatchSettings())
    assert text.endswith("Preț: patruzeci și nouă de euro și nouăzeci de cenți.")


def test_shouted_titles_are_calmed_but_acronyms_stay():
    text = build_script(product(title="CĂȘTI WIRELESS CU ANC ȘI LED"), BatchSettings(script_template="{title}."))
    assert text == "Căști wireless cu ANC și LED."
    # normal capitalization is left alone
    assert build_script(product(title="Căști JBL Tune"), BatchSettings(script_template="{title}.")) == "Căști JBL Tune."


def test_a_field_opening_a_sentence_is_capitalized():
    text = build_script(product(availability="in stock"), BatchSettings(script_template="{title}. {availability}."))
    assert text == "Căști wireless WH-1000XM5. În stoc."


def test_template_fields_availability_and_category():
    fields = template_fields(product(availability="in_stock", product_type="Electronice > Audio > Căști"), BatchSettings())
    assert fields["availability"] == "în stoc" and fields["product_type"] == "Căști"


def test_unknown_template_field_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        render_template("{title}. {colour}.", {"title": "x"})
    assert caught.value.field == "script_template" and "colour" in str(caught.value)


def test_a_product_with_nothing_to_say_is_a_product_data_error():
    with pytest.raises(ProductDataError) as caught:
        build_script(product(title="nan", brand="None"), BatchSettings(script_template="{title}. {brand}."))
    assert caught.value.product_id == "SKU-1"


def test_long_scripts_are_trimmed_at_a_sentence_boundary():
    sentences = [f"Propoziția numărul {ro_number_words(i)} descrie produsul pe larg." for i in range(1, 40)]
    long_text = " ".join(sentences)
    trimmed = trim_to_duration(long_text, 12.0)
    assert estimate_speech_seconds(trimmed) <= 12.0
    assert long_text.startswith(trimmed) and trimmed.endswith(".")
    assert trimmed.count(".") >= 2 and trimmed in " ".join(sentences[: trimmed.count(".")])
    # one more sentence would not fit
    assert estimate_speech_seconds(" ".join(sentences[: trimmed.count(".") + 1])) > 12.0
    # a single overlong sentence is cut at a comma and closed
    run_on = "Acest produs are " + ", ".join(f"caracteristica {ro_number_words(i)}" for i in range(1, 60)) + "."
    cut = trim_to_duration(run_on, 5.0)
    assert cut.endswith(".") and estimate_speech_seconds(cut) <= 5.5 and not cut.endswith(",.")


def test_build_script_fits_the_longest_video_and_faster_speech_fits_more():
    description = " ".join(f"Detaliul {ro_number_words(i)} al produsului este foarte util." for i in range(1, 30))
    p = product(description=description)
    template = "{title}. {description}"
    short = build_script(p, BatchSettings(script_template=template, duration_max_s=10.0, tail_s=1.0))
    assert estimate_speech_seconds(short) <= 9.0
    faster = build_script(p, BatchSettings(script_template=template, duration_max_s=10.0, tail_s=1.0, tts_rate="+50%"))
    assert len(faster) > len(short) and faster.startswith(short)


def test_ai_mode_needs_a_key_and_a_known_writer():
    settings = BatchSettings(script_mode="ai")
    with pytest.raises(ConfigError) as no_key:
        build_script(product(), settings, environ={})
    assert no_key.value.field == "script_mode" and "BATCH_VIDEO_AI_API_KEY" in str(no_key.value)
    with pytest.raises(ConfigError) as no_writer:
        build_script(product(), settings, environ={"BATCH_VIDEO_AI_API_KEY": "k", "BATCH_VIDEO_AI_SCRIPT_PROVIDER": "x"})
    assert "BATCH_VIDEO_AI_SCRIPT_PROVIDER" in str(no_writer.value) and "openai" in str(no_writer.value)


def test_a_registered_ai_writer_is_used_and_its_text_normalized():
    seen = {}

    def writer(request):
        seen["request"] = request
        return f"<p>{request.product.title} la doar 99,90 lei!</p>"

    register_ai_writer("test-writer", writer)
    env = {"BATCH_VIDEO_AI_API_KEY": "secret", "BATCH_VIDEO_AI_SCRIPT_PROVIDER": "test-writer"}
    text = build_script(product(), BatchSettings(script_mode="ai", duration_max_s=20, tail_s=1), environ=env)
    assert seen["request"].api_key == "secret" and seen["request"].max_seconds == 19
    assert text == "Căști wireless WH-1000XM5 la doar nouăzeci și nouă de lei și nouăzeci de bani!"


def test_openai_compatible_writer_over_http():
    import httpx
    import respx

    env = {"BATCH_VIDEO_AI_API_KEY": "sk-test", "BATCH_VIDEO_AI_BASE_URL": "https://llm.test/v1",
           "BATCH_VIDEO_AI_MODEL": "tiny"}  # fmt: skip
    settings = BatchSettings(script_mode="ai")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://llm.test/v1/chat/completions").mock(
            return_value=httpx.Response(200, json={"choices": [{"message": {"content": '"Căști Sony, doar 1.249,99 lei."'}}]})
        )
        text = build_script(product(), settings, environ=env)
    assert text == "Căști Sony, doar o mie două sute patruzeci și nouă de lei și nouăzeci și nouă de bani."
    sent = route.calls[0].request
    assert sent.headers["Authorization"] == "Bearer sk-test"
    body = json.loads(sent.content)
    assert body["model"] == "tiny" and "1.249,99 lei" in body["messages"][0]["content"]

    for status, error in ((401, ConfigError), (429, TransientError), (503, TransientError)):
        with respx.mock() as mock:
            mock.post("https://llm.test/v1/chat/completions").mock(return_value=httpx.Response(status))
            with pytest.raises(error) as caught:
                build_script(product(), settings, environ=env)
        assert caught.value.product_id == "SKU-1"
    with respx.mock() as mock:
        mock.post("https://llm.test/v1/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(TransientError):
            build_script(product(), settings, environ=env)


def test_unknown_script_mode_is_a_config_error():
    with pytest.raises(ConfigError):
        build_script(product(), BatchSettings(script_mode="poem"))

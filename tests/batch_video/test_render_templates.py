"""Templates as data: the shipped ones, validation errors that name template, field and allowed values,
the settings hash following the file, and every sample product rendering with every template."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from batch_video.catalog import load_catalog
from batch_video.errors import ConfigError
from batch_video.images import prepare_image
from batch_video.links import LinkPolicy
from batch_video.render import Composer, build_spec
from batch_video.render.presets import PRESETS
from batch_video.render.spec import check_settings
from batch_video.render.templates import BUILTIN, BUILTIN_DIR, load_template, parse_template
from batch_video.sample import BROKEN_PRODUCT_ID, FEED_PATH
from batch_video.render.spec import validate_settings
from batch_video.settings import BatchSettings

MINIMAL = {
    "name": "mine",
    "layouts": {
        "portrait": [
            {"type": "photo", "box": [0, 0.2, 1, 0.5]},
            {"type": "text", "role": "title", "box": [0, 0, 1, 0.15], "size": [60, 40], "lines": 2},
        ]
    },
}


def write(tmp_path: Path, document: dict | str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document), encoding="utf-8")
    return path


def broken(**layer_changes) -> dict:
    doc = json.loads(json.dumps(MINIMAL))
    doc["layouts"]["portrait"][1].update(layer_changes)
    return doc


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_templates_cover_every_preset(name):
    template = load_template(name)
    assert template.name == name and template.description
    assert set(template.orientations) == {"portrait", "square", "landscape"}
    for preset in PRESETS:
        check_settings(BatchSettings(template=name, preset=preset))


def test_classic_is_the_default_template():
    assert BatchSettings().template == "classic"


@pytest.mark.parametrize("change, field, allowed", [
    ({"enter": "spin"}, "layouts.portrait[1].enter.effect", "fade, slide_up, slide_down, slide_left, slide_right, pop"),
    ({"role": "subtitle"}, "layouts.portrait[1].role", "brand, title, price, price_original, badge, cta, text"),
    ({"align": "middle"}, "layouts.portrait[1].align", "left, center, right"),
    ({"colour": "white"}, "layouts.portrait[1].colour", "allowed: type, name, box, when"),
    ({"color": "reddish"}, "layouts.portrait[1].color", "accent, on_accent, accent_text"),
    ({"box": [0, 0.9, 1, 0.2]}, "layouts.portrait[1].box", "leaves the safe zone"),
    ({"box": [0, 0, 1]}, "layouts.portrait[1].box", "[x, y, width, height]"),
    ({"size": [30, 60]}, "layouts.portrait[1].size", "smallest size 60 is above the largest 30"),
    ({"show": {"from": "middle"}}, "layouts.portrait[1].show.from", "start, end, price, last, a scene number"),
    ({"show": {"from": 0}}, "layouts.portrait[1].show.from", "scene numbers start at 1"),
    ({"when": "sometimes"}, "layouts.portrait[1].when[0]", "on_sale, not_on_sale, logo, no_logo"),
    ({"enter": {"effect": "fade", "duration": 9}}, "layouts.portrait[1].enter.duration", "outside 0.05..3"),
    ({"font": "fonts/missing.ttf"}, "layouts.portrait[1].font", "not found"),
    ({"role": "text", "text": "Livrare {gratis}"}, "layouts.portrait[1].text", "unknown placeholder {gratis}"),
    ({"text": "Oops"}, "layouts.portrait[1].text", "only `role: text` layers take a text"),
])
def test_validation_errors_name_the_template_the_field_and_what_is_allowed(tmp_path, change, field, allowed):
    path = write(tmp_path, broken(**change))
    with pytest.raises(ConfigError) as info:
        load_template(str(path))
    message = str(info.value)
    assert info.value.field == "template"
    assert message.startswith(f"field template: template 'mine' ({path.resolve()}): {field}: "), message
    assert allowed in message


@pytest.mark.parametrize("document, expected", [
    ({"name": "mine", "layouts": {"portrait": [{"type": "text", "role": "title", "box": [0, 0, 1, 0.1]}]}},
     "layouts.portrait: 0 photo layers apply when not_on_sale and no_logo; exactly one must"),
    ({"name": "mine", "layouts": {"portrait": [{"type": "photo", "box": [0, 0, 1, 1]},
                                               {"type": "photo", "box": [0, 0, 1, 0.5], "when": "on_sale"}]}},
     "layouts.portrait: 2 photo layers apply when on_sale and no_logo"),
    ({"name": "mine", "layouts": {"vertical": []}}, "layouts.vertical: unknown field (allowed: portrait, square, landscape)"),
    ({"name": "mine", "layouts": {"portrait": [{"type": "video", "box": [0, 0, 1, 1]}]}},
     "layouts.portrait[0].type: 'video' is not one of photo, band, text, captions, logo"),
    ({"name": "mine", "layout": {}}, "layout: unknown field (allowed: name, description, transitions, layouts)"),
    ({"name": "mine", "transitions": {"kinds": ["wipe"]}, "layouts": MINIMAL["layouts"]},
     "transitions.kinds[0]: 'wipe' is not one of crossfade, slide, zoom_through, cut"),
])
def test_layout_level_errors(tmp_path, document, expected):
    with pytest.raises(ConfigError) as info:
        load_template(str(write(tmp_path, document)))
    assert expected in str(info.value)


def test_syntax_errors_give_the_line(tmp_path):
    path = write(tmp_path, "name: mine\nlayouts:\n  portrait:\n    - {type: photo, box: [0, 0, 1, 1]\n")
    with pytest.raises(ConfigError) as info:
        load_template(str(path))
    assert "is not valid YAML: line 5" in str(info.value)
    json_path = write(tmp_path, '{"name": "mine", "layouts": {"portrait": [}}', name="mine.json")
    with pytest.raises(ConfigError) as info:
        load_template(str(json_path))
    assert "is not valid JSON: line 1, column 43" in str(info.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_template(str(tmp_path / "none.yaml"))
    with pytest.raises(ConfigError, match="unknown template 'fancy': use one of classic, showcase, sale"):
        load_template("fancy")


def test_a_layout_missing_for_the_preset_is_reported_when_settings_are_checked(tmp_path):
    path = write(tmp_path, MINIMAL)
    check_settings(BatchSettings(template=str(path), preset="tiktok"))
    with pytest.raises(ConfigError, match=r"template 'mine' .* has no square layout \(it has: portrait\)"):
        validate_settings(BatchSettings(template=str(path), preset="square"))


def test_settings_validate_reports_once_at_the_settings_stage(tmp_path):
    path = write(tmp_path, broken(enter="spin"))
    with pytest.raises(ConfigError) as info:
        validate_settings(BatchSettings(template=str(path)))
    assert info.value.stage == "settings" and "'spin' is not one of" in str(info.value)
    with pytest.raises(ConfigError, match="unknown transition 'wipe'"):
        validate_settings(BatchSettings(transition="wipe"))
    assert validate_settings(BatchSettings(template="sale")).template == "sale"


def test_editing_a_template_file_changes_the_settings_hash(tmp_path):
    path = write(tmp_path, MINIMAL)
    settings = BatchSettings(template=str(path))
    before = settings.settings_hash()
    assert before == BatchSettings(template=str(path)).settings_hash()
    edited = json.loads(json.dumps(MINIMAL))
    edited["layouts"]["portrait"][1]["size"] = [64, 40]
    write(tmp_path, edited)
    assert settings.settings_hash() != before
    assert BatchSettings(template="sale").settings_hash() != BatchSettings().settings_hash()


def test_json_templates_and_fonts_relative_to_the_file(tmp_path):
    (tmp_path / "fonts").mkdir()
    font = tmp_path / "fonts" / "brand.ttf"
    font.write_bytes(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").read_bytes())
    doc = broken(font="fonts/brand.ttf", enter={"effect": "slide_up", "delay": 0.2})
    template = load_template(str(write(tmp_path, json.dumps(doc), name="mine.json")))
    title = template.layers_for("portrait")[1]
    assert title.font == str(font.resolve()) and title.enter.effect == "slide_up" and title.enter.delay_s == 0.2


def test_parse_template_is_pure_and_keeps_the_digest():
    text = (BUILTIN_DIR / "sale.yaml").read_text(encoding="utf-8")
    assert parse_template(text, source="sale.yaml").digest == load_template("sale").digest


def test_a_shops_own_template_renders(tmp_path, sample_images):
    doc = yaml.safe_load((BUILTIN_DIR / "showcase.yaml").read_text(encoding="utf-8"))
    doc["name"] = "magazin"
    doc["layouts"]["portrait"].append({"type": "text", "role": "text", "text": "Livrare gratuită · {brand}",
                                       "box": [0, 0.06, 1, 0.04], "size": [36, 24], "color": "#FFE08A"})
    path = write(tmp_path, doc)
    product, image = sample_images[0]
    spec = build_spec(product, image, None, BatchSettings(template=str(path), preset="preview"), duration_s=4)
    free_text = next(t for t in spec.texts if t.role == "text")
    assert free_text.text == f"Livrare gratuită · {product.brand}" and free_text.color == (255, 224, 138, 255)
    assert spec.template.startswith("magazin:")
    Composer(spec).frame_rgb(spec.frames // 2)


@pytest.fixture(scope="module")
def sample_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample-images")
    catalog = load_catalog(str(FEED_PATH))
    policy = LinkPolicy.for_source(str(FEED_PATH))
    return [(p, prepare_image(p, folder / p.key, policy=policy)) for p in catalog.products if p.id != BROKEN_PRODUCT_ID]


@pytest.mark.parametrize("template", BUILTIN)
def test_every_template_renders_every_sample_product(sample_images, template):
    """Stills at the start, in the middle and at the end, with the product's other sample photos as scenes."""
    images = [image for _, image in sample_images]
    for i, (product, image) in enumerate(sample_images):
        extras = [images[(i + k) % len(images)] for k in (1, 2)]
        spec = build_spec(product, image, None, BatchSettings(template=template, preset="preview"),
                          duration_s=8, extra_images=extras)
        assert len(spec.scenes) == 3
        composer = Composer(spec)
        assert not composer.warnings, (product.id, composer.warnings)
        safe = spec.layout.safe
        for layer in spec.texts:
            assert safe.contains(layer.rect), (template, product.id, layer.role)
        frames = [composer.frame_rgb(n) for n in (0, spec.frames // 2, spec.frames - 1)]
        assert all(f.shape == (640, 360, 3) for f in frames)
        assert not np.array_equal(frames[0], frames[2])

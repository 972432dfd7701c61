"""Templates as data: layout, brand-kit colours, fonts, text timeline and animations.

A template is a YAML or JSON file (see docs/templates.md). It names, per
orientation (portrait, square, landscape), the layers of the video: the photo
area, translucent bands, text (brand, title, price, struck original price,
sale badge, call to action, free text), the logo and the caption strip, each
with a box in safe-zone-relative units, and for text the scenes it shows on
and how it enters and leaves.

Three templates ship with the package (`classic`, `showcase`, `sale`); a
shop's own is a path. Loading validates everything and raises a ConfigError
that names the template, the field and the allowed values, so a broken
template is reported once when settings are checked, never as a stack trace
per product. Nothing here knows about pixels: `spec.build_spec` resolves a
template against a preset and a product.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from batch_video.errors import ConfigError

BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
BUILTIN = ("classic", "showcase", "sale")
MAX_TEMPLATE_BYTES = 256 * 1024

ORIENTATIONS = ("portrait", "square", "landscape")
LAYER_TYPES = ("photo", "band", "text", "captions", "logo")
ROLES = ("brand", "title", "price", "price_original", "badge", "cta", "text")
EFFECTS = ("none", "fade", "slide_up", "slide_down", "slide_left", "slide_right", "pop")
ALIGNS = ("left", "center", "right")
STYLES = ("plain", "pill", "strike")
CONDITIONS = ("on_sale", "not_on_sale", "logo", "no_logo")
FRAMES = ("safe", "canvas")
ANCHORS = ("safe", "photo")
FITS = ("aspect", "fill")
GRADIENTS = ("none", "up", "down")
TRANSITION_KINDS = ("crossfade", "slide", "zoom_through", "cut")
NAMED_COLORS = ("accent", "on_accent", "accent_text", "white", "black", "light", "muted")
FONT_NAMES = ("brand", "regular")
PLACEHOLDERS = ("title", "brand", "price", "old_price", "discount", "cta")
# Where a text layer starts or stops showing, besides a scene number or seconds.
SHOW_ANCHORS = ("start", "end", "price", "last")
_SECONDS = re.compile(r"^\s*(end\s*-\s*)?(\d+(?:\.\d+)?)\s*s\s*$")
_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")

DEFAULT_EFFECT_S = 0.4
DEFAULT_TRANSITION_S = 0.5


@dataclass(frozen=True)
class Animation:
    effect: str  # one of EFFECTS
    duration_s: float = DEFAULT_EFFECT_S
    delay_s: float = 0.0


@dataclass(frozen=True)
class ShowAnchor:
    """A point on the timeline: `kind` in start/end/price/last/scene/at/before_end."""

    kind: str
    value: float = 0.0  # scene number (1-based) for "scene", seconds for "at"/"before_end"


@dataclass(frozen=True)
class Show:
    start: ShowAnchor = ShowAnchor("start")
    until: ShowAnchor = ShowAnchor("end")

    @property
    def always(self) -> bool:
        return self.start.kind == "start" and self.until.kind == "end"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    frame: str = "safe"  # safe: fractions of the safe zone; canvas: fractions of the whole frame
    anchor: str = "safe"  # photo: x/y are offsets from the photo box's top-left corner


@dataclass(frozen=True)
class Layer:
    """One layer of a layout. Fields that do not apply to its type keep their defaults."""

    type: str
    name: str
    box: Box
    when: tuple[str, ...] = ()
    # text and captions
    role: str = ""
    text: str = ""
    size_max: float = 0.0  # font px on the 1080-wide (landscape: 1080-high) design canvas
    size_min: float = 0.0
    lines: int = 1
    align: str = "left"
    style: str = "plain"
    color: str = "white"
    fill: str = "accent"
    font: str = "brand"
    highlight: str = "auto"
    show: Show = Show()
    enter: Animation | None = None
    leave: Animation | None = None
    # photo
    fit: str = "aspect"
    shadow: bool = True
    background: str = "blur"
    card: str = "#F4F4F4"
    # band
    gradient: str = "none"

    def applies(self, *, on_sale: bool, logo: bool) -> bool:
        facts = {"on_sale": on_sale, "not_on_sale": not on_sale, "logo": logo, "no_logo": not logo}
        return all(facts[c] for c in self.when)


@dataclass(frozen=True)
class Transitions:
    kinds: tuple[str, ...] = ("crossfade", "slide", "zoom_through")  # what `auto` picks from
    duration_s: float = DEFAULT_TRANSITION_S


@dataclass(frozen=True)
class Template:
    name: str
    source: str  # the file it came from
    digest: str  # sha256 of the file's bytes (first 12 hex digits)
    description: str
    transitions: Transitions
    layouts: tuple[tuple[str, tuple[Layer, ...]], ...]  # (orientation, layers)

    @property
    def fingerprint(self) -> str:
        """Name and file hash: part of the settings hash, so an edited template re-renders."""
        return f"{self.name}:{self.digest}"

    @property
    def orientations(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.layouts)

    def layers_for(self, orientation: str) -> tuple[Layer, ...]:
        for name, layers in self.layouts:
            if name == orientation:
                return layers
        raise ConfigError(
            f"template {self.name!r} ({self.source}) has no {orientation} layout (it has: "
            f"{', '.join(self.orientations)}); add layouts.{orientation} or choose a preset of another shape",
            field="template",
        )


# ---------------------------------------------------------------- locating and loading

def template_path(ref: str) -> Path:
    """A built-in template's file, or the path a shop gave."""
    ref = (ref or "").strip()
    if ref in BUILTIN:
        return BUILTIN_DIR / f"{ref}.yaml"
    if "/" in ref or "\\" in ref or ref.lower().endswith((".yaml", ".yml", ".json")):
        return Path(ref).expanduser()
    raise ConfigError(
        f"unknown template {ref!r}: use one of {', '.join(BUILTIN)} or a path to a .yaml/.json template file",
        field="template",
    )


def load_template(ref: str) -> Template:
    """The validated template for a setting value (a built-in name or a file path); cached per file version."""
    path = template_path(ref)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"template file {path} cannot be read: {exc.strerror or exc}", field="template") from None
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def template_fingerprint(ref: str) -> str:
    return load_template(ref).fingerprint


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, size: int) -> Template:
    if size > MAX_TEMPLATE_BYTES:
        raise ConfigError(f"template file {path} is {size} bytes (at most {MAX_TEMPLATE_BYTES})", field="template")
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"template file {path} cannot be read: {exc.strerror or exc}", field="template") from None
    return parse_template(raw, source=path)


def parse_template(raw: bytes | str, *, source: str = "<template>") -> Template:
    """Parse and validate template text (YAML, of which JSON is a subset)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem = Path(source).stem
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"template file {source} is not UTF-8 text: {exc}", field="template") from None
    try:
        if source.lower().endswith(".json"):
            document = json.loads(text)
        else:
            document = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"template file {source} is not valid JSON: line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}", field="template") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"template file {source} is not valid YAML: {where}{problem}", field="template") from None
    name = document.get("name", stem) if isinstance(document, dict) else stem
    reader = _Reader(str(name) if isinstance(name, (str, int)) else stem, source, Path(source).parent)
    return reader.template(document, digest)


# ---------------------------------------------------------------- validation

class _Reader:
    """Walks the parsed document; every error names the template, the field path and what is allowed."""

    def __init__(self, name: str, source: str, folder: Path) -> None:
        self.name = name
        self.source = source
        self.folder = folder

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"template {self.name!r} ({self.source}): {where}: {message}", field="template")

    def mapping(self, value: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping with fields {', '.join(allowed)}, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{where}.{key}" if where else str(key),
                                f"unknown field (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                raise self.fail(where or "top level", f"missing field {key!r}")
        return value

    def choice(self, value: Any, where: str, allowed: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise self.fail(where, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def number(self, value: Any, where: str, lo: float, hi: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a number from {lo:g} to {hi:g}, got {_kind(value)}")
        if not lo <= float(value) <= hi:
            raise self.fail(where, f"{value!r} is outside {lo:g}..{hi:g}")
        return float(value)

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {value!r}")
        return value

    def color(self, value: Any, where: str, extra: tuple[str, ...] = ()) -> str:
        allowed = NAMED_COLORS + extra
        if isinstance(value, str) and (value in allowed or _HEX.match(value)):
            return value
        raise self.fail(where, f"{value!r} is not a colour: use {', '.join(allowed)} or #RRGGBB / #RRGGBBAA")

    # -- the document

    def template(self, doc: Any, digest: str) -> Template:
        doc = self.mapping(doc, "", ("name", "description", "transitions", "layouts"), ("layouts",))
        if "name" in doc and (not isinstance(doc["name"], str) or not doc["name"].strip()):
            raise self.fail("name", f"expected a non-empty name, got {doc['name']!r}")
        description = doc.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", f"expected text, got {_kind(description)}")
        layouts_raw = self.mapping(doc["layouts"], "layouts", ORIENTATIONS)
        if not layouts_raw:
            raise self.fail("layouts", f"needs at least one of {', '.join(ORIENTATIONS)}")
        layouts = tuple((o, self.layout(v, f"layouts.{o}")) for o, v in layouts_raw.items())
        return Template(self.name, self.source, digest, description.strip(),
                        self.transitions(doc.get("transitions", {})), layouts)

    def transitions(self, raw: Any) -> Transitions:
        raw = self.mapping(raw, "transitions", ("kinds", "duration"))
        kinds = raw.get("kinds", list(Transitions().kinds))
        if not isinstance(kinds, list) or not kinds:
            raise self.fail("transitions.kinds", f"expected a list of {', '.join(TRANSITION_KINDS)}")
        chosen = tuple(self.choice(k, f"transitions.kinds[{i}]", TRANSITION_KINDS) for i, k in enumerate(kinds))
        duration = self.number(raw.get("duration", DEFAULT_TRANSITION_S), "transitions.duration", 0.1, 2.0)
        return Transitions(chosen, duration)

    def layout(self, raw: Any, where: str) -> tuple[Layer, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(where, f"expected a list of layers, got {_kind(raw)}")
        layers = tuple(self.layer(item, f"{where}[{i}]") for i, item in enumerate(raw))
        for on_sale in (False, True):
            for logo in (False, True):
                live = [layer for layer in layers if layer.applies(on_sale=on_sale, logo=logo)]
                case = f"{'on_sale' if on_sale else 'not_on_sale'} and {'logo' if logo else 'no_logo'}"
                photos = [layer for layer in live if layer.type == "photo"]
                if len(photos) != 1:
                    raise self.fail(where, f"{len(photos)} photo layers apply when {case}; exactly one must "
                                           f"(pick with `when`)")
                if sum(layer.type == "captions" for layer in live) > 1:
                    raise self.fail(where, f"more than one captions layer applies when {case}")
        return layers

    def layer(self, raw: Any, where: str) -> Layer:
        if not isinstance(raw, dict) or "type" not in raw:
            raise self.fail(where, f"expected a mapping with a `type` ({', '.join(LAYER_TYPES)})")
        kind = self.choice(raw["type"], f"{where}.type", LAYER_TYPES)
        common = ("type", "name", "box", "when")
        allowed = common + {
            "photo": ("frame", "fit", "shadow", "background", "card"),
            "band": ("frame", "color", "gradient"),
            "text": ("anchor", "role", "text", "size", "lines", "align", "style", "color", "fill", "font",
                     "show", "enter", "leave"),
            "captions": ("size", "color", "highlight", "font"),
            "logo": ("anchor",),
        }[kind]
        raw = self.mapping(raw, where, allowed, ("box",) + (("role",) if kind == "text" else ()))
        name = raw.get("name", raw.get("role", kind))
        if not isinstance(name, str):
            raise self.fail(f"{where}.name", f"expected text, got {_kind(name)}")
        frame = self.choice(raw.get("frame", "canvas" if kind == "photo" else "safe"), f"{where}.frame", FRAMES)
        anchor = self.choice(raw.get("anchor", "safe"), f"{where}.anchor", ANCHORS)
        box = self.box(raw["box"], f"{where}.box", frame, anchor, kind)
        when = self.when(raw.get("when", []), f"{where}.when")
        fields: dict[str, Any] = {"type": kind, "name": name, "box": box, "when": when}
        if kind == "photo":
            fields["fit"] = self.choice(raw.get("fit", "aspect"), f"{where}.fit", FITS)
            fields["shadow"] = self.boolean(raw.get("shadow", True), f"{where}.shadow")
            background = raw.get("background", "blur")
            if background not in ("blur", "accent"):
                background = self.color(background, f"{where}.background", ("blur",))
            fields["background"] = background
            fields["card"] = self.color(raw.get("card", "#F4F4F4"), f"{where}.card")
        elif kind == "band":
            fields["color"] = self.color(raw.get("color", "#000000A0"), f"{where}.color")
            fields["gradient"] = self.choice(raw.get("gradient", "none"), f"{where}.gradient", GRADIENTS)
        elif kind == "captions":
            fields.update(self.size(raw.get("size", [60, 36]), f"{where}.size"))
            fields["color"] = self.color(raw.get("color", "white"), f"{where}.color")
            fields["highlight"] = self.color(raw.get("highlight", "auto"), f"{where}.highlight", ("auto",))
            fields["font"] = self.font(raw.get("font", "brand"), f"{where}.font")
        elif kind == "text":
            fields.update(self.text_fields(raw, where))
        return Layer(**fields)

    def text_fields(self, raw: dict, where: str) -> dict[str, Any]:
        role = self.choice(raw["role"], f"{where}.role", ROLES)
        out: dict[str, Any] = {"role": role}
        if role == "text":
            if not isinstance(raw.get("text"), str) or not raw["text"].strip():
                raise self.fail(f"{where}.text", "a `role: text` layer needs the text to show")
            out["text"] = self.placeholders(raw["text"], f"{where}.text")
        elif "text" in raw:
            raise self.fail(f"{where}.text", f"only `role: text` layers take a text; a {role} layer shows the "
                                             f"product's {role}")
        out.update(self.size(raw.get("size", [60, 36]), f"{where}.size"))
        out["lines"] = int(self.number(raw.get("lines", 1), f"{where}.lines", 1, 6))
        out["align"] = self.choice(raw.get("align", "left"), f"{where}.align", ALIGNS)
        out["style"] = self.choice(raw.get("style", "plain"), f"{where}.style", STYLES)
        out["color"] = self.color(raw.get("color", "white"), f"{where}.color")
        out["fill"] = self.color(raw.get("fill", "accent"), f"{where}.fill")
        out["font"] = self.font(raw.get("font", "brand"), f"{where}.font")
        out["show"] = self.show(raw.get("show", {}), f"{where}.show")
        out["enter"] = self.animation(raw["enter"], f"{where}.enter") if "enter" in raw else None
        out["leave"] = self.animation(raw["leave"], f"{where}.leave") if "leave" in raw else None
        return out

    def box(self, raw: Any, where: str, frame: str, anchor: str, kind: str) -> Box:
        if (not isinstance(raw, list) or len(raw) != 4
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in raw)):
            raise self.fail(where, "expected [x, y, width, height] as fractions of the "
                                   f"{'safe zone' if frame == 'safe' else 'canvas'} (numbers, 0 = left/top edge, "
                                   "1 = right/bottom edge)")
        x, y, w, h = (float(v) for v in raw)
        if w <= 0 or h <= 0:
            raise self.fail(where, f"width and height must be above 0, got {w:g} and {h:g}")
        if max(abs(x), abs(y), w, h) > 4:
            raise self.fail(where, f"{raw} is far outside the frame (fractions, e.g. [0, 0.1, 1, 0.2])")
        if kind in ("text", "captions", "logo"):
            if frame != "safe":
                raise self.fail(f"{where}", "text, captions and logo boxes are in safe-zone units (frame: safe)")
            eps = 1e-6
            if anchor == "safe" and (x < -eps or y < -eps or x + w > 1 + eps or y + h > 1 + eps):
                raise self.fail(where, f"{raw} leaves the safe zone (x and y from 0, x+width and y+height up to "
                                       "1): platform buttons and captions would cover it")
        return Box(x, y, w, h, frame, anchor)

    def when(self, raw: Any, where: str) -> tuple[str, ...]:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise self.fail(where, f"expected one or a list of {', '.join(CONDITIONS)}")
        return tuple(self.choice(c, f"{where}[{i}]", CONDITIONS) for i, c in enumerate(items))

    def size(self, raw: Any, where: str) -> dict[str, float]:
        values = [raw, raw] if isinstance(raw, (int, float)) and not isinstance(raw, bool) else raw
        if not isinstance(values, list) or len(values) != 2:
            raise self.fail(where, "expected [largest, smallest] font size in px of the 1080 px design canvas")
        big = self.number(values[0], f"{where}[0]", 6, 400)
        small = self.number(values[1], f"{where}[1]", 6, 400)
        if small > big:
            raise self.fail(where, f"the smallest size {small:g} is above the largest {big:g}")
        return {"size_max": big, "size_min": small}

    def font(self, raw: Any, where: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(where, f"expected {', '.join(FONT_NAMES)} or a font file path")
        if raw in FONT_NAMES:
            return raw
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = self.folder / path
        if not path.is_file():
            raise self.fail(where, f"font file {path} not found (use {', '.join(FONT_NAMES)} or a .ttf/.otf path, "
                                   "relative to the template file)")
        return str(path.resolve())

    def placeholders(self, text: str, where: str) -> str:
        try:
            names = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
        except ValueError as exc:
            raise self.fail(where, f"bad placeholder in {text!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
        for name in names:
            if name not in PLACEHOLDERS:
                raise self.fail(where, f"unknown placeholder {{{name}}} (allowed: "
                                       f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
        return text

    def show(self, raw: Any, where: str) -> Show:
        raw = self.mapping(raw, where, ("from", "until"))
        start = self.anchor(raw.get("from", "start"), f"{where}.from")
        until = self.anchor(raw.get("until", "end"), f"{where}.until")
        if start.kind == "end" or until.kind == "start":
            raise self.fail(where, "a layer shown from the end or until the start is never visible")
        return Show(start, until)

    def anchor(self, raw: Any, where: str) -> ShowAnchor:
        allowed = f"{', '.join(SHOW_ANCHORS)}, a scene number (1, 2, ...), '<N>s' or 'end-<N>s'"
        if isinstance(raw, bool):
            raise self.fail(where, f"{raw!r} is not one of {allowed}")
        if isinstance(raw, int):
            if raw < 1:
                raise self.fail(where, f"scene numbers start at 1, got {raw}")
            return ShowAnchor("scene", float(raw))
        if isinstance(raw, str):
            if raw in SHOW_ANCHORS:
                return ShowAnchor(raw)
            match = _SECONDS.match(raw)
            if match:
                return ShowAnchor("before_end" if match.group(1) else "at", float(match.group(2)))
        raise self.fail(where, f"{raw!r} is not one of {allowed}")

    def animation(self, raw: Any, where: str) -> Animation:
        if isinstance(raw, str):
            raw = {"effect": raw}
        raw = self.mapping(raw, where, ("effect", "duration", "delay"), ("effect",))
        effect = self.choice(raw["effect"], f"{where}.effect", EFFECTS)
        duration = self.number(raw.get("duration", DEFAULT_EFFECT_S), f"{where}.duration", 0.05, 3.0)
        delay = self.number(raw.get("delay", 0.0), f"{where}.delay", 0.0, 10.0)
        return Animation(effect, duration, delay)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(value), repr(value))

"""Shared, immutable types passed between the stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Product:
    """One validated feed item. `id` is the feed's id; `key` its partition key."""

    id: str
    key: str
    title: str
    price: Decimal
    currency: str
    image_link: str
    price_raw: str = ""
    description: str = ""
    brand: str = ""
    product_type: str = ""
    sale_price: Decimal | None = None
    sale_price_raw: str = ""
    availability: str = ""
    link: str = ""
    additional_image_links: tuple[str, ...] = ()
    content_hash: str = ""

    @property
    def on_sale(self) -> bool:
        return self.sale_price is not None and self.sale_price < self.price

    @property
    def display_price(self) -> Decimal:
        """The price the customer pays now."""
        return self.sale_price if self.on_sale else self.price  # type: ignore[return-value]

    @property
    def discount_percent(self) -> int | None:
        if not self.on_sale:
            return None
        off = (self.price - self.sale_price) / self.price * 100  # type: ignore[operator]
        return int(off.quantize(Decimal("1"), rounding=ROUND_HALF_UP))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["price"] = str(self.price)
        data["sale_price"] = None if self.sale_price is None else str(self.sale_price)
        data["additional_image_links"] = list(self.additional_image_links)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Product":
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        kw["price"] = Decimal(str(kw["price"]))
        if kw.get("sale_price") not in (None, ""):
            kw["sale_price"] = Decimal(str(kw["sale_price"]))
        else:
            kw["sale_price"] = None
        kw["additional_image_links"] = tuple(kw.get("additional_image_links") or ())
        return cls(**kw)


@dataclass(frozen=True)
class FeedProblem:
    """A feed item that did not become a Product: which one, which field, why.

    `kind` is `"invalid"` for broken data (a price that cannot be read, a missing
    photo link) and `"skipped"` for a row that is deliberately not a sellable
    product (a draft, a hidden product, a variable product's parent row).
    """

    product_id: str
    field: str
    raw_value: str
    reason: str
    position: int | None = None  # 1-based item/row number in the feed
    kind: str = "invalid"

    @property
    def skipped(self) -> bool:
        return self.kind == "skipped"

    def __str__(self) -> str:
        if self.skipped:
            return f"product {self.product_id or '?'}: skipped: {self.reason} ({self.field}: {self.raw_value!r})"
        return f"product {self.product_id or '?'}: field {self.field}: {self.reason} (raw: {self.raw_value!r})"


@dataclass(frozen=True)
class FeedReadResult:
    products: tuple[Product, ...]
    problems: tuple[FeedProblem, ...] = ()
    duplicates: tuple[str, ...] = ()  # feed ids seen more than once (first one kept)
    source: str = ""
    format: str = ""  # what the reader recognized, e.g. "WooCommerce product export (CSV)"
    warnings: tuple[FeedProblem, ...] = ()  # valid products with a field cut or dropped (too long, too many links)

    def by_key(self) -> dict[str, Product]:
        return {p.key: p for p in self.products}


@dataclass(frozen=True)
class PreparedImage:
    """A normalized product photo on disk (RGB JPEG or RGBA PNG)."""

    path: Path
    width: int
    height: int
    source_width: int
    source_height: int
    source_format: str
    has_alpha: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class CaptionCue:
    """A few words shown together; the renderer highlights the current word."""

    start: float
    end: float
    words: tuple[WordTiming, ...]

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


@dataclass(frozen=True)
class Voiceover:
    audio_path: Path
    duration_s: float
    provider: str  # who actually spoke: "edge" or "espeak"
    voice: str
    words: tuple[WordTiming, ...] = ()
    timings_estimated: bool = False
    requested_provider: str = ""
    fallback_reason: str | None = None
    cache_hit: bool = False
    cache_key: str = ""


@dataclass(frozen=True)
class RenderedVideo:
    video_path: Path
    poster_path: Path
    duration_s: float
    width: int
    height: int
    fps: int
    size_bytes: int
    preset: str
    render_seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class PublishedVideo:
    partition_key: str
    location: str  # local path or URL the team fetches
    poster_location: str
    storage: str  # "local" or "supabase"
    size_bytes: int
    content_hash: str
    storage_path: str = ""

"""Partition keys from feed ids: safe characters for Dagster's UI and backfills, stable, collision-free."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Iterable

from batch_video.errors import ProductDataError

KEY_MAX_LENGTH = 64
KEY_HASH_LENGTH = 8
# What may become a folder or file name: letters, digits, `.`, `_`, `-`; no leading dot, no `..`.
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

_FOLD_EXTRA = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i"})


def fold_ascii(text: str) -> str:
    """`"Șosete Mărime"` -> `"Sosete Marime"`: diacritics dropped, other non-ASCII removed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _short_hash(text: str, length: int = KEY_HASH_LENGTH) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def check_safe_key(key: str, *, stage: str | None = None, field: str = "partition_key") -> str:
    """`key` when it is safe as one folder or file name (what `slugify_key` makes); a ProductDataError otherwise.

    Dagster accepts any partition key, `../../x` included: nothing that becomes
    a path may trust it.
    """
    if not isinstance(key, str) or not _SAFE_KEY.fullmatch(key) or ".." in key:
        raise ProductDataError(f"{field} {str(key)[:80]!r} is not a safe name (letters, digits, '.', '_', '-')",
                               product_id=str(key)[:80], field=field, stage=stage)
    return key


FORMAT_SEPARATOR = "--"  # never in a slug (runs of "-" collapse), so a format's key names its product unambiguously


def format_key(key: str, fmt: str = "") -> str:
    """Where a format's video is published and recorded: the key for the first format, `<key>--<format>` after."""
    return f"{key}{FORMAT_SEPARATOR}{fmt}" if fmt else key


def product_of(record_key: str) -> str:
    """The product (partition) key behind a published video's key, whichever format it is."""
    return record_key.split(FORMAT_SEPARATOR, 1)[0]


def slugify_key(product_id: str) -> str:
    """A partition key for a feed id: `[a-z0-9._-]`, at most 64 characters, never empty.

    Diacritics are folded, letters lowercased and any run of other characters
    becomes `-`. A long id is cut and gets a hash of the full id, so two long ids
    sharing a prefix still get different keys. Ids that only differ in case or
    punctuation slug alike; `assign_partition_keys` separates those.
    """
    slug = fold_ascii(str(product_id)).lower()
    slug = re.sub(r"[^a-z0-9._-]+", "-", slug)
    slug = re.sub(r"\.{2,}", ".", slug)  # "..." is Dagster's partition range syntax
    slug = re.sub(r"-{2,}", "-", slug).strip("-.")
    if not slug:
        return f"id-{_short_hash(str(product_id))}"
    if len(slug) > KEY_MAX_LENGTH:
        keep = KEY_MAX_LENGTH - KEY_HASH_LENGTH - 1
        slug = f"{slug[:keep].rstrip('-.')}-{_short_hash(str(product_id))}"
    return slug


def assign_partition_keys(ids: Iterable[str]) -> dict[str, str]:
    """Map each distinct feed id to a unique partition key, whatever the feed order.

    Ids whose slugs collide are resolved the same way every time: the id equal to
    its slug keeps it (else the smallest id does), the others get `-<hash of id>`.
    """
    ids_list = list(ids)
    by_slug: dict[str, list[str]] = {}
    for product_id in dict.fromkeys(ids_list):
        by_slug.setdefault(slugify_key(product_id), []).append(product_id)
    keys: dict[str, str] = {}
    taken = set(by_slug)
    order = list(dict.fromkeys(ids_list))
    for slug, members in by_slug.items():
        if len(members) == 1:
            keys[members[0]] = slug
            continue
        owner = slug if slug in members else min(members)
        keys[owner] = slug
        for product_id in sorted(m for m in members if m != owner):
            length = KEY_HASH_LENGTH
            while True:
                suffix = _short_hash(product_id, length)
                base = slug[: KEY_MAX_LENGTH - len(suffix) - 1].rstrip("-.")
                candidate = f"{base}-{suffix}"
                if candidate not in taken:
                    break
                length += 4
            taken.add(candidate)
            keys[product_id] = candidate
    return {product_id: keys[product_id] for product_id in order}

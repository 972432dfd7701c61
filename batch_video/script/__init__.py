"""Voiceover scripts: the text for a product (a template, or an AI writer), made speakable and trimmed to fit.

- `templates`: fill the script template from product fields;
- `ai`: the optional AI writers (`script_mode="ai"`);
- `speech`: normalization for speech in the feed's language, and trimming;
- `words`: numbers and money in words.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Mapping

from batch_video.errors import ConfigError, ProductDataError
from batch_video.models import Product
from batch_video.script.ai import ai_script, register_ai_writer
from batch_video.script.speech import (
    estimate_speech_seconds,
    max_script_seconds,
    normalize_for_speech,
    strip_html,
    trim_to_duration,
)
from batch_video.script.templates import render_template, template_fields
from batch_video.script.words import parse_number, ro_count, ro_number_words, say_amount
from batch_video.settings import BatchSettings

__all__ = [
    "build_script", "estimate_speech_seconds", "max_script_seconds", "normalize_for_speech", "parse_number",
    "register_ai_writer", "render_template", "ro_count", "ro_number_words", "say_amount", "strip_html",
    "template_fields", "trim_to_duration",
]

logger = logging.getLogger(__name__)


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
        raw = ai_script(product, settings, os.environ if environ is None else environ)
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

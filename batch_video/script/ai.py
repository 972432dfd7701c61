"""AI mode (optional, pluggable): a writer registered by name writes the text instead of the template.

The built-in `openai` writer calls any OpenAI-compatible chat-completions
server. It needs `BATCH_VIDEO_AI_API_KEY` and fails with a ConfigError without
it; nothing else depends on it, and its text goes through the same
normalization and trimming as a template's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import httpx

from batch_video.errors import ConfigError, TransientError
from batch_video.models import Product
from batch_video.script.speech import CHARS_PER_SECOND, max_script_seconds
from batch_video.script.templates import template_fields
from batch_video.settings import BatchSettings

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


def ai_script(product: Product, settings: BatchSettings, environ: Mapping[str, str]) -> str:
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

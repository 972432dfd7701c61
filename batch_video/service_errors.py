"""When a call to an HTTP service (Supabase Storage, PostgREST) failed: retry it, or say whose fault it is.

One set of rules for every backend that talks to a service: storage uploads and
record writes alike. The caller hands in its stage (`publish`, `records`...), so
an error names where it happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from batch_video.errors import BatchVideoError, ConfigError, ProductDataError, TransientError

logger = logging.getLogger(__name__)

T = TypeVar("T")
_RETRYABLE_STATUSES = {408, 425, 429}


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind a supabase/storage3/postgrest/httpx error, when it can be known."""
    status = getattr(exc, "status", None)  # storage3.exceptions.StorageApiError
    if status is None:
        response = getattr(exc, "response", None)  # httpx.HTTPStatusError
        status = getattr(response, "status_code", None)
    if status is None:
        code = getattr(exc, "code", None)  # postgrest.APIError without a JSON body: code is the status
        if isinstance(code, str) and code.isdigit() and len(code) == 3:
            status = code
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


# PostgREST reports database errors by SQLSTATE; these classes are worth retrying:
# connection (08), transaction rollback/deadlock (40), resources (53), operator
# intervention/statement timeout (57), system errors (58), and PostgREST's own
# "cannot reach the database" codes.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_TRANSIENT_POSTGREST_CODES = {"PGRST000", "PGRST001", "PGRST002", "PGRST003"}


# Permission denied, undefined table/column/function, no unique constraint for
# on_conflict, PostgREST's JWT and schema-cache misses.
_CONFIG_ERROR_CODES = {"42501", "42P01", "42703", "42883", "42P10", "PGRST301", "PGRST302", "PGRST204", "PGRST205"}


def is_transient(exc: BaseException) -> bool:
    import httpx  # local: only the HTTP backends need it

    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, BatchVideoError):
        return False
    if isinstance(exc, httpx.TransportError):  # connect/read errors, timeouts
        return True
    status = status_of(exc)
    if status is not None:
        return status >= 500 or status in _RETRYABLE_STATUSES
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code in _TRANSIENT_POSTGREST_CODES or code[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return False


def describe_service_error(exc: BaseException) -> str:
    """A one-line reason without headers or URLs (which could carry tokens)."""
    parts = []
    status = status_of(exc)
    if status is not None:
        parts.append(f"HTTP {status}")
    for attr in ("code", "message", "details", "hint"):
        value = getattr(exc, attr, None)
        if value and str(value) not in parts and not (attr == "code" and str(value) == str(status)):
            parts.append(str(value))
    if not parts or parts == [f"HTTP {status}"]:
        parts.append(type(exc).__name__ + (f": {exc}" if str(exc) and "http" not in str(exc).lower() else ""))
    return ": ".join(parts)


def is_service_error(exc: BaseException) -> bool:
    """An HTTP-level failure from httpx, storage3 or postgrest (not a bug in our own code)."""
    import httpx

    if isinstance(exc, httpx.HTTPError):
        return True
    module = type(exc).__module__.split(".")[0]
    return module in {"storage3", "postgrest", "supabase", "supabase_auth"}


def translate_service_error(
    exc: BaseException, *, what: str, product_id: str | None, stage: str, field: str | None = None
) -> BatchVideoError:
    """Map an HTTP failure to the project's errors: retryable, configuration, or this product's fault."""
    if isinstance(exc, BatchVideoError):
        return exc.with_context(product_id=product_id, stage=stage)
    reason = describe_service_error(exc)
    message = f"{what} failed: {reason}"
    if is_transient(exc):
        return TransientError(message, product_id=product_id, field=field, stage=stage)
    status = status_of(exc)
    code = str(getattr(exc, "code", "") or "")
    # Bad key, missing bucket, a schema without our migrations, or RLS refusal:
    # nothing about the product will fix it.
    if status in (401, 403) or code in _CONFIG_ERROR_CODES or (
        status == 404 and "bucket" in reason.lower()
    ):
        return ConfigError(f"{message} (check the Supabase URL, key, bucket and migrations)", product_id=product_id, field=field, stage=stage)
    return ProductDataError(message, product_id=product_id, field=field, stage=stage)


def call_with_retries(
    operation: Callable[[], T],
    *,
    what: str,
    stage: str,
    product_id: str | None = None,
    field: str | None = None,
    attempts: int = 4,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`, retrying transient failures with exponential backoff.

    Returns its result, or raises TransientError after the last attempt, or a
    non-retryable BatchVideoError (naming the product) at the first 4xx.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not isinstance(exc, BatchVideoError) and not is_service_error(exc):
                raise  # a bug or an unexpected failure: not ours to reword or retry
            error = translate_service_error(exc, what=what, product_id=product_id, stage=stage, field=field)
            if not error.retryable or attempt == attempts:
                if error is not exc:
                    raise error from exc
                raise
            delay = backoff_s * (2 ** (attempt - 1))
            logger.warning("%s (attempt %d/%d), retrying in %.1fs", error, attempt, attempts, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover

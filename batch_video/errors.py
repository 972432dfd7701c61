"""Errors that say which product, stage and field went wrong.

`ProductDataError` is bad input (never worth retrying); `TransientError` is a
service or network hiccup that a retry policy may retry.
"""

from __future__ import annotations

from batch_video.redact import redact_urls


class BatchVideoError(Exception):
    """Base error; `str()` names the product and the field when known.

    URLs in the message lose their credentials and query strings: an error text travels to logs, Dagster's
    failure and the shop owner's record, and a feed or image link may carry a token.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        product_id: str | None = None,
        field: str | None = None,
        stage: str | None = None,
    ) -> None:
        self.message = redact_urls(message)
        self.product_id = product_id
        self.field = field
        self.stage = stage
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.product_id:
            where.append(f"product {self.product_id}")
        if self.field:
            where.append(f"field {self.field}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def with_context(self, *, product_id: str | None = None, stage: str | None = None) -> "BatchVideoError":
        """Fill in product/stage when a lower layer did not know them."""
        if product_id and not self.product_id:
            self.product_id = product_id
        if stage and not self.stage:
            self.stage = stage
        self.args = (self._format(),)
        return self


class ProductDataError(BatchVideoError):
    """The product's own data is wrong (missing image, bad price, unreadable photo)."""


class TransientError(BatchVideoError):
    """A service or network failure that may succeed when tried again."""

    retryable = True


class ConfigError(BatchVideoError):
    """A setting is missing or invalid."""


class ProgramError(BatchVideoError):
    """An external program (ffmpeg, ffprobe, espeak-ng) failed or is missing; carries the tail of its stderr."""

    def __init__(self, message: str, *, argv: list[str] | None = None, stderr: str = "", **kw) -> None:
        self.argv = argv or []
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"{message}\n{tail}" if tail else message, **kw)


class ProgramTimeout(ProgramError):
    """An external program ran past its deadline and was killed; a less busy machine may manage on a retry."""

    retryable = True
